"""Which judgment rows a score counts, by the rules every reader shares.

FastChat's rules first (rows without a parsable verdict are dropped; `--model-list` and the
baseline select rows), then mtbench's: stale rows are left out (`judging.staleness`), a
judgment repeated in the file counts once (`first_parsed`), and the samples of an item
(`mtbench-judge --samples`) become one score (`analysis.samples`). Every dropped row is counted
in an `Accounting`. `analysis.scores` computes the tables from what is selected here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from mtbench.analysis.samples import combine_samples, majority_rows
from mtbench.data.judgments import (
    Judgment,
    PairJudgment,
    SingleJudgment,
    first_parsed,
    out_of_scale_counts,
    out_of_scale_warning,
)
from mtbench.data.paths import BenchPaths
from mtbench.judging.staleness import PromptCheck, graded_prompts, pending_items, stale_note

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
        out_of_scale: Single only: used rows whose score lies outside the judge prompt's
            scale (`SCORE_SCALE`), per model; kept in the tables, as FastChat keeps them.
        stale: Rows left out because they graded an answer, reference or judge prompt that
            has changed since (`judging.staleness`); 0 with `keep_stale`.
        stale_pending: Items of those rows with no current row (not judged again yet).
        stale_models: Models whose every row was stale (so no score is shown for them).
        unchecked: Used rows whose graded prompt could not be rebuilt from the bench's files
            (no answer file, a question or judge prompt the bench lacks): used as they are.
        samples: Used rows that are a further sample of an item already counted
            (`mtbench-judge --samples`), combined into one score per item.
    """

    rows: int
    unparsed: int
    duplicates: int
    filtered: int
    used: int
    inconsistent: int = 0
    out_of_scale: Mapping[str, int] = field(default_factory=dict)
    stale: int = 0
    unchecked: int = 0
    samples: int = 0
    stale_pending: int = 0
    stale_models: tuple[str, ...] = ()


SINGLE_COLUMNS = ["model", "score", "turn", "question_id"]
PAIR_COLUMNS = ["question_id", "turn", "model_1", "model_2", "g1_winner", "g2_winner"]


def _select(
    judgments: Iterable[Judgment],
    selected: Callable[[Judgment], bool],
    check: PromptCheck | None = None,
) -> tuple[list[Judgment], Accounting]:
    """Drop unparsed rows, unselected ones, stale ones (when `check` is given), then repeats
    (keeping the first); count each."""
    rows = unparsed = filtered = unchecked = 0
    candidates: list[Judgment] = []
    stale: list[Judgment] = []
    unparsed_rows: list[Judgment] = []
    for judgment in judgments:
        rows += 1
        if not judgment.parsed:
            unparsed += 1
            unparsed_rows.append(judgment)
        elif not selected(judgment):
            filtered += 1
        else:
            status = check.status(judgment) if check is not None else "current"
            if status == "stale":
                stale.append(judgment)
                continue
            unchecked += status == "unchecked"
            candidates.append(judgment)
    candidates, superseded = latest_prompts(candidates)
    # Every candidate is parsed, so `first_parsed` keeps the first row of each judgment.
    kept, duplicates = first_parsed(candidates)
    duplicates += superseded
    if duplicates:
        logger.warning("%d repeated judgment row(s) counted once", duplicates)
    # An item judged again since (even without a parsable verdict) is not pending.
    pending = pending_items(stale, [*candidates, *unparsed_rows])
    note = stale_note(len(stale), pending)
    if note:
        logger.warning("%s", note)
    used_models = {model for row in kept for model in _models(row)}
    only_stale = sorted({m for row in stale for m in _models(row)} - used_models)
    return kept, Accounting(
        rows=rows,
        unparsed=unparsed,
        duplicates=duplicates,
        filtered=filtered,
        used=len(kept),
        stale=len(stale),
        unchecked=unchecked,
        samples=sum(row.sample > 1 for row in kept),
        stale_pending=pending,
        stale_models=tuple(only_stale),
    )


def _models(row: SingleJudgment | PairJudgment) -> tuple[str, ...]:
    return (row.model_1, row.model_2) if isinstance(row, PairJudgment) else (row.model,)


def latest_prompts(rows: Sequence[Judgment]) -> tuple[list[Judgment], int]:
    """Of the current rows of one judgment that graded different prompts, the latest's.

    A reader cannot tell which options made a row: with answers holding a `<think>` trace, a
    row judged with `--answer-reasoning strip` and one judged without are both current, as are
    rows judged against two reference files of the bench. `mtbench-judge` judges again when its
    options change and appends the new row, so the prompt of a judgment's last row is the one
    its latest run graded; rows with another prompt are left out (counted with the repeats).
    Repeats of the same prompt are all kept, for `first_parsed`.

    Returns:
        The rows kept, in file order, and how many were left out.
    """

    def prompts(row: Judgment) -> tuple[str, ...]:
        return tuple(sorted(graded_prompts(row)))  # a pairwise row in either model order

    last: dict[object, tuple[str, ...]] = {}
    for row in rows:
        last[row.key] = prompts(row)
    kept = [row for row in rows if prompts(row) == last[row.key]]
    return kept, len(rows) - len(kept)


