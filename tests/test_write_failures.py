"""When the disk or the folder refuses a write: found before any work where it can be, and
otherwise one `Error:` line naming the file, the cause and what was kept, with no torn line.

A full disk is simulated without root: the appender's `open` is replaced (in a subprocess, for
the CLIs) by a file that takes `room` more bytes, part of a line included, and then fails with
ENOSPC, as a real full disk does. The tests run as root in the project's container, where
`chmod` stops nothing, so an unwritable folder is a path under a regular file (no folder can be
made there) or a simulated EROFS; the `chmod` test runs only for other users.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli, shared_file
from fake_openai_server import FakeOpenAIServer

import mtbench.data.atomic
import mtbench.data.jsonl
import mtbench.data.writable
from mtbench.data.answers import reorg_answer_file
from mtbench.data.atomic import write_atomic
from mtbench.data.jsonl import JsonlAppender
from mtbench.data.paths import BenchPaths
from mtbench.data.writable import WriteError, check_writable
from mtbench.errors import DataError

ENOSPC_TEXT = os.strerror(errno.ENOSPC)

FULL_DISK = """
import errno, io, os, sys
import mtbench.data.jsonl

class FullDisk(io.FileIO):
    room = int(os.environ["ROOM"])  # bytes left on the "disk" for the output file

    def write(self, data):
        if FullDisk.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = super().write(bytes(data)[: FullDisk.room])
        FullDisk.room -= written
        return written

