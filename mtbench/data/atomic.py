"""Replace a file in one atomic step, so that readers and crashes never see half of it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mtbench.data.leftovers import create_temp, remove_unheld


def write_atomic(path: str | Path, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to a temporary file beside `path`, flush it to disk, rename it over `path`.

    The temporary file is `.{name}.{pid}_{random}.tmp`; one that a killed process left is removed
    by the next write of the same file (`mtbench.data.leftovers`).

    Returns:
        The number of bytes written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_unheld(path, "tmp")  # what a killed writer of this file left
    fd, tmp = create_temp(path, "tmp")
    size = 0
    try:
        with open(fd, "wb") as handle:
            for chunk in chunks:
                size += handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return size
