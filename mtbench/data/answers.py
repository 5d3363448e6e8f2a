"""Model and reference answers (`model_answer/*.jsonl`, `reference_answer/*.jsonl`).

As in FastChat, a model is named by its answer file's stem (the `model_id` inside the file is
informational), rows are keyed by `question_id`, a later row for the same question replaces an
earlier one, and only `choices[0]` is judged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shortuuid

from mtbench.data._rows import RowReader, SameIdKind
from mtbench.data.jsonl import read_jsonl, read_jsonl_raw, write_jsonl_atomic
from mtbench.data.questions import QuestionId
from mtbench.data.writable import WriteError, write_error
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

ANSWER_FIELDS = ("question_id", "answer_id", "model_id", "choices", "tstamp")


@dataclass(frozen=True)
class Choice:
    """One completion of a question: the answer text of every turn."""

    index: int
    turns: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """One row of an answer file.

    Attributes:
        question_id: The question answered.
        model_id: The name recorded at generation time (informational only).
        choices: One entry per `--num-choices`; only the first is judged.
        answer_id: A random 22-character id, new on every generation.
        tstamp: `time.time()` when the row was written.
        extra: Any further fields of the row, kept as they are (e.g. generation settings).
    """

    question_id: QuestionId
    model_id: str
    choices: tuple[Choice, ...]
    answer_id: str = field(default_factory=shortuuid.uuid)
    tstamp: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def turns(self) -> tuple[str, ...]:
        """The judged answer: the turns of the first choice."""
        return self.choices[0].turns

    def to_row(self) -> dict[str, Any]:
        """The row as FastChat writes it (same field order), extra fields after."""
        row: dict[str, Any] = {
            "question_id": self.question_id,
            "answer_id": self.answer_id,
            "model_id": self.model_id,
            "choices": [{"index": c.index, "turns": list(c.turns)} for c in self.choices],
            "tstamp": self.tstamp,
        }
        row.update(self.extra)
        return row


def parse_answer(row: dict[str, Any], path: Path, line: int) -> Answer:
    """Validate one answer row; raise `DataError` with file:line on a malformed one."""
    fields = RowReader(row, path, line)
    raw_choices = row.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        raise fields.fail("field 'choices' must be a non-empty list")
    choices = []
    for position, raw in enumerate(raw_choices):
        if not isinstance(raw, dict):
            raise fields.fail(f"choices[{position}] must be an object")
        inner = RowReader(raw, path, line)
        try:
            turns = inner.strings("turns")
        except DataError as exc:
            raise fields.fail(f"choices[{position}]: {exc.reason}") from None
        index = inner.unread("index", "integer")
        choices.append(Choice(index=position if index is None else index, turns=turns))
    # FastChat reads only `question_id` and `choices[0].turns` of a row: the other fields are
    # taken when well-typed and never make a file it runs fail here.
    tstamp = fields.unread("tstamp", "number")
    return Answer(
        question_id=fields.question_id(),
        model_id=fields.unread("model_id", "string") or path.stem,
        choices=tuple(choices),
        answer_id=fields.unread("answer_id", "string") or "",
        tstamp=float(tstamp) if tstamp is not None else 0.0,
        extra={k: v for k, v in row.items() if k not in ANSWER_FIELDS},
    )


def load_answer_file(path: str | Path) -> dict[QuestionId, Answer]:
    """Load one answer file keyed by question id; a later row for a question wins.

    Raises:
        DataError: if the file is missing or unreadable, or naming the line of a row that is not
            valid JSON or not a valid answer row, or of the first id of the other kind in a file
            that mixes integer and string question ids.
    """
    path = Path(path)
    answers: dict[QuestionId, Answer] = {}
    kinds = SameIdKind(path)
    repeated = 0
    for line, row in read_jsonl(path):
        answer = parse_answer(row, path, line)
        kinds.check(answer.question_id, line)
        repeated += answer.question_id in answers
        answers[answer.question_id] = answer
    if repeated:
        logger.warning(
            "%s: %d question(s) answered more than once; using the last answer of each",
            path,
            repeated,
        )
    return answers


def load_model_answers(directory: str | Path) -> dict[str, dict[QuestionId, Answer]]:
    """Load every `*.jsonl` of a directory, keyed by file stem, then question id.

    A missing directory gives an empty mapping; callers report what they needed from it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    return {path.stem: load_answer_file(path) for path in sorted(directory.glob("*.jsonl"))}


def reorg_answer_file(path: str | Path) -> None:
    """Sort an answer file by question id, keeping the last row of each question (as FastChat).

    Raw line text is preserved; the rewrite is atomic, so a crash leaves the old file intact.

    Raises:
        WriteError: the disk or the folder refused the new file; every row is still in the old.
    """
    path = Path(path)
    latest: dict[QuestionId, str] = {}
    kinds = SameIdKind(path)
    for line, raw, row in read_jsonl_raw(path):
        question_id = RowReader(row, path, line).question_id()
        kinds.check(question_id, line)
        latest[question_id] = raw
    try:
        write_jsonl_atomic(path, (latest[qid] for qid in sorted(latest)))
    except WriteError as exc:
        raise write_error(
            exc.cause, path, "the sorted answer file", "every answer is kept in it, unsorted", ""
        ) from None


def missing_answers(
    answers: dict[QuestionId, Answer], question_ids: Iterable[QuestionId]
) -> list[QuestionId]:
    """Return the question ids, in the given order, that have no answer."""
    return [qid for qid in question_ids if qid not in answers]
