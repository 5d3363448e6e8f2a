"""What every mtbench command shares: common flags and turning errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, TypeVar

from mtbench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapSpec
from mtbench.analysis.samples import COMBINE
from mtbench.analysis.selection import ReadOptions
from mtbench.data.defaults import DEFAULT_JUDGE
from mtbench.data.paths import DATA_DIR_ENV, DEFAULT_BENCH, BenchPaths, file_stem
from mtbench.errors import ConfigError, MTBenchError
from mtbench.reports.tables import FORMATS

if TYPE_CHECKING:
    from mtbench.generation.config import GenConfig
    from mtbench.judging.config import JudgeConfig

_Config = TypeVar("_Config")

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def add_bench_options(parser: argparse._ActionsContainer) -> None:
    """`--bench-name` and `--data-dir`, as every command that reads a bench takes them."""
    parser.add_argument(
        "--bench-name",
        default=DEFAULT_BENCH,
        help="the bench, read from {data-dir}/{bench-name}/ (default: %(default)s)",
    )
    add_data_dir_option(parser)


def add_data_dir_option(parser: argparse._ActionsContainer) -> None:
    """`--data-dir` alone, for `mtbench-download`, which fills the whole directory."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"data directory in FastChat's layout (default: ${DATA_DIR_ENV}, else ./data)",
    )


def bench_paths(args: argparse.Namespace) -> BenchPaths:
    """The bench that `add_bench_options`' flags name (`--data-dir`, else the environment)."""
    return BenchPaths.resolve(args.data_dir, args.bench_name)


