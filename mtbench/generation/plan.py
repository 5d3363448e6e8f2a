"""What a run still has to generate: resume by model id and generation settings.

Every row mtbench writes carries, besides FastChat's fields, a `generation` field with the
settings it was made with (FastChat's readers ignore extra fields). A rerun regenerates a
selected question only when its row is missing, was made with different settings (those in
`RESUME_KEYS`: the same model answering the same prompts under the same limits), or
`--overwrite` is given. Rows without a `generation` field (written by FastChat or another
tool) are kept as done: their settings are unknown, and mtbench never discards answers it
cannot judge; `--overwrite` regenerates them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.data.answers import Answer, load_answer_file
from mtbench.data.questions import Question, QuestionId, id_kind
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

SETTINGS_FIELD = "generation"
RESUME_KEYS = (
    "model",
    "model_path",
    "revision",
    "prompt",
    "system_message",
    "max_new_token",
    "num_choices",
    "reasoning",
    "force_temperature",
    "seed",
)
"""Settings that change what an answer is; the others (backend, dtype, batch size) do not.

`model` is the served model's name of API (and fake) rows, `model_path` what a local run loaded;
a row has one of the two."""


@dataclass
class Plan:
    """The selected questions split by what happens to them."""

    todo: list[Question]
    done: list[QuestionId] = field(default_factory=list)
    stale: list[QuestionId] = field(default_factory=list)
    """Questions regenerated because their answer was made with other settings."""
    notes: list[str] = field(default_factory=list)
    """What the run says once before it starts (e.g. the dtype `--dtype auto` chose)."""


def make_plan(
    questions: list[Question], answer_file: Path, settings: dict[str, Any], overwrite: bool
) -> Plan:
    """Decide which selected questions need generating (see the module docstring).

    Raises:
        DataError: if the answer file's question ids are of the other kind (integer or string)
            than the questions': appending would leave a file that cannot be sorted.
    """
    existing: dict[QuestionId, Answer] = (
        load_answer_file(answer_file) if answer_file.exists() else {}
    )
    if existing and questions:
        answered, asked = next(iter(existing)), questions[0].question_id
        if id_kind(answered) != id_kind(asked):
            raise DataError(
                f"its question_id {answered!r:.40} is {id_kind(answered)} but the question file's "
                f"{asked!r:.40} is {id_kind(asked)}, and one file must not mix the two kinds; "
                "use another --model-id or --answer-file",
                answer_file,
            )
    plan = Plan(todo=[])
    foreign = 0
    changes: dict[str, tuple[Any, Any]] = {}
    mixed: dict[str, int] = {}
    for question in questions:
        answer = existing.get(question.question_id)
        if answer is None or overwrite:
            plan.todo.append(question)
            continue
        recorded = answer.extra.get(SETTINGS_FIELD)
        if not isinstance(recorded, dict):
            foreign += 1
            plan.done.append(question.question_id)
            continue
        differing = settings_differ(recorded, settings)
        if not differing and _other_dtype(recorded, settings):
            mixed[recorded["dtype"]] = mixed.get(recorded["dtype"], 0) + 1
        if differing:
            for key in differing:
                changes.setdefault(key, (recorded.get(key), settings.get(key)))
            plan.stale.append(question.question_id)
            plan.todo.append(question)
        else:
            plan.done.append(question.question_id)
    if foreign:
        logger.warning(
            "%s: keeping %d answer(s) that record no mtbench settings (use --overwrite to "
            "regenerate them)",
            answer_file,
            foreign,
        )
    if mixed and plan.todo:
        kept = ", ".join(f"{count} in {dtype}" for dtype, count in mixed.items())
        logger.warning(
            "%s: keeping answer(s) made with other weights (%s) while this run generates in %s "
            "(greedy answers differ between dtypes); use --overwrite to regenerate all in one",
            answer_file,
            kept,
            settings["dtype"],
        )
    if plan.stale:
        described = ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items())
        logger.warning(
            "%s: regenerating %d answer(s) made with other settings (%s); use another "
            "--model-id to keep both",
            answer_file,
            len(plan.stale),
            described,
        )
    return plan


def _other_dtype(recorded: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether a row was made with other weights' dtype than this run's, both known.

    The dtype is not a resume key (the same model, the same prompts), but bfloat16 and float32
    give different greedy answers, so a file that mixes them is said to. Rows recording no
    resolved dtype (`None`, `auto`: runs before mtbench recorded it) are not compared.
    """
    old, new = recorded.get("dtype"), current.get("dtype")
    known = ("float32", "float16", "bfloat16")
    return old in known and new in known and old != new


def settings_differ(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The resume keys whose values differ between a row's settings and this run's."""
    return [key for key in RESUME_KEYS if recorded.get(key) != current.get(key)]
