"""Pairwise votes in FastChat's vote format, from vote files or from our pairwise judgments.

FastChat's `compute_agreement.py` reads JSON files holding one array of votes, as released in
the `lmsys/mt_bench_human_judgments` data set:

    {"question_id": 81, "model_a": "gpt-4", "model_b": "vicuna-13b-v1.2",
     "winner": "model_a", "judge": "expert_3", "turn": 1}

`winner` is `model_a`, `model_b`, or any text containing `tie` (`tie`, `tie (bothbad)`). Votes are
pooled under a judge *name* (`judge_name`): FastChat's three names (`gpt4-pair`, `human`,
`author`) first, then, beyond FastChat, a name for every other judge.

A pairwise judgment file (`{judge}_pair.jsonl`) can be read as votes too (`pair_votes`): either
one vote per row with the two orders combined as `mtbench-show` combines them (the default: a win
only when both orders agree, anything else a tie — the way the released GPT-4 votes were made),
or one vote per order (`per_game=True`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.data._rows import is_question_id
from mtbench.data.jsonl import read_jsonl
from mtbench.data.judgments import PairJudgment, first_parsed, load_pair_judgments
from mtbench.data.paths import require_file
from mtbench.data.questions import QuestionId
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

TIE = "tie"
WINNERS = ("model_a", "model_b")


@dataclass(frozen=True)
class Vote:
    """One pairwise verdict on two models' answers to one question turn.

    Attributes:
        question_id: The question.
        model_a: The model named by `winner == "model_a"`.
        model_b: The model named by `winner == "model_b"`.
        winner: `model_a`, `model_b`, or a text containing `tie` (kept as written).
        judge: The judge's name after `judge_name` (or a label the user chose).
        turn: 1 or 2.
    """

    question_id: QuestionId
    model_a: str
    model_b: str
    winner: str
    judge: str
    turn: int

    @property
    def is_tie(self) -> bool:
        return TIE in self.winner


def judge_name(judge: Any) -> str:
    """The name votes of this `judge` value are pooled under.

    FastChat's rules: `["gpt-4", "pair..."]` is `gpt4-pair`; a text starting with `expert` is
    `human` (every expert pooled), one starting with `author` is `author`. Beyond FastChat (which
    ignores every other judge): another `[model, "pair..."]` is `{model}-pair`, another
    `[model, prompt]` is `{model}-{prompt}`, and any other text is itself.

    Raises:
        ValueError: for a value that is neither a text nor a `[model, prompt]` list.
    """
    pair = isinstance(judge, (list, tuple)) and len(judge) == 2
    if pair and all(isinstance(j, str) for j in judge):
        model, prompt = judge
        if prompt.startswith("pair"):
            return "gpt4-pair" if model == "gpt-4" else f"{model}-pair"
        return f"{model}-{prompt}"
    if isinstance(judge, str):
        if judge.startswith("expert"):
            return "human"
        if judge.startswith("author"):
            return "author"
        return judge
    raise ValueError(f"judge must be a text or [model, prompt], got {judge!r:.60}")


def _vote(raw: Any, path: Path, where: str, label: str | None) -> Vote:
    def fail(reason: str) -> DataError:
        return DataError(f"{where}: {reason}", path)

    if not isinstance(raw, dict):
        raise fail(f"expected a vote object, got {type(raw).__name__}")
    for key in ("question_id", "model_a", "model_b", "winner", "judge", "turn"):
        if key not in raw:
            raise fail(f"missing field '{key}'")
    if not is_question_id(raw["question_id"]):
        raise fail(
            f"field 'question_id' must be an integer or a string, got {raw['question_id']!r:.40}"
        )
    if isinstance(raw["turn"], bool) or not isinstance(raw["turn"], int):
        raise fail(f"field 'turn' must be an integer, got {raw['turn']!r:.40}")
    for key in ("model_a", "model_b", "winner"):
        if not isinstance(raw[key], str):
            raise fail(f"field '{key}' must be a string, got {raw[key]!r:.40}")
    winner = raw["winner"]
    if winner not in WINNERS and TIE not in winner:
        raise fail(f"field 'winner' must be model_a, model_b or a tie, got {winner!r:.40}")
    try:
        name = label if label is not None else judge_name(raw["judge"])
    except ValueError as exc:
        raise fail(str(exc)) from None
    return Vote(raw["question_id"], raw["model_a"], raw["model_b"], winner, name, raw["turn"])


def pair_votes(
    judgments: Iterable[PairJudgment], per_game: bool = False, label: str | None = None
) -> tuple[list[Vote], dict[str, int]]:
    """Turn pairwise judgments (both orders) into votes with `model_a = model_1`.

    Args:
        judgments: Rows of a `{judge}_pair.jsonl` file.
        per_game: One vote per order instead of one per row.
        label: The judge name to give every vote (default: `judge_name` of the row's judge).

    Returns:
        The votes and a count of the rows: `rows`, `repeated` (copies of a match beyond the
        one `first_parsed` keeps, as in `mtbench-show`), `error` (rows, or with `per_game`
        games, whose verdict could not be parsed, left out).
    """
    unique, repeated = first_parsed(judgments)
    votes: list[Vote] = []
    errors = 0
    as_vote = {"model_1": "model_a", "model_2": "model_b", "tie": TIE}
    for judgment in unique:
        name = label if label is not None else judge_name(judgment.judge)
        if per_game:
            verdicts = [judgment.g1_winner, judgment.g2_winner]
        else:
            verdicts = [judgment.combined]
        for verdict in verdicts:
            if verdict == "error":
                errors += 1
                continue
            votes.append(
                Vote(
                    judgment.question_id,
                    judgment.model_1,
                    judgment.model_2,
                    as_vote[verdict],
                    name,
                    judgment.turn,
                )
            )
    return votes, {"rows": len(unique) + repeated, "repeated": repeated, "error": errors}


@dataclass(frozen=True)
class VoteSource:
    """One input of `mtbench-agreement`: a file and, optionally, the judge name for all its votes.

    Attributes:
        path: A JSON vote array, a JSON Lines file of votes, or a `{judge}_pair.jsonl` file.
        label: Overrides the judge name of every vote in the file (None: `judge_name`).
    """

    path: Path
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> VoteSource:
        """`FILE` or `LABEL=FILE` (an existing file whose name contains `=` is taken whole)."""
        label, sep, rest = text.partition("=")
        if sep and label and rest and not Path(text).exists():
            return cls(Path(rest), label)
        return cls(Path(text))


def load_votes(source: VoteSource, per_game: bool = False) -> tuple[list[Vote], dict[str, int]]:
    """Read the votes of one file, whatever its kind (told apart by content).

    A file starting with `[` is FastChat's JSON vote array; otherwise it is JSON Lines, either of
    votes (rows with `model_a`) or of pairwise judgments (rows with `model_1`), converted with
    `pair_votes`.

    Returns:
        The votes and a count of what was read (`rows`, and for judgments `repeated`, `error`).

    Raises:
        DataError: for a missing file, bad JSON or a malformed vote.
    """
    path = require_file(source.path, "vote file", hint="pass --votefiles with existing files")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text; expected JSON votes or JSONL judgments", path) from None
    if text.lstrip().startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg}, line {exc.lineno})", path) from None
        votes = [_vote(item, path, f"vote #{i + 1}", source.label) for i, item in enumerate(raw)]
        return votes, {"rows": len(votes)}
    first = next(iter(read_jsonl(path)), None)
    if first is None:
        raise DataError("no votes in this file", path)
    if "model_1" in first[1]:
        return pair_votes(load_pair_judgments(path), per_game, source.label)
    votes = [_vote(row, path, f"line {line}", source.label) for line, row in read_jsonl(path)]
    return votes, {"rows": len(votes)}


def load_all_votes(
    sources: Sequence[VoteSource], per_game: bool = False
) -> tuple[list[Vote], dict[str, dict[str, int]]]:
    """Merge the votes of several files (order is irrelevant); counts per file."""
    votes: list[Vote] = []
    counts: dict[str, dict[str, int]] = {}
    for source in sources:
        found, count = load_votes(source, per_game)
        votes.extend(found)
        counts[str(source.path)] = count
        if count.get("repeated"):
            logger.warning(
                "%s: %d repeated judgment row(s) counted once", source.path, count["repeated"]
            )
    return votes, counts
