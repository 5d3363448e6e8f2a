"""Replace a file in one atomic step, so that readers and crashes never see half of it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from mtbench.data.leftovers import create_temp, remove_unheld
from mtbench.data.writable import write_error


def write_atomic(path: str | Path, chunks: Iterable[bytes], what: str = "the file") -> int:
    """Write `chunks` to a temporary file beside `path`, flush it to disk, rename it over `path`.

    The temporary file is `.{name}.{pid}_{random}.tmp`; one that a killed process left is removed
    by the next write of the same file (`mtbench.data.leftovers`).

    Args:
        path: The file to replace (or create).
        chunks: Its new content.
        what: What it is, for the error message (`the report`).

    Returns:
        The number of bytes written.

    Raises:
        WriteError: the disk or the folder refused the write; `path` is unchanged and no
            temporary file is left.
    """
    path = Path(path)
    existed = path.exists()
    size = 0
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_unheld(path, "tmp")  # what a killed writer of this file left
        fd, tmp = create_temp(path, "tmp")
        with open(fd, "wb") as handle:
            for chunk in chunks:
                size += handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        kept = "the file is unchanged" if existed else "nothing was written"
        raise write_error(exc, path, what, kept, then="rerun") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return size
