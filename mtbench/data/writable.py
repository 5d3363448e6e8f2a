"""Where output goes: can it be written, and one line when a write fails.

Every command that writes checks its output with `check_writable` before it spends anything (a
model load, an API call, a bootstrap), so a read-only folder or a path under a file is reported
first, not after the work it was meant to keep. A write that fails later (a full disk) becomes
one `WriteError` from `write_error`, which names the file, the cause, what was kept, and what to
do next.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from mtbench.errors import DataError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)


class WriteError(DataError):
    """A write that the disk or the folder refused (full disk, read-only, no permission).

    Attributes:
        cause: The `OSError` that the write raised.
    """

    def __init__(self, message: str, path: str | Path, cause: OSError):
        super().__init__(message, path)
        self.cause = cause


def reason(exc: OSError) -> str:
    """The system's words for a failed call (`No space left on device`)."""
    return exc.strerror or str(exc) or type(exc).__name__


def remedy(exc: OSError) -> str:
    """What a user can do about a failed write, from its errno."""
    if exc.errno in _NO_SPACE:
        return "free space"
    if exc.errno in _NOT_ALLOWED:
        return "make it writable"
    return "fix that"


def write_error(
    exc: OSError, path: str | Path, what: str, kept: str, then: str = "rerun to resume"
) -> WriteError:
    """The one-line error for a write that failed part way through a run.

    Args:
        exc: What the write raised.
        path: The file being written.
        what: What was being written (`judgments`, `the report`).
        kept: What is safe on disk (`310 row(s) written so far are kept`).
        then: What a rerun does after the remedy; empty: no remedy is suggested.

    Returns:
        For example `...gpt-4_single.jsonl: cannot write judgments (No space left on device);
        310 row(s) written so far are kept, free space and rerun to resume`.
    """
    message = f"cannot write {what} ({reason(exc)}); {kept}"
    if then:
        message += f", {remedy(exc)} and {then}"
    return WriteError(message, path, exc)


def check_writable(path: str | Path, what: str) -> None:
    """Fail before any work is done if `path` could not be written.

    It tries for real (opens an existing file for appending, changing nothing, or creates and
    removes an empty file in the nearest existing folder) rather than trusting `os.access`,
    which judges by permission bits that root passes whatever they say.

    Args:
        path: The file a run will write; it and its folders may not exist yet.
        what: What it is, for the message (`the judgment file`).

    Raises:
        DataError: naming the file or the folder in the way, and why.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"is a folder, expected {what}", path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DataError(f"is a file, expected a folder for {what}", folder)
    try:
        if path.exists():
            with open(path, "ab"):
                pass
        else:
            handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        if path.exists():
            raise DataError(f"cannot write {what} ({reason(exc)})", path) from None
        made = what if folder == path.parent else f"{what}'s folder"
        raise DataError(f"cannot create {made} in {folder} ({reason(exc)})", path) from None
