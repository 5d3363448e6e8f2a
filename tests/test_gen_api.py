"""`mtbench-gen --backend openai`: answers from an OpenAI-compatible server (FastChat's
gen_api_answer), with the real `openai` client over HTTP to a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli
from fake_openai_server import FakeOpenAIServer, Fault

from mtbench.data.answers import load_answer_file
from mtbench.generation import FailedQuestionsError, GenConfig, generate_answers

MODEL = "org/Served-Model-7B"


def echo_reply(body: dict) -> str:
    """A reply that says which turn it answers, with spaces FastChat would keep."""
    users = [m for m in body["messages"] if m["role"] == "user"]
    return f"  answer to turn {len(users)}: {users[-1]['content'][:20]}  "


@pytest.fixture
def server():
    with FakeOpenAIServer(reply=echo_reply, known_models=[MODEL]) as server:
        yield server


def gen(bench, server, *args: str, env: dict[str, str] | None = None):
    return run_cli(
        "gen", "--backend", "openai", "--model", MODEL,
        "--openai-api-base", server.base_url, "--data-dir", str(bench.data_dir), *args,
        env=env,
    )  # fmt: skip


def rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_answers_every_turn_with_fastchat_rules(bench, server):
    # Questions 81 (writing), 101 (reasoning), 141 (stem): three temperature classes.
    result = gen(bench, server, "--question-begin", "0", "--question-end", "80", "--parallel", "4")
    assert result.returncode == 0, result.stderr
    answer_file = bench.answer_file("Served-Model-7B")  # named after the model's last part
    assert "80 question(s) generated" in result.stdout
    written = rows(answer_file)
    assert [r["question_id"] for r in written] == list(range(81, 161))
    first = written[0]
    assert list(first)[:5] == ["question_id", "answer_id", "model_id", "choices", "tstamp"]
    assert first["model_id"] == "Served-Model-7B"
    turns = first["choices"][0]["turns"]
    # Replies are kept as the server sent them (FastChat does not strip API answers).
    assert turns[0].startswith("  answer to turn 1: ") and turns[1].startswith("  answer to turn 2")
    assert first["finish_reason"] == [["stop", "stop"]]  # as the server reported

    requests = server.completions()
    assert len(requests) == 160
    by_question: dict[str, list] = {}
    for request in requests:
        by_question.setdefault(request.messages[0]["content"], []).append(request)
    question_81 = json.loads(bench.question_file.read_text().splitlines()[0])
    turn1, turn2 = sorted(by_question[question_81["turns"][0]], key=lambda r: len(r.messages))
    assert turn1.messages == [{"role": "user", "content": question_81["turns"][0]}]
    # Turn 2 carries the model's own first answer, as it was sent.
    assert turn2.messages == [
        {"role": "user", "content": question_81["turns"][0]},
        {"role": "assistant", "content": turns[0]},
        {"role": "user", "content": question_81["turns"][1]},
    ]
    assert turn1.body["model"] == MODEL and turn1.body["max_tokens"] == 1024
    # Exactly FastChat's request (gen_api_answer): no seed, nothing else either.
    fastchat_fields = ["model", "messages", "n", "temperature", "max_tokens"]
    assert all(sorted(r.body) == sorted(fastchat_fields) for r in requests)
    assert turn1.body["n"] == 1
    temperatures = {
        r.messages[0]["content"]: r.body["temperature"] for r in requests if len(r.messages) == 1
    }
    questions = [json.loads(line) for line in bench.question_file.read_text().splitlines()]
    expected = {"writing": 0.7, "roleplay": 0.7, "reasoning": 0.0, "math": 0.0, "coding": 0.0,
                "extraction": 0.0, "stem": 0.1, "humanities": 0.1}  # fmt: skip
    for question in questions:
        assert temperatures[question["turns"][0]] == expected[question["category"]]
    assert server.max_in_flight <= 4


def test_system_message_forced_temperature_and_token_limit(bench, server):
    result = gen(
        bench, server, "--question-end", "2", "--system-message", "Be brief.",
        "--force-temperature", "0.3", "--max-tokens", "64", "--model-id", "mine",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(load_answer_file(bench.answer_file("mine"))) == 2
    for request in server.completions():
        assert request.messages[0] == {"role": "system", "content": "Be brief."}
        assert request.body["temperature"] == 0.3 and request.body["max_tokens"] == 64


def test_seed_is_sent_only_when_asked_for_and_counts_as_a_setting(bench, server):
    assert gen(bench, server, "--question-end", "1", "--model-id", "plain").returncode == 0
    assert all("seed" not in r.body for r in server.completions())
    plain = rows(bench.answer_file("plain"))[0]["generation"]
    assert "seed" not in plain
    before = len(server.completions())
    seeded = gen(
        bench, server, "--question-end", "1", "--model-id", "plain", "--seed", "7",
        "--num-choices", "2",
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    assert "1 regenerated after a settings change" in seeded.stdout
    sent = server.completions()[before:]
    # Choice i carries seed + i, on both turns.
    assert sorted(r.body["seed"] for r in sent) == [7, 7, 8, 8]
    assert rows(bench.answer_file("plain"))[0]["generation"]["seed"] == 7
    negative = gen(bench, server, "--question-end", "1", "--seed", "-1")
    assert negative.returncode == 1 and "--seed must not be negative, got -1" in negative.stderr


def test_throttling_and_server_errors_are_retried_and_nothing_is_lost(bench, server):
    server.script(
        Fault.rate_limit(0.05), Fault.server_error(500), Fault.rate_limit(0.05),
        Fault.server_error(503), Fault.drop(),
    )  # fmt: skip
    result = gen(bench, server, "--question-end", "6", "--parallel", "3")
    assert result.returncode == 0, result.stderr
    assert sorted(load_answer_file(bench.answer_file("Served-Model-7B"))) == list(range(81, 87))
    assert sum(server.faults_sent.values()) == 5
    assert len(server.completions()) == 12 + 5


def test_a_question_that_keeps_failing_gets_no_row_and_a_rerun_fills_it(bench, server):
    question_83 = json.loads(bench.question_file.read_text().splitlines()[2])["turns"][0]

    def flaky(body: dict) -> str | Fault:
        if body["messages"][0]["content"] == question_83:
            return Fault.server_error(500)
        return echo_reply(body)

    server.reply = flaky
    result = gen(bench, server, "--question-end", "4", "--max-attempts", "2")
    assert result.returncode == 1
    assert "1 question(s) failed (83)" in result.stderr and "rerun retries them" in result.stderr
    assert result.stdout.startswith("3 question(s) generated, 1 failed")
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 1 question(s) failed (83)")
    answer_file = bench.answer_file("Served-Model-7B")
    assert sorted(load_answer_file(answer_file)) == [81, 82, 84]

    server.reply = echo_reply
    before = len(server.completions())
    again = gen(bench, server, "--question-end", "4")
    assert again.returncode == 0, again.stderr
    assert "1 question(s) generated, 3 already done" in again.stdout
    assert len(server.completions()) - before == 2  # only question 83's two turns
    assert [r["question_id"] for r in rows(answer_file)] == [81, 82, 83, 84]


def test_a_server_that_goes_down_stops_the_run_with_a_summary_and_a_resume_hint(bench, server):
    answered = {"replies": 0}

    def goes_down(body: dict) -> str | Fault:
        answered["replies"] += 1
        return echo_reply(body) if answered["replies"] <= 6 else Fault.server_error(500)

    server.reply = goes_down
    result = gen(bench, server, "--question-end", "40", "--parallel", "1", "--max-attempts", "1")
    assert result.returncode == 1
    # As mtbench-judge: what was done, then one line saying how to resume.
    # (Which questions got their two good replies depends on the order the pool runs them.)
    summary = re.fullmatch(
        r"(\d) question\(s\) generated, 8 failed, (\d+) unfinished; wall time .*; answers in .*",
        result.stdout.strip(),
    )
    assert summary, result.stdout
    done = int(summary[1])
    assert 1 <= done <= 3 and done + 8 + int(summary[2]) == 40
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: generation stopped: request to ") and "HTTP 500" in last
    assert last.endswith(
        f"{done} question(s) written, {40 - done} still to generate: rerun the same command "
        "to resume"
    )
    answer_file = bench.answer_file("Served-Model-7B")
    assert len(load_answer_file(answer_file)) == done

    server.reply = echo_reply
    again = gen(bench, server, "--question-end", "40")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{40 - done} question(s) generated, {done} already done")


def test_from_python_the_same_defaults_and_failed_questions_raise(bench, server):
    question_82 = json.loads(bench.question_file.read_text().splitlines()[1])["turns"][0]
    server.reply = lambda body: (
        Fault.server_error(500) if body["messages"][0]["content"] == question_82 else "ok"
    )
    config = GenConfig(
        MODEL, backend="openai", api_base=server.base_url, paths=bench, question_end=3,
        max_attempts=1,
    )  # fmt: skip
    assert config.parallel == 8  # as mtbench-gen
    with pytest.raises(FailedQuestionsError, match=r"1 question\(s\) failed \(82\)") as failed:
        generate_answers(config)
    summary = failed.value.summary
    assert (summary.generated, list(summary.failed)) == (2, [82])
    assert summary.answer_file == bench.answer_file("Served-Model-7B")  # the model's last part
    assert [r["question_id"] for r in rows(summary.answer_file)] == [81, 83]
    assert {r["model_id"] for r in rows(summary.answer_file)} == {"Served-Model-7B"}


def test_rerun_resumes_and_changed_settings_regenerate(bench, server):
    assert gen(bench, server, "--question-end", "3").returncode == 0
    answer_file = bench.answer_file("Served-Model-7B")
    content = answer_file.read_bytes()
    calls = len(server.completions())
    again = gen(bench, server, "--question-end", "3")
    assert again.returncode == 0 and "0 question(s) generated, 3 already done" in again.stdout
    assert len(server.completions()) == calls and answer_file.read_bytes() == content
    changed = gen(bench, server, "--question-end", "3", "--max-tokens", "32")
    assert changed.returncode == 0, changed.stderr
    assert "3 regenerated after a settings change" in changed.stdout
    assert len(rows(answer_file)) == 3


def test_another_served_model_under_the_same_model_id_regenerates(bench):
    def fake_gen(model: str):
        return run_cli(
            "gen", "--backend", "fake", "--model", model, "--model-id", "m",
            "--question-end", "2", "--data-dir", str(bench.data_dir),
        )  # fmt: skip

    assert fake_gen("org/first").returncode == 0
    again = fake_gen("org/first")
    assert again.returncode == 0 and "2 already done" in again.stdout
    other = fake_gen("org/second")
    assert other.returncode == 0, other.stderr
    assert "2 regenerated after a settings change" in other.stdout
    assert {row["generation"]["model"] for row in rows(bench.answer_file("m"))} == {"org/second"}


def test_a_rejected_key_stops_at_once_without_showing_it(bench):
    secret = "sk-test-very-secret-key-123456"
    with FakeOpenAIServer(reply=echo_reply, require_key="sk-the-right-one") as server:
        result = gen(bench, server, "--question-end", "10", env={"OPENAI_API_KEY": secret})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "401" in last and "OPENAI_API_KEY" in last
    assert secret not in result.stderr + result.stdout
    # Only the requests already on the wire (--parallel 8) reach the server; none after the 401.
    assert len(server.completions()) <= 8
    path = bench.answer_file("Served-Model-7B")
    assert not path.exists() or path.read_text() == ""


def test_an_unknown_model_is_one_clear_line(bench, server):
    result = run_cli(
        "gen", "--backend", "openai", "--model", "no-such-model", "--question-end", "2",
        "--openai-api-base", server.base_url, "--data-dir", str(bench.data_dir),
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "no-such-model" in last
    assert "check --model and" in last and "--judge-" not in last  # mtbench-gen's own flag


def test_openai_without_a_key_names_gens_flag(bench):
    result = run_cli(
        "gen", "--backend", "openai", "--model", "gpt-4o", "--question-end", "1",
        "--data-dir", str(bench.data_dir),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: the OpenAI API (https://api.openai.com/v1) needs an API key: set the "
        "environment variable OPENAI_API_KEY (or name another variable with --api-key-env)"
    )


def test_anthropic_answers_through_the_messages_api(bench):
    key = "sk-ant-test-key-123456"
    with FakeOpenAIServer(reply=echo_reply, require_key=key) as server:
        result = run_cli(
            "gen", "--backend", "anthropic", "--model", "claude-3-5-haiku-20241022",
            "--question-end", "2", "--system-message", "Be brief.", "--data-dir",
            str(bench.data_dir),
            env={"ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": server.root_url},
        )  # fmt: skip
        requests = server.completions()
    assert result.returncode == 0, result.stderr
    answers = load_answer_file(bench.answer_file("claude-3-5-haiku-20241022"))
    assert sorted(answers) == [81, 82]
    turns = answers[81].choices[0].turns
    # Anthropic's replies are stripped (as FastChat strips Claude's).
    assert turns[0].startswith("answer to turn 1: ") and turns[1].startswith("answer to turn 2")
    assert len(requests) == 4 and {r.path for r in requests} == {"/v1/messages"}
    turn2 = next(r for r in requests if len(r.messages) == 3 and turns[0] in str(r.messages))
    assert turn2.body["system"] == "Be brief."
    assert turn2.messages[1] == {"role": "assistant", "content": turns[0]}
    assert turn2.body["model"] == "claude-3-5-haiku-20241022"


def test_show_prompt_prints_the_messages_without_calling_the_server(bench, server):
    result = gen(bench, server, "--show-prompt", "--system-message", "S")
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)
    assert messages[0] == {"role": "system", "content": "S"}
    assert messages[1]["role"] == "user" and messages[1]["content"].startswith("Compose an")
    assert server.completions() == []


@pytest.mark.parametrize(
    ("args", "fragment", "code"),
    [
        (["--backend", "openai"], "--backend openai needs --model NAME", 2),
        (["--model", "m", "--model-path", "p", "--model-id", "x"], "--model names a model", 2),
        (
            ["--backend", "openai", "--model", "m", "--conv-template", "vicuna_v1.1"],
            "--conv-template is for local models",
            1,
        ),
        (
            ["--backend", "openai", "--model", "m", "--batch-size", "4"],
            "--batch-size is for local models",
            1,
        ),
        (
            ["--backend", "openai", "--model", "m", "--parallel", "0"],
            "--parallel must be at least 1",
            1,
        ),
        (
            ["--model-path", "p", "--model-id", "x", "--api-key-env", "KEY"],
            "--api-key-env is for an API server (--backend openai or anthropic), not --backend hf",
            1,
        ),
        (
            ["--backend", "vllm", "--model-path", "p", "--model-id", "x", "--openai-api-base", "u"],
            "--openai-api-base is for an API server",
            1,
        ),
        (
            ["--backend", "anthropic", "--model", "m", "--openai-api-base", "http://h/v1"],
            "--openai-api-base is for --backend openai (Anthropic's comes from "
            "$ANTHROPIC_BASE_URL)",
            1,
        ),
        (["--backend", "fake", "--api-key-env", "KEY"], "--api-key-env is for an API server", 1),
        (["--backend", "fake", "--dtype", "float32"], "--dtype is for local models", 1),
        (["--backend", "anthropic"], "--backend anthropic needs --model NAME", 2),
    ],
)
def test_bad_api_flags(bench, args, fragment, code):
    result = run_cli("gen", *args, "--data-dir", str(bench.data_dir))
    assert result.returncode == code
    assert fragment in result.stderr and "Traceback" not in result.stderr
