"""Compare two runs' single scores item by item (`mtbench-show --compare A B`).

A *run* is one model's scores in one single-grading file: two models judged together, or the same
model under two settings, judges or dates (two files). Only items (question × turn) that both runs
scored are compared; every other item is counted with the reason it was left out. The difference
B − A is the mean of the per-item differences, with a paired bootstrap interval: questions are
resampled (both turns of a question together), the same draws for both runs, seeded. The same is
done per turn and per category, and the items that moved most are listed.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec, interval, mean_draws
from mtbench.analysis.selection import ReadOptions, latest_prompts
from mtbench.data.defaults import DEFAULT_JUDGE
from mtbench.data.judgments import (
    first_parsed,
    load_single_judgments,
    out_of_scale,
    out_of_scale_counts,
    out_of_scale_warning,
)
from mtbench.data.paths import BenchPaths, file_stem, require_file
from mtbench.data.questions import CATEGORIES, QuestionId, id_order, question_categories
from mtbench.errors import ConfigError, DataError
from mtbench.judging.staleness import PromptCheck, split_stale

logger = logging.getLogger(__name__)

Item = tuple[QuestionId, int]
"""(question_id, turn)."""

DEFAULT_TOP = 10


@dataclass(frozen=True)
class RunSpec:
    """Which scores make a run.

    Attributes:
        file: A single-grading judgment file.
        model: The model whose rows of that file are the run.
    """

    file: Path
    model: str

    def __str__(self) -> str:
        return f"{self.model} in {self.file}"


def parse_run_spec(text: str, default_file: Path, paths: BenchPaths | None = None) -> RunSpec:
    """Read a run as written on the command line.

    * `MODEL`: the model in `default_file` (the file `mtbench-show` reads);
    * `FILE:MODEL`: the model in another single-grading file;
    * `JUDGE:MODEL`: the model in `model_judgment/{JUDGE}_single.jsonl` of the bench;
    * `FILE`: the only model of that file.

    A name that is an existing file is a file; a colon splits file (or judge) from model only if
    the part before it names an existing file, so model names with colons (`llama3:8b`) work.
    JUDGE and MODEL are mapped by `paths.file_stem`, as `mtbench-judge` maps `--judge-model` and
    `--model-list` (`Org/Judge-7B:Org/Some-Model` is `Some-Model` in `Judge-7B_single.jsonl`).

    Raises:
        DataError: when the part before the last colon looks like a path but is not a file, or
            the whole run ends in `.jsonl` and is not a file.
        ConfigError: for a MODEL that gives no file name (`..`).
    """
    if Path(text).is_file():
        return RunSpec(Path(text), "")
    for index in [i for i, c in enumerate(text) if c == ":"][::-1]:
        left, model = text[:index], text[index + 1 :]
        if not model:
            continue
        if Path(left).is_file():
            return RunSpec(Path(left), file_stem(model, "--compare"))
        judge_file = _judge_file(paths, left)
        if judge_file is not None and judge_file.is_file():
            return RunSpec(judge_file, file_stem(model, "--compare"))
    left = text.rpartition(":")[0] or text
    if left.endswith(".jsonl") or ("/" in left and left != text):
        judge_file = None if left.endswith(".jsonl") else _judge_file(paths, left)
        also = f", or the judge (its file would be {judge_file})" if judge_file else ""
        raise DataError(f"judgment file not found (in run {text!r}); check the path{also}", left)
    return RunSpec(default_file, file_stem(text, "--compare"))


def _judge_file(paths: BenchPaths | None, judge: str) -> Path | None:
    """The single-grading file of a judge name, None if `judge` cannot name one."""
    if paths is None:
        return None
    try:
        return paths.judgment_file(judge, "single")
    except ConfigError:
        return None


@dataclass(frozen=True)
class RunScores:
    """One run's scores by item.

    Attributes:
        spec: The file and model.
        scores: Parsed scores by (question_id, turn); the first parsed row of an item counts.
        unparsed: Items judged but without a parsable score (-1 in every row).
        out_of_scale: Items whose score lies outside the judge prompt's scale
            (`SCORE_SCALE`); compared like any other, as FastChat keeps them, and counted.
    """

    spec: RunSpec
    scores: dict[Item, float]
    unparsed: frozenset[Item]
    out_of_scale: frozenset[Item] = frozenset()


def load_run(spec: RunSpec, check: PromptCheck | None = None, combine: str = "median") -> RunScores:
    """Read one run's scores.

    Rows `check` finds stale are left out (no check: none), except that a run whose every row
    is stale (an archived run of a model regenerated since) is compared as recorded, with a
    warning; the samples of an item (`--samples`) are combined by `combine` (`median`,
    `mean`).

    Raises:
        DataError: for a missing file, or a model without rows in it (naming the models there);
            also when `spec.model` is empty and the file holds more than one model.
    """
    require_file(
        spec.file,
        "single judgment file",
        hint="run `mtbench-judge --mode single` first, or give FILE:MODEL",
    )
    judgments = list(load_single_judgments(spec.file))
    models = sorted({j.model for j in judgments})
    model = spec.model
    if not model:
        if len(models) != 1:
            raise DataError(
                f"holds {len(models)} models ({', '.join(models) or 'none'}); write FILE:MODEL",
                spec.file,
            )
        model = models[0]
    if model not in models:
        raise DataError(
            f"no judgments of model {model!r} (models here: {', '.join(models) or 'none'}); "
            "to compare a model of another file write FILE:MODEL",
            spec.file,
        )
    every = [j for j in judgments if j.model == model]
    current, stale = split_stale(every, check)
    if stale and not current:
        # An archived run of a model regenerated since (`release:m` against `candidate:m`):
        # every row graded answers the bench no longer holds. Compared as recorded, and said.
        logger.warning(
            "%s: every judgment of %s graded answers (or references, prompts) that have "
            "changed since; compared as recorded",
            spec.file,
            model,
        )
        current = stale
    elif stale:
        logger.warning("%s: %d stale judgment row(s) of %s skipped", spec.file, len(stale), model)
    rows, _ = latest_prompts(current)
    # One score per item, whatever judge prompt graded it: the item is what runs are compared
    # on; an item's samples (`--samples`) are combined into it.
    kept, _ = first_parsed(rows, key=lambda j: (j.question_id, j.turn, j.sample))
    samples: dict[Item, list[float]] = {}
    for j in kept:
        if j.parsed:
            samples.setdefault((j.question_id, j.turn), []).append(float(j.score))
    middle = statistics.median if combine == "median" else statistics.fmean
    scores = {item: float(middle(values)) for item, values in samples.items()}
    unparsed = frozenset((j.question_id, j.turn) for j in kept if not j.parsed) - set(scores)
    # Parsed rows beyond those that count (unparsed rows are reported as unparsed items).
    repeated = sum(j.parsed for j in rows) - sum(len(v) for v in samples.values())
    if repeated:
        logger.warning(
            "%s: %d repeated judgment(s) of %s; the first parsed counts", spec.file, repeated, model
        )
    off_scale = [j for j in kept if out_of_scale(j)]
    warning = out_of_scale_warning(out_of_scale_counts(off_scale))
    if warning:
        logger.warning("%s: %s", spec.file, warning)
    items = frozenset((j.question_id, j.turn) for j in off_scale)
    return RunScores(RunSpec(spec.file, model), scores, unparsed, items)


@dataclass(frozen=True)
class Comparison:
    """Run B against run A on the items both scored.

    Attributes:
        a: Run A.
        b: Run B.
        items: One row per compared item: `question_id`, `category`, `turn`, `score_a`,
            `score_b`, `diff` (B − A).
        groups: Rows `all`, `turn N`, then categories: `items`, `questions`, `mean_a`, `mean_b`,
            `diff`, and `lower`/`upper` of the bootstrap interval of `diff`.
        movers: The `top` items with the largest |diff| (ties: by question, then turn).
        left_out: Items not compared, by reason, with counts.
        bootstrap: The resampling used (None: no intervals).
        out_of_scale: Compared items whose score lies outside the judge prompt's scale, per
            run (`A`, `B`); only runs that have some.
    """

    a: RunSpec
    b: RunSpec
    items: pd.DataFrame
    groups: pd.DataFrame
    movers: pd.DataFrame
    left_out: dict[str, int]
    bootstrap: BootstrapSpec | None
    out_of_scale: dict[str, int] = field(default_factory=dict)


def _status(run: RunScores, item: Item) -> str | None:
    if item in run.scores:
        return None
    return "no parsable score" if item in run.unparsed else "not judged"


def compare_runs(
    a: RunScores,
    b: RunScores,
    categories: dict[QuestionId, str] | None = None,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
    top: int = DEFAULT_TOP,
) -> Comparison:
    """Compare two runs item by item.

    Args:
        a: Run A (the reference: differences are B − A).
        b: Run B.
        categories: Question id to category (None: no category rows).
        bootstrap: Resampling for the intervals; None or 0 resamples: no intervals.
        top: How many of the most-moved items to list.

    Raises:
        DataError: when no item was scored by both runs.
    """
    if bootstrap is not None and bootstrap.resamples <= 0:
        bootstrap = None
    universe = set(a.scores) | a.unparsed | set(b.scores) | b.unparsed
    left_out: dict[str, int] = {}
    rows = []
    # Two files may key their questions by ids of different kinds: `id_order` sorts both.
    for item in sorted(universe, key=lambda item: (id_order(item[0]), item[1])):
        statuses = (("A", _status(a, item)), ("B", _status(b, item)))
        why = [f"{name}: {status}" for name, status in statuses if status]
        if why:
            reason = ", ".join(why)
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        qid, turn = item
        rows.append(
            {
                "question_id": qid,
                "category": (categories or {}).get(qid, "unknown"),
                "turn": turn,
                "score_a": a.scores[item],
                "score_b": b.scores[item],
                "diff": b.scores[item] - a.scores[item],
            }
        )
    if not rows:
        reasons = "; ".join(f"{n} {why}" for why, n in left_out.items()) or "no items"
        raise DataError(
            f"no item was scored by both runs ({reasons}): nothing to compare", b.spec.file
        )
    items = pd.DataFrame(rows)
    groups = _groups(items, categories is not None, bootstrap)
    order = items.assign(size=items["diff"].abs()).sort_values(
        ["size", "question_id", "turn"], ascending=[False, True, True], kind="stable"
    )
    movers = order.drop(columns="size").head(max(top, 0)).reset_index(drop=True)
    compared = {(row["question_id"], row["turn"]) for row in rows}
    off_scale = {
        name: len(run.out_of_scale & compared)
        for name, run in (("A", a), ("B", b))
        if run.out_of_scale & compared
    }
    return Comparison(a.spec, b.spec, items, groups, movers, left_out, bootstrap, off_scale)


def _groups(
    items: pd.DataFrame, by_category: bool, bootstrap: BootstrapSpec | None
) -> pd.DataFrame:
    """Every item under `all`, under its turn and under its category, as one long frame."""
    parts = [items.assign(model="all")]
    parts += [items.assign(model=items["turn"].map(lambda t: f"turn {t}"))]
    if by_category:
        parts.append(items.assign(model=items["category"]))
    # `mean_draws` groups by a `model` column; here each "model" is a group of items.
    long = pd.concat(parts, ignore_index=True)
    grouped = long.groupby("model", sort=False)
    table = pd.DataFrame(
        {
            "items": grouped.size(),
            "questions": grouped["question_id"].nunique(),
            "mean_a": grouped["score_a"].mean(),
            "mean_b": grouped["score_b"].mean(),
            "diff": grouped["diff"].mean(),
        }
    )
    if bootstrap is not None:
        draws = mean_draws(long, "diff", bootstrap)
        table = table.join(interval(draws, bootstrap.confidence))
    turns = sorted((g for g in table.index if g.startswith("turn ")), key=lambda g: int(g[5:]))
    known = [c for c in CATEGORIES if c in table.index]
    others = sorted(g for g in table.index if g not in ["all", *turns, *known])
    return table.reindex(["all", *turns, *known, *others]).rename_axis("group")


def build_comparison(
    paths: BenchPaths,
    run_a: str,
    run_b: str,
    input_file: str | Path | None = None,
    judge_model: str = DEFAULT_JUDGE,
    bootstrap: BootstrapSpec | None = BootstrapSpec(),
    top: int = DEFAULT_TOP,
    read: ReadOptions = ReadOptions(),
) -> Comparison:
    """What `mtbench-show --compare A B` computes.

    Args:
        paths: The bench (question file for categories, default judgment file).
        run_a: Run A as written on the command line (see `parse_run_spec`).
        run_b: Run B.
        input_file: The single-grading file a bare model name refers to (default: the judge's).
        judge_model: The judge whose `{judge}_single.jsonl` is the default file (mapped by
            `paths.file_stem`, as `mtbench-judge` maps its `--judge-model`).
        bootstrap: Resampling for the intervals.
        top: How many of the most-moved items to list.
        read: Stale rows and samples, as in `mtbench-show` (`analysis.scores.ReadOptions`).

    Raises:
        ConfigError: for a negative `top`.
        DataError: for missing files or models, or nothing to compare.
    """
    if top < 0:
        raise ConfigError(f"--top must be 0 or more, got {top}")
    default = Path(input_file) if input_file else paths.judgment_file(judge_model, "single")
    check = read.check(paths)  # one for both runs: each bench file is read once
    a = load_run(parse_run_spec(run_a, default, paths), check, read.combine)
    b = load_run(parse_run_spec(run_b, default, paths), check, read.combine)
    return compare_runs(a, b, question_categories(paths.question_file), bootstrap, top)
