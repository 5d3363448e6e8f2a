"""JSON Lines files written exactly as FastChat writes them, and safely.

FastChat writes each row with Python's default `json.dumps` (ASCII escapes, `", "` and `": "`
separators) followed by `"\\n"`; so do we, so files stay byte-compatible in both directions.

Writes are append-only. A run killed in the middle of a write can leave a last line without its
newline; the next reader skips that torn line with a warning, and the next writer cuts it off
before appending, so a row is never half-written and never duplicated. A last line that is
complete JSON but lacks its newline (some published files end that way) is kept and terminated.
A write that the disk refuses (full, read-only) is cut back at once, so a failed run leaves whole
rows only, and fails with one `WriteError` that says how many rows it kept.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mtbench.data.atomic import write_atomic
from mtbench.data.writable import WriteError, write_error
from mtbench.errors import DataError

logger = logging.getLogger(__name__)


def dumps(row: Mapping[str, Any]) -> str:
    """Serialise one row the way FastChat does (without the trailing newline)."""
    return json.dumps(row)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(line_number, row)` for every row of a JSON Lines file.

    Blank lines are skipped. A torn last line (no final newline, not valid JSON) is skipped with
    a warning, since it is what a killed writer leaves behind.

    Raises:
        DataError: if the file is missing or a line is not a JSON object.
    """
    for number, _raw, row in read_jsonl_raw(path):
        yield number, row


def read_jsonl_raw(path: str | Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Like `read_jsonl`, but also yield each line's text as it is in the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a JSONL file", path) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", path) from None
    yield from _parse_lines(path, data)


def _parse_lines(path: Path, data: bytes) -> Iterator[tuple[int, str, dict[str, Any]]]:
    lines = data.split(b"\n")
    torn_tail = not data.endswith(b"\n")
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        number = index + 1
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if torn_tail and index == len(lines) - 1:
                # Not "an interrupted write": mtbench never writes question, prompt or vote
                # files, whose torn end is a cut-short copy or download.
                logger.warning(
                    "%s:%d: ignoring an incomplete last line (no newline, not valid JSON: the "
                    "file was cut short while being written or copied)",
                    path,
                    number,
                )
                return
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
            raise DataError(f"not valid JSON ({reason})", path, number) from None
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path, number)
        yield number, raw.decode("utf-8").rstrip("\r"), row


def repair_tail(path: str | Path) -> bool:
    """Make a file end with a complete line; return True if it had to change.

    A last line without its newline is terminated if it is valid JSON and cut off otherwise.
    """
    path = Path(path)
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        return False
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            return _repair_locked(handle, path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _repair_locked(handle: Any, path: Path) -> bool:
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return False
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return False
    # Find the start of the last line without reading the whole file.
    start = size
    chunk = 1 << 16
    while start > 0:
        step = min(chunk, start)
        handle.seek(start - step)
        block = handle.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            start = start - step + cut + 1
            break
        start -= step
    handle.seek(start)
    tail = handle.read()
    try:
        json.loads(tail)
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s: removing an incomplete last line left by an interrupted write", path)
        handle.truncate(start)
    else:
        handle.seek(size)
        handle.write(b"\n")
    handle.flush()
    os.fsync(handle.fileno())
    return True


class JsonlAppender:
    """Append rows to a JSON Lines file, one complete line per write, safe across threads.

    The file (and its folder) is created on first use; a torn last line is repaired first.
    Each row is written under an exclusive file lock and flushed to disk, so a crash loses at
    most the row being written and other processes never interleave. A write the disk refuses
    (full, read-only) is cut back to the last complete line and raised as one `WriteError`
    saying how many rows this appender wrote; `close()` never raises a second error after it.

    Args:
        path: The file to append to.
        durable: Also `fsync` after every row (survives power loss, costs a few ms a row).
        what: What the rows are, for the error message (`judgments`, `answers`).

    Attributes:
        rows_written: Rows this appender has written.
    """

    def __init__(self, path: str | Path, durable: bool = True, what: str = "rows"):
        self.path = Path(path)
        self.durable = durable
        self.what = what
        self.rows_written = 0
        self._lock = threading.Lock()
        self._handle: Any = None

    def _open(self) -> Any:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: a failed write leaves nothing in a buffer for close() to retry.
            handle = open(self.path, "a+b", buffering=0)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    _repair_locked(handle, self.path)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            except BaseException:
                handle.close()
                raise
            self._handle = handle
        return self._handle

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row as one line.

        Raises:
            WriteError: the disk or the folder refused the write; the file still ends with a
                complete line.
        """
        line = (dumps(row) + "\n").encode("utf-8")
        with self._lock:
            try:
                handle = self._open()
            except OSError as exc:
                raise self._failed(exc) from None
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                start = os.fstat(handle.fileno()).st_size
                try:
                    _write_all(handle, line)
                    if self.durable:
                        os.fsync(handle.fileno())
                except OSError as exc:
                    _cut(handle, start, self.path)
                    raise self._failed(exc) from None
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            self.rows_written += 1

    def _failed(self, exc: OSError) -> WriteError:
        return write_error(
            exc, self.path, self.what, f"{self.rows_written} row(s) written so far are kept"
        )

    def close(self) -> None:
        """Close the file (appending again reopens it); never raises."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                try:
                    handle.close()
                except OSError as exc:  # nothing is buffered, so nothing is lost
                    logger.warning("%s: error closing the file: %s", self.path, exc)

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(handle: Any, data: bytes) -> None:
    """Write all of `data` to an unbuffered file (a full disk can take only part of it)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if not written:
            raise OSError(errno.EIO, "the write made no progress")
        view = view[written:]


def _cut(handle: Any, size: int, path: Path) -> None:
    """Truncate back to `size`, the end of the last complete line, after a failed write."""
    try:
        os.ftruncate(handle.fileno(), size)
    except OSError as exc:  # the next reader skips the torn line, the next writer cuts it
        logger.warning("%s: could not remove a partly written line: %s", path, exc)


def write_jsonl_atomic(path: str | Path, lines: Iterable[str], what: str = "the file") -> None:
    """Replace a file with the given lines (each without its newline) in one atomic step.

    Raises:
        WriteError: the disk or the folder refused the write (the old file is unchanged).
    """
    write_atomic(path, (line.encode("utf-8") + b"\n" for line in lines), what)
