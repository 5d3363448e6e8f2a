"""`calibrate()`: judge the official answers, then relate the judge to GPT-4 (`mtbench-calibrate`).

The judging is an ordinary `mtbench-judge` run in single mode over the official models
(`judging.pipeline.judge`: the plan and its cost estimate first, the confirmation, resumable,
the same `{judge}_single.jsonl`), so a calibration's judgments also serve `mtbench-show` and a
killed calibration resumes where it stopped. Then `build.build_calibration` relates the file to
the published GPT-4 scores and `store.save_calibration` writes the result to
`{data}/{bench}/calibration/{judge}.json`, where `mtbench-show --scale gpt-4` finds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.pooling import file_label
from mtbench.analysis.selection import ReadOptions
from mtbench.calibration.build import Calibration, build_calibration, official_file
from mtbench.calibration.published import (
    REFERENCE_JUDGE,
    calibration_models,
    published_scores,
)
from mtbench.calibration.store import calibration_file, save_calibration
from mtbench.data.jsonl import read_jsonl
from mtbench.data.judgments import load_single_judgments
from mtbench.data.paths import BenchPaths, require_file
from mtbench.data.questions import load_questions
from mtbench.data.writable import check_writable
from mtbench.errors import ConfigError
from mtbench.judging.config import JudgeConfig
from mtbench.judging.pipeline import JudgeResult, judge
from mtbench.judging.plan import JudgePlan, output_file
from mtbench.judging.runner import JudgeStats


@dataclass(frozen=True)
class CalibrationRun:
    """How a `calibrate()` call ended.

    Attributes:
        judging: The judge run (None when an existing file was calibrated).
        calibration: The calibration, None when the judging did not finish (a dry run, or
            cancelled at the confirmation).
        file: Where the calibration was written (None if it was not).
        replaced: What the calibration file held before (`previous_calibration`), if any.
    """

    judging: JudgeResult | None
    calibration: Calibration | None
    file: Path | None
    replaced: str | None = None


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
        return _calibrate_file(options, input_file, spread, bootstrap, read)
    _not_the_reference(options)
    if not options.unnamed_served_judge:  # else its name, and file, come from the server
        check_writable(calibration_file(paths, file_label(output_file(options))), "the calibration")
    available = sorted(p.stem for p in paths.answer_dir.glob("*.jsonl"))
    models = calibration_models(available, options.model_list, spread)
    options = replace(options, mode="single", model_list=models)
    result = judge(options, confirm=confirm, err=err, on_progress=on_progress)
    if result.status in ("dry_run", "cancelled"):
        return CalibrationRun(result, None, None)
    label = file_label(result.plan.output)  # the name mtbench-show reads it by
    questions = None
    if options.first_n is not None:
        questions = {q.question_id for q in load_questions(paths.question_file)[: options.first_n]}
    calibration = build_calibration(
        paths, result.plan.output, label, models, bootstrap, read, questions
    )
    replaced = previous_calibration(calibration_file(paths, label))
    return CalibrationRun(result, calibration, _save(calibration, paths, label), replaced)


def _not_the_reference(options: JudgeConfig) -> None:
    """Refuse to file a judge's verdicts as `gpt-4_single.jsonl`, the official GPT-4 file."""
    if options.unnamed_served_judge:
        return
    if output_file(options) == official_file(options.paths):
        raise ConfigError(
            f"the judge would be filed as {REFERENCE_JUDGE}, whose {output_file(options).name} "
            "holds the official GPT-4 judgments a calibration compares with: name the judge "
            "to calibrate with --judge-model (and --judge-name to file it under another name)"
        )


def _calibrate_file(
    options: JudgeConfig,
    input_file: Path,
    spread: int | None,
    bootstrap: BootstrapSpec,
    read: ReadOptions,
) -> CalibrationRun:
    """Calibrate an existing judgment file (no judge is called)."""
    paths = options.paths
    require_file(input_file, "judgment file", hint="give a single-mode judgment file")
    if _pairwise(input_file):
        raise ConfigError(
            f"{input_file} holds pairwise judgments; a calibration relates single-mode 1-10 "
            "scores (mtbench-judge --mode single)"
        )
    scored = {row.model for row in load_single_judgments(input_file)}
    models = calibration_models(
        sorted(scored & set(published_scores())),
        options.model_list,
        spread,
        scored_in=str(input_file),
    )
    label = options.judge_name or file_label(input_file)
    check_writable(calibration_file(paths, label), "the calibration")
    calibration = build_calibration(paths, input_file, label, models, bootstrap, read)
    replaced = previous_calibration(calibration_file(paths, label))
    return CalibrationRun(None, calibration, _save(calibration, paths, label), replaced)


def _pairwise(path: Path) -> bool:
    """Whether a judgment file's first row is a pairwise one (`model_1`, FastChat's field)."""
    for _, row in read_jsonl(path):
        return "model_1" in row
    return False


def _save(calibration: Calibration, paths: BenchPaths, label: str) -> Path:
    path = calibration_file(paths, label)
    save_calibration(calibration, path)
    return path


def previous_calibration(path: Path) -> str | None:
    """What a calibration file about to be replaced holds (`31 models, made ...`), if any."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return f"{len(document['models'])} models, made {document['created']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None
