"""`mtbench-download`: fetch the official MT-bench files into the data directory, verified."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.cli.common import add_data_dir_option, add_logging_options, run_command
from mtbench.cli.progress import DownloadBar
from mtbench.data.download import DIFFERS, download
from mtbench.data.manifest import (
    BASE_URL_ENVS,
    DEFAULT_BASE_URLS,
    DEFAULT_GROUPS,
    GITHUB,
    GROUPS,
    HF,
    OFFICIAL_MODELS,
    resolve_base_urls,
    select_files,
)
from mtbench.data.paths import BenchPaths
from mtbench.errors import DownloadError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-download",
        description=(
            "Fetch the official MT-bench files (FastChat's questions, judge prompts and GPT-4 "
            "reference answers at a pinned commit; the 31 pre-generated answers of the "
            "lmsys/mt-bench space) into the data directory, checking each file's sha256. "
            "Files already present and correct are skipped."
        ),
    )
    add_data_dir_option(parser)
    parser.add_argument(
        "--what",
        nargs="+",
        choices=[*GROUPS, "all"],
        default=list(DEFAULT_GROUPS),
        metavar="GROUP",
        help=(
            "what to fetch: questions (with judge prompts and GPT-4 references), answers (the 31 "
            "official ones), judgments (official GPT-4 judgments; no checksum known, so "
            "unverified), gpt-4o (GPT-4o answers and references from FastChat PR #3404), or all "
            f"(default: {' '.join(DEFAULT_GROUPS)})"
        ),
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help=f"fetch only these models' answers (of {len(OFFICIAL_MODELS)}: see --list)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace files already present whose checksum differs (default: report them)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print each selected file's sha256, local path and URL, and fetch nothing",
    )
    for source, flag in ((GITHUB, "--github-base-url"), (HF, "--hf-base-url")):
        parser.add_argument(
            flag,
            default=None,
            metavar="URL",
            help=(
                f"a mirror holding the same paths (default: ${BASE_URL_ENVS[source]}, else "
                f"{DEFAULT_BASE_URLS[source]})"
            ),
        )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for a connection or data (default: %(default)s)",
    )
    add_logging_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    files = select_files(args.what, args.models)
    base_urls = resolve_base_urls({GITHUB: args.github_base_url, HF: args.hf_base_url})
    paths = BenchPaths.resolve(args.data_dir)
    if args.list:
        for file in files:
            print(f"{file.sha256 or 'unverified':<64}  {file.local_path}  {file.url(base_urls)}")
        return 0
    bar = DownloadBar()
    try:
        report = download(
            files, paths, base_urls, force=args.force, timeout=args.timeout, progress=bar
        )
    finally:
        bar.close()
    for outcome in report.unverified:
        print(
            f"unverified: {outcome.path} has sha256 {outcome.sha256}; no official checksum is "
            "known for it, so compare that value with a trusted copy"
        )
    print(report.summary())
    differing = report.with_status(DIFFERS)
    if differing:
        raise DownloadError(
            f"{len(differing)} file(s) already present differ from the official checksum and "
            f"were left unchanged: {', '.join(str(o.path) for o in differing)}; rerun with "
            "--force to replace them with the official files"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-download`."""
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
