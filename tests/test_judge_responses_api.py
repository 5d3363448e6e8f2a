"""`--judge-api responses`: the judge asked through OpenAI's Responses API (`POST /v1/responses`).

Every run goes through the real `openai` client to `fake_openai_server`, which answers the
Responses API as OpenAI does (output items, `status: incomplete` when cut, reasoning summaries,
`output_tokens_details.reasoning_tokens`), and reads the rows the run wrote.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from conftest import judge_bench
from fake_openai_server import Completion, FakeOpenAIServer, Fault, Refusal, judge_reply

from mtbench.backends.base import GenerationParams
from mtbench.backends.registry import BackendSpec, open_backend
from mtbench.backends.retry import RetryPolicy
from mtbench.cli.judge import main as judge_main
from mtbench.data.judgments import load_single_judgments
from mtbench.data.paths import BenchPaths
from mtbench.errors import ConfigError, RequestError
from mtbench.judging import JudgeConfig
from mtbench.judging.pipeline import judge

QUESTIONS = (81, 82)
MODEL = "alpaca-13b"
PREFLIGHT = "Reply with the single word OK."
RATINGS = {81: 9, 82: 4}
"""The scripted judge's rating per question (81 is the Hawaii travel blog post)."""


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """Two plain questions (no references) and one official answer file."""
    return judge_bench(bench, QUESTIONS, [MODEL])


def run(data: BenchPaths, server: FakeOpenAIServer, **options: Any):
    """A library run with `judge_api="responses"`; returns (result, stderr text)."""
    options.setdefault("model_list", [MODEL])
    options.setdefault("max_attempts", 2)
    options.setdefault("parallel", 2)
    options.setdefault("judge_model", "gpt-4")
    err = io.StringIO()
    config = JudgeConfig(
        paths=data, judge_base_url=server.base_url, judge_api="responses", **options
    )
    try:
        result = judge(config, err=err, out=io.StringIO())
    finally:
        print(err.getvalue())
    return result, err.getvalue()


