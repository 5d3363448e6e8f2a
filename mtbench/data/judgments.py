"""Judgment files (`model_judgment/{judge}_single.jsonl` and `{judge}_pair.jsonl`).

Rows keep FastChat's fields and order. `score == -1` (single) and a winner of `"error"`
(pairwise) mean the judge's verdict could not be parsed; those rows are kept in the file, as
FastChat keeps them, and left out of the results with a count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.data._rows import RowReader
from mtbench.data.jsonl import read_jsonl

WINNERS = ("model_1", "model_2", "tie", "error")
"""The stored values of `g1_winner`/`g2_winner`: already mapped back to the model order."""

NO_SCORE = -1
"""The score FastChat stores when no rating could be parsed from the judge's reply."""


@dataclass(frozen=True)
class SingleJudgment:
    """One single-answer grading (a row of `{judge}_single.jsonl`).

    Attributes:
        question_id: The question graded.
        model: The model graded (its answer-file stem).
        judge: `(judge_model, prompt_name)`, e.g. `("gpt-4", "single-v1")`.
        user_prompt: The exact user message sent to the judge.
        judgment: The judge's raw reply.
        score: The parsed rating (int or float as written), or -1 if none could be parsed.
        turn: 1 for the first-turn prompt, 2 for the multi-turn prompt.
        tstamp: `time.time()` when the row was written.
    """

    question_id: int
    model: str
    judge: tuple[str, str]
    user_prompt: str
    judgment: str
    score: int | float
    turn: int
    tstamp: float = field(default_factory=time.time)

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two rows the same judgment (a re-run would repeat it)."""
        return (self.question_id, self.model, self.judge, self.turn)

    @property
    def parsed(self) -> bool:
        return self.score != NO_SCORE

    def to_row(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "model": self.model,
            "judge": list(self.judge),
            "user_prompt": self.user_prompt,
            "judgment": self.judgment,
            "score": self.score,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }


@dataclass(frozen=True)
class PairJudgment:
    """One pairwise comparison judged in both orders (a row of `{judge}_pair.jsonl`).

    Attributes:
        question_id: The question compared.
        model_1: Shown as Assistant A in game 1 (the evaluated model in baseline mode).
        model_2: Shown as Assistant A in game 2 (the baseline in baseline mode).
        g1_winner: Game 1 verdict: `model_1`, `model_2`, `tie` or `error`.
        g2_winner: Game 2 verdict, already mapped back to `model_1`/`model_2`.
        judge: `(judge_model, prompt_name)`.
        g1_user_prompt: Game 1's user message.
        g1_judgment: Game 1's raw reply.
        g2_user_prompt: Game 2's user message.
        g2_judgment: Game 2's raw reply.
        turn: 1 or 2.
        tstamp: `time.time()` when the row was written.
    """

    question_id: int
    model_1: str
    model_2: str
    g1_winner: str
    g2_winner: str
    judge: tuple[str, str]
    g1_user_prompt: str
    g1_judgment: str
    g2_user_prompt: str
    g2_judgment: str
    turn: int
    tstamp: float = field(default_factory=time.time)

    @property
    def key(self) -> tuple[Any, ...]:
        """The same match whichever model was listed first (baseline and all-pairs runs share)."""
        return (self.question_id, frozenset((self.model_1, self.model_2)), self.judge, self.turn)

    @property
    def parsed(self) -> bool:
        return self.g1_winner != "error" and self.g2_winner != "error"

    def to_row(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "model_1": self.model_1,
            "model_2": self.model_2,
            "g1_winner": self.g1_winner,
            "g2_winner": self.g2_winner,
            "judge": list(self.judge),
            "g1_user_prompt": self.g1_user_prompt,
            "g1_judgment": self.g1_judgment,
            "g2_user_prompt": self.g2_user_prompt,
            "g2_judgment": self.g2_judgment,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }


def _judge_field(fields: RowReader) -> tuple[str, str]:
    value = fields.row.get("judge")
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, str) for item in value)
    ):
        raise fields.fail(f"field 'judge' must be [judge_model, prompt_name], got {value!r:.60}")
    return (value[0], value[1])


def _winner_field(fields: RowReader, key: str) -> str:
    value = fields.string(key)
    if value not in WINNERS:
        raise fields.fail(f"field '{key}' must be one of {', '.join(WINNERS)}, got {value!r:.40}")
    return str(value)


def parse_single(row: dict[str, Any], path: Path, line: int) -> SingleJudgment:
    """Validate one single-grading row."""
    fields = RowReader(row, path, line)
    return SingleJudgment(
        question_id=fields.integer("question_id"),
        model=fields.string("model"),
        judge=_judge_field(fields),
        user_prompt=fields.string("user_prompt", optional=True) or "",
        judgment=fields.string("judgment", optional=True) or "",
        score=fields.number("score"),
        turn=fields.integer("turn"),
        tstamp=fields.number("tstamp", optional=True) or 0.0,
    )


def parse_pair(row: dict[str, Any], path: Path, line: int) -> PairJudgment:
    """Validate one pairwise row; FastChat's older single-`winner` rows count for both games."""
    fields = RowReader(row, path, line)
    if "g1_winner" not in row and "winner" in row:
        g1 = g2 = _winner_field(fields, "winner")
    else:
        g1, g2 = _winner_field(fields, "g1_winner"), _winner_field(fields, "g2_winner")
    return PairJudgment(
        question_id=fields.integer("question_id"),
        model_1=fields.string("model_1"),
        model_2=fields.string("model_2"),
        g1_winner=g1,
        g2_winner=g2,
        judge=_judge_field(fields),
        g1_user_prompt=fields.string("g1_user_prompt", optional=True) or "",
        g1_judgment=fields.string("g1_judgment", optional=True) or "",
        g2_user_prompt=fields.string("g2_user_prompt", optional=True) or "",
        g2_judgment=fields.string("g2_judgment", optional=True) or "",
        turn=fields.integer("turn", optional=True) or 1,
        tstamp=fields.number("tstamp", optional=True) or 0.0,
    )


def load_single_judgments(path: str | Path) -> Iterator[SingleJudgment]:
    """Yield every row of a single-grading file, in file order, validated.

    Raises:
        DataError: if the file is missing or unreadable, or naming the line of a row that is not
            valid JSON or not a valid judgment row (raised when iteration reaches it).
    """
    path = Path(path)
    for line, row in read_jsonl(path):
        yield parse_single(row, path, line)


def load_pair_judgments(path: str | Path) -> Iterator[PairJudgment]:
    """Yield every row of a pairwise file, in file order, validated.

    Raises:
        DataError: if the file is missing or unreadable, or naming the line of a row that is not
            valid JSON or not a valid judgment row (raised when iteration reaches it).
    """
    path = Path(path)
    for line, row in read_jsonl(path):
        yield parse_pair(row, path, line)