def select_single(
    judgments: Iterable[SingleJudgment],
    model_list: Sequence[str] | None = None,
    check: PromptCheck | None = None,
    combine: str = "median",
) -> tuple[pd.DataFrame, Accounting]:
    """One row per item for the single-mode tables: columns `model`, `score`, `turn`,
    `question_id`.

    Drops unparsed rows (score -1), then rows of models outside `model_list`, then stale rows
    (those `check` finds stale; no check without it), then repeats; then combines the samples
    of an item (`--samples`) into one score (`combine`: `median` or `mean`,
    `analysis.samples.combine_samples`). Scores outside the judge prompt's scale are kept
    (FastChat's rule), counted in the accounting's `out_of_scale` and logged as a warning.
    """
    _, frame, accounting = single_rows(judgments, model_list, check)
    return combine_samples(frame, "score", SINGLE_ITEM, combine)[SINGLE_COLUMNS], accounting


SINGLE_ITEM = ["model", "question_id", "turn"]
"""What one single-mode score is of; its samples are combined (`analysis.samples`)."""


def single_rows(
    judgments: Iterable[SingleJudgment],
    model_list: Sequence[str] | None,
    check: PromptCheck | None = None,
) -> tuple[list[SingleJudgment], pd.DataFrame, Accounting]:
    """The used rows, and a frame of them with one row per sample (before combining)."""
    kept, accounting = _select(
        judgments, lambda j: model_list is None or j.model in model_list, check
    )
    rows = [[j.model, j.score, j.turn, j.question_id] for j in kept]
    off_scale = out_of_scale_counts(kept)
    warning = out_of_scale_warning(off_scale)
    if warning:
        logger.warning("%s", warning)
    frame = pd.DataFrame(rows, columns=SINGLE_COLUMNS)
    return kept, frame, replace(accounting, out_of_scale=off_scale)


@dataclass(frozen=True)
class ReadOptions:
    """How a reader turns rows into scores, beyond FastChat's rules.

    Attributes:
        keep_stale: Use rows whose graded prompt has changed since (FastChat's behaviour, for
            reading archives); by default they are left out (`judging.staleness`).
        judge_file: The judge prompt file rows are checked against (default: the bench's).
        combine: How an item's samples become one score: `median` or `mean`.
    """

    keep_stale: bool = False
    judge_file: str | Path | None = None
    combine: str = "median"

    def check(self, paths: BenchPaths) -> PromptCheck | None:
        """The staleness check of these options (None with `keep_stale`)."""
        if self.keep_stale:
            return None
        return PromptCheck(paths, Path(self.judge_file) if self.judge_file else None)


def select_pairwise(
    judgments: Iterable[PairJudgment],
    baseline: str | None = None,
    model_list: Sequence[str] | None = None,
    check: PromptCheck | None = None,
) -> tuple[pd.DataFrame, Accounting]:
    """Rows for the pairwise tables, one per match.

    Columns: `question_id`, `turn`, `model_1`, `model_2`, `g1_winner`, `g2_winner`.

    Drops rows with an `error` game, then rows not involving `baseline` (when given), then rows
    outside `model_list`, then stale rows (those `check` finds stale), then repeats of the same
    match in either model order; a match judged several times (`--samples`) is its samples'
    majority verdict (`analysis.samples.majority_rows`).

    `model_list` keeps a row when its evaluated models are listed: with a baseline, the
    non-baseline model must be listed; without, both must be (FastChat checks only `model_1`,
    which silently drops a listed model's rows whenever it was `model_2`).
    """
    _, frame, accounting = pairwise_rows(judgments, baseline, model_list, check)
    return frame, accounting


def pair_frame(rows: Sequence[PairJudgment]) -> pd.DataFrame:
    data = [[j.question_id, j.turn, j.model_1, j.model_2, j.g1_winner, j.g2_winner] for j in rows]
    return pd.DataFrame(data, columns=PAIR_COLUMNS)


def pairwise_rows(
    judgments: Iterable[PairJudgment],
    baseline: str | None,
    model_list: Sequence[str] | None,
    check: PromptCheck | None = None,
) -> tuple[list[PairJudgment], pd.DataFrame, Accounting]:
    """The used rows (every sample), and a frame of one row per match (samples combined)."""

    def selected(judgment: PairJudgment) -> bool:
        pair = (judgment.model_1, judgment.model_2)
        if baseline is not None and baseline not in pair:
            return False
        evaluated = [m for m in pair if m != baseline]
        return model_list is None or all(m in model_list for m in evaluated)

    kept, accounting = _select(judgments, selected, check)
    frame = pair_frame(majority_rows(kept))
    inconsistent = int((frame["g1_winner"] != frame["g2_winner"]).sum())
    return kept, frame, replace(accounting, inconsistent=inconsistent)


OUTCOME_COLUMNS = ["question_id", "turn", "model", "opponent", "win", "loss", "tie"]
PAIR_ITEM = ["model", "question_id", "turn", "opponent"]
"""What one pairwise outcome is of; its samples are what `--samples` repeats."""
