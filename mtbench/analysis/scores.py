"""`mtbench-show` as a library: scores from a judgment file by FastChat's `show_result` rules.

Single grading: rows with score -1 (no parsable rating) are dropped; the first-turn and
second-turn tables are means over each turn's rows, and the Average pools *all* remaining rows of
a model (not the mean of the two turn means).

Pairwise: rows where either game is `error` are dropped; a model wins a row only when both games
name it (`PairJudgment.combined`); a tie in either game or disagreeing games count as a tie for
both; `win_rate_adjusted = (win + 0.5 * tie) / n`.

Beyond FastChat, nothing is silently mixed or hidden: which rows count (stale rows left out,
repeats counted once, an item's samples combined) is decided by `analysis.selection`, which
counts every dropped row in an `Accounting`. `build_report` adds what FastChat leaves out: a
per-category table, bootstrap confidence intervals (left out where they would rest on too few
questions), each model's coverage of the bench (`analysis.coverage`), the judge's run-to-run
spread where items were judged several times (`analysis.samples`), the judge snapshots the
counted rows come from (with a warning when there are several), and the scores outside the
judge prompt's 1-10 scale (kept, as FastChat keeps them, but counted per model with a warning).
`mtbench.reports.scores` renders a `ScoreReport` as text, CSV, JSON or Markdown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec, interval, mean_draws
from mtbench.analysis.coverage import (
    MIN_INTERVAL_QUESTIONS,
    Coverage,
    coverage,
    coverage_warning,
    expected_items,
)
from mtbench.analysis.provenance import Provenance, data_provenance
from mtbench.analysis.samples import (
    COMBINE,
    combine_samples,
    has_samples,
    judge_spread,
)
from mtbench.analysis.selection import (
    OUTCOME_COLUMNS,
    PAIR_ITEM,
    SINGLE_COLUMNS,
    SINGLE_ITEM,
    Accounting,
    ReadOptions,
    pair_frame,
    pairwise_rows,
    single_rows,
)
from mtbench.analysis.snapshots import judge_snapshots, mixed_snapshots_warning
from mtbench.data.defaults import DEFAULT_BASELINE, DEFAULT_JUDGE
from mtbench.data.judgments import (
    PairJudgment,
    SingleJudgment,
    combined_verdict,
    grading_kind,
    load_pair_judgments,
    load_single_judgments,
)
from mtbench.data.paths import BenchPaths, require_file
from mtbench.data.questions import CATEGORIES, Question, QuestionId, load_questions
from mtbench.errors import ConfigError, DataError
from mtbench.judging.staleness import PromptCheck

logger = logging.getLogger(__name__)


def single_turn_table(frame: pd.DataFrame, turn: int) -> pd.DataFrame:
    """FastChat's per-turn table: mean score indexed by (model, turn), best first."""
    table = frame[frame["turn"] == turn][["model", "score", "turn"]].groupby(["model", "turn"])
    return table.mean().sort_values(by="score", ascending=False)


def single_average_table(frame: pd.DataFrame) -> pd.DataFrame:
    """FastChat's Average: mean of all remaining rows of each model, best first."""
    table = frame[["model", "score"]].groupby(["model"]).mean()
    return table.sort_values(by="score", ascending=False)


