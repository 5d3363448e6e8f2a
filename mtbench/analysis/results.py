"""Scores from judgment files, computed by FastChat's `show_result` rules.

Single grading: rows with score -1 (no parsable rating) are dropped; the first-turn and
second-turn tables are means over each turn's rows, and the Average pools *all* remaining rows of
a model (not the mean of the two turn means).

Pairwise: rows where either game is `error` are dropped; a model wins a row only when both games
name it (the same non-tie winner in both orders); a tie in either game or disagreeing games count
as a tie for both; `win_rate_adjusted = (win + 0.5 * tie) / n`.

Beyond FastChat, nothing is silently mixed or hidden: repeated judgments (from re-runs) count
once (the first parsed row of each; FastChat counts every copy), and the numbers of dropped,
repeated and filtered rows are returned in an `Accounting`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from mtbench.data.judgments import (
    Judgment,
    PairJudgment,
    SingleJudgment,
    combined_verdict,
    first_parsed,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accounting:
    """What happened to the rows of a judgment file on their way into the tables.

    Attributes:
        rows: Rows read from the file.
        unparsed: Rows dropped because the verdict could not be parsed (-1 / `error`).
        duplicates: Repeated judgments of the same match, counted once.
        filtered: Rows left out by `--model-list` or the baseline.
        used: Rows that made it into the tables.
        inconsistent: Pairwise only: rows whose two orders disagree (counted as ties).
    """

    rows: int
    unparsed: int
    duplicates: int
    filtered: int
    used: int
    inconsistent: int = 0


SINGLE_COLUMNS = ["model", "score", "turn", "question_id"]
PAIR_COLUMNS = ["question_id", "turn", "model_1", "model_2", "g1_winner", "g2_winner"]


def _select(
    judgments: Iterable[Judgment], selected: Callable[[Judgment], bool]
) -> tuple[list[Judgment], Accounting]:
    """Drop unparsed rows, then unselected ones, then repeats (keeping the first); count each."""
    rows = unparsed = filtered = 0
    candidates: list[Judgment] = []
    for judgment in judgments:
        rows += 1
        if not judgment.parsed:
            unparsed += 1
        elif not selected(judgment):
            filtered += 1
        else:
            candidates.append(judgment)
    # Every candidate is parsed, so `first_parsed` keeps the first row of each judgment.
    kept, duplicates = first_parsed(candidates)
    if duplicates:
        logger.warning("%d repeated judgment row(s) counted once", duplicates)
    return kept, Accounting(rows, unparsed, duplicates, filtered, len(kept))


def select_single(
    judgments: Iterable[SingleJudgment], model_list: Sequence[str] | None = None
) -> tuple[pd.DataFrame, Accounting]:
    """Rows for the single-mode tables: columns `model`, `score`, `turn`, `question_id`.

    Drops unparsed rows (score -1), then rows of models outside `model_list`, then repeats.
    """
    kept, accounting = _select(judgments, lambda j: model_list is None or j.model in model_list)
    frame = pd.DataFrame(
        [[j.model, j.score, j.turn, j.question_id] for j in kept], columns=SINGLE_COLUMNS
    )
    return frame, accounting


def single_turn_table(frame: pd.DataFrame, turn: int) -> pd.DataFrame:
    """FastChat's per-turn table: mean score indexed by (model, turn), best first."""
    table = frame[frame["turn"] == turn][["model", "score", "turn"]].groupby(["model", "turn"])
    return table.mean().sort_values(by="score", ascending=False)


def single_average_table(frame: pd.DataFrame) -> pd.DataFrame:
    """FastChat's Average: mean of all remaining rows of each model, best first."""
    table = frame[["model", "score"]].groupby(["model"]).mean()
    return table.sort_values(by="score", ascending=False)


def select_pairwise(
    judgments: Iterable[PairJudgment],
    baseline: str | None = None,
    model_list: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, Accounting]:
    """Rows for the pairwise tables.

    Columns: `question_id`, `turn`, `model_1`, `model_2`, `g1_winner`, `g2_winner`.

    Drops rows with an `error` game, then rows not involving `baseline` (when given), then rows
    outside `model_list`, then repeats of the same match in either model order.

    `model_list` keeps a row when its evaluated models are listed: with a baseline, the
    non-baseline model must be listed; without, both must be (FastChat checks only `model_1`,
    which silently drops a listed model's rows whenever it was `model_2`).
    """

    def selected(judgment: PairJudgment) -> bool:
        pair = (judgment.model_1, judgment.model_2)
        if baseline is not None and baseline not in pair:
            return False
        evaluated = [m for m in pair if m != baseline]
        return model_list is None or all(m in model_list for m in evaluated)

    kept, accounting = _select(judgments, selected)
    frame = pd.DataFrame(
        [[j.question_id, j.turn, j.model_1, j.model_2, j.g1_winner, j.g2_winner] for j in kept],
        columns=PAIR_COLUMNS,
    )
    inconsistent = int((frame["g1_winner"] != frame["g2_winner"]).sum())
    return frame, replace(accounting, inconsistent=inconsistent)


def pairwise_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One win/loss/tie record per model per row (two per row), with its question and turn.

    Each row's two games are combined by `combined_verdict`.

    Raises:
        ValueError: for a row with an `error` game (`select_pairwise` drops those).
    """
    records: list[dict[str, object]] = []
    for row in frame.itertuples(index=False):
        common = {"question_id": row.question_id, "turn": row.turn}
        verdict = combined_verdict(row.g1_winner, row.g2_winner)
        if verdict == "error":
            raise ValueError("pairwise_outcomes takes rows without errors (from select_pairwise)")
        if verdict == "tie":
            records.append({**common, "model": row.model_1, "win": 0, "loss": 0, "tie": 1})
            records.append({**common, "model": row.model_2, "win": 0, "loss": 0, "tie": 1})
        else:
            winner, loser = (
                (row.model_1, row.model_2) if verdict == "model_1" else (row.model_2, row.model_1)
            )
            records.append({**common, "model": winner, "win": 1, "loss": 0, "tie": 0})
            records.append({**common, "model": loser, "win": 0, "loss": 1, "tie": 0})
    return pd.DataFrame(records, columns=["question_id", "turn", "model", "win", "loss", "tie"])


def pairwise_table(outcomes: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """FastChat's pairwise table indexed by model, sorted by `win_rate_adjusted`, best first."""
    table = outcomes[["model", "win", "loss", "tie"]].groupby(["model"]).sum()
    if baseline is not None:
        table = table[table.index != baseline]
    total = table["win"] + table["loss"] + table["tie"]
    table["win_rate"] = table["win"] / total
    table["loss_rate"] = table["loss"] / total
    table["win_rate_adjusted"] = (table["win"] + 0.5 * table["tie"]) / total
    return table.sort_values(by="win_rate_adjusted", ascending=False)
