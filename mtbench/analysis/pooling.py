"""Pool several judges' single scores into one score per model (`mtbench-show --judge-model J1 J2`).

One judge's MT-bench score hangs on that judge's taste; averaging several judges makes it hang on
none of them alone. The rules:

* Each judge's file is read by `mtbench.analysis.scores.select_single`, so every judge's rows
  pass the same rules as in `mtbench-show` (unparsed scores dropped, repeats counted once,
  `--model-list`), whatever those rules become.
* An *item* is (model, question_id, turn). Only items that **every** judge scored are pooled;
  the others are counted per model (`PooledReport.coverage`), never silently dropped. Pooling
  over different items per judge would mix judge differences with item differences.
* An item's pooled score is the mean of the judges' scores; a model's pooled score is the mean
  over its pooled items (FastChat's Average: all items of both turns, not a mean of turn means).
  Each judge's own average is taken over the same items, so the columns are comparable.
* The interval is a paired bootstrap over questions (`mtbench.analysis.bootstrap`): both turns of
  a question are drawn together, and every model sees the same draws.
* Judge agreement, per pair of judges and on the same pooled items: Spearman rank correlation of
  the model averages, the share of items with equal scores, the share within one point, the mean
  absolute difference and the mean signed offset (B − A).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec, interval, mean_draws
from mtbench.analysis.selection import Accounting, ReadOptions, select_single
from mtbench.data.defaults import DEFAULT_JUDGE
from mtbench.data.judgments import load_single_judgments
from mtbench.data.paths import BenchPaths, file_stem, require_file
from mtbench.data.questions import QuestionId, id_order, question_categories
from mtbench.errors import ConfigError, DataError
from mtbench.judging.staleness import PromptCheck

logger = logging.getLogger(__name__)

DEFAULT_TOP = 10
MIN_RANK_MODELS = 3
"""Fewer models than this give no Spearman correlation (two points always correlate ±1)."""

ITEM = ["model", "question_id", "turn"]
"""The columns that name an item."""

SINGLE_SUFFIX = "_single"

RESERVED = frozenset(ITEM) | {"category", "pooled", "lower", "upper", "items", "questions"}
RESERVED |= {"pooled_items", "left_out", "spread"}
"""Column names of the report's tables that a judge label, itself a column, must not take."""


@dataclass(frozen=True)
class JudgeSource:
    """One judge to pool.

    Attributes:
        label: The judge's name in every table (unique among the pooled judges).
        file: Its single-grading judgment file.
    """

    label: str
    file: Path


@dataclass(frozen=True)
class JudgeScores:
    """One judge's scores, as `select_single` leaves them.

    Attributes:
        source: The judge and its file.
        frame: One row per judged item: columns `model`, `score`, `turn`, `question_id`.
        accounting: What happened to the file's rows.
    """

    source: JudgeSource
    frame: pd.DataFrame
    accounting: Accounting


@dataclass(frozen=True)
class PooledReport:
    """Several judges' single scores pooled (what `mtbench-show` prints for several judges).

    Attributes:
        judges: The pooled judges (labels and files), in the order given.
        scores: One row per model with pooled items, best first; index `model`; columns
            `pooled` (mean of the per-item judge means, 1-10 points), `lower`/`upper` (its
            bootstrap interval; absent without bootstrap), `items` (pooled items) and
            `questions` (distinct questions among them).
        judge_scores: Each judge's own average on the same items; index `model` (in `scores`
            order), one column per judge label (points).
        coverage: One row per model seen in any file; index `model`; columns `items` (items any
            judge scored), `pooled_items` (items every judge scored), `left_out` (the rest),
            then one column per judge label: items of the model that judge did not score
            (not judged, or no parsable score).
        agreement: One row per pair of judges (A before B in the given order); index `pair`
            (`A vs B`); columns `judge_a`, `judge_b`, `models` (models ranked), `items`,
            `spearman` (rank correlation of the model averages, NaN if it cannot be
            computed; see `notes`), `exact` (share of items with equal scores, 0-1),
            `within_one` (share with |B − A| <= 1), `mean_abs_diff` (points) and `offset`
            (mean of B − A, points).
        disagreements: The `top` pooled items with the largest spread (max − min of the judges'
            scores), largest first, ties by model, question, turn; columns `model`,
            `question_id`, `turn`, `category`, `spread`, then one column per judge label.
        items: Every pooled item: columns `model`, `question_id`, `turn`, `category`,
            `pooled`, then one column per judge label; sorted by model, question, turn.
        accountings: Each judge's row accounting, by label.
        bootstrap: The resampling behind `lower`/`upper` (None: no intervals).
        notes: Why a number is missing (e.g. Spearman with fewer than 3 models).
    """

    judges: tuple[JudgeSource, ...]
    scores: pd.DataFrame
    judge_scores: pd.DataFrame
    coverage: pd.DataFrame
    agreement: pd.DataFrame
    disagreements: pd.DataFrame
    items: pd.DataFrame
    accountings: Mapping[str, Accounting]
    bootstrap: BootstrapSpec | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def labels(self) -> list[str]:
        """The judges' labels, in order."""
        return [judge.label for judge in self.judges]


