"""`mtbench-refs`: list a bench's reference-answer sets and show where two of them differ.

mtbench-refs list
mtbench-refs diff gpt-4 gpt-4o                   names in reference_answer/, or file paths
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.cli.common import add_bench_options, add_output_options, bench_paths, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-refs",
        description="Reference answers the judge sees for math, reasoning and coding: list the "
        "sets of a bench, or show which questions' references differ between two sets.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{list,diff}")
    listing = sub.add_parser("list", help="the reference sets in reference_answer/")
    diff = sub.add_parser(
        "diff",
        help="which questions' references differ between two sets",
        description="Turn by turn, where two reference sets differ (with an excerpt of both from "
        "just before the first difference), and which questions only one set has.",
    )
    diff.add_argument("set_a", metavar="A", help="a set name in reference_answer/ or a file path")
    diff.add_argument("set_b", metavar="B", help="the other set")
    diff.add_argument(
        "--width", type=int, default=70, help="characters per excerpt (default: %(default)s)"
    )
    diff.add_argument(
        "--ignore-whitespace",
        action="store_true",
        help="treat runs of whitespace as one space when comparing",
    )
    for command in (listing, diff):
        add_bench_options(command)
        add_output_options(command)
    return parser


def _run(args: argparse.Namespace) -> int:
    from mtbench.analysis.references import build_reference_diff
    from mtbench.reports.references import diff_sections, list_sections

    paths = bench_paths(args)
    if args.command == "list":
        sections = list_sections(paths)
    else:
        diff = build_reference_diff(
            paths, args.set_a, args.set_b, args.width, args.ignore_whitespace
        )
        sections = diff_sections(diff)
    sys.stdout.write(sections.render(args.format))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-refs`."""
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
