"""Replace a file in one atomic step, so that readers and crashes never see half of it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: str | Path, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to a temporary file beside `path`, flush it to disk, rename it over `path`.

    Returns:
        The number of bytes written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    size = 0
    try:
        with open(tmp, "wb") as handle:
            for chunk in chunks:
                size += handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return size
