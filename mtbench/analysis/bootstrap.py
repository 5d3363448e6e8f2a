"""Bootstrap confidence intervals over questions.

MT-bench's unit of sampling is the question: a model's two turns on one question are correlated,
so questions (not judgment rows) are resampled with replacement, and every model sees the same
resampled questions in a draw (a paired bootstrap, which also makes differences comparable).
Intervals are percentile intervals; a fixed seed makes them reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class BootstrapSpec:
    """How to resample.

    Attributes:
        resamples: Number of bootstrap draws; 0 turns intervals off.
        seed: Seed of the random generator.
        confidence: Coverage of the interval, e.g. 0.95.
    """

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = 0.95


def mean_draws(frame: pd.DataFrame, value: str, spec: BootstrapSpec) -> pd.DataFrame:
    """Bootstrap draws of each model's mean of `value` over its rows of the drawn questions.

    Args:
        frame: One row per judgment (or outcome) with columns `model`, `question_id` and `value`.
        value: The column averaged.
        spec: Number of draws and seed.

    Returns:
        A frame of `spec.resamples` rows (draws) by models.
    """
    grouped = frame.groupby(["model", "question_id"])[value]
    sums = grouped.sum().unstack(fill_value=0)
    counts = grouped.count().unstack(fill_value=0)
    questions = sums.shape[1]
    rng = np.random.default_rng(spec.seed)
    # How often each question is drawn in each resample: (resamples, questions).
    drawn = rng.multinomial(questions, np.full(questions, 1.0 / questions), size=spec.resamples)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (drawn @ sums.to_numpy(dtype=float).T) / (drawn @ counts.to_numpy(dtype=float).T)
    return pd.DataFrame(draws, columns=sums.index)


def interval(draws: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Percentile interval per column of bootstrap draws: columns `lower`, `upper`."""
    tail = (1.0 - confidence) / 2.0
    return pd.DataFrame(
        {
            "lower": draws.quantile(tail, axis=0),
            "upper": draws.quantile(1.0 - tail, axis=0),
        }
    )
