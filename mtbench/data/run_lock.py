"""One mtbench run at a time per output file: an exclusive lock held for the whole run.

Two runs writing one file would each plan their work from what the file held when they started:
two judges would judge (and pay for) every match twice, and two `mtbench-gen` runs on split
question ranges lose rows, because the first run's final re-sort renames a new file over the one
the second run is still appending to. So a run that writes a file takes `RunLock(file)` before it
reads what is done, loads a model or calls an API, and keeps it to the end; a second run finds
it held and stops with one line naming the holder (pid, host, since when, command). A dry run
writes nothing and takes no lock.

The lock is an exclusive, non-blocking `flock` on a sidecar file `.{name}.lock` beside the
output, which records the holder as JSON. It is the kernel's lock, not the file's existence, that
counts: it ends with the process however the process ends (even `kill -9`), so a `.lock` file
left behind never blocks anyone. A clean exit removes it, and the folders it had to create when
nothing else was written there. A sidecar rather than the output itself, because `JsonlAppender`
locks the output around each append (a second `flock` on another descriptor in the same process
would conflict) and the re-sort replaces the output, lock and all. A child forked without `exec`
inherits the lock and holds it until it ends too.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any

from mtbench.data.writable import reason
from mtbench.errors import DataError

logger = logging.getLogger(__name__)

HOLDER_READ_TRIES = 20
"""Reads of a held lock's record before giving up on it (the holder writes it just after it
takes the lock, so a run that starts at the same moment may find it empty at first)."""
OPEN_TRIES = 10
"""Attempts to open and lock the lock file while other runs remove it or its folder."""
COMMAND_CHARS = 200
"""The longest command line quoted in the one-line error."""


def lock_path(path: str | Path) -> Path:
    """The sidecar lock file of an output file: `.{name}.lock` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


class FileInUseError(DataError):
    """Another process holds the run lock of the output file.

    Attributes:
        holder: What the holder recorded (`pid`, `host`, `started`, `command`); empty when it
            had not recorded anything yet.
    """

    def __init__(self, path: str | Path, holder: dict[str, Any]):
        self.holder = holder
        super().__init__(
            f"in use by another mtbench run ({describe_holder(holder)}); wait for it to end or "
            "stop it, then rerun",
            path,
        )


def describe_holder(holder: dict[str, Any]) -> str:
    """`pid 123 on host since 2026-11-30T08:22:01+00:00, command: mtbench-gen ...`."""
    if not holder.get("pid"):
        return "it has not said which yet"
    text = f"pid {holder['pid']}"
    if holder.get("host"):
        text += f" on {holder['host']}"
    if holder.get("started"):
        text += f" since {holder['started']}"
    command = " ".join(str(holder.get("command", "")).split())  # one line, whatever it held
    if command:
        if len(command) > COMMAND_CHARS:
            command = command[: COMMAND_CHARS - 3] + "..."
        text += f", command: {command}"
    return text


def holder_record() -> dict[str, Any]:
    """What this process writes into a lock it holds."""
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name or "python"
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(argv),
    }


class RunLock:
    """The exclusive run lock of one output file (a context manager).

        with RunLock(answer_file):
            ...  # plan, generate, append, re-sort

    Args:
        path: The output file the run writes (the lock is `lock_path(path)`).

    Raises:
        FileInUseError: on entering, when another process holds the lock.
        DataError: on entering, when the lock file cannot be created or locked.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock_file = lock_path(self.path)
        self._fd: int | None = None
        self._made: list[Path] = []

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock at once or raise; see the class."""
        if self._fd is not None:
            raise RuntimeError(f"{self.lock_file} is already held by this RunLock")
        try:
            fd = self._open_locked()
        except OSError as exc:
            raise DataError(
                f"cannot take the run lock {self.lock_file.name} ({reason(exc)})", self.path
            ) from None
        self._fd = fd
        self._record(fd)
        return self

    def _open_locked(self) -> int:
        for attempt in range(OPEN_TRIES):
            self._make_folders()
            try:
                fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:  # another run removed the folder it had just made
                if attempt + 1 == OPEN_TRIES:
                    raise
                continue
            self._lock(fd)
            if _same_file(fd, self.lock_file):
                return fd
            # A holder removed the file between our open and our flock: lock the new one.
            os.close(fd)
        raise OSError(errno.EAGAIN, "the lock file kept being replaced")

    def _make_folders(self) -> None:
        """Create the output's missing folders, remembering them to remove if left empty."""
        missing = []
        folder = self.lock_file.parent
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            self._made.append(folder)

    def _lock(self, fd: int) -> None:
        """Lock `fd` or close it and raise (`FileInUseError` when another process holds it)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise FileInUseError(self.path, holder) from None
        except OSError:
            os.close(fd)
            raise

    def _record(self, fd: int) -> None:
        data = json.dumps(holder_record()).encode("utf-8") + b"\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError as exc:  # a full disk: the lock holds all the same, only unnamed
            logger.debug("could not record the holder in %s: %s", self.lock_file, exc)

    def release(self) -> None:
        """Give the lock up, remove the lock file and any folder it made that stayed empty."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Removed while still locked, so a run that opened it meanwhile sees it is stale.
            with contextlib.suppress(OSError):
                os.unlink(self.lock_file)
        finally:
            os.close(fd)
        made, self._made = self._made, []
        for folder in reversed(made):  # a run that failed before writing leaves no folder
            with contextlib.suppress(OSError):
                folder.rmdir()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _read_holder(fd: int) -> dict[str, Any]:
    for attempt in range(HOLDER_READ_TRIES):
        try:
            holder = json.loads(os.pread(fd, 1 << 16, 0))
        except (OSError, ValueError):
            holder = None
        if isinstance(holder, dict) and holder.get("pid"):
            return holder
        if attempt + 1 < HOLDER_READ_TRIES:
            time.sleep(0.025)
    return {}
