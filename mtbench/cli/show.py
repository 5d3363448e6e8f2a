"""`mtbench-show`: print MT-bench results from a judgment file (FastChat's `show_result.py`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.analysis.coverage import expected_items
from mtbench.analysis.gate import (
    EXIT_GATE,
    GateVerdict,
    check_margin,
    check_share,
    check_threshold,
    comparison_gate,
    pooled_gate,
    report_gate,
)
from mtbench.analysis.pooling import file_label
from mtbench.analysis.scores import build_report
from mtbench.calibration.scale import SCALES
from mtbench.cli.common import (
    add_bench_options,
    add_bootstrap_options,
    add_format_option,
    add_logging_options,
    add_model_list_option,
    add_read_options,
    bench_paths,
    bootstrap_spec,
    model_stems,
    read_options,
    run_command,
)
from mtbench.data.defaults import DEFAULT_BASELINE, DEFAULT_JUDGE
from mtbench.data.judgments import MODES
from mtbench.data.paths import file_stem
from mtbench.data.questions import load_questions
from mtbench.data.writable import check_writable
from mtbench.errors import ConfigError
from mtbench.exports import export_results, parse_targets
from mtbench.reports.results import results_document
from mtbench.reports.scores import render_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-show",
        description="Show MT-bench scores from a judgment file, computed as FastChat does, "
        "with per-category results, confidence intervals and an account of dropped rows.",
        epilog=f"Exit status: 0 shown (and every gate check passed), 1 an error (bad data, or "
        "flags that cannot work together), 2 a flag the parser refuses, "
        f"{EXIT_GATE} a gate check failed (--fail-under, --fail-if-worse, --max-missing), 130 "
        "interrupted.",
    )
    add_bench_options(parser)
    parser.add_argument(
        "--input-file",
        nargs="+",
        metavar="FILE",
        help="judgment file (default: from --judge-model/--mode); several single-grading files "
        "pool their judges, each labelled by its file name without _single.jsonl",
    )
    add_judges_option(parser)
    parser.add_argument(
        "--baseline-model",
        default=DEFAULT_BASELINE,
        help="baseline of pairwise-baseline mode (default: %(default)s)",
    )
    add_model_list_option(parser)
    parser.add_argument(
        "--mode",
        default="single",
        choices=MODES,
        help="single: mean 1-10 scores from {judge}_single.jsonl; pairwise-baseline: win rates "
        "against --baseline-model, from {judge}_pair.jsonl; pairwise-all: win rates over every "
        "pair in {judge}_pair.jsonl (default: %(default)s)",
    )
    add_read_options(parser)
    add_bootstrap_options(parser)
    add_format_option(parser)
    parser.add_argument("--plot", metavar="FILE", help="also save a per-category radar chart (PNG)")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="compare two runs' single scores item by item (B - A, paired bootstrap); a run is "
        "MODEL (in the input file), FILE:MODEL, JUDGE:MODEL (JUDGE as in --judge-model) or FILE "
        "(its only model)",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="N",
        help="with --compare: list the N items that moved most; with several judges: the N "
        "items they disagree on most (default: %(default)s)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        help="also estimate each model's score on the GPT-4 (gpt-4-0613) scale of the "
        "published leaderboard, through the judge's calibration (mtbench-calibrate), with an "
        "interval that holds the calibration's uncertainty; single mode",
    )
    parser.add_argument(
        "--calibration",
        metavar="FILE",
        help="with --scale: the calibration to use (default: "
        "{data-dir}/{bench}/calibration/{judge}.json)",
    )
    add_gate_options(parser)
    add_export_options(parser)
    add_logging_options(parser)
    return parser


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """`--export` and `--export-project` (`mtbench.exports`)."""
    group = parser.add_argument_group(
        "exports",
        "also record the results (the --format json document) where you keep them; each "
        "target needs its pip extra: mtbench-toolkit[hf-card], [mlflow] or [wandb]",
    )
    group.add_argument(
        "--export",
        action="append",
        metavar="TARGET",
        help="hf-card=PATH: write the model's results into the evaluation results of the "
        "model card PATH (a README.md, created if missing; its text is kept); mlflow[=URI]: "
        "one MLflow run per model (default URI: $MLFLOW_TRACKING_URI, else MLflow's); "
        "wandb[=DIR]: one W&B run per model, its files under DIR (WANDB_MODE=offline keeps "
        "it local); repeat the flag for several targets",
    )
    group.add_argument(
        "--export-project",
        metavar="NAME",
        help="the MLflow experiment and W&B project (default: $MLFLOW_EXPERIMENT_NAME or "
        "$WANDB_PROJECT, else mtbench)",
    )


def add_gate_options(parser: argparse.ArgumentParser) -> None:
    """The CI gate's flags (`analysis.gate`)."""
    gate = parser.add_argument_group(
        "CI gate", f"fail a build (exit status {EXIT_GATE}) only on evidence, never on noise"
    )
    gate.add_argument(
        "--fail-under",
        type=float,
        metavar="SCORE",
        help="fail when a model's score is below SCORE beyond its 95%% interval (the whole "
        "interval below; without one, the score); pairwise modes: the adjusted win rate (0-1)",
    )
    gate.add_argument(
        "--fail-if-worse",
        type=float,
        nargs="?",
        const=0.0,
        metavar="MARGIN",
        help="with --compare A B: fail when B is worse than A by more than MARGIN (default 0) "
        "beyond the paired-bootstrap interval of B - A",
    )
    gate.add_argument(
        "--max-missing",
        type=float,
        metavar="SHARE",
        help="fail when more than SHARE (0-1, e.g. 0.05) of a model's expected judgments (or "
        "of the items --compare needs) are missing or without a parsable verdict",
    )


