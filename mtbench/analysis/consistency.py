"""How consistent one judge is with itself: across answer orders, and across grading modes.

Position consistency (MT-bench paper, table 2): every pairwise match is judged twice, once with
each model shown first. A row is *consistent* when both orders give the same verdict (the same
winner, or both a tie); otherwise the judge favoured a position: *first* when the answer shown as
Assistant A did better in both orders (A won one order and won or tied the other), *second* when
B did. Rows with an unparsable verdict in either order are counted apart (`error`).

Single-vs-pairwise consistency: one judge's single scores of two models on the same question and
turn make a verdict (the higher score wins; scores within `tie_margin` tie), compared with that
judge's pairwise verdict (both orders combined as `mtbench-show` combines them, or each order
separately). Agreement is given with and without ties, as for judge agreement.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from mtbench.data.defaults import DEFAULT_JUDGE
from mtbench.data.judgments import (
    PairJudgment,
    SingleJudgment,
    first_parsed,
    load_pair_judgments,
    load_single_judgments,
    out_of_scale_counts,
    out_of_scale_warning,
)
from mtbench.data.paths import BenchPaths, require_file
from mtbench.data.questions import CATEGORIES, QuestionId, question_categories
from mtbench.errors import ConfigError, DataError
from mtbench.judging.staleness import PromptCheck, drop_stale

logger = logging.getLogger(__name__)

POSITION_COLUMNS = (
    "rows",
    "error",
    "consistent",
    "inconsistent",
    "first",
    "second",
    "inconsistent_pct",
    "games",
    "games_a",
    "games_b",
    "games_tie",
)
"""Columns of a position table: rows by outcome, then single games by the position that won."""


def game_position(game: int, winner: str) -> str:
    """The position (`A`, `B`), `tie` or `error` a game's stored verdict stands for.

    Game 1 shows `model_1` as Assistant A; game 2 shows `model_2` as A (its verdict is stored
    mapped back to the model order).
    """
    if winner in ("tie", "error"):
        return winner
    first_shown = "model_1" if game == 1 else "model_2"
    return "A" if winner == first_shown else "B"


def position_outcome(g1_winner: str, g2_winner: str) -> str:
    """`consistent`, `first`, `second` (the position favoured) or `error`."""
    if "error" in (g1_winner, g2_winner):
        return "error"
    if g1_winner == g2_winner:
        return "consistent"
    # Disagreeing orders: every non-tie verdict points at the same position (a model winning
    # in one order and losing in the other means the same position won both times).
    positions = {game_position(1, g1_winner), game_position(2, g2_winner)} - {"tie"}
    return "first" if positions == {"A"} else "second"


def _position_row(frame: pd.DataFrame) -> dict[str, float]:
    outcome = frame["outcome"].value_counts()
    games = pd.concat([frame["pos_1"], frame["pos_2"]]).value_counts()
    first, second = int(outcome.get("first", 0)), int(outcome.get("second", 0))
    error = int(outcome.get("error", 0))
    judged = len(frame) - error
    return {
        "rows": len(frame),
        "error": error,
        "consistent": int(outcome.get("consistent", 0)),
        "inconsistent": first + second,
        "first": first,
        "second": second,
        "inconsistent_pct": 100.0 * (first + second) / judged if judged else math.nan,
        "games": int(games.get("A", 0) + games.get("B", 0) + games.get("tie", 0)),
        "games_a": int(games.get("A", 0)),
        "games_b": int(games.get("B", 0)),
        "games_tie": int(games.get("tie", 0)),
    }


@dataclass(frozen=True)
class PositionReport:
    """Position consistency of one judge.

    Attributes:
        tables: By title (`All`, `By turn`, `By category`, `By model pair`): one row per group,
            columns `POSITION_COLUMNS`. `By category` is missing without the question file.
        repeated: Repeated rows of the same match left out (the first parsed row counts).
        input_file: The pairwise judgment file read, if any.
    """

    tables: dict[str, pd.DataFrame]
    repeated: int
    input_file: Path | None = None


def position_consistency(
    judgments: Iterable[PairJudgment], categories: Mapping[QuestionId, str] | None = None
) -> PositionReport:
    """Position consistency from pairwise judgments made in both orders.

    Args:
        judgments: Rows of a `{judge}_pair.jsonl` file.
        categories: Question id to category, for the per-category table (None: left out).
    """
    rows, repeated = first_parsed(judgments)
    records = [
        {
            "turn": j.turn,
            "category": (categories or {}).get(j.question_id, "unknown"),
            "pair": " vs ".join(sorted((j.model_1, j.model_2))),
            "outcome": position_outcome(j.g1_winner, j.g2_winner),
            "pos_1": game_position(1, j.g1_winner),
            "pos_2": game_position(2, j.g2_winner),
        }
        for j in rows
    ]
    frame = pd.DataFrame(records, columns=["turn", "category", "pair", "outcome", "pos_1", "pos_2"])
    tables = {"All": pd.DataFrame([_position_row(frame)], index=pd.Index(["all"], name="group"))}
    groups = [("By turn", "turn"), ("By category", "category"), ("By model pair", "pair")]
    for title, column in groups:
        if column == "category" and categories is None:
            continue
        table = pd.DataFrame.from_dict(
            {key: _position_row(group) for key, group in frame.groupby(column, sort=False)},
            orient="index",
            columns=list(POSITION_COLUMNS),
        )
        table.index.name = column
        tables[title] = _ordered(table, column)
    return PositionReport(tables, repeated)


def _ordered(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Categories in MT-bench's order (unknown ones after), other groups sorted."""
    if column == "category":
        order = [c for c in CATEGORIES if c in table.index]
        return table.reindex(order + sorted(c for c in table.index if c not in order))
    return table.sort_index()


