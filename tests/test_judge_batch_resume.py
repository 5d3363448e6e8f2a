"""`mtbench-judge --batch` interrupted: killed, stopped with Ctrl-C, cancelled, then rerun.

The command runs as a user runs it, in a subprocess, against the scripted server in this
process (`fake_batches` counts every batch created); the test kills it while its batch runs,
or while the provider is creating it, and checks that the rerun submits nothing twice and
loses nothing.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from conftest import REPO, judge_bench, run_cli
from fake_openai_server import FakeOpenAIServer

from mtbench.data.paths import BenchPaths
from mtbench.judging import JudgeConfig, describe_plan, judge, make_plan
from mtbench.judging.batch_status import batch_status

QUESTIONS = (81, 82, 83)
MODEL = "alpaca-13b"
NEVER = 10**9  # looks before a batch ends: it runs until the test lets it end


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    return judge_bench(bench, QUESTIONS, [MODEL])


def judge_args(data: BenchPaths, server: FakeOpenAIServer, provider: str = "openai") -> list[str]:
    if provider == "anthropic":
        judge = ["--judge-backend", "anthropic", "--judge-base-url", server.root_url]
        judge += ["--judge-model", "claude-3-5-haiku-20241022"]
    else:
        judge = ["--judge-base-url", server.base_url, "--judge-model", "gpt-4o"]
    return [
        "--data-dir", str(data.data_dir), "--model-list", MODEL, *judge,
        "--batch", "--poll-interval", "0.05", "--max-attempts", "2",
    ]  # fmt: skip


ENV = {"ANTHROPIC_API_KEY": "sk-ant-test"}


def start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "mtbench.cli.judge", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(
    done: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if process.poll() is not None:
            pytest.fail(f"mtbench-judge ended first: {process.communicate()}")
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"not reached within {timeout}s: {process.communicate()}")


def ledger_events(data: BenchPaths, judge_name: str) -> list[str]:
    path = data.judgment_file(judge_name, "single").with_name(
        f"{judge_name}_single.jsonl.batches.jsonl"
    )
    if not path.exists():
        return []
    return [json.loads(line)["event"] for line in path.read_text().splitlines()]


def judged(data: BenchPaths, judge_name: str) -> list[tuple[int, int]]:
    path = data.judgment_file(judge_name, "single")
    if not path.exists():
        return []
    return [(r["question_id"], r["turn"]) for r in map(json.loads, path.read_text().splitlines())]


EVERY = [(q, t) for q in QUESTIONS for t in (1, 2)]
PROVIDERS = ["openai", pytest.param("anthropic", marks=pytest.mark.extra("anthropic"))]
JUDGES = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-20241022"}


def test_killed_while_its_batch_runs_the_rerun_collects_it_and_submits_nothing(data):
    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        process = start(judge_args(data, server))
        wait_until(lambda: "created" in ledger_events(data, "gpt-4o"), process)
        wait_until(lambda: server.batches.batches["batch_000002"].looks >= 2, process)
        process.kill()  # SIGKILL: no handler runs
        process.communicate()
        assert judged(data, "gpt-4o") == [] and server.batches.creates == 1
        server.batches.script.polls = 1
        rerun = run_cli("judge", *judge_args(data, server), env=ENV)
        assert rerun.returncode == 0, rerun.stderr
        assert server.batches.creates == 1 and len(server.batches.submitted) == 6
    assert "batch batch_000002: picked up from an earlier run (completed" in rerun.stderr
    assert "batches:    0 submitted, 1 picked up from earlier runs" in rerun.stderr
    assert sorted(judged(data, "gpt-4o")) == EVERY
    assert ledger_events(data, "gpt-4o") == ["submitting", "created", "collected"]


def test_killed_before_it_recorded_the_batch_id_the_rerun_finds_the_batch(data):
    provider, judge_name = "openai", "gpt-4o"  # OpenAI's batches carry the run's tag
    with FakeOpenAIServer() as server:
        server.batches.script.create_delay = 30  # the batch exists; its id is not yet told
        process = start(judge_args(data, server, provider))
        wait_until(lambda: server.batches.creates == 1, process)
        process.kill()
        process.communicate()
        assert ledger_events(data, judge_name) == ["submitting"]
        server.batches.script.create_delay = 0
        rerun = run_cli("judge", *judge_args(data, server, provider), env=ENV)
        assert rerun.returncode == 0, rerun.stderr
        assert server.batches.creates == 1
    assert "found at the provider (its run stopped before recording its id)" in rerun.stderr
    assert sorted(judged(data, judge_name)) == EVERY
    assert ledger_events(data, judge_name) == ["submitting", "created", "collected"]


@pytest.mark.extra("anthropic")
def test_an_unrecorded_anthropic_batch_is_never_adopted_only_named_in_a_warning(data):
    # An Anthropic batch carries no label: the batch created since with the same number of
    # requests may as well be another run's. Adopting it would collect (and --batch-cancel
    # cancel) someone else's batch; the rerun submits again and names the candidate instead.
    judge_name = JUDGES["anthropic"]
    with FakeOpenAIServer() as server:
        args = judge_args(data, server, "anthropic")
        server.batches.script.create_delay = 30
        process = start(args)
        wait_until(lambda: server.batches.creates == 1, process)
        process.kill()
        process.communicate()
        (orphan,) = server.batches.batches
        server.batches.script.create_delay = 0
        before = run_cli("judge", *args, "--batch-status", env=ENV)
        rerun = run_cli("judge", *args, env=ENV)
        assert rerun.returncode == 0, rerun.stderr
        assert server.batches.creates == 2
        after = run_cli("judge", *args, "--batch-status", env=ENV)
        cancel = run_cli("judge", *args, "--batch-cancel", env=ENV)
        assert cancel.returncode == 0, cancel.stderr
        assert server.batches.cancels == 0  # the orphan is not this ledger's to cancel
    assert f"warning: one of {orphan} (created since" in rerun.stderr
    assert "cancel it in the Anthropic console" in rerun.stderr
    assert "found at the provider" not in rerun.stderr
    assert sorted(judged(data, judge_name)) == EVERY
    assert ledger_events(data, judge_name) == [
        "submitting", "abandoned", "submitting", "created", "collected",
    ]  # fmt: skip
    assert orphan not in cancel.stdout
    # Its create reached the provider: --batch-status never says it was not created.
    maybe = "(no id)  6 request(s), submitted"
    assert f"{maybe}" in before.stdout and "never created" not in before.stdout
    assert "may have been created (its run stopped while submitting)" in before.stdout
    assert "may have been created (its run stopped while submitting); not collected" in (
        after.stdout
    )
    assert "never created" not in after.stdout


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ctrl_c_status_cancel_then_rerun_keeps_what_finished_and_submits_the_rest(data, provider):
    judge_name = JUDGES[provider]
    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        args = judge_args(data, server, provider)
        process = start(args)
        wait_until(lambda: "created" in ledger_events(data, judge_name), process)
        process.send_signal(signal.SIGINT)
        _, stopped = process.communicate(timeout=60)
        assert process.returncode == 130, stopped
        assert "running:    1 batch(es) still at the provider" in stopped
        assert "Traceback" not in stopped

        status = run_cli("judge", *args, "--batch-status", env=ENV)
        assert status.returncode == 0, status.stderr
        (first,) = server.batches.batches
        assert f"{first}  6 request(s), submitted" in status.stdout
        assert ": in_progress, 0 done, 0 failed of 6" in status.stdout

        cancel = run_cli("judge", *args, "--batch-cancel", env=ENV)
        assert cancel.returncode == 0, cancel.stderr
        assert server.batches.cancels == 1 and "cancel requested" in cancel.stdout

        server.batches.script.polls = 1
        rerun = run_cli("judge", *args, env=ENV)
        assert rerun.returncode == 0, rerun.stderr
        assert server.batches.creates == 2
        (_, second) = server.batches.batches.values()
        assert len(second.requests) == 3  # the half the cancelled batch never ran
        assert "resubmitted: 3 request(s) of earlier batches" in rerun.stderr
        after = run_cli("judge", *args, "--batch-status", env=ENV)
    assert sorted(judged(data, judge_name)) == EVERY
    assert after.stdout.count(": collected") == 2


def test_a_result_for_an_answer_changed_since_is_not_written_and_is_asked_again(data):
    def interrupt(stats: Any) -> None:
        raise KeyboardInterrupt  # the first look at the batches: as a Ctrl-C there

    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        options = JudgeConfig(
            paths=data,
            judge_base_url=server.base_url,
            judge_model="gpt-4o",
            model_list=[MODEL],
            batch=True,
            poll_interval=0.01,
        )
        with pytest.raises(KeyboardInterrupt):
            judge(options, err=io.StringIO(), on_progress=interrupt)
        answers = data.answer_file(MODEL)
        rows = [json.loads(line) for line in answers.read_text().splitlines()]
        for row in rows:
            if row["question_id"] == 81:
                row["choices"][0]["turns"][0] = "A new answer to question 81."
        answers.write_text("".join(json.dumps(row) + "\n" for row in rows))
        server.batches.script.polls = 1
        result = judge(options, err=io.StringIO())
        assert server.batches.creates == 2
        (_, second) = server.batches.batches.values()
    # Turn 1 and turn 2 of question 81 both show the changed answer.
    assert sorted(key[:3] for key, _ in second.requests) == ["q81", "q81"]
    assert result.stats is not None and result.stats.judged == 6
    written = [
        json.loads(line) for line in data.judgment_file("gpt-4o", "single").read_text().splitlines()
    ]
    assert sorted((r["question_id"], r["turn"]) for r in written) == EVERY
    for row in written:
        assert ("A new answer to question 81." in row["user_prompt"]) == (row["question_id"] == 81)


@pytest.mark.parametrize(
    "first",
    [
        {"judge_temperature": 0.7, "max_tokens": 300},
        {"judge_extra_body": {"top_p": 0.5}},
    ],
)
def test_a_batch_sent_with_other_sampling_is_left_alone_not_written_as_this_runs(data, first):
    def interrupt(stats: Any) -> None:
        raise KeyboardInterrupt

    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        options = JudgeConfig(
            paths=data,
            judge_base_url=server.base_url,
            judge_model="gpt-4o",
            model_list=[MODEL],
            batch=True,
            poll_interval=0.01,
        )
        with pytest.raises(KeyboardInterrupt):
            judge(replace(options, **first), err=io.StringIO(), on_progress=interrupt)
        server.batches.script.polls = 1
        plan = describe_plan(make_plan(options))
        if "max_tokens" in first:  # the plan sees the sampling; the run every parameter
            assert "6 request(s) to submit in 1 batch(es)" in plan and "picked up" not in plan
        err = io.StringIO()
        result = judge(options, err=err)
        assert server.batches.creates == 2
        old, new = server.batches.batches
        assert len(server.batches.batches[new].requests) == 6
    assert "1 batch(es) in gpt-4o_single.jsonl.batches.jsonl were sent with other request " in (
        err.getvalue()
    )
    assert f"batch {old}: picked up" not in err.getvalue()
    assert result.stats is not None and result.stats.judged == 6
    written = [
        json.loads(line) for line in data.judgment_file("gpt-4o", "single").read_text().splitlines()
    ]
    assert sorted((r["question_id"], r["turn"]) for r in written) == EVERY
    assert {r["judge_meta"]["batch"] for r in written} == {new}


def test_a_batch_the_provider_does_not_know_is_named_once_and_the_others_go_on(data):
    def interrupt(stats: Any) -> None:
        raise KeyboardInterrupt

    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        options = JudgeConfig(
            paths=data,
            judge_base_url=server.base_url,
            judge_model="gpt-4o",
            model_list=[MODEL],
            batch=True,
            poll_interval=0.01,
        )
        with pytest.raises(KeyboardInterrupt):
            judge(options, err=io.StringIO(), on_progress=interrupt)
        (gone,) = server.batches.batches
        del server.batches.batches[gone]  # as a batch of another project's key: HTTP 404
        status, cancel = io.StringIO(), io.StringIO()
        batch_status(options, out=status)
        batch_status(options, cancel=True, out=cancel)
        server.batches.script.polls = 1
        err = io.StringIO()
        result = judge(options, err=err)
        assert server.batches.creates == 2 and server.batches.cancels == 0
    assert f"{gone}  6 request(s), submitted" in status.getvalue()
    assert "unknown at" in status.getvalue() and "left alone" in status.getvalue()
    assert "unknown at" in cancel.getvalue()
    assert err.getvalue().count(f"batch {gone}: unknown at {server.base_url}") == 1
    assert "needs OpenAI's API" not in err.getvalue()
    assert result.stats is not None and result.stats.judged == 6


def test_a_live_run_over_uncollected_batches_says_it_buys_their_calls_again(data):
    def interrupt(stats: Any) -> None:
        raise KeyboardInterrupt

    with FakeOpenAIServer() as server:
        server.batches.script.polls = NEVER
        options = JudgeConfig(
            paths=data,
            judge_base_url=server.base_url,
            judge_model="gpt-4o",
            model_list=[MODEL],
            batch=True,
            poll_interval=0.01,
        )
        before = describe_plan(make_plan(replace(options, batch=False)))
        with pytest.raises(KeyboardInterrupt):
            judge(options, err=io.StringIO(), on_progress=interrupt)
        live = describe_plan(make_plan(replace(options, batch=False)))
    assert "recorded batch" not in before
    assert (
        "notice: 1 recorded batch(es) in gpt-4o_single.jsonl.batches.jsonl are not collected "
        "(holding 6 of the pending call(s)); this live run buys those calls again: rerun with "
        "--batch to collect them instead"
    ) in live
