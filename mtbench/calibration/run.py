"""`calibrate()`: judge the official answers, then relate the judge to GPT-4 (`mtbench-calibrate`).

The judging is an ordinary `mtbench-judge` run in single mode over the official models
(`judging.pipeline.judge`: the plan and its cost estimate first, the confirmation, resumable,
the same `{judge}_single.jsonl`), so a calibration's judgments also serve `mtbench-show` and a
killed calibration resumes where it stopped. Then `build.build_calibration` relates the file to
the published GPT-4 scores and `store.save_calibration` writes the result to
`{data}/{bench}/calibration/{judge}.json`, where `mtbench-show --scale gpt-4` finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.pooling import file_label
from mtbench.analysis.selection import ReadOptions
from mtbench.calibration.build import Calibration, build_calibration
from mtbench.calibration.published import calibration_models, published_scores
from mtbench.calibration.store import calibration_file, save_calibration
from mtbench.data.judgments import load_single_judgments
from mtbench.data.paths import BenchPaths, require_file
from mtbench.judging.config import JudgeConfig
from mtbench.judging.pipeline import JudgeResult, judge
from mtbench.judging.plan import JudgePlan
from mtbench.judging.runner import JudgeStats


@dataclass(frozen=True)
class CalibrationRun:
    """How a `calibrate()` call ended.

    Attributes:
        judging: The judge run (None when an existing file was calibrated).
        calibration: The calibration, None when the judging did not finish (a dry run, or
            cancelled at the confirmation).
        file: Where the calibration was written (None if it was not).
    """

    judging: JudgeResult | None
    calibration: Calibration | None
    file: Path | None


def calibrate(
    options: JudgeConfig,
    *,
    spread: int | None = None,
    input_file: Path | None = None,
    bootstrap: BootstrapSpec = BootstrapSpec(),
    read: ReadOptions = ReadOptions(),
    confirm: Callable[[JudgePlan], bool] | None = None,
    err: TextIO | None = None,
    on_progress: Callable[[JudgeStats], None] | None = None,
) -> CalibrationRun:
    """Judge the official answer files with `options`' judge, then calibrate it.

    Args:
        options: The judge and how to call it, as for `mtbench-judge`; its `mode` is forced to
            `single` and its `model_list` narrowed to official models (all of them with an
            answer file by default).
        spread: Judge only this many official models, spanning the published range
            (`published.calibration_models`).
        input_file: Calibrate this existing single-mode judgment file instead of judging
            (labelled by `options.judge_name`, else the file name without `_single.jsonl`).
        bootstrap: Draws, seed and confidence of the calibration's intervals.
        read: Stale rows and samples, as `mtbench-show` reads them.
        confirm, err, on_progress: As for `judging.pipeline.judge`.

    Raises:
        ConfigError, DataError: for bad options or data (before any call where possible).
        MTBenchError: whatever the judge run raises (failed judgments: rerun to resume).
    """
    paths = options.paths
    if input_file is not None:
        require_file(input_file, "judgment file", hint="give a single-mode judgment file")
        scored = {row.model for row in load_single_judgments(input_file)}
        models = calibration_models(
            sorted(scored & set(published_scores())), options.model_list, spread
        )
        label = options.judge_name or file_label(input_file)
        calibration = build_calibration(paths, input_file, label, models, bootstrap, read)
        return CalibrationRun(None, calibration, _save(calibration, paths, label))
    available = sorted(p.stem for p in paths.answer_dir.glob("*.jsonl"))
    models = calibration_models(available, options.model_list, spread)
    options = replace(options, mode="single", model_list=models)
    result = judge(options, confirm=confirm, err=err, on_progress=on_progress)
    if result.status in ("dry_run", "cancelled"):
        return CalibrationRun(result, None, None)
    label = file_label(result.plan.output)  # the name mtbench-show reads it by
    calibration = build_calibration(paths, result.plan.output, label, models, bootstrap, read)
    return CalibrationRun(result, calibration, _save(calibration, paths, label))


def _save(calibration: Calibration, paths: BenchPaths, label: str) -> Path:
    path = calibration_file(paths, label)
    save_calibration(calibration, path)
    return path