@dataclass(frozen=True)
class SinglePairReport:
    """Single-vs-pairwise consistency of one judge.

    Attributes:
        table: One row per turn and one for all turns: `total`/`agree`/`ratio` with ties and
            `total_no_tie`/`agree_no_tie`/`ratio_no_tie` without.
        confusion: Pairwise verdict (rows) by single-score verdict (columns), counts over all
            turns; verdicts are `model_1`, `model_2`, `tie`.
        left_out: Why pairwise verdicts were not compared, with counts.
        tie_margin: Scores this close count as a tie.
        per_game: Whether each order was compared on its own.
        single_file: The single-grading file read, if any.
        pair_file: The pairwise file read, if any.
        out_of_scale: Single scores outside the judge prompt's scale (`SCORE_SCALE`) per
            model, among the scores read; they make verdicts like any other.
    """

    table: pd.DataFrame
    confusion: pd.DataFrame
    left_out: dict[str, int]
    tie_margin: float
    per_game: bool
    single_file: Path | None = None
    pair_file: Path | None = None
    out_of_scale: dict[str, int] = field(default_factory=dict)


def score_verdict(score_1: float, score_2: float, tie_margin: float = 0.0) -> str:
    """The verdict two single scores make: `model_1`, `model_2`, or `tie` within the margin."""
    if abs(score_1 - score_2) <= tie_margin:
        return "tie"
    return "model_1" if score_1 > score_2 else "model_2"


def _single_scores(
    judgments: Iterable[SingleJudgment],
) -> tuple[dict[tuple[QuestionId, int, str], float], dict[str, int]]:
    """Parsed scores by (question_id, turn, model): one per item, as `mtbench-show` counts them.

    Also the `out_of_scale_counts` of those scores, logged as a warning when there are some.
    """
    kept, _ = first_parsed(judgments, key=lambda j: (j.question_id, j.turn, j.model))
    off_scale = out_of_scale_counts(kept)
    warning = out_of_scale_warning(off_scale)
    if warning:
        logger.warning("single scores: %s", warning)
    scores = {(j.question_id, j.turn, j.model): float(j.score) for j in kept if j.parsed}
    return scores, off_scale


def single_pair_consistency(
    singles: Iterable[SingleJudgment],
    pairs: Iterable[PairJudgment],
    tie_margin: float = 0.0,
    per_game: bool = False,
) -> SinglePairReport:
    """Compare a judge's pairwise verdicts with the verdicts its single scores make.

    Args:
        singles: The judge's single grading rows (`{judge}_single.jsonl`).
        pairs: The same judge's pairwise rows (`{judge}_pair.jsonl`).
        tie_margin: Score differences up to this count as a tie (0: only equal scores).
        per_game: Compare each order's verdict instead of the combined one.
    """
    scores, off_scale = _single_scores(singles)
    rows, repeated = first_parsed(pairs)
    left_out: dict[str, int] = {}
    if repeated:
        left_out["repeated pairwise row"] = repeated
    compared: list[dict[str, Any]] = []
    for row in rows:
        verdicts = [row.g1_winner, row.g2_winner] if per_game else [row.combined]
        for verdict in verdicts:
            if verdict == "error":
                reason = "pairwise verdict unparsed"
                left_out[reason] = left_out.get(reason, 0) + 1
                continue
            missing = [
                m
                for m in (row.model_1, row.model_2)
                if (row.question_id, row.turn, m) not in scores
            ]
            if missing:
                reason = "no single score for " + " and ".join(missing)
                left_out[reason] = left_out.get(reason, 0) + 1
                continue
            single = score_verdict(
                scores[(row.question_id, row.turn, row.model_1)],
                scores[(row.question_id, row.turn, row.model_2)],
                tie_margin,
            )
            compared.append({"turn": row.turn, "pairwise": verdict, "single": single})
    frame = pd.DataFrame(compared, columns=["turn", "pairwise", "single"])
    groups = [(f"turn {t}", frame[frame["turn"] == t]) for t in sorted(frame["turn"].unique())]
    table = pd.DataFrame.from_dict(
        {label: _agreement_row(group) for label, group in [*groups, ("all", frame)]},
        orient="index",
    )
    table.index.name = "turns"
    verdicts = ["model_1", "model_2", "tie"]
    confusion = pd.DataFrame(0, index=pd.Index(verdicts, name="pairwise"), columns=verdicts)
    confusion.columns.name = "single"
    for key, count in frame.groupby(["pairwise", "single"]).size().items():
        pairwise, single = cast(tuple[str, str], key)
        confusion.loc[pairwise, single] = int(count)
    return SinglePairReport(
        table, confusion, left_out, tie_margin, per_game, out_of_scale=off_scale
    )


