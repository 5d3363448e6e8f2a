"""`mtbench-judge --batch` as a library, through the real `openai` and `anthropic` SDKs.

The scripted server (`fake_openai_server`, batches in `fake_batches`) implements OpenAI's files
and batches endpoints and Anthropic's message batches, and answers each request of a batch as it
answers the same request live. Interrupted runs, kills and cancels: test_judge_batch_resume.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
import types
from dataclasses import replace
from typing import Any

import pytest
from conftest import judge_bench, run_cli, shared_file
from fake_openai_server import Completion, FakeOpenAIServer, Refusal, judge_reply

from mtbench.backends.batch_api import BatchLimits
from mtbench.backends.openai_batches import OpenAIBatchAPI
from mtbench.cli.progress import JudgeBar
from mtbench.data.paths import BenchPaths
from mtbench.errors import BackendError, ConfigError, DataError, RequestError
from mtbench.judging import JudgeConfig, describe_plan, judge, make_plan
from mtbench.judging.batch import deferred_interrupt
from mtbench.judging.batch_ids import custom_id
from mtbench.judging.batch_ledger import BatchLedger
from mtbench.judging.batch_status import batch_status

QUESTIONS = (81, 82, 83)
MODELS = ("alpaca-13b", "vicuna-7b-v1.3")


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """Three plain questions (no references) and two official answer files."""
    return judge_bench(bench, QUESTIONS, MODELS)


def config(data: BenchPaths, server: FakeOpenAIServer, **options: Any) -> JudgeConfig:
    options.setdefault("model_list", [MODELS[0]])
    options.setdefault("judge_model", "gpt-4o")
    options.setdefault("max_attempts", 2)
    options.setdefault("poll_interval", 0.01)
    return JudgeConfig(paths=data, judge_base_url=server.base_url, batch=True, **options)


def run(config: JudgeConfig) -> tuple[Any, str]:
    err = io.StringIO()
    try:
        return judge(config, err=err, out=io.StringIO()), err.getvalue()
    finally:
        print(err.getvalue())


def rows(path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_batch(row: dict[str, Any]) -> dict[str, Any]:
    """A row less what only a batch run records (the batch id), the judge's name and the time."""
    row = {key: value for key, value in row.items() if key not in ("judge", "tstamp")}
    for name in ("judge_meta", "g1_judge_meta", "g2_judge_meta"):
        if name in row:
            row[name] = {k: v for k, v in row[name].items() if k != "batch"}
    return row


@pytest.mark.parametrize("mode", ["single", "pairwise-all"])
def test_batch_rows_are_the_live_rows(data, mode):
    with FakeOpenAIServer() as server:
        live_config = config(data, server, mode=mode, model_list=list(MODELS), judge_name="live")
        live, _ = run(replace(live_config, batch=False))
        batch, err = run(replace(live_config, judge_name="batch"))
        assert server.batches.creates == 1
    # 3 questions x 2 turns x 2 models (single), or x 1 pair with 2 games (pairwise)
    matches = 12 if mode == "single" else 6
    assert batch.stats.judged == live.stats.judged == matches and batch.stats.calls == 12
    kind = "single" if mode == "single" else "pair"
    live_rows = rows(data.judgment_file("live", kind))
    batch_rows = rows(data.judgment_file("batch", kind))

    def same_order(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Live rows are written as parallel calls finish: compare in one order.
        return sorted(map(without_batch, found), key=lambda r: json.dumps(r, sort_keys=True))

    assert same_order(batch_rows) == same_order(live_rows)
    metas = [
        r[k] for r in batch_rows for k in ("judge_meta", "g1_judge_meta", "g2_judge_meta") if k in r
    ]
    assert {m["batch"] for m in metas} == {next(iter(server.batches.batches))}
    assert "batches:    1 submitted, 0 picked up" in err
    ledger = BatchLedger(data.judgment_file("batch", kind)).load()
    assert [(e.batch_id is not None, e.collected) for e in ledger] == [(True, True)]
    assert make_plan(live_config).pending == []


def test_every_request_id_names_its_match_and_suits_both_providers(data):
    options = JudgeConfig(paths=data, mode="pairwise-all", model_list=list(MODELS), samples=2)
    plan = make_plan(options)
    ids = [custom_id(m, swapped) for m in plan.matches for swapped in (False, True)]
    assert len(set(ids)) == len(ids) == 2 * len(plan.matches)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)
    first = plan.matches[0]
    assert custom_id(first, True).startswith(f"q81-t1-s{first.sample}-g2-")


