"""`mtbench-show` as a library: read a judgment file and build the result tables.

`build_report` computes FastChat's tables (same rules, same numbers) plus what FastChat leaves
out: a per-category table, bootstrap confidence intervals and an account of dropped rows.
`mtbench.reports.scores` turns a report into text, CSV, JSON or Markdown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec, interval, mean_draws
from mtbench.analysis.results import (
    Accounting,
    pairwise_outcomes,
    pairwise_table,
    select_pairwise,
    select_single,
    single_average_table,
    single_turn_table,
)
from mtbench.data.judgments import grading_kind, load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths, require_file
from mtbench.data.questions import CATEGORIES, question_categories
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

DEFAULT_JUDGE = "gpt-4"
DEFAULT_BASELINE = "gpt-3.5-turbo"


@dataclass(frozen=True)
class Report:
    """Everything `mtbench-show` prints.

    Attributes:
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        input_file: The judgment file read.
        tables: FastChat's tables in its order, by title (`First turn`, `Second turn`,
            `Average` for single; one pairwise table otherwise).
        summary: One row per model: the headline number, its bootstrap interval and counts.
        categories: Category × model table (mean score, or adjusted win rate), None if the
            question file was not available.
        accounting: What happened to the file's rows.
        baseline: The baseline model in `pairwise-baseline` mode.
        bootstrap: The resampling used for `summary` (None if turned off).
    """

    mode: str
    input_file: Path
    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame
    categories: pd.DataFrame | None
    accounting: Accounting
    baseline: str | None = None
    bootstrap: BootstrapSpec | None = None


def default_input_file(paths: BenchPaths, judge_model: str, mode: str) -> Path:
    """FastChat's default: `{data}/{bench}/model_judgment/{judge}_single|pair.jsonl`."""
    return paths.judgment_file(judge_model, mode)


def build_report(
    paths: BenchPaths,
    mode: str = "single",
    input_file: str | Path | None = None,
    judge_model: str = DEFAULT_JUDGE,
    baseline_model: str | None = DEFAULT_BASELINE,
    model_list: Sequence[str] | None = None,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
) -> Report:
    """Read a judgment file and compute the result tables.

    Args:
        paths: The data directory and bench (questions, default input file).
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        input_file: The judgment file; default from `judge_model` and `mode` (as FastChat).
        judge_model: Used only for the default input file.
        baseline_model: The baseline of `pairwise-baseline` (ignored otherwise).
        model_list: Only these models (None: all).
        bootstrap: Resampling for confidence intervals; None or 0 resamples turns them off.

    Raises:
        ConfigError: for an unknown mode.
        DataError: for a missing or malformed file, or when no judgment is left to show.
    """
    grading_kind(mode)  # an unknown mode fails before any file is read
    path = (
        Path(input_file) if input_file is not None else default_input_file(paths, judge_model, mode)
    )
    require_file(
        path,
        "judgment file",
        hint=f"run `mtbench-judge --mode {mode}` first, or pass --input-file",
    )
    if bootstrap is not None and bootstrap.resamples <= 0:
        bootstrap = None
    categories = question_categories(paths.question_file)
    if mode == "single":
        return _single_report(paths, path, model_list, bootstrap, categories)
    baseline = baseline_model if mode == "pairwise-baseline" else None
    return _pairwise_report(path, mode, baseline, model_list, bootstrap, categories)


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
    return DataError(
        "no judgments left to show (" + ", ".join(parts) + "); check --model-list, "
        "--baseline-model and --mode",
        path,
    )


def _single_report(
    paths: BenchPaths,
    path: Path,
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    categories: dict[int, str] | None,
) -> Report:
    frame, accounting = select_single(load_single_judgments(path), model_list)
    if frame.empty:
        raise _nothing_left(path, accounting, model_list)
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
    if bootstrap is not None:
        ci = interval(mean_draws(frame, "score", bootstrap), bootstrap.confidence)
        summary.insert(1, "lower", ci["lower"])
        summary.insert(2, "upper", ci["upper"])
    summary = summary.sort_values(by="score", ascending=False, kind="stable")
    category_table = None
    if categories is not None:
        with_category = frame.assign(category=frame["question_id"].map(categories))
        category_table = _category_table(with_category, "score", list(summary.index))
    return Report("single", path, tables, summary, category_table, accounting, None, bootstrap)


def _pairwise_report(
    path: Path,
    mode: str,
    baseline: str | None,
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    categories: dict[int, str] | None,
) -> Report:
    frame, accounting = select_pairwise(load_pair_judgments(path), baseline, model_list)
    if frame.empty:
        raise _nothing_left(path, accounting, model_list)
    outcomes = pairwise_outcomes(frame)
    table = pairwise_table(outcomes, baseline)
    if table.empty:
        raise _nothing_left(path, accounting, model_list)
    outcomes = outcomes.assign(points=outcomes["win"] + 0.5 * outcomes["tie"])
    summary = table[["win_rate_adjusted", "win", "loss", "tie"]].copy()
    summary["judgments"] = table[["win", "loss", "tie"]].sum(axis=1)
    if bootstrap is not None:
        # Each outcome is exactly one of win/loss/tie, so the mean of points is the adjusted rate.
        ci = interval(mean_draws(outcomes, "points", bootstrap), bootstrap.confidence)
        summary.insert(1, "lower", ci["lower"])
        summary.insert(2, "upper", ci["upper"])
    category_table = None
    if categories is not None:
        with_category = outcomes.assign(category=outcomes["question_id"].map(categories))
        category_table = _category_table(with_category, "points", list(summary.index))
    return Report(
        mode, path, {"Pairwise": table}, summary, category_table, accounting, baseline, bootstrap
    )


def _category_table(frame: pd.DataFrame, value: str, models: list[str]) -> pd.DataFrame:
    """Mean of `value` per category (rows) and model (columns, in summary order)."""
    table = frame.groupby(["category", "model"])[value].mean().unstack()
    known = [c for c in CATEGORIES if c in table.index]
    others = sorted(c for c in table.index if c not in CATEGORIES)
    return table.reindex(index=known + others, columns=[m for m in models if m in table.columns])
