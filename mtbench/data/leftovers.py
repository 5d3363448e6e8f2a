"""Temporary files and folders that a killed process leaves behind, and their safe removal.

mtbench writes every file or folder that must appear whole (a rewritten answer file, a download,
a converted GGUF model) to a temporary path beside its target, named
`.{target name}.{unique part}.{suffix}`, and renames it over the target when it is complete. An
error or Ctrl-C removes the temporary path; `kill -9`, the OOM killer or a power cut do not, and
it would stay for good, hidden by its leading dot. The next run that writes the same target
removes such leftovers, but only those it can prove no live process is still writing:

* a temporary *file* is held under an exclusive `flock` by its writer from just after it is
  created until it is closed (`create_temp`, `hold`); a file that nobody holds and that has not
  been written to for `GRACE` seconds (which covers the moments between creating and locking,
  and between closing and renaming) is a leftover (`remove_unheld`). The kernel drops a dead
  process's locks, whatever killed it;
* a GGUF staging *folder* is written only while its cache entry's conversion lock is held, so
  the holder of that lock knows every other staging folder of the entry is a leftover
  (`mtbench.backends.hf_loading.convert_gguf_cached`).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import secrets
import stat
import time
from pathlib import Path

logger = logging.getLogger(__name__)

GRACE = 10.0
"""Seconds an unheld temporary file must have gone unmodified before it counts as a leftover."""


def temp_paths(target: Path, suffix: str) -> list[Path]:
    """The temporary paths of `target` that exist: `.{target.name}.{unique}.{suffix}` beside it.

    `unique` is a process id or `tempfile`'s random part: letters, digits and `_`, never a dot,
    so the temporary paths of `a.jsonl.bak` are not taken for those of `a.jsonl`.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.\w+\.{re.escape(suffix)}")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return sorted(target.parent / name for name in names if pattern.fullmatch(name))


def hold(fd: int) -> None:
    """Mark a temporary file as being written, by locking it until `fd` is closed.

    Call it right after creating the file. A cleaner holds the lock only for a moment (and only
    on a file older than `GRACE`, which a new file is not), so waiting for it is short.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)


def create_temp(target: Path, suffix: str) -> tuple[int, Path]:
    """Create and `hold` a new temporary file for `target`; return its descriptor and path.

    The name is `.{target.name}.{pid}_{random}.{suffix}`, created exclusively (never an old
    file of a process that had the same id) with the permissions an ordinary `open` would give.
    """
    while True:
        path = target.with_name(f".{target.name}.{os.getpid()}_{secrets.token_hex(4)}.{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            hold(fd)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd, path


def remove_unheld(target: Path, suffix: str, grace: float = GRACE) -> list[Path]:
    """Remove `target`'s temporary files (`temp_paths`) that no live process is writing.

    A file is removed when nobody holds its lock (`hold`) and it was last modified more than
    `grace` seconds ago. Anything that cannot be checked or removed is left alone.

    Returns:
        The files removed.
    """
    removed = []
    for path in temp_paths(target, suffix):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, a folder we cannot open, or a link: not ours to remove
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode) or time.time() - status.st_mtime <= grace:
                continue
            os.unlink(path)
            removed.append(path)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.ENOENT, errno.EPERM):
                logger.debug("cannot check %s: %s", path, exc)
        finally:
            os.close(fd)
    if removed:
        logger.info(
            "removed %d temporary file(s) of %s left by an interrupted run", len(removed), target
        )
    return removed