def config_from_args(
    cls: type[_Config],
    args: argparse.Namespace,
    rename: Mapping[str, str] | None = None,
    **values: Any,
) -> _Config:
    """Build the config dataclass `cls` from parsed flags, one field per flag of the same name.

    The namespace-to-config copy of vLLM's `EngineArgs.from_cli_args`: every field whose flag
    exists takes the flag's value, so a new field needs a flag and nothing else; fields without
    a flag keep their defaults.

    Args:
        cls: A dataclass such as `GenConfig` or `JudgeConfig`.
        args: The parsed flags.
        rename: Field name → namespace attribute, for the flags not named after their field
            (`{"api_base": "openai_api_base"}` for `--openai-api-base`).
        values: Fields the command works out itself (`paths=bench_paths(args)`); these win over
            a flag of the same name.

    Returns:
        The config, not yet validated.

    Raises:
        TypeError: a required field has no flag and no value, or `rename`/`values` name a field
            or attribute that does not exist (a mistake in the command, not the user's).
    """
    rename = dict(rename or {})
    names = {f.name for f in fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted((set(rename) | set(values)) - names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if not spec.init:
            continue
        attribute = rename.get(spec.name, spec.name)
        if spec.name in values:
            kwargs[spec.name] = values[spec.name]
        elif hasattr(args, attribute):
            kwargs[spec.name] = getattr(args, attribute)
        elif spec.name in rename:
            raise TypeError(f"no flag sets {attribute!r} (renamed from {cls.__name__}.{spec.name})")
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise TypeError(f"{cls.__name__}.{spec.name} is required and no flag sets it")
    return cls(**kwargs)


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log on stderr (default: %(default)s)",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="show the full stack trace on errors (also MTBENCH_DEBUG=1)",
    )


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """`--format` of a command that prints tables (`mtbench.reports.tables.FORMATS`)."""
    parser.add_argument(
        "--format",
        default="table",
        choices=FORMATS,
        help="table: aligned text for reading; csv, json, markdown: the same results for a "
        "spreadsheet, a script or a document (default: %(default)s)",
    )


def add_request_options(
    parser: argparse._ActionsContainer,
    config: type[GenConfig] | type[JudgeConfig],
    timeout_flag: str,
    call: str,
) -> None:
    """The timeout and `--max-attempts` of a command that calls a model API.

    Both commands bound one call the same way (`BackendSpec.timeout` and its `RetryPolicy`), so
    the two flags are declared here once, defaulting to the `timeout` and `max_attempts` fields
    of `config`.

    Args:
        parser: The parser or argument group to add them to.
        config: `GenConfig` or `JudgeConfig`.
        timeout_flag: The command's spelling of the timeout flag (`--timeout`, `--judge-timeout`).
        call: What one call is, in the help texts (`request`, `judge request`).
    """
    parser.add_argument(
        timeout_flag,
        type=float,
        default=config.timeout,
        metavar="SECONDS",
        help=f"seconds one {call} may take (default: %(default)s)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=config.max_attempts,
        metavar="N",
        help=f"attempts per {call} on 429/5xx/timeouts, with exponential backoff that honours "
        "Retry-After (default: %(default)s)",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """`--format` and the logging flags, the last flags of a command that prints tables."""
    add_format_option(parser)
    add_logging_options(parser)


def add_bootstrap_options(parser: argparse.ArgumentParser) -> None:
    """`--bootstrap N` and `--seed` for confidence intervals."""
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help="bootstrap resamples for 95%% intervals; 0 turns them off (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default: %(default)s)"
    )


def bootstrap_spec(args: argparse.Namespace) -> BootstrapSpec:
    """The resampling asked for by `add_bootstrap_options`' flags."""
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    return BootstrapSpec(args.bootstrap, args.seed)


def add_read_options(parser: argparse.ArgumentParser) -> None:
    """How a command that reads judgments treats stale rows and samples (`ReadOptions`)."""
    parser.add_argument(
        "--keep-stale",
        action="store_true",
        help="also use judgments whose graded answer, reference or judge prompt has changed "
        "since (FastChat's behaviour, for reading archives); by default they are skipped "
        "and counted",
    )
    parser.add_argument(
        "--judge-file",
        metavar="FILE",
        help="the judge prompt file the judgments were made with, to check them against "
        "(default: the bench's, as mtbench-judge)",
    )
    parser.add_argument(
        "--combine-samples",
        default="median",
        choices=COMBINE,
        help="how the samples of an item judged several times (mtbench-judge --samples) "
        "become its score, in single mode (pairwise: the majority verdict) "
        "(default: %(default)s)",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The `ReadOptions` that `add_read_options`' flags ask for."""
    return ReadOptions(args.keep_stale, args.judge_file, args.combine_samples)


def add_judge_option(parser: argparse.ArgumentParser, reads: str) -> None:
    """`--judge-model` of a command that reads a judge's files (`reads` says which files)."""
    parser.add_argument(
        "--judge-model",
        default=DEFAULT_JUDGE,
        help=f"judge whose {reads} to read: the --judge-model (or --judge-name) given to "
        "mtbench-judge; a name with a slash is mapped to its last part, as mtbench-judge "
        "files it (default: %(default)s)",
    )


def add_model_list_option(parser: argparse.ArgumentParser) -> None:
    """`--model-list` of a command that reads judgments; `model_stems` maps its names."""
    parser.add_argument(
        "--model-list",
        nargs="+",
        help="only these models, names mapped as mtbench-judge maps them (default: all)",
    )


def model_stems(models: Sequence[str] | None, flag: str = "--model-list") -> list[str] | None:
    """Model names as judgment rows hold them: each mapped by `file_stem` (`Org/M` -> `M`).

    Mapped as `mtbench-gen` and `mtbench-judge` map them, so the name given to those finds the
    rows. None stays None.

    Raises:
        ConfigError: for a name that gives no file name, naming `flag`.
    """
    if models is None:
        return None
    return [file_stem(model, flag) for model in models]


def run_command(
    parser: argparse.ArgumentParser,
    command: Callable[[argparse.Namespace], int | None],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse `argv`, run `command`, and map failures to one `Error:` line and an exit code.

    Exit codes: 0 success, 1 a user or runtime error, 2 a usage error (argparse), 130 Ctrl-C.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "WARNING"),
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    debug = getattr(args, "traceback", False) or os.environ.get("MTBENCH_DEBUG") == "1"
    try:
        return command(args) or 0
    except KeyboardInterrupt:
        print("Interrupted; work already written is kept and a rerun resumes.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MTBenchError as exc:
        if debug:
            traceback.print_exc()
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # `mtbench-show ... | head` closed stdout early: not an error of ours.
        sys.stderr.close()
        return 0
