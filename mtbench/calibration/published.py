"""The MT-bench scores published with GPT-4 as judge: the scale every quoted number is on.

The leaderboard, model cards and papers quote scores judged by `gpt-4-0613`, which can no longer
be called. `published_scores.csv`, shipped with the package, holds them for the 31 models whose
official answers FastChat publishes (and three Llama-2-chat models without answer files); its
header comment gives the sources and how each column was computed. `average` is the reference of
`mtbench-calibrate`: what FastChat's `show_result.py` prints today for the official judgment file
(score -1 rows dropped), the same rule `mtbench-show` applies.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from mtbench.calibration.fit import MIN_MODELS
from mtbench.errors import ConfigError

PUBLISHED_FILE = "published_scores.csv"
REFERENCE_JUDGE = "gpt-4"
"""The judge name of the official judgment file (`gpt-4_single.jsonl`); its snapshot: gpt-4-0613."""
REFERENCE_SNAPSHOT = "gpt-4-0613"


@dataclass(frozen=True)
class PublishedScore:
    """One model's published MT-bench result (GPT-4 judge, single-answer grading).

    Attributes:
        model: The model name, as its official answer file is named.
        average: FastChat's `show_result` average over the scored rows, 1-10.
        judgments: Rows with a score (of 160).
        total: Sum of those scores (half points exist).
        blog: The leaderboard post's value (2 decimals), None where the post has none.
        turn_1: First-turn average where published, else None.
        turn_2: Second-turn average where published, else None.
    """

    model: str
    average: float
    judgments: int
    total: float
    blog: float | None
    turn_1: float | None
    turn_2: float | None


def _optional(text: str) -> float | None:
    return float(text) if text.strip() else None


@cache
def published_scores() -> dict[str, PublishedScore]:
    """The shipped published scores by model name, best first (34 models).

    Raises:
        FileNotFoundError: if the package was installed without its data file (a broken install).
    """
    text = resources.files(__package__).joinpath(PUBLISHED_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {
        row["model"]: PublishedScore(
            model=row["model"],
            average=float(row["average"]),
            judgments=int(row["judgments"]),
            total=float(row["total"]),
            blog=_optional(row["blog"]),
            turn_1=_optional(row["turn_1"]),
            turn_2=_optional(row["turn_2"]),
        )
        for row in csv.DictReader(lines)
    }


def calibration_models(
    available: Sequence[str],
    model_list: Sequence[str] | None = None,
    spread: int | None = None,
    scored_in: str | None = None,
) -> list[str]:
    """The official models a calibration judges, best published score first.

    Args:
        available: Models whose official answer file is in the data directory, or that an
            existing judgment file scores (then named by `scored_in`, for the messages).
        model_list: Only these (each must have a published score and an answer file).
        spread: Keep this many models spanning the published range evenly: the best, the
            worst, and those nearest to evenly spaced scores in between (a cheaper calibration
            that still covers the scale).

    Raises:
        ConfigError: for a listed model without a published score or answer file (or not
            scored in `scored_in`), a spread below `fit.MIN_MODELS`, or no model left.
    """
    published = published_scores()
    chosen = [m for m in published if m in set(available)]
    if model_list is not None:
        unknown = [m for m in model_list if m not in published]
        if unknown:
            raise ConfigError(
                f"--model-list: no published GPT-4 score for {', '.join(unknown)}; a calibration "
                f"uses official models ({', '.join(list(published)[:3])}, ...)"
            )
        absent = [m for m in model_list if m not in set(available)]
        if absent and scored_in:
            raise ConfigError(f"--model-list: {', '.join(absent)} not scored in {scored_in}")
        if absent:
            raise ConfigError(
                f"--model-list: no answer file for {', '.join(absent)}; fetch the official "
                "answers with `mtbench-download --what answers`"
            )
        chosen = [m for m in chosen if m in set(model_list)]
    if not chosen and scored_in:
        raise ConfigError(
            f"{scored_in} scores none of the official models ({', '.join(list(published)[:3])}, "
            "...): a calibration relates their scores to the published ones"
        )
    if not chosen:
        raise ConfigError(
            "no official answer file in model_answer/; fetch them with "
            "`mtbench-download --what answers`"
        )
    if spread is None or spread >= len(chosen):
        return chosen
    if spread < MIN_MODELS:
        raise ConfigError(
            f"--spread needs at least {MIN_MODELS} models (fewer cannot be calibrated), got "
            f"{spread}"
        )
    scores = np.array([published[m].average for m in chosen])
    picked: list[int] = []
    for target in np.linspace(scores.max(), scores.min(), spread):
        distance = np.abs(scores - target)
        distance[picked] = np.inf  # each model once
        picked.append(int(distance.argmin()))
    return [chosen[i] for i in sorted(picked)]
