"""`mtbench-agreement`: how far judges agree (FastChat's `compute_agreement.py`, and more).

    mtbench-agreement [judges] --votefiles F [F ...] [--judges J1 J2]   judge vs judge
    mtbench-agreement position [--judge-model J | --input-file F]      order (position) bias
    mtbench-agreement single-pair [--judge-model J] [--tie-margin X]    single vs pairwise

Without a sub-command, `judges` is meant, so FastChat's own command line works unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.cli.common import (
    add_bench_options,
    add_judge_option,
    add_output_options,
    bench_paths,
    run_command,
)

COMMANDS = ("judges", "position", "single-pair")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-agreement",
        description="Agreement between judges on pairwise votes (FastChat's compute_agreement), "
        "position consistency of a judge, and single-vs-pairwise consistency.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{judges,position,single-pair}")

    judges = sub.add_parser(
        "judges",
        help="agreement of two judges on pairwise votes (the default)",
        description="Agreement of two judges on the same pairwise matches, per turn, with and "
        "without ties. Files: FastChat vote arrays (lmsys/mt_bench_human_judgments JSON), JSONL "
        "votes, or {judge}_pair.jsonl judgment files.",
    )
    judges.add_argument(
        "--votefiles",
        nargs="+",
        required=True,
        metavar="[LABEL=]FILE",
        help="vote or pairwise judgment files, merged; LABEL= names the judge of all of a file's "
        "votes (to compare two runs of one judge)",
    )
    judges.add_argument(
        "--judges",
        nargs=2,
        metavar=("J1", "J2"),
        help="judge names to compare, e.g. gpt4-pair human (default: those, if present, else the "
        "two names found)",
    )
    judges.add_argument(
        "--per-game",
        action="store_true",
        help="read each order of a pairwise judgment as its own vote (default: one vote per row, "
        "a win only when both orders agree, as mtbench-show)",
    )
    add_output_options(judges)

    position = sub.add_parser(
        "position",
        help="position consistency of a judge from its both-order pairwise judgments",
        description="How often a judge's verdict changes when the two answers swap places, by "
        "turn, category and model pair, and which position it favours.",
    )
    position.add_argument(
        "--input-file", help="pairwise judgment file (default: from --judge-model)"
    )
    add_judge_option(position, "{judge}_pair.jsonl (without --input-file)")
    add_keep_stale_option(position)
    add_bench_options(position)
    add_output_options(position)

    single_pair = sub.add_parser(
        "single-pair",
        help="single scores turned into verdicts vs the same judge's pairwise verdicts",
        description="Turn a judge's single scores of two models on a question turn into a "
        "verdict (higher score wins) and compare with its pairwise verdict on the same match.",
    )
    add_judge_option(single_pair, "two judgment files")
    single_pair.add_argument(
        "--single-file", help="single judgment file (default: from --judge-model)"
    )
    single_pair.add_argument(
        "--pair-file", help="pairwise judgment file (default: from --judge-model)"
    )
    single_pair.add_argument(
        "--tie-margin",
        type=float,
        default=0.0,
        help="score differences up to this are a tie (default: %(default)s, only equal scores)",
    )
    single_pair.add_argument(
        "--per-game", action="store_true", help="compare each pairwise order on its own"
    )
    add_keep_stale_option(single_pair)
    add_bench_options(single_pair)
    add_output_options(single_pair)
    return parser


def add_keep_stale_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-stale",
        action="store_true",
        help="also read judgments whose graded answer, reference or judge prompt has changed "
        "since (by default they are left out, with a warning)",
    )


def _run(args: argparse.Namespace) -> int:
    from mtbench.reports import agreement as fmt

    if args.command == "judges":
        from mtbench.analysis.agreement import run_agreement
        from mtbench.data.votes import VoteSource

        sources = [VoteSource.parse(text) for text in args.votefiles]
        sections = fmt.agreement_sections(run_agreement(sources, args.judges, args.per_game))
    else:
        from mtbench.analysis.consistency import position_report, single_pair_report

        paths = bench_paths(args)
        if args.command == "position":
            sections = fmt.position_sections(
                position_report(paths, args.input_file, args.judge_model, args.keep_stale)
            )
        else:
            sections = fmt.single_pair_sections(
                single_pair_report(
                    paths,
                    args.judge_model,
                    args.single_file,
                    args.pair_file,
                    args.tie_margin,
                    args.per_game,
                    args.keep_stale,
                )
            )
    sys.stdout.write(sections.render(args.format))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-agreement`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # FastChat's command line has no sub-command: `--judges ... --votefiles ...` means `judges`.
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "judges")
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
