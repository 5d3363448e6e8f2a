"""Errors that mtbench reports to users.

Every error a user can cause or fix is an `MTBenchError`; the command-line tools print its
message as one `Error: ...` line and exit with a non-zero status. Messages say what is wrong
and what to do about it, and never contain API keys.

    MTBenchError
    ├── ConfigError              a bad flag, option or combination of them
    ├── DataError                a missing or malformed data file (names file and line)
    │   ├── WriteError           the disk or the folder refused a write (defined in
    │   │                        `data.writable`, which also checks output before a run)
    │   └── FileInUseError       another run holds the output file (defined in `data.run_lock`)
    ├── MissingDependencyError   an optional package is not installed (names the extra)
    ├── DownloadError            an official file could not be fetched or fails its checksum
    ├── ExportError              an experiment tracker refused the results (`mtbench.exports`)
    └── BackendError             a model or API backend failed
        ├── AuthError            credentials rejected: retrying cannot help
        ├── RequestError         the request itself is invalid (400, unknown model)
        ├── RateLimitError       throttled after all retries
        ├── TooLongError         prompt plus reply limit beyond what the model allows (costs
        │                        that call only)
        ├── TransientError       one failed attempt that may succeed if repeated (retried by
        │                        `backends.retry`; users see it only when retries run out)
        ├── FailedQuestionsError questions whose answers failed after retries (defined beside
        │                        `generation.pipeline.generate_answers`, whose summary it carries)
        └── NoVerdictError       a judge reply that ran out of room before its verdict, every
                                 time it was asked (defined in `judging.replies`)
"""

from __future__ import annotations

from pathlib import Path


class MTBenchError(Exception):
    """Base class for errors reported to the user as a single line."""


class ConfigError(MTBenchError):
    """A flag, option or combination of options that cannot work."""


class DataError(MTBenchError):
    """A data file that is missing or malformed.

    Args:
        message: What is wrong and what to do about it.
        path: The file concerned, if any.
        line: The 1-based line number concerned, if any.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class MissingDependencyError(MTBenchError):
    """An optional dependency is needed for the requested feature.

    Args:
        package: The import name that failed.
        extra: The `mtbench-toolkit` extra that provides it; None for a base dependency.
        feature: What the user asked for that needs it.
    """

    def __init__(self, package: str, extra: str | None, feature: str):
        self.package = package
        self.extra = extra
        target = f"'mtbench-toolkit[{extra}]'" if extra else "mtbench-toolkit"
        super().__init__(
            f"{feature} needs the Python package '{package}', which is not installed: "
            f"run pip install {target}"
        )


class BackendError(MTBenchError):
    """A model backend or remote API failed."""


class AuthError(BackendError):
    """The API rejected the credentials; retrying cannot succeed."""


class RequestError(BackendError):
    """The API rejected the request itself (bad parameters, unknown model)."""


class RateLimitError(BackendError):
    """The API kept throttling requests after every retry."""


class TooLongError(BackendError):
    """A request longer than the model allows: the prompt beyond its context, or a reply token
    limit above its maximum. Costs that call only; the run goes on."""


class TransientError(BackendError):
    """A failed attempt that may succeed if repeated.

    Args:
        message: What went wrong, in one line (never containing credentials).
        retry_after: Seconds the server asked us to wait, if it said.
        rate_limited: True for HTTP 429 (the final error then becomes a `RateLimitError`).
    """

    def __init__(self, message: str, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class DownloadError(MTBenchError):
    """A file could not be fetched, or what arrived does not match its checksum."""


class ExportError(MTBenchError):
    """An experiment tracker (MLflow, W&B) refused the results, or could not be reached."""


def first_line(exc: BaseException, *, with_type: bool = False) -> str:
    """The first non-empty line of an exception's message, to quote in a one-line error.

    Args:
        exc: The exception (often a library's, whose message may run over many lines).
        with_type: Prefix the exception's class name (`ValueError: ...`).

    Returns:
        The line, or the class name alone when the message is empty.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    name = type(exc).__name__
    if not lines:
        return name
    return f"{name}: {lines[0]}" if with_type else lines[0]
