"""Several judgments of one item (`mtbench-judge --samples K`): one score, and the judge's noise.

A judge is not a fixed function of its prompt: GPT-4 at temperature 0 moved MT-bench averages by
0.1-0.2 between runs (FastChat issues #3018 and #2969, where the maintainers' advice was to run
several times and take the median), and reasoning judges sample. With K samples of every item:

* `combine_samples` makes one score per item, the median of its samples by default (the
  maintainers' advice; `mean` as an option), so the tables and every interval are computed on
  items, as with one sample;
* `judge_spread` estimates how far one run's model average moves from run to run because of the
  judge alone: with `v_i` the variance of item i's samples (ddof 1) and n the items of the
  model's average, `judge_sd = sqrt(mean(v_i) / n)`, the standard deviation of the mean of n
  independent item scores whose noise variances average `mean(v_i)`. Its interval bootstraps
  the items that have two samples or more (seeded). It is the noise of a single run; the
  median of K samples has less.

This is a different uncertainty from the question-sampling interval of `analysis.bootstrap`,
which says how the average would move with other questions; both are reported side by side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.data.judgments import PairJudgment

COMBINE = ("median", "mean")
"""How an item's samples become its score (`mtbench-show --combine-samples`)."""

SPREAD_COLUMNS = ["judge_sd", "judge_sd_lower", "judge_sd_upper", "sampled_items"]


def combine_samples(
    frame: pd.DataFrame, value: str, item: Sequence[str], how: str = "median"
) -> pd.DataFrame:
    """One row per item: `how` of its samples' `value`, and their number in `samples`.

    Args:
        frame: One row per sample, with the `item` columns and `value`.
        value: The column combined, e.g. `score`.
        item: The columns that name an item, e.g. `["model", "question_id", "turn"]`.
        how: `median` or `mean` (`COMBINE`).

    Returns:
        The items in the order they first appear, with columns `item`, `value`, `samples`.

    Raises:
        ValueError: for an unknown `how`.
    """
    if how not in COMBINE:
        raise ValueError(f"how must be one of {', '.join(COMBINE)}, got {how!r}")
    grouped = frame.groupby(list(item), sort=False)[value]
    combined = grouped.agg(how).rename(value).to_frame()
    combined["samples"] = grouped.size()
    return combined.reset_index()


def has_samples(frame: pd.DataFrame, item: Sequence[str]) -> bool:
    """Whether any item of `frame` has more than one row (sample)."""
    return bool(frame.duplicated(list(item)).any())


def judge_spread(
    frame: pd.DataFrame, value: str, item: Sequence[str], spec: BootstrapSpec | None
) -> pd.DataFrame:
    """Each model's run-to-run standard deviation of its average due to the judge alone.

    Args:
        frame: One row per sample, with `model`, the other `item` columns and `value`.
        value: The scored column.
        item: The columns naming an item (the first must be `model`).
        spec: Resampling for the interval (None: no interval).

    Returns:
        Indexed by model: `judge_sd`, `judge_sd_lower`, `judge_sd_upper` (NaN without
        `spec`) and `sampled_items` (items with two samples or more). A model none of whose
        items has two samples gets NaN.
    """
    grouped = frame.groupby(list(item), sort=False)[value]
    per_item = pd.DataFrame({"var": grouped.var(ddof=1), "n": grouped.size()}).reset_index()
    rng = np.random.default_rng(spec.seed if spec else 0)
    rows = {}
    for model, items in per_item.groupby("model", sort=False):
        variances = items.loc[items["n"] >= 2, "var"].to_numpy(dtype=float)
        total = len(items)
        if not len(variances):
            rows[model] = [np.nan, np.nan, np.nan, 0]
            continue
        sd = float(np.sqrt(variances.mean() / total))
        lower = upper = np.nan
        if spec is not None and spec.resamples > 0:
            drawn = rng.integers(0, len(variances), size=(spec.resamples, len(variances)))
            draws = np.sqrt(variances[drawn].mean(axis=1) / total)
            tail = (1.0 - spec.confidence) / 2.0
            lower, upper = np.quantile(draws, [tail, 1.0 - tail])
        rows[model] = [sd, lower, upper, len(variances)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=SPREAD_COLUMNS)


def majority_rows(rows: Sequence[PairJudgment]) -> list[PairJudgment]:
    """One pairwise row per match: its samples' majority verdict.

    Each sample's verdict is its two games combined (`PairJudgment.combined`, FastChat's rule);
    the verdict named by more samples than any other wins, else the match is a tie. The row
    returned is the first sample with that verdict (a tie made up by the vote, with no tied
    sample, is the first sample with both games set to `tie`). A match with one sample keeps
    its row as it is.

    Args:
        rows: Parsed rows, one per sample of each match (`first_parsed` output), in file order.

    Returns:
        One row per match, in the order matches first appear.
    """
    groups: dict[tuple[object, ...], list[PairJudgment]] = {}
    for row in rows:
        groups.setdefault(row.key[:-1], []).append(row)  # the key without the sample number
    chosen = []
    for samples in groups.values():
        if len(samples) == 1:
            chosen.append(samples[0])
            continue
        winners = [_winner(row) for row in samples]
        counts = Counter(winners).most_common()
        top = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else "tie"
        if top in winners:
            chosen.append(samples[winners.index(top)])
        else:
            chosen.append(replace(samples[0], g1_winner="tie", g2_winner="tie"))
    return chosen


def _winner(row: PairJudgment) -> str:
    """The model a row's combined verdict names, or `tie`."""
    verdict = row.combined
    return row.model_1 if verdict == "model_1" else row.model_2 if verdict == "model_2" else "tie"
