"""Fetch manifest files into a data directory, verified, atomically, and resumably.

Each file is streamed to a temporary file beside its target, hashed on the way, and renamed over
the target only when its sha256 matches the manifest: a failed, corrupted or interrupted download
never leaves a partial or wrong file where a reader would take it (and the temporary file of a
killed download is removed by the next download of that file, `mtbench.data.leftovers`). A file
already present with the right checksum is skipped, so a rerun is cheap and fetches only what is
missing. A present file whose checksum differs is reported and left alone unless `force` is set.

HTTP uses only the standard library (`urllib.request`), which honours `HTTPS_PROXY`/`HTTP_PROXY`/
`NO_PROXY` from the environment and follows the Hugging Face redirects to its CDN.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mtbench._version import __version__
from mtbench.data.leftovers import hold, remove_unheld
from mtbench.data.manifest import RemoteFile
from mtbench.data.paths import DEFAULT_BENCH, BenchPaths
from mtbench.errors import ConfigError, DataError, DownloadError

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

FETCHED = "fetched"
PRESENT = "present"
DIFFERS = "differs"

CHUNK = 1 << 16
RETRIES = 2
"""Extra attempts after a transient failure (HTTP 429/5xx, a connection dropped mid-file)."""
RETRY_DELAY = 0.5
"""Seconds before the first retry; doubled for each further one."""


class _Transient(Exception):
    """A failure worth another attempt; carries the error to report if none succeeds."""

    def __init__(self, error: DownloadError):
        super().__init__(str(error))
        self.error = error


class Progress:
    """Receives download progress; the default does nothing (the CLI draws a bar)."""

    def start(self, files: Sequence[RemoteFile]) -> None:
        """Called once, before the first byte, with the files that will be fetched."""

    def begin(self, file: RemoteFile, size: int | None) -> None:
        """A file's transfer starts; `size` is its Content-Length when the server sent one."""

    def advance(self, nbytes: int) -> None:
        """`nbytes` more bytes arrived (negative when a failed attempt is taken back)."""


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file.

    Attributes:
        file: The manifest entry.
        path: Its path in the data directory.
        status: `FETCHED`, `PRESENT` (already there, kept) or `DIFFERS` (there, wrong checksum).
        sha256: The sha256 of the file now at `path`.
    """

    file: RemoteFile
    path: Path
    status: str
    sha256: str

    @property
    def verified(self) -> bool:
        """True when the file at `path` matches the manifest's checksum."""
        return self.file.sha256 is not None and self.sha256 == self.file.sha256


