"""Judges of today through the real `openai` and `anthropic` clients and a scripted server.

Each kind of judge a user meets now is played by `fake_openai_server`: an OpenAI reasoning
model (refuses `temperature` and `max_tokens`, reports reasoning tokens and a dated snapshot),
an open thinking model with `<think>` in its content or in `reasoning_content`, a judge that
spends its budget thinking (empty content, `finish_reason: length`), and Claude with extended
thinking. Every test runs a real single or pairwise run and reads the rows it wrote.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from conftest import judge_bench, run_cli
from fake_openai_server import Completion, FakeOpenAIServer, Refusal, judge_reply

from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths
from mtbench.errors import BackendError, ConfigError, RequestError
from mtbench.judging import JudgeConfig
from mtbench.judging.pipeline import judge

QUESTIONS = (81, 82)
MODELS = ("alpaca-13b", "vicuna-7b-v1.3")
PREFLIGHT = "Reply with the single word OK."


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """Two plain questions (no references) and two official answer files."""
    return judge_bench(bench, QUESTIONS, MODELS)


def run(data: BenchPaths, server: FakeOpenAIServer, **options: Any):
    """A library run against the server; returns (result, stderr text)."""
    options.setdefault("model_list", [MODELS[0]])
    options.setdefault("max_attempts", 2)
    options.setdefault("parallel", 2)
    err = io.StringIO()
    options.setdefault("judge_model", "gpt-4")
    config = JudgeConfig(paths=data, judge_base_url=server.base_url, **options)
    try:
        result = judge(config, err=err, out=io.StringIO())
    finally:
        print(err.getvalue())
    return result, err.getvalue()


def calls(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r.body for r in server.completions() if r.messages[-1]["content"] != PREFLIGHT]


def single_rows(data: BenchPaths, judge_name: str = "gpt-4"):
    return list(load_single_judgments(data.judgment_file(judge_name, "single")))


def test_classic_judges_get_fastchats_request_and_rows_record_it(data):
    with FakeOpenAIServer() as server:
        result, err = run(data, server)
    assert result.stats is not None and result.stats.judged == 4
    for body in calls(server):
        assert set(body) == {"model", "messages", "n", "temperature", "max_tokens"}
        assert (body["n"], body["temperature"], body["max_tokens"]) == (1, 0.0, 2048)
    for row in single_rows(data):
        meta = row.extra["judge_meta"]
        assert meta["params"] == {"n": 1, "temperature": 0.0, "max_tokens": 2048}
        assert meta["model"] == "gpt-4" and meta["finish_reason"] == "stop"
        assert "reasoning" not in meta
    assert "request:" not in err


def reasoning_model(body: dict[str, Any]) -> Completion:
    return Completion(
        judge_reply(body),
        model="o3-mini-2025-01-31",
        system_fingerprint="fp_o3",
        reasoning_tokens=320,
    )


def test_a_reasoning_model_refusing_temperature_and_max_tokens_is_learned_once(data):
    with FakeOpenAIServer(reply=reasoning_model, refuse=Refusal.reasoning_model) as server:
        result, err = run(data, server, judge_model="o3-mini")
    stats = result.stats
    assert stats is not None and (stats.judged, stats.failed, stats.unparsed) == (4, 0, 0)
    bodies = [r.body for r in server.completions()]
    # The preflight meets both refusals, once each; no judge call is refused after that.
    assert len(bodies) == 3 + 4
    for body in calls(server):
        assert "temperature" not in body and "max_tokens" not in body
        assert body["max_completion_tokens"] == 2048
    assert "request:    the server refuses 'max_tokens'; sending 'max_completion_tokens'" in err
    assert "request:    the server refuses 'temperature' (it was 0.0); no longer sending it" in err
    rows = single_rows(data, "o3-mini")
    for row in rows:
        meta = row.extra["judge_meta"]
        assert meta["model"] == "o3-mini-2025-01-31"
        assert meta["system_fingerprint"] == "fp_o3"
        assert meta["params"] == {"n": 1, "max_completion_tokens": 2048}
        assert meta["usage"]["reasoning_tokens"] == 320
        assert meta["usage"]["output_tokens"] > 320
    assert stats.reasoning_tokens == 4 * 320
    assert f"of which {4 * 320:,} reasoning" in err


def test_a_deliberate_temperature_the_server_refuses_stops_the_run_naming_the_flag(data):
    with FakeOpenAIServer(reply=reasoning_model, refuse=Refusal.reasoning_model) as server:
        with pytest.raises(RequestError, match="set by --judge-temperature; leave that flag out"):
            run(data, server, judge_model="o3-mini", judge_temperature=0.5)
    assert not data.judgment_file("o3-mini", "single").exists()


def test_temperature_omitted_and_request_options_are_sent_as_asked(data):
    extra = {"chat_template_kwargs": {"enable_thinking": False}}
    with FakeOpenAIServer() as server:
        result, err = run(
            data,
            server,
            judge_model="gpt-5",
            judge_temperature=None,
            judge_reasoning_effort="high",
            judge_extra_body=extra,
        )
    assert result.stats is not None and result.stats.judged == 4
    assert (
        "temperature not sent (the model's default), max 2048 tokens, reasoning effort high" in err
    )
    for body in calls(server):
        assert "temperature" not in body
        assert body["reasoning_effort"] == "high"
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
    meta = single_rows(data, "gpt-5")[0].extra["judge_meta"]
    assert meta["params"] == {
        "n": 1,
        "max_tokens": 2048,
        "reasoning_effort": "high",
        "chat_template_kwargs": {"enable_thinking": False},
    }


def test_request_options_that_do_not_fit_the_judge_are_refused(data):
    with pytest.raises(ConfigError, match="--judge-thinking-budget is for Claude judges"):
        judge(JudgeConfig(paths=data, judge_thinking_budget=2048, dry_run=True))
    with pytest.raises(ConfigError, match="--judge-reasoning-effort is for an API judge"):
        judge(JudgeConfig(paths=data, judge_backend="fake", judge_reasoning_effort="low"))
    with pytest.raises(ConfigError, match="--judge-temperature must be between 0 and 2"):
        judge(JudgeConfig(paths=data, judge_temperature=3.0))


def think_inline(body: dict[str, Any]) -> str:
    """An open model without a reasoning parser: the trace, with a draft verdict, in the text."""
    pairwise = "[[A]]" in json.dumps(body["messages"])
    draft, final = ("[[A]]", "[[B]]") if pairwise else ("[[3]]", "Rating: [[9]]")
    return f"<think>\nA first guess: {draft}. Let me look again.\n</think>\n\nFinal. {final}"


def test_a_think_trace_in_the_content_is_never_parsed_nor_stored_as_the_judgment(data):
    with FakeOpenAIServer(reply=think_inline) as server:
        single, _ = run(data, server, judge_model="qwen3-judge")
        pair, _ = run(
            data, server, judge_model="qwen3-judge", mode="pairwise-all", model_list=list(MODELS)
        )
    assert single.stats is not None and (single.stats.judged, single.stats.unparsed) == (4, 0)
    for row in single_rows(data, "qwen3-judge"):
        assert row.score == 9 and row.judgment == "Final. Rating: [[9]]"
        assert "A first guess: [[3]]" in row.extra["judge_meta"]["reasoning"]
    assert pair.stats is not None and (pair.stats.judged, pair.stats.unparsed) == (4, 0)
    for row in load_pair_judgments(data.judgment_file("qwen3-judge", "pairwise-all")):
        # Assistant B is model_2 in game 1 and model_1 in the swapped game 2.
        assert (row.g1_winner, row.g2_winner) == ("model_2", "model_1")
        assert row.g1_judgment == row.g2_judgment == "Final. [[B]]"
        assert all("A first guess: [[A]]" in meta["reasoning"] for meta in row.metas)


def test_an_unclosed_trace_is_no_verdict_and_a_classic_reply_parses_as_before(data):
    def reply(body: dict[str, Any]) -> str:
        if "Hawaii" in json.dumps(body["messages"]):  # question 81's two turns
            return "<THINK>\nRating: [[3]] maybe"  # stopped while thinking: no final answer
        return "  Fine.\nRating: [[8]]\n"

    with FakeOpenAIServer(reply=reply) as server:
        with pytest.raises(BackendError, match="2 of 4 judgment"):
            run(data, server, judge_model="mixed", parallel=1)
    # Question 81's two calls were asked three times each, then failed: never stored as -1.
    assert len(calls(server)) == 2 * 3 + 2
    rows = single_rows(data, "mixed")
    assert [row.score for row in rows] == [8, 8]
    for row in rows:
        assert row.judgment == "  Fine.\nRating: [[8]]\n"  # FastChat keeps it verbatim
        assert "reasoning" not in row.extra["judge_meta"]


def test_a_judge_remarking_on_a_stray_tag_keeps_its_verdict_and_text(data):
    text = "Good.\nRating: [[7]]\n\nNote: the answer still holds a stray `</think>` tag."
    with FakeOpenAIServer(reply=lambda body: text) as server:
        result, _ = run(data, server, judge_model="plain")
    assert result.stats is not None and result.stats.unparsed == 0
    assert {(row.score, row.judgment) for row in single_rows(data, "plain")} == {(7, text)}


def test_a_reply_the_provider_withheld_is_fastchats_unparsed_row_not_a_reask(data):
    def reply(body: dict[str, Any]) -> Completion:
        return Completion("", finish_reason="content_filter")

    with FakeOpenAIServer(reply=reply) as server:
        result, err = run(data, server, judge_model="filtered")
    assert result.stats is not None and (result.stats.unparsed, result.stats.reasked) == (4, 0)
    assert [row.score for row in single_rows(data, "filtered")] == [-1] * 4
    assert len(calls(server)) == 4
    # A rerun does not ask them again: more room would not change them.
    with FakeOpenAIServer(reply=reply) as server:
        result, _ = run(data, server, judge_model="filtered")
    assert result.status == "nothing_to_do"


def test_a_server_refusing_both_names_of_the_limit_stops_at_once(data):
    def refuse(body: dict[str, Any]) -> Refusal | None:
        if "max_tokens" in body:
            return Refusal(
                "max_tokens",
                "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.",
            )
        return Refusal(
            "max_completion_tokens",
            "Unrecognized request argument supplied: 'max_completion_tokens'. Use 'max_tokens'.",
        )

    with FakeOpenAIServer(refuse=refuse) as server:
        with pytest.raises(RequestError, match="the reply's token limit"):
            run(data, server, judge_model="pingpong")
    assert len(server.completions()) == 2


def test_extra_body_may_not_set_what_the_run_or_a_flag_decides(data):
    for key, why in (
        ("model", "--judge-model"),
        ("messages", "FastChat"),
        ("stream", "whole"),
        ("temperature", "--judge-temperature"),
        ("max_tokens", "--judge-max-tokens"),
    ):
        with pytest.raises(ConfigError, match=f"cannot set '{key}'.*{why}"):
            judge(JudgeConfig(paths=data, judge_extra_body={key: 1}, dry_run=True))
    with pytest.raises(ConfigError, match="--judge-temperature cannot go with --judge-thinking"):
        judge(
            JudgeConfig(
                paths=data,
                judge_model="claude-x",
                judge_thinking_budget=2048,
                judge_temperature=0.5,
                dry_run=True,
            )
        )
    with pytest.raises(ConfigError, match="--price-per-1k-input must be a price of 0 or more"):
        judge(JudgeConfig(paths=data, price_per_1k_input=-1, dry_run=True))


def test_reasoning_content_is_kept_apart_from_the_verdict(data):
    def reply(body: dict[str, Any]) -> Completion:
        return Completion("Rating: [[8]]", reasoning_content="Maybe [[2]]? No, better.")

    with FakeOpenAIServer(reply=reply) as server:
        result, _ = run(data, server, judge_model="deepseek-r1")
    assert result.stats is not None and result.stats.judged == 4
    for row in single_rows(data, "deepseek-r1"):
        assert row.score == 8 and row.judgment == "Rating: [[8]]"
        assert row.extra["judge_meta"]["reasoning"] == "Maybe [[2]]? No, better."


def test_a_reply_cut_before_its_verdict_is_asked_again_with_more_room(data):
    def reply(body: dict[str, Any]) -> Completion:
        limit = body.get("max_tokens", 0)
        if limit < 4096:
            return Completion("", reasoning_content="thinking " * 50, finish_reason="length")
        return Completion(judge_reply(body))

    with FakeOpenAIServer(reply=reply) as server:
        result, err = run(data, server, judge_model="thinker", parallel=1)
    stats = result.stats
    assert stats is not None and (stats.judged, stats.reasked, stats.failed) == (4, 4, 0)
    limits = [body["max_tokens"] for body in calls(server)]
    assert sorted(limits) == [2048] * 4 + [4096] * 4
    for row in single_rows(data, "thinker"):
        assert row.score != -1
        assert row.extra["judge_meta"]["params"]["max_tokens"] == 4096
    assert "re-asked:   4 time(s)" in err


def test_a_judge_that_never_fits_a_verdict_writes_nothing_and_a_rerun_asks_again(data):
    def empty(body: dict[str, Any]) -> Completion:
        return Completion(None, reasoning_content="hmm " * 40, finish_reason="length")

    with FakeOpenAIServer(reply=empty) as server:
        with pytest.raises(BackendError, match="4 of 4 judgment"):
            run(data, server, judge_model="thinker", judge_temperature=None, parallel=1)
    assert (
        sorted(body["max_tokens"] for body in calls(server)) == [2048] * 4 + [4096] * 4 + [8192] * 4
    )
    output = data.judgment_file("thinker", "single")
    assert not output.exists() or not output.read_text().strip()
    # Nothing was written, so a rerun with more room judges all four.
    with FakeOpenAIServer() as server:
        result, _ = run(data, server, judge_model="thinker", max_tokens=16000)
    assert result.stats is not None and result.stats.judged == 4


def test_a_larger_limit_the_model_refuses_costs_that_call_only(data):
    def refuse_large(body: dict[str, Any]) -> Refusal | None:
        if body.get("max_tokens", 0) > 4096:
            return Refusal(
                "max_tokens",
                f"max_tokens is too large: {body['max_tokens']}. This model supports at most "
                "4096 completion tokens, whereas you provided more.",
                "invalid_value",
            )
        return None

    def cut(body: dict[str, Any]) -> Completion:
        return Completion("", finish_reason="length")

    with FakeOpenAIServer(reply=cut, refuse=refuse_large) as server:
        with pytest.raises(BackendError, match="4 of 4 judgment"):
            run(data, server, judge_model="small", parallel=1, max_attempts=1)
    # Every call went 2048 -> 4096 -> 8192 (refused); none stopped the others.
    assert (
        sorted(body["max_tokens"] for body in calls(server)) == [2048] * 4 + [4096] * 4 + [8192] * 4
    )


def test_the_summary_advises_raising_the_limit(data):
    def empty(body: dict[str, Any]) -> Completion:
        return Completion("", finish_reason="length")

    with FakeOpenAIServer(reply=empty) as server:
        result = run_cli(
            "judge",
            "--data-dir",
            str(data.data_dir),
            "--judge-base-url",
            server.base_url,
            "--judge-model",
            "thinker",
            "--model-list",
            MODELS[0],
            "--first-n",
            "1",
            "--max-attempts",
            "1",
            "--no-preflight",
        )
    assert result.returncode == 1
    assert "no verdict: 2 call(s) never fitted a verdict in the token limit" in result.stderr
    assert "raise --judge-max-tokens (now 2048)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 2 of 2 judgment(s) failed")


def test_rows_without_a_verdict_for_lack_of_room_from_older_runs_are_judged_again(data):
    with FakeOpenAIServer() as server:
        run(data, server, judge_model="old")
    output = data.judgment_file("old", "single")
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    rows[0].update(judgment="", score=-1)  # an empty reply an older run stored as judged
    rows[1].update(judgment="The answer is", score=-1, judge_meta={"finish_reason": "length"})
    rows[2].update(judgment="No rating given.", score=-1)  # complete, no verdict: stays
    output.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with FakeOpenAIServer() as server:
        result, err = run(data, server, judge_model="old")
    assert result.stats is not None and result.stats.judged == 2
    assert "2 row(s) of old_single.jsonl have no verdict because the judge's reply" in err
    assert len(calls(server)) == 2


def test_the_cost_is_the_price_of_the_snapshot_that_answered(data, tmp_path):
    def snapshot(body: dict[str, Any]) -> Completion:
        return Completion(judge_reply(body), model="gpt-4o-2024-05-13")

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o": [0.0025, 0.01], "gpt-4o-2024-05-13": [0.005, 0.015]}))
    with FakeOpenAIServer(reply=snapshot) as server:
        result, err = run(data, server, judge_model="gpt-4o", price_table=str(prices))
    stats = result.stats
    assert stats is not None and stats.judge_models == {"gpt-4o-2024-05-13": 4}
    expected = (stats.prompt_tokens * 0.005 + stats.completion_tokens * 0.015) / 1000
    assert f"${expected:,.2f} for the reported tokens ($0.005 / $0.015 per 1k" in err


def test_a_price_table_prices_the_reported_usage(data, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"o3-mini": [0.0011, 0.0044]}))
    with FakeOpenAIServer(reply=reasoning_model) as server:
        result, err = run(data, server, judge_model="o3-mini", price_table=str(prices))
    stats = result.stats
    assert stats is not None
    expected = (stats.prompt_tokens * 0.0011 + stats.completion_tokens * 0.0044) / 1000
    assert f"cost:       ${expected:,.2f} for the reported tokens" in err
    assert "--price-table" in err
    prices.write_text('{"o3-mini": 3}')
    with pytest.raises(Exception, match="prices.json: price of 'o3-mini' must be"):
        run(data, server, judge_model="o3-mini", price_table=str(prices), dry_run=True)


def test_claude_with_extended_thinking_through_the_anthropic_sdk(data, monkeypatch):
    pytest.importorskip("anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")

    def reply(body: dict[str, Any]) -> Completion:
        return Completion(
            "The answer is sound.\nRating: [[6]]",
            thinking="A draft: [[2]]. On reflection, better.",
            model="claude-sonnet-4-20250514",
        )

    with FakeOpenAIServer(reply=reply) as server:
        err = io.StringIO()
        config = JudgeConfig(
            paths=data,
            judge_model="claude-sonnet-4",
            judge_backend="anthropic",
            judge_base_url=server.root_url,
            judge_thinking_budget=2048,
            model_list=[MODELS[0]],
            parallel=2,
        )
        result = judge(config, err=err)
    assert result.stats is not None and result.stats.judged == 4
    for body in calls(server):
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert body["max_tokens"] == 1024 + 2048 and "temperature" not in body
    for row in single_rows(data, "claude-sonnet-4"):
        assert row.score == 6 and row.judgment == "The answer is sound.\nRating: [[6]]"
        meta = row.extra["judge_meta"]
        assert meta["reasoning"] == "A draft: [[2]]. On reflection, better."
        assert meta["model"] == "claude-sonnet-4-20250514" and meta["finish_reason"] == "stop"
