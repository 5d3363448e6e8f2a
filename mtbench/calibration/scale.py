"""`mtbench-show --scale gpt-4`: a judge's scores put on the GPT-4 scale through its calibration.

Each model's single-mode score maps through the judge's calibration (`Fit.estimate`): the
point by the fitted line, the interval from the line's own uncertainty, the models' scatter
around it and the score's bootstrap over questions, drawn together. It is an estimate of what
GPT-4 (gpt-4-0613) would have given, labelled so wherever it is shown, with the calibration it
came from. No calibration, or one that found the judge not calibratable, is refused; a weak one,
or one made with another judge snapshot than the scores', is warned about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mtbench.analysis.pooling import file_label
from mtbench.analysis.scores import ScoreReport
from mtbench.analysis.snapshots import recorded
from mtbench.calibration.build import Calibration
from mtbench.calibration.fit import WEAK
from mtbench.calibration.store import calibration_file, load_calibration
from mtbench.data.paths import BenchPaths
from mtbench.errors import ConfigError, DataError

SCALES = ("gpt-4",)
"""The scales `--scale` maps onto: GPT-4 (gpt-4-0613) of the published leaderboard."""


@dataclass(frozen=True)
class ScaleEstimates:
    """Models' scores on the GPT-4 scale.

    Attributes:
        calibration: The calibration used.
        file: Where it was read from.
        table: One row per model (the report's order): `score` (the judge's), `gpt4_scale`,
            `lower`, `upper` (the interval at the calibration's confidence).
        warnings: A weak calibration, another judge snapshot than the calibration's.
    """

    calibration: Calibration
    file: Path
    table: pd.DataFrame
    warnings: tuple[str, ...]


def find_calibration(
    paths: BenchPaths,
    judge: str,
    file: str | Path | None = None,
    input_file: str | Path | None = None,
) -> tuple[Calibration, Path]:
    """The calibration of `judge` (`calibration/{judge}.json`), or the one in `file`.

    `input_file`: the judgment file the scores come from, when named by path (for the hint).

    Raises:
        ConfigError: when there is none (saying how to make one), or it found the judge not
            calibratable.
        DataError: for an unreadable calibration file.
    """
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"--calibration {path}: no such file (or not a file)")
    else:
        path = calibration_file(paths, judge)
        if not path.is_file():
            make = (
                f"mtbench-calibrate --input-file {input_file}"
                if input_file is not None
                else f"mtbench-calibrate --judge-model {judge}"
            )
            raise ConfigError(
                f"no calibration for judge {judge!r} ({path} does not exist); make one with "
                f"`{make}`, or pass --calibration FILE"
            )
    calibration = load_calibration(path)
    if not calibration.fit.mappable:
        raise DataError(
            f"judge {calibration.judge!r} is not calibratable "
            f"({' '.join(calibration.fit.reasons)}); no GPT-4-scale estimate is given for it",
            path,
        )
    return calibration, path


def judge_of(report: ScoreReport) -> str:
    """The judge label of a single-mode report: its file name without `_single.jsonl`."""
    return file_label(report.input_file)


def estimate_scale(
    report: ScoreReport, calibration: Calibration, file: Path, judge: str | None = None
) -> ScaleEstimates:
    """Every model of a single-mode report on the GPT-4 scale.

    A model judged on too few questions for an interval (`ScoreReport.few_questions`) gets
    none here either. Warnings: a weak calibration; a calibration of another judge than
    `judge` (the report's) or of another snapshot; scores outside the judge averages the
    calibration spans (the estimate then extrapolates the line).

    Raises:
        ConfigError: for a pairwise report (win rates have no GPT-4 score scale).
    """
    if report.mode != "single":
        raise ConfigError("--scale maps single-mode scores; leave out --mode")
    few = report.few_questions
    rows = {}
    for model, score in report.summary["score"].items():
        draws = None
        if report.draws is not None and model in report.draws:
            draws = report.draws[model].dropna().to_numpy()
        estimate = calibration.fit.estimate(float(score), draws)
        rows[str(model)] = {
            "score": float(score),
            "gpt4_scale": estimate.value,
            "lower": float("nan") if model in few else estimate.lower,
            "upper": float("nan") if model in few else estimate.upper,
        }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    warnings = []
    if calibration.fit.verdict == WEAK:
        warnings.append("the calibration is weak: " + " ".join(calibration.fit.reasons))
    if judge is not None and judge != calibration.judge:
        warnings.append(
            f"this calibration is of judge {calibration.judge}, these scores are judge "
            f"{judge}'s: the mapping holds for {calibration.judge} only"
        )
    scored = set(recorded(report.judge_snapshots))
    calibrated = set(recorded(calibration.judge_snapshots))
    if scored and calibrated and not scored <= calibrated:
        warnings.append(
            f"these scores come from judge snapshot(s) {', '.join(sorted(scored - calibrated))}, "
            f"the calibration from {', '.join(sorted(calibrated))}: the mapping may not hold; "
            "calibrate the snapshot in use"
        )
    outside = extrapolated(table, calibration)
    if outside:
        judged = [p.judge for p in calibration.fit.points]
        warnings.append(
            f"{', '.join(outside)}: score outside the judge averages the calibration spans "
            f"({min(judged):.2f} to {max(judged):.2f}): the estimate extrapolates the line, "
            "beyond what the official models show"
        )
    return ScaleEstimates(calibration, file, table, tuple(warnings))


def extrapolated(table: pd.DataFrame, calibration: Calibration) -> list[str]:
    """Models of `table` whose judge score lies outside the calibration models' judge averages."""
    judged = [p.judge for p in calibration.fit.points]
    low, high = min(judged), max(judged)
    return [str(m) for m, score in table["score"].items() if not low <= score <= high]