def test_failed_requests_are_reported_not_written_and_submitted_again_next_run(data):
    failing = {"q82-t1-s1-g1"}

    def fail(key: str, body: dict[str, Any]) -> str | None:
        return "The server had an error" if key.rsplit("-", 1)[0] in failing else None

    with FakeOpenAIServer() as server:
        server.batches.script.fail = fail
        failed = io.StringIO()
        with pytest.raises(BackendError, match=r"1 of 6 judgment\(s\) failed inside their batch"):
            judge(config(data, server), err=failed, out=io.StringIO())
        # Nothing was retried: the request failed inside the batch, and the summary says so.
        assert "(1 request(s) failed inside their batch)" in failed.getvalue()
        assert "failed after retries" not in failed.getvalue()
        written = rows(data.judgment_file("gpt-4o", "single"))
        assert len(written) == 5 and all(r["score"] != -1 for r in written)
        assert (82, 1) not in {(r["question_id"], r["turn"]) for r in written}
        failing.clear()
        result, err = run(config(data, server))
        assert server.batches.creates == 2
        first = next(iter(server.batches.batches))
        second = [key for batch, key, _ in server.batches.submitted if batch != first]
    assert [k.rsplit("-", 1)[0] for k in second] == ["q82-t1-s1-g1"]
    assert result.stats.judged == 1
    final = rows(data.judgment_file("gpt-4o", "single"))
    assert sorted((r["question_id"], r["turn"]) for r in final) == [
        (q, t) for q in QUESTIONS for t in (1, 2)
    ]


def test_an_expired_batch_keeps_what_it_finished(data):
    with FakeOpenAIServer() as server:
        server.batches.script.expire = True
        with pytest.raises(BackendError, match="3 of 6 judgment"):
            _, err = run(config(data, server))
        assert len(rows(data.judgment_file("gpt-4o", "single"))) == 3
        server.batches.script.expire = False
        result, _ = run(config(data, server))
        assert server.batches.creates == 2 and len(server.batches.submitted) == 6 + 3
    assert result.stats.judged == 3
    assert len(rows(data.judgment_file("gpt-4o", "single"))) == 6


def thinks_past_the_limit(body: dict[str, Any]) -> Completion:
    """A thinking judge: cut with no answer at 2048 tokens, fits at 4096 (a draft in its trace)."""
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit == 2048:
        return Completion(
            "", reasoning_content="Let me weigh this... [[2]]", finish_reason="length"
        )
    return Completion("<think>draft: [[1]]</think>" + judge_reply(body), model="judge-2025-01-01")


def test_a_reply_out_of_room_is_asked_again_in_a_new_batch_with_more_room(data):
    with FakeOpenAIServer(reply=thinks_past_the_limit) as server:
        result, err = run(config(data, server))
        sent = [(batch, body["max_tokens"]) for batch, _, body in server.batches.submitted]
    assert result.stats.judged == 6 and result.stats.reasked == 6 and result.stats.failed == 0
    assert sorted({limit for _, limit in sent}) == [2048, 4096] and len(sent) == 12
    assert "re-ask 1" in err
    for row in rows(data.judgment_file("gpt-4o", "single")):
        meta = row["judge_meta"]
        assert row["score"] == int(re.findall(r"\[\[(\d+)\]\]", row["judgment"])[0])
        assert "[[1]]" not in row["judgment"] and "draft: [[1]]" in meta["reasoning"]
        assert meta["params"]["max_tokens"] == 4096 and meta["model"] == "judge-2025-01-01"


def test_refusals_learned_by_the_preflight_shape_every_batch_request(data):
    with FakeOpenAIServer(reply=judge_reply, refuse=Refusal.reasoning_model) as server:
        result, err = run(config(data, server, judge_model="o3-mini"))
        bodies = [body for _, _, body in server.batches.submitted]
    assert result.stats.judged == 6
    for body in bodies:
        assert "temperature" not in body and "max_tokens" not in body
        assert body["max_completion_tokens"] == 2048
    assert "request:    the server refuses 'max_tokens'" in err