@dataclass
class DownloadReport:
    """The outcome of `download`, one entry per requested file, in manifest order."""

    data_dir: Path
    outcomes: list[FileOutcome] = field(default_factory=list)

    def with_status(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def unverified(self) -> list[FileOutcome]:
        """Files kept or fetched for which no official checksum is known."""
        return [o for o in self.outcomes if o.file.sha256 is None]

    def summary(self) -> str:
        """One line: how many files were fetched, already present, verified."""
        verified = sum(o.verified for o in self.outcomes)
        parts = [
            f"{len(self.with_status(FETCHED))} fetched",
            f"{len(self.with_status(PRESENT))} already present",
            f"{verified} of {len(self.outcomes)} verified by sha256",
        ]
        if self.unverified:
            parts.append(f"{len(self.unverified)} unverified (no official checksum)")
        if self.with_status(DIFFERS):
            parts.append(f"{len(self.with_status(DIFFERS))} differ from the official checksum")
        return f"{self.data_dir}: " + ", ".join(parts)


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    files: Sequence[RemoteFile],
    paths: BenchPaths,
    base_urls: Mapping[str, str],
    *,
    force: bool = False,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> DownloadReport:
    """Make sure every file of `files` is in `paths.data_dir`, fetching the missing ones.

    Stops at the first file that cannot be fetched or fails verification; the files completed
    before it stay (they are verified), so a rerun carries on from there.

    Args:
        files: Manifest entries (see `mtbench.data.manifest.select_files`).
        paths: The data directory to fill, in FastChat's layout (`BenchPaths.resolve()`:
            `$MTBENCH_DATA_DIR`, else `./data`); the bench must be `mt_bench`, the files' own.
        base_urls: Base URL per source (see `mtbench.data.manifest.resolve_base_urls`).
        force: Replace present files whose checksum differs (or that have no known checksum).
        timeout: Seconds to wait for a connection or for data before giving up.
        progress: Receives progress events.

    Returns:
        What happened to each file. Files that differ are reported there, not raised.

    Raises:
        ConfigError: `paths` names another bench than `mt_bench`.
        DataError: a local file could not be read or written.
        DownloadError: a file could not be fetched, or arrived with the wrong checksum.
    """
    if paths.bench_name != DEFAULT_BENCH:
        raise ConfigError(
            f"the official files are MT-bench's and go to {paths.data_dir / DEFAULT_BENCH}, not "
            f"to bench '{paths.bench_name}'; pass BenchPaths with bench_name '{DEFAULT_BENCH}'"
        )
    data_dir = Path(paths.data_dir)
    progress = progress or Progress()
    report = DownloadReport(data_dir)
    kept: dict[RemoteFile, FileOutcome] = {}
    for file in files:
        outcome = _local_io(file.target(data_dir), _check_present, file, data_dir, force)
        if outcome is not None:
            kept[file] = outcome
    progress.start([f for f in files if f not in kept])
    for file in files:
        if file in kept:
            report.outcomes.append(kept[file])
            continue
        target = file.target(data_dir)
        digest = _local_io(
            target, _fetch, file, file.url(base_urls), target, timeout, progress, data_dir
        )
        logger.info("fetched %s (sha256 %s)", target, digest)
        report.outcomes.append(FileOutcome(file, target, FETCHED, digest))
    return report


def _local_io(path: Path, function: Callable[..., _T], *args: Any) -> _T:
    """Call `function`, turning a local file-system failure into a one-line `DataError`."""
    try:
        return function(*args)
    except OSError as exc:  # network failures were already turned into DownloadError
        raise DataError(
            f"cannot read or write this file ({exc.strerror or exc}); check the permissions and "
            "free space, or choose another --data-dir",
            path,
        ) from exc


def _check_present(file: RemoteFile, data_dir: Path, force: bool) -> FileOutcome | None:
    """The outcome for a file already in place, or None if it must be fetched."""
    target = file.target(data_dir)
    if not target.is_file():
        return None
    digest = sha256_file(target)
    if file.sha256 is not None and digest == file.sha256:
        return FileOutcome(file, target, PRESENT, digest)
    if force:
        return None
    if file.sha256 is None:
        return FileOutcome(file, target, PRESENT, digest)
    logger.warning(
        "%s has sha256 %s, not the official %s; left unchanged (use --force to replace it)",
        target,
        digest,
        file.sha256,
    )
    return FileOutcome(file, target, DIFFERS, digest)


def _fetch(
    file: RemoteFile, url: str, target: Path, timeout: float, progress: Progress, data_dir: Path
) -> str:
    """Download `url` to `target` through a verified temporary file; return its sha256."""
    created = _make_parents(target.parent)
    try:
        for attempt in range(RETRIES + 1):
            try:
                return _fetch_once(file, url, target, timeout, progress, data_dir)
            except _Transient as transient:
                if attempt == RETRIES:
                    raise transient.error from None
                delay = RETRY_DELAY * 2**attempt
                logger.warning("%s; retrying in %.1f s", transient.error, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")
    except BaseException:
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                break  # not empty: something else lives there now
        raise


def _fetch_once(
    file: RemoteFile, url: str, target: Path, timeout: float, progress: Progress, data_dir: Path
) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": f"mtbench-toolkit/{__version__}"})
    received = 0
    temp_name: str | None = None
    try:
        with _open(request, timeout, data_dir) as response:
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.isdigit() else None
            progress.begin(file, length)
            remove_unheld(target, "part")  # what a killed download of this file left
            fd, temp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".part"
            )
            hold(fd)
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                while chunk := _read(response, url, timeout):
                    received += len(chunk)
                    if file.size is not None and received > file.size:
                        raise _mismatch(file, url, target, f"more than {file.size} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                    progress.advance(len(chunk))
                if length is not None and received < length:
                    # http.client returns a short body without complaint when the peer hangs up.
                    raise _Transient(
                        DownloadError(
                            f"the transfer of {url} broke off after {received} of {length} bytes"
                        )
                    )
                out.flush()
                os.fsync(out.fileno())
        actual = digest.hexdigest()
        if file.sha256 is not None and actual != file.sha256:
            raise _mismatch(file, url, target, f"a file with sha256 {actual}")
        os.replace(temp_name, target)
        temp_name = None
        _fsync_dir(target.parent)
        return actual
    except BaseException:
        progress.advance(-received)
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)
        raise


def _open(
    request: urllib.request.Request, timeout: float, data_dir: Path
) -> http.client.HTTPResponse:
    url = request.full_url
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) URLs only)
    except urllib.error.HTTPError as exc:
        exc.close()
        error = DownloadError(
            f"{url} answered HTTP {exc.code} {exc.reason}; "
            + (
                "the server is not holding this file at that path (check --github-base-url/"
                "--hf-base-url if you use a mirror)"
                if exc.code == 404
                else "retry later"
            )
        )
        if exc.code == 429 or exc.code >= 500:
            raise _Transient(error) from None
        raise error from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _unreachable(url, exc, timeout, data_dir) from None


def _read(response: http.client.HTTPResponse, url: str, timeout: float) -> bytes:
    try:
        return response.read(CHUNK)
    except (OSError, http.client.HTTPException) as exc:
        # The connection was up and broke mid-file: worth another attempt.
        what = f"no data for {timeout:g} s" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise _Transient(DownloadError(f"the transfer of {url} broke off ({what})")) from None


def _unreachable(url: str, exc: BaseException, timeout: float, data_dir: Path) -> DownloadError:
    """One line for a host that cannot be reached, saying what to do."""
    host = urlsplit(url).hostname or url
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        what = f"cannot resolve the host {host}"
    elif isinstance(reason, ConnectionRefusedError):
        what = f"{host} refused the connection"
    elif isinstance(reason, TimeoutError):
        what = f"{host} did not answer within {timeout:g} s"
    elif isinstance(reason, ssl.SSLError):
        what = f"the TLS connection to {host} failed ({reason})"
    else:
        what = f"cannot reach {host} ({reason})"
    return DownloadError(
        f"{what} while fetching {url}; check the network (or HTTPS_PROXY) and retry, or copy the "
        f"files into {data_dir} by hand (`mtbench-download --list` shows each URL and path)"
    )


def _mismatch(file: RemoteFile, url: str, target: Path, got: str) -> DownloadError:
    return DownloadError(
        f"{url} sent {got}, not the official file (sha256 {file.sha256}); the download was "
        f"discarded and {target} left as it was: retry, and if it persists, the server or a proxy "
        "is serving other bytes"
    )


def _make_parents(directory: Path) -> list[Path]:
    """Create `directory` and missing parents; return those created, outermost first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return list(reversed(missing))


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
