"""The handed cases of judges of today, run on their own files and servers (`../shared/cases`).

Each case's README gives the right value; these run its command as `run.sh` does, against the
case's own stand-in server, and check that value.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED, run_cli, unused_port

CASES = SHARED.parent / "cases"


def case_copy(name: str, tmp_path: Path) -> Path:
    """The case's data, with the official judge prompts, in a scratch folder (as run.sh does)."""
    case = CASES / name
    if not case.is_dir():
        pytest.skip(f"{case} is not here (the handed cases live beside the shared data)")
    shutil.copytree(case / "data", tmp_path / "data")
    shutil.copy(SHARED / "judge_prompts.jsonl", tmp_path / "data")
    return case


def start(server: Path, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = unused_port()
    process = subprocess.Popen([sys.executable, str(server), str(port)], cwd=cwd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}/v1"


def judge(tmp_path: Path, url: str, *args: str):
    return run_cli(
        "judge",
        "--data-dir",
        "data",
        "--bench-name",
        "tiny_bench",
        "--judge-base-url",
        url,
        "--yes",
        *args,
        cwd=tmp_path,
        timeout=120,
    )


def test_case_02_a_reasoning_model_judges_with_the_refused_parameters_left_out(tmp_path):
    case = case_copy("02-reasoning-judge-temperature", tmp_path)
    server, url = start(case / "server.py", tmp_path)
    try:
        result = judge(tmp_path, url, "--judge-model", "o3-mini", "--no-preflight")
    finally:
        server.terminate()
        server.wait()
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "data/tiny_bench/model_judgment/o3-mini_single.jsonl").read_text()
    assert [json.loads(line)["score"] for line in rows.splitlines()] == [7]
    assert "sending 'max_completion_tokens' instead" in result.stderr
    assert "the server refuses 'temperature'" in result.stderr


def test_case_03_the_verdict_is_the_one_after_the_think_trace(tmp_path):
    case = case_copy("03-judge-think-trace-parsed", tmp_path)
    server, url = start(case / "server.py", tmp_path)
    try:
        single = judge(tmp_path, url, "--judge-model", "qwen3-judge", "--model-list", "model-a")
        pair = judge(
            tmp_path,
            url,
            "--judge-model",
            "qwen3-judge",
            "--mode",
            "pairwise-all",
            "--model-list",
            "model-a",
            "model-b",
        )
    finally:
        server.terminate()
        server.wait()
    assert single.returncode == pair.returncode == 0, single.stderr + pair.stderr
    folder = tmp_path / "data/tiny_bench/model_judgment"
    (row,) = [json.loads(x) for x in (folder / "qwen3-judge_single.jsonl").read_text().splitlines()]
    assert row["score"] == 9 and "<think>" not in row["judgment"]
    (game,) = [json.loads(x) for x in (folder / "qwen3-judge_pair.jsonl").read_text().splitlines()]
    assert (game["g1_winner"], game["g2_winner"]) == ("model_2", "model_1")
    assert "unparsed:   0" in single.stderr and "unparsed:   0" in pair.stderr