def test_requests_are_split_by_the_providers_limits(data, monkeypatch):
    monkeypatch.setattr(OpenAIBatchAPI, "limits", BatchLimits(max_requests=4, max_bytes=10**9))
    with FakeOpenAIServer() as server:
        result, _ = run(config(data, server, model_list=list(MODELS)))
        sizes = [len(b.requests) for b in server.batches.batches.values()]
        assert sizes == [4, 4, 4] and result.stats.judged == 12
        uploads = [
            server.batches.files[b.input_file_id][1] for b in server.batches.batches.values()
        ]
    longest = max(len(line) + 1 for data in uploads for line in data.splitlines())
    limits = BatchLimits(max_requests=50, max_bytes=2 * longest)
    monkeypatch.setattr(OpenAIBatchAPI, "limits", limits)
    data.judgment_file("gpt-4o", "single").unlink()
    BatchLedger(data.judgment_file("gpt-4o", "single")).path.unlink()
    with FakeOpenAIServer() as server:
        result, _ = run(config(data, server, model_list=list(MODELS)))
        batches = list(server.batches.batches.values())
        uploads = [server.batches.files[b.input_file_id][1] for b in batches]
    assert result.stats.judged == 12 and len(batches) > 1
    assert all(len(upload) <= limits.max_bytes for upload in uploads)


def test_a_dropped_create_is_found_by_its_tag_not_created_again(data):
    with FakeOpenAIServer() as server:
        server.batches.script.drop_creates = 1
        result, _ = run(config(data, server))
        assert server.batches.creates == 1 and result.stats.judged == 6


def test_responses_api_judges_batch_through_v1_responses(data):
    with FakeOpenAIServer() as server:
        result, _ = run(config(data, server, judge_api="responses"))
        (batch,) = server.batches.batches.values()
    assert batch.endpoint == "/v1/responses" and result.stats.judged == 6
    assert all("input" in body and "max_output_tokens" in body for _, body in batch.requests)