def file_label(path: str | Path) -> str:
    """A judgment file's judge label: its stem without a trailing `_single`.

    `data/mt_bench/model_judgment/gpt-4_single.jsonl` -> `gpt-4`, `old/run2.jsonl` -> `run2`.
    """
    stem = Path(path).stem
    return stem[: -len(SINGLE_SUFFIX)] if stem.endswith(SINGLE_SUFFIX) else stem


def judge_sources(
    paths: BenchPaths,
    judge_models: Sequence[str] | None = None,
    input_files: Sequence[str | Path] | None = None,
) -> list[JudgeSource]:
    """The judges to pool, named by judge (`--judge-model`) or by file (`--input-file`).

    Args:
        paths: The bench whose `model_judgment/{judge}_single.jsonl` a judge name reads.
        judge_models: Judge names, each mapped by `file_stem` (`Org/Judge-7B` -> `Judge-7B`);
            the label is the mapped name.
        input_files: Single-grading files; the label is `file_label` of each. Used instead
            of `judge_models` when given.

    Returns:
        One source per judge, in the order given.

    Raises:
        ConfigError: when two judges get the same label (naming both), a label is one of the
            report's column names (`RESERVED`), or a name gives no file name (`file_stem`).
    """
    if input_files:
        named = [(str(f), file_label(f), Path(f)) for f in input_files]
        flag = "--input-file"
    else:
        judges = list(judge_models or [DEFAULT_JUDGE])
        named = [
            (j, file_stem(j, "--judge-model"), paths.judgment_file(j, "single")) for j in judges
        ]
        flag = "--judge-model"
    seen: dict[str, str] = {}
    sources = []
    for given, label, path in named:
        _check_label(label, f"{flag} {given!r}")
        if label in seen:
            raise ConfigError(
                f"{flag} {seen[label]!r} and {given!r} both give the judge label {label!r}; "
                "pool each judge once (copy or rename one of the files)"
            )
        seen[label] = given
        sources.append(JudgeSource(label, path))
    return sources


def _check_label(label: str, given: str) -> None:
    if label in RESERVED:
        raise ConfigError(
            f"{given} gives the judge label {label!r}, which is also a column of the pooled "
            "report; copy the file under another name and pass it with --input-file"
        )


def load_judge_scores(
    source: JudgeSource,
    model_list: Sequence[str] | None = None,
    check: PromptCheck | None = None,
    combine: str = "median",
) -> JudgeScores:
    """Read one judge's file through `select_single` (the row rules of `mtbench-show`): stale
    rows left out when `check` is given, an item's samples combined by `combine`.

    Raises:
        DataError: for a missing or malformed file, or one with no judgment left.
    """
    require_file(
        source.file,
        f"single judgment file of judge {source.label!r}",
        hint="run `mtbench-judge --mode single` with that judge first, or pass --input-file",
    )
    rows = load_single_judgments(source.file)
    frame, accounting = select_single(rows, model_list, check, combine)
    if frame.empty:
        raise DataError(
            f"no judgments of judge {source.label!r} left to pool ({accounting.rows} row(s) "
            f"read, {accounting.unparsed} without a parsable score, {accounting.filtered} "
            f"outside --model-list, {accounting.stale} stale)",
            source.file,
        )
    return JudgeScores(source, frame, accounting)


