"""Interrupted runs: Ctrl-C or a kill mid-run, then a rerun that generates only what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, run_cli

pytestmark = pytest.mark.model

QUESTIONS = ["--question-begin", "30", "--question-end", "34"]  # math 111-114, greedy


def gen_args(bench, model, model_id: str) -> list[str]:
    return [
        "--model-path", str(model),
        "--model-id", model_id,
        "--data-dir", str(bench.data_dir),
        "--max-new-token", "8",
        "--batch-size", "1",
        *QUESTIONS,
    ]  # fmt: skip


def start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "mtbench.cli.gen", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(path, count: int, process: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_bytes().splitlines()) >= count:
            return
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"generation ended before writing {count} row(s): {err}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {count} row(s) in {path} after {timeout}s")


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupted_run_resumes_without_duplicates(bench, smollm2_model, how):
    answer_file = bench.answer_file(how)
    process = start(gen_args(bench, smollm2_model, how))
    wait_for_rows(answer_file, 1, process)
    process.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    _out, err = process.communicate(timeout=60)
    if how == "ctrl-c":
        assert process.returncode == 130, err
        assert "Interrupted; work already written is kept and a rerun resumes." in err
        assert "Traceback" not in err
    else:
        assert process.returncode == -signal.SIGKILL
        with open(answer_file, "a") as handle:  # what a kill during a write leaves behind
            handle.write('{"question_id": 114, "answer_id": "torn')

    kept = {row["question_id"]: row for row in rows_of_complete(answer_file)}
    assert 1 <= len(kept) < 4
    if how == "ctrl-c":
        assert list(kept) == sorted(kept)  # the file was put in order on the way out

    rerun = run_cli("gen", *gen_args(bench, smollm2_model, how))
    assert rerun.returncode == 0, rerun.stderr
    generated = 4 - len(kept)
    assert rerun.stdout.startswith(f"{generated} question(s) generated, {len(kept)} already done")
    final = rows_of(answer_file)
    assert [row["question_id"] for row in final] == [111, 112, 113, 114]
    for row in final:
        if row["question_id"] in kept:
            assert row == kept[row["question_id"]]  # untouched, not regenerated


def rows_of_complete(path) -> list[dict]:
    """The rows a reader sees (a torn last line is skipped)."""
    from mtbench.data.jsonl import read_jsonl

    return [row for _line, row in read_jsonl(path)]