def _agreement_row(frame: pd.DataFrame) -> dict[str, float]:
    agree = frame["pairwise"] == frame["single"]
    decisive = (frame["pairwise"] != "tie") & (frame["single"] != "tie")
    total, total_no_tie = len(frame), int(decisive.sum())
    return {
        "total": total,
        "agree": int(agree.sum()),
        "ratio": agree.sum() / total if total else math.nan,
        "total_no_tie": total_no_tie,
        "agree_no_tie": int((agree & decisive).sum()),
        "ratio_no_tie": (agree & decisive).sum() / total_no_tie if total_no_tie else math.nan,
    }


def position_report(
    paths: BenchPaths,
    input_file: str | Path | None = None,
    judge_model: str = DEFAULT_JUDGE,
    keep_stale: bool = False,
) -> PositionReport:
    """Position consistency of the judge whose pairwise file is given (default: `judge_model`'s).

    Rows that graded an answer, reference or judge prompt that has changed since are left out
    (`judging.staleness`), unless `keep_stale`.

    Raises:
        DataError: for a missing, malformed or empty file.
    """
    path = Path(input_file) if input_file else paths.judgment_file(judge_model, "pair")
    require_file(
        path,
        "pairwise judgment file",
        hint="run `mtbench-judge --mode pairwise-all` "
        "(or pairwise-baseline) first, or pass --input-file",
    )
    check = None if keep_stale else PromptCheck(paths)
    rows = drop_stale(load_pair_judgments(path), check, str(path))
    report = position_consistency(rows, question_categories(paths.question_file))
    if not report.tables["All"].loc["all", "rows"]:
        raise DataError("no pairwise judgments in this file", path)
    return replace(report, input_file=path)


def single_pair_report(
    paths: BenchPaths,
    judge_model: str = DEFAULT_JUDGE,
    single_file: str | Path | None = None,
    pair_file: str | Path | None = None,
    tie_margin: float = 0.0,
    per_game: bool = False,
    keep_stale: bool = False,
) -> SinglePairReport:
    """Single-vs-pairwise consistency of one judge from its two judgment files.

    Stale rows of either file are left out (`judging.staleness`), unless `keep_stale`.

    Raises:
        ConfigError: for a negative tie margin.
        DataError: for missing or malformed files, or when no verdict could be compared.
    """
    if tie_margin < 0 or math.isnan(tie_margin):
        raise ConfigError(f"--tie-margin must be 0 or more, got {tie_margin}")
    single = Path(single_file) if single_file else paths.judgment_file(judge_model, "single")
    pair = Path(pair_file) if pair_file else paths.judgment_file(judge_model, "pair")
    require_file(
        single,
        "single judgment file",
        hint="run `mtbench-judge --mode single` first, or pass --single-file",
    )
    require_file(
        pair,
        "pairwise judgment file",
        hint="run `mtbench-judge --mode pairwise-all` first, or pass --pair-file",
    )
    check = None if keep_stale else PromptCheck(paths)  # one for both files
    result = single_pair_consistency(
        drop_stale(load_single_judgments(single), check, str(single)),
        drop_stale(load_pair_judgments(pair), check, str(pair)),
        tie_margin,
        per_game,
    )
    if not result.table.loc["all", "total"]:
        reasons = "; ".join(f"{n} {why}" for why, n in result.left_out.items()) or "no rows"
        raise DataError(
            f"no pairwise verdict could be compared with single scores ({reasons}); judge the "
            "same models in both modes",
            pair,
        )
    return replace(result, single_file=single, pair_file=pair)