def calls(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    """The judge calls' bodies (the preflight left out)."""
    return [r.body for r in server.completions() if r.messages[-1]["content"] != PREFLIGHT]


def rows(data: BenchPaths, judge_name: str):
    return list(load_single_judgments(data.judgment_file(judge_name, "single")))


def gpt5(body: dict[str, Any]) -> Completion:
    """A reasoning model: a summary of its thinking, a dated snapshot, reasoning tokens."""
    rating = RATINGS[81] if "Hawaii" in json.dumps(body["input"]) else RATINGS[82]
    return Completion(
        f"The answer is fine.\n\nRating: [[{rating}]]",
        reasoning="Weighing helpfulness; a draft [[1]] was too harsh.",
        model="gpt-5-2025-08-07",
        reasoning_tokens=200,
    )


def test_a_single_run_through_the_responses_api_records_what_was_sent(data):
    with FakeOpenAIServer(reply=gpt5) as server:
        result, err = run(data, server, judge_model="gpt-5", judge_reasoning_effort="medium")
    assert result.stats is not None and (result.stats.judged, result.stats.unparsed) == (4, 0)
    assert "'gpt-5' via the OpenAI Responses API at" in err
    assert all(r.path.endswith("/v1/responses") for r in server.completions())
    bodies = calls(server)
    assert len(bodies) == 4
    prompts = [json.loads(line) for line in data.judge_prompts_file.read_text().splitlines()]
    systems = {p["system_prompt"] for p in prompts if p["name"].startswith("single-v1")}
    for body in bodies:
        assert set(body) == {
            "model",
            "input",
            "instructions",
            "max_output_tokens",
            "temperature",
            "reasoning",
        }
        assert body["model"] == "gpt-5"
        assert (body["max_output_tokens"], body["temperature"]) == (2048, 0.0)
        assert body["reasoning"] == {"effort": "medium"}
        assert body["instructions"] in systems  # the judge prompt's system message ...
        assert [m["role"] for m in body["input"]] == ["user"]  # ... is not an input message
    assert {body["instructions"] for body in bodies} == systems  # turn 1 and multi-turn
    written = rows(data, "gpt-5")
    assert sorted((row.question_id, row.turn) for row in written) == [
        (81, 1),
        (81, 2),
        (82, 1),
        (82, 2),
    ]
    for row in written:
        assert row.score == RATINGS[row.question_id]
        assert row.judgment == f"The answer is fine.\n\nRating: [[{row.score}]]"
        meta = row.extra["judge_meta"]
        assert meta["model"] == "gpt-5-2025-08-07"
        assert meta["finish_reason"] == "stop"
        assert meta["reasoning"] == "Weighing helpfulness; a draft [[1]] was too harsh."
        assert meta["usage"]["reasoning_tokens"] == 200
        assert meta["usage"]["output_tokens"] > 200 and meta["usage"]["input_tokens"] > 0
        assert meta["params"] == {
            "temperature": 0.0,
            "max_output_tokens": 2048,
            "reasoning": {"effort": "medium"},
        }
    assert result.stats.reasoning_tokens == 4 * 200


def refuses_temperature(body: dict[str, Any]) -> Refusal | None:
    """What gpt-5 answers through the Responses API when sent a temperature."""
    if "temperature" in body:
        return Refusal(
            "temperature", "Unsupported parameter: 'temperature' is not supported with this model."
        )
    return None


def test_a_refused_temperature_is_learned_once_for_the_whole_run(data):
    with FakeOpenAIServer(reply=gpt5, refuse=refuses_temperature) as server:
        result, err = run(data, server, judge_model="gpt-5")
    assert result.stats is not None and (result.stats.judged, result.stats.failed) == (4, 0)
    # The preflight is refused once and sent again; no judge call is refused after that.
    assert len(server.completions()) == 2 + 4
    for body in calls(server):
        assert "temperature" not in body and body["max_output_tokens"] == 2048
    assert "the server refuses 'temperature' (it was 0.0); no longer sending it" in err
    for row in rows(data, "gpt-5"):
        assert row.extra["judge_meta"]["params"] == {"max_output_tokens": 2048}


def test_a_refused_reasoning_effort_stops_the_run_naming_the_flag(data):
    def refuse(body: dict[str, Any]) -> Refusal | None:
        if "reasoning" in body:
            return Refusal(
                "reasoning.effort",
                "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
            )
        return None

    with FakeOpenAIServer(refuse=refuse) as server:
        with pytest.raises(RequestError, match="set by --judge-reasoning-effort; leave that flag"):
            run(data, server, judge_model="gpt-4.1", judge_reasoning_effort="low")
    assert len(server.completions()) == 1
    assert not data.judgment_file("gpt-4.1", "single").exists()


def test_a_reply_cut_at_max_output_tokens_is_asked_again_with_more_room(data):
    def reply(body: dict[str, Any]) -> Completion:
        if body["max_output_tokens"] < 4096:
            return Completion(None, reasoning="thinking " * 50, finish_reason="length")
        return Completion(judge_reply(body))

    with FakeOpenAIServer(reply=reply) as server:
        result, err = run(data, server, judge_model="gpt-5", parallel=1)
    stats = result.stats
    assert stats is not None and (stats.judged, stats.reasked, stats.failed) == (4, 4, 0)
    limits = sorted(body["max_output_tokens"] for body in calls(server))
    assert limits == [2048] * 4 + [4096] * 4
    for row in rows(data, "gpt-5"):
        assert row.score != -1
        meta = row.extra["judge_meta"]
        assert meta["params"]["max_output_tokens"] == 4096 and meta["finish_reason"] == "stop"
    assert "re-asked:   4 time(s)" in err


def test_garbled_replies_and_server_errors_are_retried_as_for_chat():
    with FakeOpenAIServer(reply=gpt5) as server:
        server.script(Fault.malformed(), Fault.malformed(b'{"object": "response"}'), Fault.drop())
        server.script(Fault.server_error(502))
        spec = BackendSpec("openai", "gpt-5", base_url=server.base_url)
        backend = open_backend(replace(spec, options={"api": "responses"}))
        backend.retry = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.02)
        try:
            reply = backend.complete(
                [{"role": "user", "content": "Hawaii? [[rating]]"}], GenerationParams(64)
            )
        finally:
            backend.close()
    assert reply == f"The answer is fine.\n\nRating: [[{RATINGS[81]}]]"
    assert (backend.usage.requests, backend.usage.retries) == (5, 4)


def test_the_chat_api_stays_the_default():
    assert JudgeConfig().judge_api == "chat"
    with pytest.raises(ConfigError, match="--judge-api must be one of chat, responses"):
        JudgeConfig(judge_api="completions").validate()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--judge-backend", "fake"), "this is the fake judge (--judge-backend fake)"),
        (("--judge-model", "claude-sonnet-4"), "(--judge-backend anthropic)"),
        (("--judge-backend", "anthropic"), "a Claude judge (Anthropic's Messages API)"),
    ],
)
def test_the_responses_api_with_a_judge_that_is_not_openai_compatible_is_one_error_line(
    data, capsys, flags, said
):
    code = judge_main(
        ["--data-dir", str(data.data_dir), "--judge-api", "responses", "--yes", *flags]
    )
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: --judge-api responses is for an OpenAI-compatible judge")
    assert said in lines[-1]
    assert sum(line.startswith("Error:") for line in lines) == 1
    assert not data.judgment_dir.exists() or not any(data.judgment_dir.iterdir())


def test_an_unknown_judge_api_is_a_usage_error(data, capsys):
    with pytest.raises(SystemExit) as info:
        judge_main(["--data-dir", str(data.data_dir), "--judge-api", "completions"])
    assert info.value.code == 2
    assert "--judge-api: invalid choice: 'completions'" in capsys.readouterr().err
