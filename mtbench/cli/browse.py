"""`mtbench-browse`: write a self-contained HTML page to browse results (FastChat's qa_browser)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.cli.common import (
    add_bench_options,
    add_bootstrap_options,
    add_judge_option,
    add_logging_options,
    add_model_list_option,
    bench_paths,
    bootstrap_spec,
    model_stems,
    run_command,
)
from mtbench.data.defaults import DEFAULT_BASELINE
from mtbench.data.paths import file_stem


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-browse",
        description="Write one static HTML page (no server, no network) with the leaderboard, "
        "per-category results and every question's answers and judge explanations.",
    )
    add_bench_options(parser)
    add_judge_option(parser, "judgment files and reference answers")
    parser.add_argument(
        "--baseline-model",
        default=DEFAULT_BASELINE,
        help="pairwise baseline, used when the pairwise file has it; otherwise all pairs "
        "are shown (default: %(default)s)",
    )
    add_model_list_option(parser)
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="the HTML file to write (default: {data-dir}/{bench-name}/report.html)",
    )
    add_bootstrap_options(parser)
    add_logging_options(parser)
    return parser


def _browse(args: argparse.Namespace) -> int:
    from mtbench.reports.browse import write_browse_report

    result = write_browse_report(
        bench_paths(args),
        output=args.output,
        judge_model=args.judge_model,
        baseline_model=file_stem(args.baseline_model, "--baseline-model"),
        model_list=model_stems(args.model_list),
        bootstrap=bootstrap_spec(args),
    )
    print(
        f"Report written to {result.path} ({result.size / 1e6:.1f} MB, "
        f"{len(result.models)} models, {result.questions} questions)",
        file=sys.stderr,
    )
    print(result.path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-browse`."""
    return run_command(build_parser(), _browse, argv)


if __name__ == "__main__":
    sys.exit(main())
