"""One run per output file (`mtbench.data.run_lock`): two real `mtbench-gen` or `mtbench-judge`
processes on one file either never meet, or the second stops at once, in one line naming the
first, before it calls the API; nothing is lost and nothing is done twice.

The scripted server holds the first run's replies until the test lets them go (a reply function
that waits on an event), so the two runs overlap for certain instead of by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, run_cli, shared_file
from fake_openai_server import FakeOpenAIServer, judge_reply

from mtbench.data.paths import BenchPaths
from mtbench.data.run_lock import FileInUseError, RunLock, describe_holder, lock_path

QUESTION_IDS = list(range(81, 161))


class HeldServer:
    """A scripted server whose replies to model `held` wait until `release()`."""

    def __init__(self, reply=judge_reply):
        self.gate = threading.Event()
        self._reply = reply
        self.server = FakeOpenAIServer(reply=self.reply)

    def reply(self, body: dict) -> str:
        if body.get("model") == "held":
            self.gate.wait(120)
        return self._reply(body)

    def release(self) -> None:
        self.gate.set()

    def requests_for(self, model: str) -> int:
        return sum(1 for r in self.server.completions() if r.body.get("model") == model)


@pytest.fixture
def held():
    held = HeldServer(reply=lambda body: f"answer to: {body['messages'][-1]['content'][:30]}")
    with held.server:
        try:
            yield held
        finally:
            held.release()


@pytest.fixture
def held_judge():
    held = HeldServer()
    with held.server:
        try:
            yield held
        finally:
            held.release()


def start_cli(command: str, *args: str) -> subprocess.Popen[str]:
    """`mtbench-<command>` in the background, as `run_cli` runs it in the foreground."""
    return subprocess.Popen(
        [sys.executable, "-m", f"mtbench.cli.{command}", *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the first run ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail("the first run never got going")
        time.sleep(0.05)


def gen_args(bench: BenchPaths, server: FakeOpenAIServer, model: str, begin: int, end: int):
    return [
        "--data-dir", str(bench.data_dir), "--backend", "openai", "--model", model,
        "--model-id", "shared", "--openai-api-base", server.base_url, "--parallel", "2",
        "--question-begin", str(begin), "--question-end", str(end),
    ]  # fmt: skip


def question_ids(path: Path) -> list[int]:
    return [json.loads(line)["question_id"] for line in path.read_text().splitlines()]


def assert_in_use(result: subprocess.CompletedProcess[str], path: Path, pid: int) -> None:
    """Exit 1 with one line: the file, and the holder's pid, host, start and command."""
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {path}: in use by another mtbench run (pid {pid} on ")
    assert " since " in lines[0] and ", command: " in lines[0]
    assert lines[0].endswith("wait for it to end or stop it, then rerun")


def test_a_second_gen_on_the_same_answer_file_stops_before_any_request(bench, held):
    answer_file = bench.answer_file("shared")
    first = start_cli("gen", *gen_args(bench, held.server, "held", 0, 10))
    try:
        wait_for(lambda: held.requests_for("held") > 0, first)
        second = run_cli("gen", *gen_args(bench, held.server, "other", 10, 30), timeout=120)
        assert_in_use(second, answer_file, first.pid)
        assert held.requests_for("other") == 0
    finally:
        held.release()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.startswith("10 question(s) generated")
    assert question_ids(answer_file) == QUESTION_IDS[:10]
    assert not lock_path(answer_file).exists()

    # Once the first run is over, the same command works and loses nothing.
    again = run_cli("gen", *gen_args(bench, held.server, "other", 10, 30), timeout=120)
    assert again.returncode == 0, again.stderr
    assert question_ids(answer_file) == QUESTION_IDS[:30]  # sorted, none lost, none twice


def test_two_gens_started_together_lose_nothing(bench):
    """The case of r01: two split ranges at once. Whatever the timing, every answer a run
    reports is in the file, once; a run that finds the file taken makes no request."""
    with FakeOpenAIServer(reply=lambda body: "ok", latency=0.1) as server:
        runs = {
            "run-a": start_cli("gen", *gen_args(bench, server, "run-a", 0, 8)),
            "run-b": start_cli("gen", *gen_args(bench, server, "run-b", 8, 20)),
        }
        results = {}
        for name, process in runs.items():
            out, err = process.communicate(timeout=120)
            results[name] = (process.returncode, out, err)
        ranges = {"run-a": QUESTION_IDS[:8], "run-b": QUESTION_IDS[8:20]}
        expected: list[int] = []
        for name, (code, out, err) in results.items():
            if code == 0:
                assert out.startswith(f"{len(ranges[name])} question(s) generated"), out
                expected += ranges[name]
            else:
                assert code == 1 and "in use by another mtbench run" in err, err
                assert server_requests(server, name) == 0
        assert any(code == 0 for code, _, _ in results.values())
    ids = question_ids(bench.answer_file("shared"))
    lost = set(expected) - set(ids)
    duplicated = [qid for qid, n in Counter(ids).items() if n > 1]
    assert (lost, duplicated) == (set(), [])
    assert ids == sorted(expected)


def server_requests(server: FakeOpenAIServer, model: str) -> int:
    return sum(1 for r in server.completions() if r.body.get("model") == model)


def judge_args(data: BenchPaths, server: FakeOpenAIServer, model: str, *more: str):
    return [
        "--data-dir", str(data.data_dir), "--judge-base-url", server.base_url,
        "--judge-model", model, "--judge-name", "shared-judge", "--model-list", "alpaca-13b",
        "--first-n", "5", "--parallel", "2", "--yes", *more,
    ]  # fmt: skip


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    bench.answer_dir.mkdir(parents=True)
    answers = shared_file("model_answer/alpaca-13b.jsonl")
    bench.answer_file("alpaca-13b").write_bytes(answers.read_bytes())
    return bench


def test_a_second_judge_on_the_same_judgment_file_stops_before_any_call(data, held_judge):
    output = data.judgment_file("shared-judge", "single")
    first = start_cli("judge", *judge_args(data, held_judge.server, "held"))
    try:
        wait_for(lambda: held_judge.requests_for("held") > 0, first)
        second = run_cli("judge", *judge_args(data, held_judge.server, "other"), timeout=120)
        assert_in_use(second, output, first.pid)
        assert held_judge.requests_for("other") == 0  # not even the preflight call
        # A dry run writes nothing, so it needs no lock.
        dry = run_cli("judge", *judge_args(data, held_judge.server, "other", "--dry-run"))
        assert dry.returncode == 0, dry.stderr
    finally:
        held_judge.release()
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    keys = Counter((r["question_id"], r["turn"]) for r in rows)
    assert len(rows) == 10 and max(keys.values()) == 1  # 5 questions x 2 turns, each once

    again = run_cli("judge", *judge_args(data, held_judge.server, "other"), timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Nothing to do: all 10 match(es)" in again.stderr
    assert held_judge.requests_for("other") == 0  # nothing judged or paid for twice
    assert len(output.read_text().splitlines()) == 10


def test_the_lock_of_a_killed_run_does_not_block(bench, held):
    answer_file = bench.answer_file("shared")
    first = start_cli("gen", *gen_args(bench, held.server, "held", 0, 6))
    wait_for(lambda: held.requests_for("held") > 0, first)
    first.kill()  # kill -9: no clean-up runs, the lock file stays behind
    first.communicate(timeout=60)
    assert lock_path(answer_file).exists()
    again = run_cli("gen", *gen_args(bench, held.server, "other", 0, 6), timeout=120)
    assert again.returncode == 0, again.stderr
    assert question_ids(answer_file) == QUESTION_IDS[:6]
    assert not lock_path(answer_file).exists()


# --- RunLock in one process ---


def test_the_lock_is_exclusive_and_names_its_holder(tmp_path):
    output = tmp_path / "new" / "folder" / "out.jsonl"
    with RunLock(output) as lock:
        assert lock.held and lock.lock_file == output.parent / ".out.jsonl.lock"
        record = json.loads(lock.lock_file.read_text())
        assert record["pid"] == os.getpid() and record["host"] and record["started"]
        with pytest.raises(FileInUseError, match=rf"out.jsonl: in use .*\(pid {os.getpid()} "):
            RunLock(output).acquire()
    assert not lock.held
    # Nothing was written, so neither the lock file nor the folders it made are left.
    assert not (tmp_path / "new").exists()
    with RunLock(output):
        output.write_text("{}\n")
    assert output.exists() and not lock_path(output).exists()


def test_a_stale_lock_file_is_taken_over(tmp_path):
    output = tmp_path / "out.jsonl"
    lock_path(output).write_text('{"pid": 1, "host": "gone", "started": "then", "command": "x"}')
    with RunLock(output):
        assert json.loads(lock_path(output).read_text())["pid"] == os.getpid()


def test_the_holder_fits_one_line():
    holder = {"pid": 7, "host": "h", "started": "t", "command": "mtbench-gen\n" + "x" * 500}
    text = describe_holder(holder)
    assert "\n" not in text and text.startswith("pid 7 on h since t, command: mtbench-gen x")
    assert text.endswith("...") and len(text) < 260
    assert describe_holder({}) == "it has not said which yet"