def pool_judges(
    judges: Sequence[JudgeScores],
    categories: Mapping[QuestionId, str] | None = None,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
    top: int = DEFAULT_TOP,
) -> PooledReport:
    """Pool judges' scores item by item (the rules are in the module docstring).

    Args:
        judges: Two or more judges with distinct labels.
        categories: Question id to category, for `disagreements` and `items` (None: `unknown`).
        bootstrap: Resampling for the pooled score's interval; None or 0 resamples: none.
        top: How many of the most disputed items to list.

    Returns:
        The pooled report.

    Raises:
        ConfigError: for fewer than two judges, repeated labels or a negative `top`.
        DataError: when no item was scored by every judge.
    """
    labels = [judge.source.label for judge in judges]
    if len(labels) < 2:
        raise ConfigError("pooling needs two or more judges")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"judge labels must differ, got {', '.join(labels)}")
    for label in labels:
        _check_label(label, f"judge {label!r}")
    if top < 0:
        raise ConfigError(f"--top must be 0 or more, got {top}")
    if bootstrap is not None and bootstrap.resamples <= 0:
        bootstrap = None
    wide = _item_table(judges)
    scored = wide[labels].notna()
    common = scored.all(axis=1)
    coverage = _coverage(wide.index.get_level_values("model"), scored, common, labels)
    if not common.any():
        raise DataError(
            "no item (model, question, turn) was scored by every judge: nothing to pool; "
            "check that the files judge the same models and questions",
            judges[-1].source.file,
        )
    items = wide[common].reset_index()
    items.insert(3, "category", items["question_id"].map(lambda q: _category(categories, q)))
    items.insert(4, "pooled", items[labels].mean(axis=1))
    by_model = items.groupby("model")
    scores = pd.DataFrame(
        {
            "pooled": by_model["pooled"].mean(),
            "items": by_model.size(),
            "questions": by_model["question_id"].nunique(),
        }
    )
    if bootstrap is not None:
        ci = interval(mean_draws(items, "pooled", bootstrap), bootstrap.confidence)
        scores.insert(1, "lower", ci["lower"])
        scores.insert(2, "upper", ci["upper"])
    scores = scores.sort_values("pooled", ascending=False, kind="stable")
    judge_scores = by_model[labels].mean().reindex(scores.index)
    agreement, notes = _agreement(items, judge_scores, labels)
    spread = items[labels].max(axis=1) - items[labels].min(axis=1)
    disputed = items.assign(spread=spread, _qid=items["question_id"].map(id_order))
    disputed = disputed.sort_values(
        ["spread", "model", "_qid", "turn"], ascending=[False, True, True, True], kind="stable"
    )
    columns = ["model", "question_id", "turn", "category", "spread", *labels]
    disagreements = disputed[columns].head(top).reset_index(drop=True)
    return PooledReport(
        judges=tuple(judge.source for judge in judges),
        scores=scores,
        judge_scores=judge_scores,
        coverage=coverage,
        agreement=agreement,
        disagreements=disagreements,
        items=items,
        accountings={judge.source.label: judge.accounting for judge in judges},
        bootstrap=bootstrap,
        notes=tuple(notes),
    )


def _item_table(judges: Sequence[JudgeScores]) -> pd.DataFrame:
    """One row per item any judge scored, one score column per judge (NaN: not scored)."""
    columns = []
    for judge in judges:
        frame = judge.frame.astype({"score": float})
        per_item = frame.groupby(ITEM)["score"]
        # `select_single` leaves one row per item; a file judged under two prompt names could
        # still hold two, and then their mean is the judge's score of the item.
        several = int((per_item.size() > 1).sum())
        if several:
            logger.warning(
                "%s: %d item(s) with several scores; their mean counts", judge.source.file, several
            )
        columns.append(per_item.mean().rename(judge.source.label))
    wide = pd.concat(columns, axis=1)
    order = sorted(wide.index, key=lambda key: (key[0], id_order(key[1]), key[2]))
    return wide.reindex(pd.MultiIndex.from_tuples(order, names=ITEM))