def pairwise_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One win/loss/tie record per model per row (two per row), with its question, turn and
    opponent.

    Each row's two games are combined by `combined_verdict`.

    Raises:
        ValueError: for a row with an `error` game (`select_pairwise` drops those).
    """
    records: list[dict[str, object]] = []
    for row in frame.itertuples(index=False):
        common = {"question_id": row.question_id, "turn": row.turn}
        verdict = combined_verdict(str(row.g1_winner), str(row.g2_winner))
        if verdict == "error":
            raise ValueError("pairwise_outcomes takes rows without errors (from select_pairwise)")
        one, two = (row.model_1, row.model_2)
        if verdict == "tie":
            records.append({**common, "model": one, "opponent": two, "win": 0, "loss": 0, "tie": 1})
            records.append({**common, "model": two, "opponent": one, "win": 0, "loss": 0, "tie": 1})
        else:
            winner, loser = (one, two) if verdict == "model_1" else (two, one)
            records.append(
                {**common, "model": winner, "opponent": loser, "win": 1, "loss": 0, "tie": 0}
            )
            records.append(
                {**common, "model": loser, "opponent": winner, "win": 0, "loss": 1, "tie": 0}
            )
    return pd.DataFrame(records, columns=OUTCOME_COLUMNS)


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


@dataclass(frozen=True)
class ScoreReport:
    """Everything `mtbench-show` prints.

    Attributes:
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        input_file: The judgment file read.
        tables: FastChat's tables in its order, by title (`First turn`, `Second turn`,
            `Average` for single; one pairwise table otherwise).
        summary: One row per model: the headline number, its bootstrap interval (NaN where it
            rests on fewer than `coverage.MIN_INTERVAL_QUESTIONS` questions), counts, and,
            when items were judged several times, the judge's run-to-run spread
            (`analysis.samples.SPREAD_COLUMNS`).
        categories: Category × model table (mean score, or adjusted win rate), None if the
            question file was not available.
        accounting: What happened to the file's rows.
        baseline: The baseline model in `pairwise-baseline` mode.
        bootstrap: The resampling used for `summary` (None if turned off).
        judge_snapshots: Judge calls of the used rows per judge snapshot (the `model` the
            server said answered, from each row's `JUDGE_META`), most first, then
            `snapshots.NOT_RECORDED` for calls whose row names none (FastChat's rows). A single
            row is one call, a pairwise row two (one per game). See `judge_snapshots`.
        coverage: Each model's judged items against the question file's (`analysis.coverage`),
            including `--model-list` models with no judgment at all; None without a question
            file.
        combine: How an item's samples were combined (`median` or `mean`).
        draws: Single mode with a bootstrap: each model's bootstrap draws of its score
            (resamples × models, `bootstrap.mean_draws`), for estimates built on the score
            (`calibration.scale`); None otherwise.
        provenance: The judge, its prompts and the data files' checksums behind the numbers
            (`analysis.provenance`); None for a report built by hand.
    """

    mode: str
    input_file: Path
    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame
    categories: pd.DataFrame | None
    accounting: Accounting
    baseline: str | None = None
    bootstrap: BootstrapSpec | None = None
    judge_snapshots: dict[str, int] = field(default_factory=dict)
    coverage: dict[str, Coverage] | None = None
    combine: str = "median"
    draws: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    provenance: Provenance | None = None

    @property
    def few_questions(self) -> dict[str, int]:
        """Models whose interval is left out for resting on too few questions, with the count."""
        if self.bootstrap is None or "questions" not in self.summary:
            return {}
        counts = self.summary["questions"]
        return {str(m): int(n) for m, n in counts.items() if n < MIN_INTERVAL_QUESTIONS}


def default_input_file(paths: BenchPaths, judge_model: str, mode: str) -> Path:
    """FastChat's default: `{data}/{bench}/model_judgment/{judge}_single|pair.jsonl`.

    `judge_model` is mapped to the file name as `mtbench-judge` maps it (`paths.file_stem`).
    """
    return paths.judgment_file(judge_model, mode)


def build_report(
    paths: BenchPaths,
    mode: str = "single",
    input_file: str | Path | None = None,
    judge_model: str = DEFAULT_JUDGE,
    baseline_model: str | None = DEFAULT_BASELINE,
    model_list: Sequence[str] | None = None,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
    judgments: Iterable[SingleJudgment] | Iterable[PairJudgment] | None = None,
    read: ReadOptions = ReadOptions(),
) -> ScoreReport:
    """Read a judgment file and compute the result tables.

    Args:
        paths: The data directory and bench (questions, default input file).
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        input_file: The judgment file; default from `judge_model` and `mode` (as FastChat).
        judge_model: Used only for the default input file: the judge's name or model name,
            mapped by `paths.file_stem` (`Org/Judge-7B` reads `Judge-7B_single.jsonl`).
        baseline_model: The baseline of `pairwise-baseline` (ignored otherwise).
        model_list: Only these models (None: all).
        bootstrap: Resampling for confidence intervals; None or 0 resamples turns them off.
        judgments: The rows of the input file, already read (every row, in file order: single
            rows for `single`, pairwise rows otherwise); None reads the file. Given, the file
            is not opened and only names the report's source.
        read: Stale rows, the judge prompt file, combining samples (`ReadOptions`).

    Raises:
        ConfigError: for an unknown mode or way of combining samples.
        DataError: for a missing or malformed file, or when no judgment is left to show.
    """
    grading_kind(mode)  # an unknown mode fails before any file is read
    if read.combine not in COMBINE:
        raise ConfigError(f"samples are combined by {' or '.join(COMBINE)}, not {read.combine!r}")
    path = (
        Path(input_file) if input_file is not None else default_input_file(paths, judge_model, mode)
    )
    if judgments is None:
        require_file(
            path,
            "judgment file",
            hint=f"run `mtbench-judge --mode {mode}` first, or pass --input-file",
        )
    if bootstrap is not None and bootstrap.resamples <= 0:
        bootstrap = None
    questions = load_questions(paths.question_file) if paths.question_file.is_file() else None
    check = read.check(paths)
    if mode == "single":
        singles = (
            load_single_judgments(path)
            if judgments is None
            else cast(Iterable[SingleJudgment], judgments)
        )
        return _single_report(paths, path, singles, model_list, bootstrap, questions, check, read)
    pairs = (
        load_pair_judgments(path) if judgments is None else cast(Iterable[PairJudgment], judgments)
    )
    baseline = baseline_model if mode == "pairwise-baseline" else None
    return _pairwise_report(
        paths, path, pairs, mode, baseline, model_list, bootstrap, questions, check, read
    )


def _nothing_left(
    path: Path, accounting: Accounting, model_list: Sequence[str] | None
) -> DataError:
    if accounting.rows == 0:
        return DataError("no judgments in this file; run `mtbench-judge` first", path)
    parts = [f"{accounting.rows} row(s) read"]
    if accounting.unparsed:
        parts.append(f"{accounting.unparsed} without a parsable verdict")
    if accounting.filtered:
        selection = f"--model-list {' '.join(model_list)}" if model_list else "the baseline filter"
        parts.append(f"{accounting.filtered} outside {selection}")
    if accounting.stale:
        parts.append(
            f"{accounting.stale} stale (rerun mtbench-judge to judge them again, or pass "
            "--keep-stale to read them as they are)"
        )
    return DataError(
        "no judgments left to show (" + ", ".join(parts) + "); check --model-list, "
        "--baseline-model and --mode",
        path,
    )


def _single_report(
    paths: BenchPaths,
    path: Path,
    judgments: Iterable[SingleJudgment],
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    questions: list[Question] | None,
    check: PromptCheck | None,
    read: ReadOptions,
) -> ScoreReport:
    kept, samples, accounting = single_rows(judgments, model_list, check)
    if samples.empty:
        raise _nothing_left(path, accounting, model_list)
    frame = combine_samples(samples, "score", SINGLE_ITEM, read.combine)[SINGLE_COLUMNS]
    tables = {"First turn": single_turn_table(frame, 1)}
    # FastChat shows the second turn and the average only for MT-bench (two-turn questions).
    if paths.bench_name == "mt_bench":
        tables["Second turn"] = single_turn_table(frame, 2)
        tables["Average"] = single_average_table(frame)
    average = frame.groupby("model")["score"].mean()
    summary = pd.DataFrame(
        {
            "score": average,
            "turn_1": frame[frame["turn"] == 1].groupby("model")["score"].mean(),
            "turn_2": frame[frame["turn"] == 2].groupby("model")["score"].mean(),
            "judgments": frame.groupby("model").size(),
            "questions": frame.groupby("model")["question_id"].nunique(),
        }
    )
    draws = None
    if bootstrap is not None:
        draws = mean_draws(frame, "score", bootstrap)
        ci = interval(draws, bootstrap.confidence)
        summary.insert(1, "lower", ci["lower"])
        summary.insert(2, "upper", ci["upper"])
    if has_samples(samples, SINGLE_ITEM):
        summary = summary.join(judge_spread(samples, "score", SINGLE_ITEM, bootstrap))
    summary = _finish_summary(summary.sort_values(by="score", ascending=False, kind="stable"))
    category_table = None
    categories = _categories(questions)
    if categories is not None:
        with_category = frame.assign(category=frame["question_id"].map(categories))
        category_table = _category_table(with_category, "score", list(summary.index))
    judged: dict[str, list[tuple[object, ...]]] = {}
    for row in frame.itertuples(index=False):
        judged.setdefault(str(row.model), []).append((row.question_id, row.turn))
    return ScoreReport(
        "single",
        path,
        tables,
        summary,
        category_table,
        accounting,
        None,
        bootstrap,
        judge_snapshots=_snapshots(kept),
        coverage=_coverage(
            questions, judged, list(summary.index), model_list, None, accounting.stale_models
        ),
        combine=read.combine,
        draws=draws,
        provenance=data_provenance(paths, kept, list(summary.index), read.judge_file),
    )


def _pairwise_report(
    paths: BenchPaths,
    path: Path,
    judgments: Iterable[PairJudgment],
    mode: str,
    baseline: str | None,
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    questions: list[Question] | None,
    check: PromptCheck | None,
    read: ReadOptions,
) -> ScoreReport:
    kept, frame, accounting = pairwise_rows(judgments, baseline, model_list, check)
    if frame.empty:
        raise _nothing_left(path, accounting, model_list)
    outcomes = pairwise_outcomes(frame)
    table = pairwise_table(outcomes, baseline)
    if table.empty:
        raise _nothing_left(path, accounting, model_list)
    outcomes = outcomes.assign(points=outcomes["win"] + 0.5 * outcomes["tie"])
    summary = table[["win_rate_adjusted", "win", "loss", "tie"]].copy()
    summary["judgments"] = table[["win", "loss", "tie"]].sum(axis=1)
    summary["questions"] = outcomes.groupby("model")["question_id"].nunique()
    if bootstrap is not None:
        # Each outcome is exactly one of win/loss/tie, so the mean of points is the adjusted rate.
        ci = interval(mean_draws(outcomes, "points", bootstrap), bootstrap.confidence)
        summary.insert(1, "lower", ci["lower"])
        summary.insert(2, "upper", ci["upper"])
    every = pairwise_outcomes(pair_frame(kept))
    if has_samples(every, PAIR_ITEM):
        every = every.assign(points=every["win"] + 0.5 * every["tie"])
        summary = summary.join(judge_spread(every, "points", PAIR_ITEM, bootstrap))
    summary = _finish_summary(summary)
    category_table = None
    categories = _categories(questions)
    if categories is not None:
        with_category = outcomes.assign(category=outcomes["question_id"].map(categories))
        category_table = _category_table(with_category, "points", list(summary.index))
    shown = list(summary.index)
    judged: dict[str, list[tuple[object, ...]]] = {}
    for row in outcomes.itertuples(index=False):
        if row.model in shown:
            unit = (
                (row.question_id, row.turn)
                if baseline
                else (row.question_id, row.turn, row.opponent)
            )
            judged.setdefault(str(row.model), []).append(unit)
    opponents = None if baseline else {m: [o for o in shown if o != m] for m in shown}
    return ScoreReport(
        mode,
        path,
        {"Pairwise": table},
        summary,
        category_table,
        accounting,
        baseline,
        bootstrap,
        judge_snapshots=_snapshots(kept),
        coverage=_coverage(
            questions, judged, shown, model_list, opponents, accounting.stale_models
        ),
        provenance=data_provenance(
            paths, kept, [*shown, *([baseline] if baseline else [])], read.judge_file
        ),
    )


def _finish_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Leave out the intervals of models judged on fewer than `MIN_INTERVAL_QUESTIONS`."""
    if "lower" in summary:
        few = summary["questions"] < MIN_INTERVAL_QUESTIONS
        summary.loc[few, ["lower", "upper"]] = float("nan")
    return summary


def _categories(questions: list[Question] | None) -> dict[QuestionId, str] | None:
    if questions is None:
        logger.warning("question file not found: per-category results and coverage are left out")
        return None
    return {q.question_id: q.category for q in questions}


def _coverage(
    questions: list[Question] | None,
    judged: dict[str, list[tuple[object, ...]]],
    shown: Sequence[str],
    model_list: Sequence[str] | None,
    opponents: dict[str, list[str]] | None = None,
    stale_models: Sequence[str] = (),
) -> dict[str, Coverage] | None:
    """Coverage of the shown models, then of listed models with nothing to show, then of models
    whose every row was stale; warned."""
    if questions is None:
        return None
    models = {m: judged.get(m, []) for m in [*shown, *(model_list or []), *stale_models]}
    result = coverage(models, expected_items(questions), opponents)
    for entry in result.values():
        warning = coverage_warning(entry)
        if warning:
            logger.warning("%s", warning)
    return result


def _snapshots(kept: Sequence[SingleJudgment] | Sequence[PairJudgment]) -> dict[str, int]:
    """`judge_snapshots` of the used rows, logging a warning when they mix snapshots."""
    snapshots = judge_snapshots(kept)
    warning = mixed_snapshots_warning(snapshots)
    if warning:
        logger.warning("%s", warning)
    return snapshots


def _category_table(frame: pd.DataFrame, value: str, models: list[str]) -> pd.DataFrame:
    """Mean of `value` per category (rows) and model (columns, in summary order)."""
    table = frame.groupby(["category", "model"])[value].mean().unstack()
    known = [c for c in CATEGORIES if c in table.index]
    others = sorted(c for c in table.index if c not in CATEGORIES)
    return table.reindex(index=known + others, columns=[m for m in models if m in table.columns])
