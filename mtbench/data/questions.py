"""MT-bench questions (`question.jsonl`): loading and validation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from mtbench.data._rows import RowReader, SameIdKind
from mtbench.data._rows import id_kind as id_kind  # public here, with QuestionId
from mtbench.data.jsonl import read_jsonl
from mtbench.data.paths import require_file
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

CATEGORIES = (
    "writing",
    "roleplay",
    "reasoning",
    "math",
    "coding",
    "extraction",
    "stem",
    "humanities",
)
"""MT-bench's eight categories, in the order of its question ids (10 questions each)."""


QuestionId: TypeAlias = int | str
"""A question's id: a JSON integer (MT-bench: 81-160) or a JSON string (e.g. Rakuda's shortuuids).

FastChat (`fastchat/llm_judge`, fschat 0.2.36) never does arithmetic on ids: it uses them as dict
and tuple keys (`common.load_model_answers`, `common.check_data`, the game keys of
`compute_agreement.py`), copies them into the rows it writes (`make_match_*`, `play_a_match_*`),
and sorts them (`gen_model_answer.reorg_answer_file`, `clean_judgment.py`). So a string id works
there as well as an integer one. Refused here as malformed: true/false, null and lists (FastChat
fails on lists and on sorting nulls) and floats (which FastChat would take, but `81.0` is the same
key as `81` in Python and not in JSON). One file must not mix integers and strings: Python cannot
sort them together (see `mtbench.data._rows.SameIdKind`).
"""


def id_order(question_id: QuestionId) -> tuple[int, int, str]:
    """A sort key for ids that may come from different files: integers first, then strings.

    Within one kind it is the plain order FastChat sorts by; across kinds (say two judgment
    files, one with integer and one with string ids) it keeps `sorted` from raising `TypeError`.
    """
    if isinstance(question_id, str):
        return (1, 0, question_id)
    return (0, question_id, "")


@dataclass(frozen=True)
class Question:
    """One bench question, as a row of `question.jsonl`.

    Attributes:
        question_id: The question's id (81-160 on MT-bench; a string on some benches).
        category: Its category, e.g. `writing`.
        turns: The user messages, one per turn (two on MT-bench).
        reference: Short human-written solutions; displayed only, never sent to a judge.
        required_temperature: Sampling temperature the question demands (API answers only).
    """

    question_id: QuestionId
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None
    required_temperature: float | None = None


def load_questions(
    path: str | Path, begin: int | None = None, end: int | None = None
) -> list[Question]:
    """Load and validate a question file, then take the `[begin:end]` slice (as FastChat).

    Blank lines are skipped (FastChat fails on them). The slice may select nothing: the caller
    knows which of its flags made it.

    Raises:
        DataError: naming the file and line of a malformed row, a repeated question id, or the
            first id of the other kind in a file that mixes integer and string ids; or naming
            the file when it holds no question at all (empty, or blank lines only).
    """
    path = require_file(Path(path), "question file")
    questions: list[Question] = []
    seen: dict[QuestionId, int] = {}
    kinds = SameIdKind(path)
    for line, row in read_jsonl(path):
        fields = RowReader(row, path, line)
        question = Question(
            question_id=fields.question_id(),
            category=fields.string("category"),
            turns=fields.strings("turns"),
            reference=_reference(fields),
            required_temperature=fields.number("required_temperature", optional=True),
        )
        kinds.check(question.question_id, line)
        if question.question_id in seen:
            raise fields.fail(
                f"question_id {question.question_id!r} repeats line {seen[question.question_id]}"
            )
        seen[question.question_id] = line
        questions.append(question)
    if not questions:
        raise DataError(
            "no questions: the file is empty (or holds only blank lines); restore it, e.g. "
            "with `mtbench-download --what questions --force` (same --data-dir), or point "
            "--data-dir at a bench that has questions",
            path,
        )
    return questions[begin:end]


def _reference(fields: RowReader) -> tuple[str, ...] | None:
    """`reference`: only FastChat's browser shows it, so its shape is never a reason to refuse.

    A list of texts is taken as is and one text as a list of one; any other value is left out.
    """
    value = fields.row.get("reference")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def question_categories(path: str | Path) -> dict[QuestionId, str] | None:
    """Question id to category, or None with a warning when the question file is absent.

    For results that can go without categories (per-category tables are then left out).
    """
    path = Path(path)
    if not path.is_file():
        logger.warning("%s not found: per-category results are left out", path)
        return None
    return {q.question_id: q.category for q in load_questions(path)}
