"""MT-bench questions (`question.jsonl`): loading and validation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mtbench.data._rows import RowReader
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


@dataclass(frozen=True)
class Question:
    """One bench question, as a row of `question.jsonl`.

    Attributes:
        question_id: The question's id (81-160 on MT-bench).
        category: Its category, e.g. `writing`.
        turns: The user messages, one per turn (two on MT-bench).
        reference: Short human-written solutions; displayed only, never sent to a judge.
        required_temperature: Sampling temperature the question demands (API answers only).
    """

    question_id: int
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
        DataError: naming the file and line of a malformed row or a repeated question id, or
            naming the file when it holds no question at all (empty, or blank lines only).
    """
    path = require_file(Path(path), "question file")
    questions: list[Question] = []
    seen: dict[int, int] = {}
    for line, row in read_jsonl(path):
        fields = RowReader(row, path, line)
        question = Question(
            question_id=fields.integer("question_id"),
            category=fields.string("category"),
            turns=fields.strings("turns"),
            reference=fields.strings("reference", optional=True, non_empty=False),
            required_temperature=fields.number("required_temperature", optional=True),
        )
        if question.question_id in seen:
            raise fields.fail(
                f"question_id {question.question_id} repeats line {seen[question.question_id]}"
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


def question_categories(path: str | Path) -> dict[int, str] | None:
    """Question id to category, or None with a warning when the question file is absent.

    For results that can go without categories (per-category tables are then left out).
    """
    path = Path(path)
    if not path.is_file():
        logger.warning("%s not found: per-category results are left out", path)
        return None
    return {q.question_id: q.category for q in load_questions(path)}