def _check_gate_flags(args: argparse.Namespace, pooled: bool) -> None:
    if args.fail_if_worse is not None and not args.compare:
        raise ConfigError("--fail-if-worse needs --compare A B (it fails when B is worse than A)")
    if args.compare and args.fail_under is not None:
        raise ConfigError("--fail-under gates the scores shown; with --compare use --fail-if-worse")
    if pooled and args.max_missing is not None:
        raise ConfigError("--max-missing counts one judge's judgments; give one judge")
    # Values, before any file is read.
    if args.fail_under is not None:
        check_threshold(args.fail_under, single=args.mode == "single")
    if args.max_missing is not None:
        check_share(args.max_missing)
    if args.fail_if_worse is not None:
        check_margin(args.fail_if_worse)


def _finish(text: str, gate: GateVerdict | None) -> int:
    """Print the report; the gate's exit status (a failed gate also says so on stderr)."""
    sys.stdout.write(text)
    return _gate_status(gate)


def _gate_status(gate: GateVerdict | None) -> int:
    """0, or the gate's exit status; a failed gate's lines also go to stderr (for CI logs)."""
    if gate is None:
        return 0
    if not gate.passed:
        print("\n".join(gate.lines()), file=sys.stderr)
    return gate.exit_status


def add_judges_option(parser: argparse.ArgumentParser) -> None:
    """`--judge-model` of `mtbench-show`: one judge as every command takes it, or several to pool.

    `add_judge_option` with `nargs="+"`; `_judges` turns the list back into one name (or pools).
    """
    parser.add_argument(
        "--judge-model",
        nargs="+",
        metavar="JUDGE",
        help="judge whose judgment file to read (without --input-file): the --judge-model (or "
        "--judge-name) given to mtbench-judge; a name with a slash is mapped to its last part, "
        "as mtbench-judge files it; several judges pool their single-mode scores "
        f"(default: {DEFAULT_JUDGE})",
    )


def _judges(args: argparse.Namespace) -> bool:
    """Whether several judges are pooled; if not, leave one name in `judge_model`/`input_file`."""
    judges, files = args.judge_model or [], args.input_file or []
    if judges and files and max(len(judges), len(files)) > 1:
        raise ConfigError(
            "name the judges to pool either with --judge-model or with --input-file, not both"
        )
    if len(judges) > 1 or len(files) > 1:
        return True
    args.judge_model = judges[0] if judges else DEFAULT_JUDGE
    args.input_file = files[0] if files else None
    return False


