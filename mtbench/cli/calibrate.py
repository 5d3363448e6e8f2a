"""`mtbench-calibrate`: relate a judge available today to the GPT-4 scale of every published score.

mtbench-calibrate --judge-model gpt-4.1-mini --spread 10 --first-n 20     # a cheap first look
mtbench-calibrate --judge-model gpt-4.1-mini --parallel 16                # all 31 models
mtbench-calibrate --input-file data/mt_bench/model_judgment/my-judge_single.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mtbench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapSpec
from mtbench.analysis.samples import COMBINE
from mtbench.analysis.selection import ReadOptions
from mtbench.cli.common import (
    add_bench_options,
    add_format_option,
    add_logging_options,
    run_command,
)
from mtbench.cli.judge import add_judging_options, batch_command, confirm_plan, make_config
from mtbench.data.writable import check_writable
from mtbench.errors import ConfigError

if TYPE_CHECKING:
    from mtbench.cli.progress import JudgeBar


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-calibrate",
        description="Judge the 31 official MT-bench answer files with a judge of today (single "
        "grading, resumable, the same {judge}_single.jsonl as mtbench-judge), then relate its "
        "scores to the published GPT-4 (gpt-4-0613) scores: rank correlations, a fitted "
        "mapping with its uncertainty, residuals per model, and, with the official per-item "
        "GPT-4 judgments in the data directory, per-item agreement and offsets. Writes "
        "{data-dir}/{bench}/calibration/{judge}.json, which mtbench-show --scale gpt-4 reads.",
        epilog="Exit status: 0 calibrated (also when weak or not calibratable: the report says "
        "so), 1 an error or a cancelled run, 2 a flag the parser refuses, 130 interrupted.",
    )
    add_bench_options(parser)
    add_judging_options(parser, modes=False)
    calibration = parser.add_argument_group("calibration")
    calibration.add_argument(
        "--spread",
        type=int,
        metavar="N",
        help="judge only N official models spanning the published range (the best, the worst, "
        "and those nearest to evenly spaced scores between), for a cheaper calibration "
        "(default: every official model with an answer file; --model-list names them instead)",
    )
    calibration.add_argument(
        "--input-file",
        metavar="FILE",
        help="calibrate an existing single-mode judgment file instead of judging (e.g. one "
        "judged elsewhere); no judge is called",
    )
    calibration.add_argument(
        "--plot",
        metavar="FILE",
        help="also save a scatter of judge against GPT-4 with the fitted line (PNG; another "
        "image format by the file ending: .svg, .pdf)",
    )
    calibration.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help="draws for the calibration's 95%% intervals, at least 100 (default: %(default)s)",
    )
    calibration.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of those draws (default: %(default)s)"
    )
    calibration.add_argument(
        "--combine-samples",
        default="median",
        choices=COMBINE,
        help="how the samples of an item judged several times (--samples) become its score "
        "(default: %(default)s)",
    )
    add_format_option(parser)
    add_logging_options(parser)
    return parser


def _calibrate(args: argparse.Namespace) -> int:
    from mtbench.calibration.run import calibrate
    from mtbench.reports.calibration import calibration_plot, render_calibration

    if args.spread is not None and args.model_list:
        raise ConfigError("give either --spread or --model-list, not both")
    if args.plot:
        check_writable(args.plot, "the plot")
    if args.bootstrap < 100:
        raise ConfigError(
            f"--bootstrap must be at least 100 (draws for the intervals), got {args.bootstrap}"
        )
    bootstrap = BootstrapSpec(args.bootstrap, args.seed)
    config = replace(make_config(args), mode="single")
    if batch_command(args, config):
        return 0
    progress = None if args.input_file or args.dry_run else _progress()
    try:
        run = calibrate(
            config,
            spread=args.spread,
            input_file=Path(args.input_file) if args.input_file else None,
            bootstrap=bootstrap,
            read=ReadOptions(args.keep_stale, args.judge_file, args.combine_samples),
            confirm=None if args.yes else confirm_plan,
            on_progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
    if run.judging is not None and run.judging.status == "cancelled":
        return 1
    if run.calibration is None:
        return 0
    sys.stdout.write(render_calibration(run.calibration, args.format))
    replaced = f" (replacing one of {run.replaced})" if run.replaced else ""
    print(
        f"Calibration saved to {run.file}{replaced}; mtbench-show --scale gpt-4 reads it.",
        file=sys.stderr,
    )
    if args.plot:
        calibration_plot(run.calibration, args.plot)
        print(f"Plot saved to {args.plot}", file=sys.stderr)
    return 0


def _progress() -> JudgeBar:
    from mtbench.cli.progress import JudgeBar

    return JudgeBar()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-calibrate`."""
    return run_command(build_parser(), _calibrate, argv)


if __name__ == "__main__":
    sys.exit(main())