mtbench.data.jsonl.open = lambda path, mode="r", buffering=-1: FullDisk(path, mode)
from mtbench.cli.{command} import main
sys.exit(main(sys.argv[1:]))
"""


def run_on_full_disk(command: str, room: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`mtbench-<command>` with `room` bytes free for the rows it appends."""
    return subprocess.run(
        [sys.executable, "-c", FULL_DISK.replace("{command}", command), *args],
        env={**os.environ, "PYTHONPATH": str(REPO), "ROOM": str(room)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 1 and exactly one `Error:` line, its last, and no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
    return errors[0]


def complete_rows(path: Path) -> list[dict]:
    """Every row of a file that must end with a complete line."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the file ends in a torn line"
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/alpaca-13b.jsonl"), bench.answer_file("alpaca-13b"))
    return bench


# --- A disk that fills up during a run ---


def test_judge_on_a_full_disk_keeps_whole_rows_and_resumes(data):
    output = data.judgment_file("fake", "single")
    args = ["--data-dir", str(data.data_dir), "--judge-backend", "fake"]
    args += ["--model-list", "alpaca-13b", "--first-n", "10", "--parallel", "1", "--yes"]
    result = run_on_full_disk("judge", 12_000, *args)
    line = one_error_line(result)
    rows = complete_rows(output)
    assert 0 < len(rows) < 20
    assert line == (
        f"Error: {output}: cannot write judgments ({ENOSPC_TEXT}); {len(rows)} row(s) written "
        "so far are kept, free space and rerun to resume"
    )
    again = run_cli("judge", *args)
    assert again.returncode == 0, again.stderr
    assert "incomplete last line" not in again.stderr  # there was none to cut
    rows = complete_rows(output)
    assert sorted((r["question_id"], r["turn"]) for r in rows) == [
        (qid, turn) for qid in range(81, 91) for turn in (1, 2)
    ]


def test_gen_on_a_full_disk_keeps_whole_rows_and_resumes(bench):
    answer_file = bench.answer_file("smoke")
    args = ["--data-dir", str(bench.data_dir), "--backend", "fake", "--model-id", "smoke"]
    args += ["--question-end", "10", "--parallel", "1"]
    result = run_on_full_disk("gen", 3_000, *args)
    line = one_error_line(result)
    rows = complete_rows(answer_file)
    assert 0 < len(rows) < 10
    assert line == (
        f"Error: {answer_file}: cannot write answers ({ENOSPC_TEXT}); {len(rows)} row(s) "
        "written so far are kept, free space and rerun to resume"
    )
    again = run_cli("gen", *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{10 - len(rows)} question(s) generated")
    assert [r["question_id"] for r in complete_rows(answer_file)] == list(range(81, 91))


class FullDisk(io.FileIO):
    """A file with `room` bytes left: writes fill it, then fail with ENOSPC."""

    room = 0

    def write(self, data) -> int:  # type: ignore[override]
        if FullDisk.room <= 0:
            raise OSError(errno.ENOSPC, ENOSPC_TEXT)
        written = super().write(bytes(data)[: FullDisk.room])
        FullDisk.room -= written
        return written


def test_the_appender_cuts_a_torn_line_and_closes_quietly(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": 1}\n')
    full_open = lambda path, mode="r", buffering=-1: FullDisk(path, mode)  # noqa: E731
    monkeypatch.setattr(mtbench.data.jsonl, "open", full_open, raising=False)
    FullDisk.room = 30
    appender = JsonlAppender(path, what="rows")
    appender.append({"n": 1})
    with pytest.raises(WriteError, match=r"cannot write rows \(.*\); 1 row\(s\) written so far"):
        appender.append({"n": 2, "text": "x" * 100})  # 20 of its bytes fit, then the disk is full
    assert appender.rows_written == 1
    appender.close()  # no second error
    assert path.read_text() == '{"old": 1}\n{"n": 1}\n'


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"question_id": 82}\n{"question_id": 81}\n')
    monkeypatch.setattr(mtbench.data.atomic, "open", FullDisk, raising=False)
    FullDisk.room = 10
    with pytest.raises(WriteError) as caught:
        reorg_answer_file(path)
    assert str(caught.value) == (
        f"{path}: cannot write the sorted answer file ({ENOSPC_TEXT}); every answer is kept in "
        "it, unsorted"
    )
    assert path.read_text() == '{"question_id": 82}\n{"question_id": 81}\n'
    FullDisk.room = 0
    with pytest.raises(WriteError, match="the report .*; nothing was written, free space and"):
        write_atomic(tmp_path / "report.html", [b"<html>"], "the report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.jsonl"]  # no temporary file


# --- An output that cannot be written, found before anything is spent ---


@pytest.fixture
def server():
    with FakeOpenAIServer(reply=lambda body: "ok") as server:
        yield server


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: no folder can be made under it, not even by root."""
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def test_gen_checks_the_answer_file_before_any_request(bench, server, a_file):
    output = a_file / "answers" / "m.jsonl"
    result = run_cli(
        "gen", "--data-dir", str(bench.data_dir), "--backend", "openai", "--model", "m",
        "--openai-api-base", server.base_url, "--answer-file", str(output), "--question-end", "3",
    )  # fmt: skip
    line = one_error_line(result)
    assert line == f"Error: {a_file}: is a file, expected a folder for the answer file"
    assert server.completions() == []


def test_judge_checks_the_judgment_file_before_any_call(data, server):
    data.judgment_dir.parent.mkdir(parents=True, exist_ok=True)
    data.judgment_dir.write_text("")  # model_judgment is a file
    result = run_cli(
        "judge", "--data-dir", str(data.data_dir), "--judge-base-url", server.base_url,
        "--judge-model", "gpt-4",
        "--model-list", "alpaca-13b", "--first-n", "3", "--yes",
    )  # fmt: skip
    line = one_error_line(result)
    assert line == f"Error: {data.judgment_dir}: is a file, expected a folder for the judgment file"
    assert server.completions() == []  # not even the preflight call


def test_a_read_only_output_is_found_before_any_request(bench, server, monkeypatch, capsys):
    """EROFS, simulated: the probe that `check_writable` makes is refused."""
    from mtbench.cli.gen import main

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(mtbench.data.writable.tempfile, "mkstemp", read_only)
    args = ["--data-dir", str(bench.data_dir), "--backend", "openai", "--model", "m"]
    args += ["--openai-api-base", server.base_url, "--question-end", "3"]
    assert main(args) == 1
    answer_file = bench.answer_file("m")
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {answer_file}: cannot create the answer file's folder in "
        f"{bench.answer_dir.parent} ({os.strerror(errno.EROFS)})"
    )
    assert server.completions() == []

    answer_file.parent.mkdir(parents=True)
    answer_file.write_text("")
    monkeypatch.setattr(mtbench.data.writable, "open", read_only, raising=False)
    assert main(args) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {answer_file}: cannot write the answer file ({os.strerror(errno.EROFS)})"
    )
    assert server.completions() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission bits")
def test_a_folder_without_write_permission(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(DataError, match=r"cannot create the report in .*Permission denied"):
            check_writable(folder / "report.html", "the report")
    finally:
        folder.chmod(0o755)


def test_browse_and_show_plot_check_their_output_first(data, a_file):
    judged = run_cli(
        "judge", "--data-dir", str(data.data_dir), "--judge-backend", "fake",
        "--model-list", "alpaca-13b", "--first-n", "3", "--yes",
    )  # fmt: skip
    assert judged.returncode == 0, judged.stderr
    common = ["--data-dir", str(data.data_dir), "--judge-model", "fake"]

    browse = run_cli("browse", *common, "--output", str(a_file / "report.html"))
    line = one_error_line(browse)
    assert line == f"Error: {a_file}: is a file, expected a folder for the report"

    show = run_cli("show", *common, "--plot", str(a_file / "radar.png"))
    line = one_error_line(show)
    assert line == f"Error: {a_file}: is a file, expected a folder for the plot"
    assert show.stdout == ""  # stopped before the tables and the bootstrap

    folder = data.data_dir / "plots"
    folder.mkdir()
    show = run_cli("show", *common, "--plot", str(folder))
    assert one_error_line(show) == f"Error: {folder}: is a folder, expected the plot"
