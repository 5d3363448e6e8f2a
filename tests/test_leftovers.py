"""What a killed run leaves behind is removed by the next run, and only that: GGUF staging
folders (under the conversion lock), atomic-write temporary files and download `.part` files
(unheld and not written to for `GRACE` seconds)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from test_download import Mirror, mirror  # noqa: F401 (the fixture)

import mtbench.backends.hf_loading as hf_loading
from mtbench.data.atomic import write_atomic
from mtbench.data.leftovers import GRACE, create_temp, remove_unheld, temp_paths
from mtbench.data.manifest import MANIFEST, QUESTIONS
from mtbench.data.paths import BenchPaths


def age(path: Path, seconds: float = GRACE + 60) -> Path:
    """Pretend `path` was last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def held(path: Path):
    """Open and lock `path` as a live writer would (a separate open file: a separate lock)."""
    handle = open(path, "ab")  # noqa: SIM115 (closed by the caller)
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


# --- which names are temporary paths of a target ---


def test_temp_paths_are_the_targets_own_and_nothing_else(tmp_path):
    target = tmp_path / "a.jsonl"
    mine = [".a.jsonl.123.tmp", ".a.jsonl.123_9f3c2a1b.tmp", ".a.jsonl.k2_x9q.tmp"]
    others = [
        "a.jsonl",  # the target itself
        "a.jsonl.123.tmp",  # not hidden
        ".a.jsonl.bak.123.tmp",  # the temporary file of a.jsonl.bak
        ".a.jsonl.123.part",  # another suffix
        ".b.jsonl.123.tmp",
        ".a.jsonl..tmp",
    ]
    for name in mine + others:
        (tmp_path / name).write_text("x")
    assert [p.name for p in temp_paths(target, "tmp")] == sorted(mine)
    assert [p.name for p in temp_paths(target, "part")] == [".a.jsonl.123.part"]
    assert temp_paths(tmp_path / "missing" / "a.jsonl", "tmp") == []


def test_only_unheld_files_quiet_for_the_grace_period_are_removed(tmp_path):
    target = tmp_path / "a.jsonl"
    stale = tmp_path / ".a.jsonl.1.tmp"
    stale.write_text("left by a killed run")
    age(stale)
    fresh = tmp_path / ".a.jsonl.2.tmp"
    fresh.write_text("maybe just created, not locked yet")
    busy = tmp_path / ".a.jsonl.3.tmp"
    busy.write_text("a live writer, stalled")
    folder = tmp_path / ".a.jsonl.4.tmp"
    folder.mkdir()
    age(folder)
    with held(busy):
        age(busy)
        assert remove_unheld(target, "tmp") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".a.jsonl.2.tmp",
        ".a.jsonl.3.tmp",
        ".a.jsonl.4.tmp",
    ]
    assert remove_unheld(target, "tmp") == [busy]  # its writer is gone now


def test_create_temp_holds_a_new_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "a.jsonl"
    fd, path = create_temp(target, "tmp")
    try:
        assert path.name.startswith(f".a.jsonl.{os.getpid()}_") and path.name.endswith(".tmp")
        assert temp_paths(target, "tmp") == [path]
        age(path)
        assert remove_unheld(target, "tmp") == []  # held: its writer is alive
        umask = os.umask(0)
        os.umask(umask)
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.close(fd)
    assert remove_unheld(target, "tmp") == [path]


# --- write_atomic: a killed writer's temporary file ---

WRITER = """
import sys, time
from mtbench.data.atomic import write_atomic

def chunks():
    yield b"half of the new file\\n"
    print("writing", flush=True)
    time.sleep(600)

write_atomic(sys.argv[1], chunks())
"""