@pytest.mark.extra("anthropic")
def test_claude_batches_through_the_anthropic_sdk_with_thinking(data, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")

    def thinking(body: dict[str, Any]) -> Completion:
        return Completion(judge_reply(body), thinking="Weighing it: [[1]]")

    with FakeOpenAIServer(reply=thinking) as server:
        options = config(
            data,
            server,
            judge_model="claude-3-5-haiku-20241022",
            judge_backend="anthropic",
            judge_thinking_budget=1024,
        )
        result, err = run(replace(options, judge_base_url=server.root_url))
        (batch,) = server.batches.batches.values()
    assert batch.provider == "anthropic" and result.stats.judged == 6
    assert all(body["thinking"]["budget_tokens"] == 1024 for _, body in batch.requests)
    assert all(body["system"] and "temperature" not in body for _, body in batch.requests)
    for row in rows(data.judgment_file("claude-3-5-haiku-20241022", "single")):
        assert row["judge_meta"]["reasoning"] == "Weighing it: [[1]]"
        assert row["judge_meta"]["batch"] == batch.id
        assert f"[[{row['score']}]]" in row["judgment"] and "Weighing" not in row["judgment"]


def test_the_plan_shows_the_batches_and_halves_the_estimate(data):
    options = JudgeConfig(
        paths=data,
        model_list=list(MODELS),
        judge_model="gpt-4o",
        price_per_1k_input=0.01,
        price_per_1k_output=0.03,
    )
    live = make_plan(options).estimate()
    plan = make_plan(replace(options, batch=True))
    assert plan.estimate().dollars == pytest.approx(live.dollars / 2)
    text = describe_plan(plan)
    assert "batch:       12 request(s) to submit in 1 batch(es) to the OpenAI Batch API" in text
    assert "halved by --batch" in text


@pytest.mark.parametrize("backend", ["fake", "hf"])
def test_batch_needs_an_api_judge(data, backend):
    options = JudgeConfig(
        paths=data,
        model_list=[MODELS[0]],
        judge_backend=backend,
        judge_model_path=str(shared_file("question.jsonl")) if backend == "hf" else None,
        batch=True,
    )
    with pytest.raises(
        ConfigError, match=f"--batch is for an API judge.*--judge-backend {backend}"
    ):
        make_plan(options)


def test_a_server_without_a_batch_api_fails_in_one_line_and_writes_nothing(data):
    output = data.judgment_file("gpt-4o", "single")
    with FakeOpenAIServer() as server:
        server.batches.enabled = False
        with pytest.raises(RequestError, match="needs OpenAI's API or a server with /v1/files"):
            run(config(data, server))
        assert not output.exists()
        # The submission that never reached the provider is given up at once, not reported as
        # being submitted for ever.
        status = io.StringIO()
        batch_status(config(data, server), out=status)
        assert "(no id)  6 request(s)" in status.getvalue()
        assert "never created (its submission failed)" in status.getvalue()
        server.batches.enabled = True
        result, _ = run(config(data, server))
        assert server.batches.creates == 1 and result.stats.judged == 6
    events = [
        json.loads(line)["event"] for line in BatchLedger(output).path.read_text().splitlines()
    ]
    assert events == ["submitting", "abandoned", "submitting", "created", "collected"]


def test_a_pairwise_game_asked_again_waits_for_its_other_game_across_batches(data):
    answers = [json.loads(line) for line in data.answer_file(MODELS[0]).read_text().splitlines()]
    model_1 = [row["choices"][0]["turns"][0][:40] for row in answers]

    def game_1_thinks_long(body: dict[str, Any]) -> Completion:
        """Cut at 2048 tokens when model_1's answer is Assistant A's (game 1)."""
        prompt = body["messages"][-1]["content"]
        for marker in ("[The Start of Assistant A's Answer]\n", "### Assistant A:\n"):
            shown = prompt.split(marker, 1)[-1] if marker in prompt else ""
            if body["max_tokens"] == 2048 and any(shown.startswith(a) for a in model_1):
                return Completion("", finish_reason="length")
        return Completion(judge_reply(body))

    with FakeOpenAIServer(reply=game_1_thinks_long) as server:
        result, _ = run(config(data, server, mode="pairwise-all", model_list=list(MODELS)))
        sizes = [len(b.requests) for b in server.batches.batches.values()]
    assert result.stats.judged == 6 and result.stats.failed == 0 and sizes == [12, 6]
    for row in rows(data.judgment_file("gpt-4o", "pair")):
        assert row["g1_judge_meta"]["params"]["max_tokens"] == 4096
        assert row["g2_judge_meta"]["params"]["max_tokens"] == 2048
        assert row["g1_judge_meta"]["batch"] != row["g2_judge_meta"]["batch"]
    ledger = BatchLedger(data.judgment_file("gpt-4o", "pair")).load()
    assert [e.collected for e in ledger] == [True, True]


def test_a_ledger_line_that_is_no_record_is_one_clear_error(data):
    with FakeOpenAIServer() as server:
        run(config(data, server, first_n=1))
        ledger = BatchLedger(data.judgment_file("gpt-4o", "single"))
        ledger.path.write_text(ledger.path.read_text() + '{"event": "created"}\n')
        with pytest.raises(DataError, match=r"batches.jsonl:4: not a batch record"):
            ledger.load()
        lines = ledger.path.read_text().splitlines()
        ledger.path.write_text("\n".join([*lines[:3], '{"event": "paused", "batch": "b"}', ""]))
        with pytest.raises(DataError, match=r"batches.jsonl:4: not a batch record \(unknown "):
            ledger.load()


def test_cli_refuses_batch_flags_it_cannot_honour_in_one_line(data):
    common = ["--data-dir", str(data.data_dir), "--model-list", MODELS[0]]
    fake = run_cli("judge", *common, "--judge-backend", "fake", "--batch")
    both = run_cli("judge", *common, "--batch-status", "--batch-cancel")
    poll = run_cli("judge", *common, "--judge-backend", "fake", "--poll-interval", "5")
    for result in (fake, both, poll):
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert fake.stderr.startswith("Error: --batch is for an API judge with a batch API")
    assert both.stderr == "Error: --batch-status and --batch-cancel cannot go together\n"
    assert poll.stderr.startswith("Error: --poll-interval is for --batch runs")
    assert not data.judgment_dir.exists()


def test_ctrl_c_while_a_batch_is_created_waits_for_its_record_a_second_one_does_not():
    told: list[int] = []
    done: list[str] = []

    def interrupt(count: int) -> None:
        """Send Ctrl-C and wait until its handler has run (signals arrive asynchronously)."""
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 10
        while len(told) < count and time.monotonic() < deadline:
            time.sleep(0.001)

    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt(lambda: told.append(1)):
            interrupt(1)
            done.append("recorded")  # the block goes on to its end
    assert told == [1] and done == ["recorded"]
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt(lambda: told.append(2)):
            interrupt(2)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the second Ctrl-C is raised at once, well within this
            done.append("not reached")
    assert told == [1, 2] and done == ["recorded"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_batch_progress_never_counts_past_the_total(capsys):
    stats = types.SimpleNamespace(
        batch=True, calls=6, calls_done=5, batch_progress=3, batches_open=1,
        retries=0, failed_calls=0, unparsed=0,
    )  # fmt: skip
    bar = JudgeBar(tty=False, clock=lambda: 0.0)
    bar(stats)
    bar.close()
    err = capsys.readouterr().err
    assert "6/6" in err and "8/6" not in err