def _pool(args: argparse.Namespace) -> int:
    if args.mode != "single":
        raise ConfigError(
            "pooling several judges works on single-mode scores; leave out --mode or give one judge"
        )
    if args.compare:
        raise ConfigError("--compare takes one judge: give --compare JUDGE:MODEL runs instead")
    if args.plot or args.scale:
        raise ConfigError("--plot and --scale take one judge's scores; give one judge")
    from mtbench.analysis.pooling import build_pooled_report
    from mtbench.reports.pooling import render_pooled

    report = build_pooled_report(
        bench_paths(args),
        judge_models=args.judge_model,
        input_files=args.input_file,
        model_list=model_stems(args.model_list),
        bootstrap=bootstrap_spec(args),
        top=args.top,
        read=read_options(args),
    )
    gate = pooled_gate(report, args.fail_under)
    return _finish(render_pooled(report, args.format, gate), gate)


def _compare(args: argparse.Namespace) -> int:
    if args.mode != "single":
        raise ConfigError("--compare works on single-mode scores; leave out --mode")
    if args.model_list or args.plot or args.scale:
        raise ConfigError(
            "--compare takes no --model-list, --plot or --scale: name the two runs instead"
        )
    from mtbench.analysis.compare import build_comparison
    from mtbench.reports.compare import render_comparison

    paths = bench_paths(args)
    comparison = build_comparison(
        paths,
        args.compare[0],
        args.compare[1],
        input_file=args.input_file,
        judge_model=args.judge_model,
        bootstrap=bootstrap_spec(args),
        top=args.top,
        read=read_options(args),
    )
    expected = None
    if args.max_missing is not None and paths.question_file.is_file():
        expected = len(expected_items(load_questions(paths.question_file)))
    gate = comparison_gate(comparison, args.fail_if_worse, args.max_missing, expected)
    return _finish(render_comparison(comparison, args.format, gate), gate)


def _show(args: argparse.Namespace) -> int:
    pooled = _judges(args)
    _check_gate_flags(args, pooled)
    if args.export and (pooled or args.compare):
        raise ConfigError(
            "--export records one judge's scores; leave out --compare and give one judge"
        )
    if pooled:
        return _pool(args)
    if args.compare:
        return _compare(args)
    if args.calibration and not args.scale:
        raise ConfigError("--calibration names the calibration of --scale gpt-4; add --scale")
    if args.scale and args.mode != "single":
        raise ConfigError("--scale maps single-mode scores; leave out --mode")
    # Before the bootstrap, not after: flags, extras, where the files go, the calibration.
    targets = parse_targets(args.export, args.mode, model_stems(args.model_list))
    if args.plot:
        check_writable(args.plot, "the plot")
    paths = bench_paths(args)
    judge = file_label(args.input_file) if args.input_file else file_stem(args.judge_model)
    calibration = None
    if args.scale:
        from mtbench.calibration.scale import find_calibration

        calibration = find_calibration(paths, judge, args.calibration, args.input_file)
    report = build_report(
        paths,
        mode=args.mode,
        input_file=args.input_file,
        judge_model=args.judge_model,
        baseline_model=file_stem(args.baseline_model, "--baseline-model"),
        model_list=model_stems(args.model_list),
        bootstrap=bootstrap_spec(args),
        read=read_options(args),
    )
    gate = report_gate(report, args.fail_under, args.max_missing)
    scale = None
    if calibration is not None:
        from mtbench.calibration.scale import estimate_scale

        scale = estimate_scale(report, *calibration, judge=judge)
    sys.stdout.write(render_report(report, args.format, gate, scale))
    if args.plot:
        if report.categories is None:
            raise ConfigError(
                "--plot needs the question file for categories; see the warning above"
            )
        from mtbench.reports.plots import radar_plot

        radar_plot(report, args.plot)
        print(f"Plot saved to {args.plot}", file=sys.stderr)
    if targets:
        document = results_document(report, gate, scale)
        export_results(document, targets, args.export_project, on_exported=_exported)
    return _gate_status(gate)


def _exported(line: str) -> None:
    print(f"Exported: {line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-show`."""
    return run_command(build_parser(), _show, argv)


if __name__ == "__main__":
    sys.exit(main())