def test_a_killed_atomic_write_is_cleaned_up_by_the_next_write(tmp_path):
    target = tmp_path / "answers.jsonl"
    target.write_text("old\n")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    [leftover] = temp_paths(target, "tmp")
    age(leftover)
    assert remove_unheld(target, "tmp") == []  # alive: its lock protects it
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    assert leftover.exists() and target.read_text() == "old\n"
    write_atomic(target, [b"new\n"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.jsonl"]
    assert target.read_text() == "new\n"


def test_a_recent_leftover_waits_for_a_later_run(tmp_path):
    target = tmp_path / "report.html"
    recent = tmp_path / ".report.html.77.tmp"  # an older version's name (pid only)
    recent.write_text("<html")
    write_atomic(target, [b"<html></html>"])
    assert recent.exists()  # it might be a writer between creating and locking it
    age(recent)
    write_atomic(target, [b"<html></html>"])
    assert not recent.exists()


# --- downloads: a killed download's .part file ---


def test_a_killed_download_is_cleaned_up_by_the_next_download(mirror: Mirror, tmp_path: Path):  # noqa: F811
    data = tmp_path / "data"
    question = next(
        f for f in MANIFEST if f.group == QUESTIONS and f.local_path.name == "question.jsonl"
    )
    body = mirror.files[mirror.path_of(question)].read_bytes()
    release = threading.Event()

    def half_then_hang(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        release.wait(60)

    mirror.overrides[mirror.path_of(question)] = half_then_hang
    args = ["--data-dir", str(data), "--what", "questions", *mirror.args()]
    download = subprocess.Popen(
        [sys.executable, "-m", "mtbench.cli.download", *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = BenchPaths(data).question_file
    try:
        deadline = time.monotonic() + 30
        while not temp_paths(target, "part") and time.monotonic() < deadline:
            time.sleep(0.02)
        [part] = temp_paths(target, "part")
        age(part)
        assert remove_unheld(target, "part") == []  # the download is alive and holds it
    finally:
        download.send_signal(signal.SIGKILL)
        download.wait()
        release.set()
    assert part.exists() and not target.exists()
    del mirror.overrides[mirror.path_of(question)]
    age(part)
    result = run_cli("download", *args)
    assert result.returncode == 0, result.stderr
    assert not part.exists() and target.read_bytes() == body
    assert temp_paths(target, "part") == []


# --- GGUF conversion: staging folders, cleaned under the conversion lock ---


@pytest.fixture
def fake_conversion(tmp_path, monkeypatch):
    """A GGUF cache entry without torch: a fixed folder, a converter that writes one file."""
    folder = tmp_path / "cache" / "gguf" / "Model.Q4_1-0123456789abcdef"
    monkeypatch.setattr(hf_loading, "gguf_cache_folder", lambda gguf, cache=None: folder)
    converted = []

    def convert(gguf_file, out_dir, *, path_flag="--model-path") -> None:
        converted.append(Path(out_dir))
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "model.safetensors").write_bytes(b"w" * 1000)

    monkeypatch.setattr(hf_loading, "convert_gguf", convert)
    return folder, converted


def staging_leftover(folder: Path, pid: int) -> Path:
    staging = folder.with_name(f".{folder.name}.{pid}.tmp")
    staging.mkdir(parents=True)
    (staging / "model.safetensors").write_bytes(b"partial" * 1000)
    return staging


def test_a_conversion_removes_the_staging_folders_of_killed_ones(fake_conversion, caplog):
    folder, converted = fake_conversion
    killed = [staging_leftover(folder, pid) for pid in (4242, 4343)]
    other_entry = folder.with_name(".Other.Q8_0-fedcba9876543210.4242.tmp")
    other_entry.mkdir()
    assert hf_loading.convert_gguf_cached("model.gguf") == folder
    assert len(converted) == 1 and (folder / "model.safetensors").is_file()
    assert not any(path.exists() for path in killed)
    assert other_entry.is_dir()  # another cache entry's: not this lock's to judge
    assert "removed 2 folder(s) (0 MB) left in" in caplog.text


def test_a_cached_entry_removes_leftovers_unless_its_lock_is_busy(fake_conversion):
    folder, converted = fake_conversion
    hf_loading.convert_gguf_cached("model.gguf")
    leftover = staging_leftover(folder, 99999)  # e.g. left by an older mtbench
    lock_path = folder.with_name(folder.name + ".lock")
    with held(lock_path):
        assert hf_loading.convert_gguf_cached("model.gguf") == folder
        assert leftover.is_dir()  # someone holds the lock: that process cleans up
    assert hf_loading.convert_gguf_cached("model.gguf") == folder
    assert not leftover.exists() and len(converted) == 1


def test_a_failed_conversion_still_leaves_nothing(fake_conversion, monkeypatch):
    folder, _ = fake_conversion

    def broken(gguf_file, out_dir, *, path_flag="--model-path") -> None:
        Path(out_dir).mkdir(parents=True)
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(hf_loading, "convert_gguf", broken)
    with pytest.raises(RuntimeError):
        hf_loading.convert_gguf_cached("model.gguf")
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name + ".lock"]


CONVERTER = """
import sys
from mtbench.backends.hf_loading import convert_gguf_cached
convert_gguf_cached(sys.argv[1], sys.argv[2])
"""


@pytest.mark.model
def test_kill_9_mid_conversion_then_the_next_run_removes_its_staging_folder(
    smollm2_gguf, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    converter = subprocess.Popen(
        [sys.executable, "-c", CONVERTER, str(smollm2_gguf), str(cache)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gguf_dir = cache / "gguf"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and converter.poll() is None:
            if gguf_dir.is_dir() and any(p.name.endswith(".tmp") for p in gguf_dir.iterdir()):
                break
            time.sleep(0.02)
        time.sleep(0.3)  # let it write part of the weights
    finally:
        converter.send_signal(signal.SIGKILL)
        converter.wait()
    [staging] = [p for p in gguf_dir.iterdir() if p.name.endswith(".tmp")]
    assert staging.name.endswith(f".{converter.pid}.tmp") and staging.is_dir()
    # The next run converts again (stubbed here: the conversion itself is tested elsewhere).
    reconverted: list[Path] = []

    def convert(gguf_file, out_dir, *, path_flag="--model-path") -> None:
        reconverted.append(Path(out_dir))
        Path(out_dir).mkdir()

    monkeypatch.setattr(hf_loading, "convert_gguf", convert)
    folder = hf_loading.convert_gguf_cached(smollm2_gguf, cache)
    assert len(reconverted) == 1 and folder == hf_loading.gguf_cache_folder(smollm2_gguf, cache)
    assert sorted(p.name for p in gguf_dir.iterdir()) == [folder.name, folder.name + ".lock"]