def _coverage(
    models: pd.Index, scored: pd.DataFrame, common: pd.Series, labels: list[str]
) -> pd.DataFrame:
    """Items per model: seen, pooled, left out, and not scored by each judge."""
    values = scored.assign(_common=common).reset_index(drop=True)
    values.index = pd.Index(models, name="model")
    grouped = values.groupby(level="model")
    coverage = pd.DataFrame(
        {"items": grouped.size(), "pooled_items": grouped["_common"].sum().astype(int)}
    )
    coverage["left_out"] = coverage["items"] - coverage["pooled_items"]
    for label in labels:
        coverage[label] = (~values[label]).groupby(level="model").sum().astype(int)
    return coverage


def _agreement(
    items: pd.DataFrame, judge_scores: pd.DataFrame, labels: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """One row of agreement numbers per pair of judges, and notes on missing correlations."""
    rows = []
    notes = []
    models = len(judge_scores)
    for a, b in combinations(labels, 2):
        diff = items[b] - items[a]
        spearman = float("nan")
        if models >= MIN_RANK_MODELS:
            # DataFrame.corr ranks without scipy (Series.corr would import it for Spearman).
            ranks = judge_scores[[a, b]].corr(method="spearman")
            spearman = float(ranks.to_numpy()[0, 1])
            if pd.isna(spearman):
                notes.append(
                    f"Spearman {a} vs {b} is undefined: one judge gives every model the same "
                    "average"
                )
        rows.append(
            {
                "pair": f"{a} vs {b}",
                "judge_a": a,
                "judge_b": b,
                "models": models,
                "items": len(items),
                "spearman": spearman,
                "exact": float((diff == 0).mean()),
                "within_one": float((diff.abs() <= 1).mean()),
                "mean_abs_diff": float(diff.abs().mean()),
                "offset": float(diff.mean()),
            }
        )
    if models < MIN_RANK_MODELS:
        notes.append(
            f"Spearman needs {MIN_RANK_MODELS} or more models with pooled items; "
            f"{models} here, so it is left empty"
        )
    return pd.DataFrame(rows).set_index("pair"), notes


def _category(categories: Mapping[QuestionId, str] | None, question_id: QuestionId) -> str:
    return (categories or {}).get(question_id, "unknown")


def build_pooled_report(
    paths: BenchPaths,
    judge_models: Sequence[str] | None = None,
    input_files: Sequence[str | Path] | None = None,
    model_list: Sequence[str] | None = None,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
    top: int = DEFAULT_TOP,
    read: ReadOptions = ReadOptions(),
) -> PooledReport:
    """What `mtbench-show --judge-model J1 J2 ...` (or `--input-file F1 F2 ...`) computes.

    Args:
        paths: The bench (question file for categories, judges' default files).
        judge_models: Judge names (see `judge_sources`).
        input_files: Single-grading files, one per judge, instead of `judge_models`.
        model_list: Only these models (None: all), as `select_single` filters them.
        bootstrap: Resampling for the pooled score's interval.
        top: How many of the most disputed items to list.
        read: Stale rows and samples, as in `mtbench-show` (`analysis.scores.ReadOptions`).

    Raises:
        ConfigError: for colliding labels, fewer than two judges, or a negative `top`.
        DataError: for a missing or malformed file, or nothing to pool.
    """
    sources = judge_sources(paths, judge_models, input_files)
    if len(sources) < 2:
        raise ConfigError("pooling needs two or more judges")
    if top < 0:  # before any file is read
        raise ConfigError(f"--top must be 0 or more, got {top}")
    check = read.check(paths)
    judges = [load_judge_scores(s, model_list, check, read.combine) for s in sources]
    categories = question_categories(paths.question_file)
    return pool_judges(judges, categories, bootstrap, top)
