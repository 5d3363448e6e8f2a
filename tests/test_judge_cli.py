"""`mtbench-judge` end to end: the CLI in a subprocess, the real openai client, a local server."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, judge_bench, run_cli, shared_file
from fake_openai_server import FakeOpenAIServer, Fault

from mtbench.data.jsonl import read_jsonl
from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths

QUESTIONS = (81, 82, 101, 111)  # two plain questions, one reasoning and one math (references)
MODELS = ("alpaca-13b", "vicuna-7b-v1.3", "gpt-3.5-turbo")
PREFLIGHT = "Reply with the single word OK."


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """The bench fixture cut to four questions, with three official answer files."""
    return judge_bench(bench, QUESTIONS, MODELS)


def _lines(path: Path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            yield number, line


@pytest.fixture
def server():
    with FakeOpenAIServer() as server:
        yield server


def judge(data: BenchPaths, server: FakeOpenAIServer | None, *args: str, env=None):
    base = ["--data-dir", str(data.data_dir)]
    if server is not None:
        base += ["--judge-base-url", server.base_url]
        if "--judge-model" not in args:
            base += ["--judge-model", "gpt-4"]  # the scripted server plays OpenAI's gpt-4
    return run_cli("judge", *base, *args, env=env, timeout=120)


def judge_calls(server: FakeOpenAIServer):
    return [r for r in server.completions() if r.messages[-1]["content"] != PREFLIGHT]


def test_single_mode_writes_fastchat_rows_from_exactly_the_messages_sent(data, server):
    result = judge(data, server, "--model-list", "alpaca-13b", "vicuna-7b-v1.3", "--parallel", "4")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert len(rows) == 4 * 2 * 2  # questions x models x turns
    calls = judge_calls(server)
    assert len(calls) == len(rows)
    sent = {call.messages[1]["content"]: call for call in calls}
    prompts = {p["name"]: p for _, p in read_jsonl(data.data_dir / "judge_prompts.jsonl")}
    for row in rows:
        call = sent[row.user_prompt]
        assert call.body["model"] == "gpt-4"
        assert call.body["temperature"] == 0 and call.body["max_tokens"] == 2048
        assert call.messages == [
            {"role": "system", "content": prompts[row.judge[1]]["system_prompt"]},
            {"role": "user", "content": row.user_prompt},
        ]
        assert row.judgment.endswith(f"Rating: [[{row.score}]]")
        assert row.judge[0] == "gpt-4"
    by_prompt = Counter(row.judge[1] for row in rows)
    assert by_prompt == {
        "single-v1": 4,
        "single-math-v1": 4,
        "single-v1-multi-turn": 4,
        "single-math-v1-multi-turn": 4,
    }
    # Reference answers reach the math judges.
    reference = dict(read_jsonl(data.reference_file("gpt-4")))
    math_row = next(r for r in rows if r.judge[1] == "single-math-v1" and r.question_id == 111)
    ref_row = next(row for _, row in reference.items() if row["question_id"] == 111)
    assert ref_row["choices"][0]["turns"][0] in math_row.user_prompt
    assert "judged:     16 of 16" in result.stderr
    assert "skipped:    0" in result.stderr


def test_pairwise_baseline_judges_both_orders_and_maps_game_two_back(data, server):
    server.reply = lambda body: (
        "Assistant A is better.\n[[A]]" if "[[A]]" in json.dumps(body) else "OK"
    )
    result = judge(data, server, "--mode", "pairwise-baseline", "--first-n", "2")
    assert result.returncode == 0, result.stderr
    rows = list(load_pair_judgments(data.judgment_file("gpt-4", "pairwise-baseline")))
    # 2 questions x 2 models other than the baseline x 2 turns; each row took two calls.
    assert len(rows) == 8 and len(judge_calls(server)) == 16
    assert {(r.model_1, r.model_2) for r in rows} == {
        ("alpaca-13b", "gpt-3.5-turbo"),
        ("vicuna-7b-v1.3", "gpt-3.5-turbo"),
    }
    for row in rows:
        # "A wins" in both games means model_1 won game 1 and model_2 won game 2.
        assert (row.g1_winner, row.g2_winner) == ("model_1", "model_2")
        assert row.g1_user_prompt != row.g2_user_prompt
        sent = {c.messages[1]["content"] for c in judge_calls(server)}
        assert {row.g1_user_prompt, row.g2_user_prompt} <= sent
    turn1 = next(r for r in rows if r.turn == 1 and r.model_1 == "alpaca-13b")
    alpaca = dict((r["question_id"], r) for _, r in read_jsonl(data.answer_file("alpaca-13b")))
    answer = alpaca[turn1.question_id]["choices"][0]["turns"][0]
    a_block = turn1.g1_user_prompt.split("[The Start of Assistant B's Answer]")[0]
    b_block = turn1.g2_user_prompt.split("[The Start of Assistant B's Answer]")[1]
    assert answer in a_block and answer in b_block


def test_pairwise_all_then_resume_judges_only_what_is_missing(data, server):
    first = judge(data, server, "--mode", "pairwise-all", "--first-n", "1", "--parallel", "3")
    assert first.returncode == 0, first.stderr
    path = data.judgment_file("gpt-4", "pairwise-all")
    assert len(list(load_pair_judgments(path))) == 3 * 2  # 3 pairs x 2 turns
    before = len(judge_calls(server))
    second = judge(data, server, "--mode", "pairwise-all", "--parallel", "3")
    assert second.returncode == 0, second.stderr
    assert "24 (6 already judged, 18 to judge)" in second.stderr
    rows = list(load_pair_judgments(path))
    assert len(rows) == 24 and len({r.key for r in rows}) == 24
    assert len(judge_calls(server)) - before == 18 * 2
    third = judge(data, server, "--mode", "pairwise-all")
    assert third.returncode == 0
    assert "Nothing to do: all 24 match(es)" in third.stderr
    assert len(list(load_pair_judgments(path))) == 24


def test_single_resume_after_first_n_adds_no_duplicates(data, server):
    assert judge(data, server, "--first-n", "1", "--model-list", "alpaca-13b").returncode == 0
    assert judge(data, server, "--model-list", "alpaca-13b").returncode == 0
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert len(rows) == 8 and len({r.key for r in rows}) == 8


def test_resumes_a_fastchat_written_file(bench, server):
    """A real FastChat pairwise file (with its $ERROR$ rows) is read, counted and completed."""
    phi3 = "third_party/Stefanstud-FastChat-phi3"
    bench.answer_dir.mkdir(parents=True)
    for model in ("phi-3", "phi-3-dpo"):
        shutil.copy(shared_file(f"{phi3}/model_answer/{model}.jsonl"), bench.answer_file(model))
    output = bench.judgment_file("gpt-4", "pairwise-all")
    output.parent.mkdir(parents=True)
    shutil.copy(shared_file(f"{phi3}/model_judgment/gpt-4_pair.jsonl"), output)
    result = judge(bench, server, "--mode", "pairwise-all", "--parallel", "8", "--yes")
    assert result.returncode == 0, result.stderr
    assert "160 (75 already judged, 85 to judge)" in result.stderr
    assert "2 row(s) of gpt-4_pair.jsonl hold FastChat's $ERROR$" in result.stderr
    rows = list(load_pair_judgments(output))
    assert len(rows) == 160 and len({r.key for r in rows}) == 160
    assert output.read_bytes().startswith(
        shared_file(f"{phi3}/model_judgment/gpt-4_pair.jsonl").read_bytes()
    )


def test_unparseable_verdicts_are_written_as_fastchat_does_and_counted(data, server):
    server.reply = lambda body: "I cannot decide." if "[[rating]]" in json.dumps(body) else "OK"
    result = judge(data, server, "--first-n", "2", "--model-list", "alpaca-13b")
    assert result.returncode == 0, result.stderr
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert len(rows) == 4 and all(r.score == -1 and r.judgment == "I cannot decide." for r in rows)
    assert "unparsed:   4 verdict(s)" in result.stderr


def test_failed_judgments_are_not_written_and_a_rerun_completes_them(data, server):
    broken = {"on": True}

    def reply(body):
        text = json.dumps(body)
        if broken["on"] and "Compose an engaging travel blog post" in text and "[[rating]]" in text:
            return Fault.server_error(502)
        return "Fine. Rating: [[7]]" if "[[rating]]" in text else "OK"

    server.reply = reply
    args = ("--first-n", "2", "--model-list", "alpaca-13b", "--max-attempts", "2")
    result = judge(data, server, *args)
    assert result.returncode == 1
    assert "failed:     2 match(es) not written (2 call(s) failed after retries)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: 2 of 4 judgment(s) failed after retries and were not written; "
        "rerun the same command to judge them"
    )
    path = data.judgment_file("gpt-4", "single")
    rows = list(load_single_judgments(path))
    assert len(rows) == 2 and all(r.question_id == 82 for r in rows)
    assert "$ERROR$" not in path.read_text()
    broken["on"] = False
    again = judge(data, server, *args)
    assert again.returncode == 0, again.stderr
    rows = list(load_single_judgments(path))
    assert sorted((r.question_id, r.turn) for r in rows) == [(81, 1), (81, 2), (82, 1), (82, 2)]


def test_a_judge_that_keeps_failing_stops_the_run(data, server):
    server.reply = lambda body: "OK" if PREFLIGHT in json.dumps(body) else Fault.server_error(500)
    result = judge(
        data, server, "--model-list", "alpaca-13b", "--max-attempts", "1", "--parallel", "1"
    )
    assert result.returncode == 1
    assert "Error: stopping: the last 8 judge calls all failed after retries" in result.stderr
    assert "mtbench-judge stopped in" in result.stderr
    assert len(judge_calls(server)) == 8


def test_bad_key_stops_before_any_judging_and_never_prints_the_key(data, server):
    server.require_key = "the-right-key"
    secret = "sk-wrong-KEY-0123456789"
    result = judge(data, server, env={"OPENAI_API_KEY": secret})
    assert result.returncode == 1
    assert secret not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "rejected the API key in $OPENAI_API_KEY" in last
    assert len(server.completions()) == 1  # the preflight call only
    assert not data.judgment_file("gpt-4", "single").exists()


def test_unknown_judge_model_stops_at_once(data, server):
    server.known_models = {"gpt-4o"}
    result = judge(data, server, "--judge-model", "gpt-4-nope")
    assert result.returncode == 1
    assert "does not know model 'gpt-4-nope'" in result.stderr.strip().splitlines()[-1]
    assert "check --judge-model and" in result.stderr.strip().splitlines()[-1]
    assert len(server.completions()) == 1


def test_auth_error_mid_run_stops_without_the_preflight(data, server):
    server.script(Fault.http_error(401, "key revoked"))
    result = judge(data, server, "--no-preflight", "--parallel", "1")
    assert result.returncode == 1
    assert "rejected the API key" in result.stderr
    assert len(server.completions()) == 1


def test_any_judge_name_with_fallback_references_and_its_own_file(data, server):
    server.known_models = {"Qwen/Qwen2.5-72B-Instruct"}
    result = judge(
        data,
        server,
        "--judge-model",
        "Qwen/Qwen2.5-72B-Instruct",
        "--first-n",
        "3",
        "--model-list",
        "alpaca-13b",
    )
    assert result.returncode == 0, result.stderr
    assert "no reference answers for judge 'Qwen2.5-72B-Instruct'; using GPT-4's" in result.stderr
    rows = list(load_single_judgments(data.judgment_file("Qwen2.5-72B-Instruct", "single")))
    assert len(rows) == 6 and rows[0].judge[0] == "Qwen2.5-72B-Instruct"
    assert all(c.body["model"] == "Qwen/Qwen2.5-72B-Instruct" for c in server.completions())


@pytest.mark.extra("anthropic")
def test_anthropic_judge_through_the_messages_api(data, server):
    server.require_key = "sk-ant-test-key-123456"
    result = judge(
        data,
        None,
        "--judge-model",
        "claude-3-5-sonnet-20240620",
        "--judge-backend",
        "anthropic",
        "--judge-base-url",
        server.root_url,
        "--first-n",
        "1",
        "--model-list",
        "alpaca-13b",
        env={"ANTHROPIC_API_KEY": "sk-ant-test-key-123456"},
    )
    assert result.returncode == 0, result.stderr
    rows = list(load_single_judgments(data.judgment_file("claude-3-5-sonnet-20240620", "single")))
    assert len(rows) == 2
    calls = [c for c in server.completions() if c.path == "/v1/messages"]
    assert {c.body["max_tokens"] for c in calls} == {1024, 16}
    judged = [c for c in calls if c.body["max_tokens"] == 1024]
    assert {c.body["messages"][0]["content"] for c in judged} == {r.user_prompt for r in rows}


def test_dry_run_prints_plan_and_one_rendered_prompt_and_calls_nothing(data, server):
    result = judge(data, None, "--dry-run", "--mode", "pairwise-baseline")  # OpenAI's own URL
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mode:        pairwise-baseline" in out
    assert "baseline:    gpt-3.5-turbo" in out
    assert "matches:     16 (0 already judged, 16 to judge)" in out
    assert "judge calls: 32 (temperature 0, max 2048 tokens)" in out
    assert "about $" in out and "list price of gpt-4" in out
    assert "----- system -----\nPlease act as an impartial judge" in out
    assert "[User Question]\nCompose an engaging travel blog post" in out
    assert "[The Start of Assistant A's Answer]" in out
    assert server.completions() == []
    assert not data.judgment_dir.exists()


def test_dry_run_cost_from_flags_and_unknown_prices(data):
    unpriced_judge = ("--judge-model", "my-judge", "--judge-base-url", "http://127.0.0.1:9/v1")
    priced = judge(
        data,
        None,
        "--dry-run",
        *unpriced_judge,
        "--price-per-1k-input",
        "0.01",
        "--price-per-1k-output",
        "0.02",
    )
    assert (
        "($0.01 / $0.02 per 1k tokens, --price-per-1k-input/--price-per-1k-output)" in priced.stdout
    )
    unknown = judge(data, None, "--dry-run", "--judge-model", "my-judge")  # at OpenAI's URL
    assert "cost unknown (give --price-per-1k-input and --price-per-1k-output)" in unknown.stdout


@pytest.mark.parametrize("model", ["gpt-4", "my-judge"])
def test_a_judge_served_elsewhere_has_no_list_price(data, model):
    """OpenAI's list prices are for OpenAI's API, not for a model of that name served locally."""
    result = judge(data, None, "--dry-run", "--judge-base-url", "http://127.0.0.1:9/v1",
                   "--judge-model", model)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "cost unknown (no list price for a judge served at http://127.0.0.1:9/v1; give "
        "--price-per-1k-input and --price-per-1k-output if it charges)"
    ) in result.stdout
    assert f"output:      {data.judgment_file(model, 'single')}" in result.stdout


def test_a_base_url_without_a_judge_model_judges_with_the_one_model_it_serves(data):
    """A vLLM-style server lists one model: it is the judge, requested and filed by its name."""
    with FakeOpenAIServer(known_models=["Org/Served-Judge"]) as server:
        result = run_cli(
            "judge", "--data-dir", str(data.data_dir), "--judge-base-url", server.base_url,
            "--model-list", "alpaca-13b", "--first-n", "1", "--yes",
        )  # fmt: skip
        bodies = [r.body for r in server.completions()]
    assert result.returncode == 0, result.stderr
    assert f"{server.base_url} serves one model, Org/Served-Judge: it is the judge" in result.stderr
    assert {body["model"] for body in bodies} == {"Org/Served-Judge"}
    assert len(list(load_single_judgments(data.judgment_file("Served-Judge", "single")))) == 2
    assert not data.judgment_file("gpt-4", "single").exists()


def test_a_base_url_serving_several_models_asks_which_in_one_line(data):
    with FakeOpenAIServer(known_models=["qwen3:32b", "llama3:70b"]) as server:
        result = run_cli(
            "judge", "--data-dir", str(data.data_dir), "--judge-base-url", server.base_url,
            "--model-list", "alpaca-13b", "--yes",
        )  # fmt: skip
        assert server.completions() == []
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {server.base_url} serves 2 models (llama3:70b, qwen3:32b); choose the judge "
        "with --judge-model"
    ]
    assert not data.judgment_dir.exists()


def test_a_base_url_that_lists_nothing_keeps_fastchats_name_and_says_so(data):
    result = judge(data, None, "--dry-run", "--judge-base-url", "http://127.0.0.1:9/v1")
    assert result.returncode == 0, result.stderr
    assert (
        "notice: http://127.0.0.1:9/v1 did not list the model it serves; judging as gpt-4"
    ) in result.stdout


def test_a_local_server_run_is_filed_under_its_model_and_costs_nothing_unless_priced(data, server):
    result = judge(data, server, "--judge-model", "Org/Local-Judge", "--first-n", "1",
                   "--model-list", "alpaca-13b")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(list(load_single_judgments(data.judgment_file("Local-Judge", "single")))) == 2
    assert "  tokens:     " in result.stderr and "  cost:" not in result.stderr
    assert not data.judgment_file("gpt-4", "single").exists()
    priced = judge(data, server, "--judge-model", "Org/Local-Judge", "--first-n", "2",
                   "--model-list", "alpaca-13b", "--price-per-1k-input", "0.001",
                   "--price-per-1k-output", "0.002")  # fmt: skip
    assert priced.returncode == 0, priced.stderr
    assert "for the reported tokens ($0.001 / $0.002 per 1k" in priced.stderr


def test_dry_run_flags_broken_answers(data):
    path = data.answer_file("alpaca-13b")
    rows = {row["question_id"]: row for _, row in read_jsonl(path)}
    rows[81]["choices"][0]["turns"][1] = "$ERROR$"
    rows[82]["choices"][0]["turns"][0] = "  "
    rows[101]["finish_reason"] = ["stop", "length"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
    result = judge(data, None, "--dry-run", "--model-list", "alpaca-13b")
    assert result.returncode == 0, result.stderr
    assert (
        "warning: 'alpaca-13b': 1 answer turn(s) generation error ($ERROR$), question(s) 81"
        in result.stdout
    )
    assert "warning: 'alpaca-13b': 1 answer turn(s) empty, question(s) 82" in result.stdout
    assert (
        "warning: 'alpaca-13b': 1 answer turn(s) cut at the token limit, question(s) 101"
        in result.stdout
    )


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        (
            ["--model-list", "alpaca-13b", "nope"],
            None,
            "Error: missing model answers: 'nope' has no answer file (",
        ),
        (
            ["--mode", "pairwise-baseline", "--baseline-model", "ghost"],
            None,
            "'ghost' has no answer file",
        ),
        (
            ["--model-list", "alpaca-13b"],
            "drop-answer",
            "Error: missing model answers: 'alpaca-13b' has no answer to question(s) 111.",
        ),
        (
            ["--ref-answer-model", "gpt-5"],
            None,
            "reference answers of 'gpt-5' (--ref-answer-model) not found; available: gpt-4",
        ),
        ([], "no-references", "reference answers (gpt-4.jsonl) not found; run `mtbench-down"),
        (
            ["--judge-model", "gpt-4o"],
            "no-references",
            "reference answers (neither gpt-4o.jsonl nor gpt-4.jsonl) not found",
        ),
        (["--parallel", "0"], None, "Error: --parallel must be at least 1, got 0"),
        (
            ["--mode", "pairwise-all", "--model-list", "alpaca-13b"],
            None,
            "Error: --mode pairwise-all needs at least two models",
        ),
        (["--judge-name", "a/b"], None, "Error: --judge-name 'a/b' must be usable as a file name"),
        ([], "bad-judgment-file", "gpt-4_single.jsonl:2: not valid JSON"),
        ([], "no-questions", "question file not found; run `mtbench-download`"),
        ([], "output-blocked", "model_judgment: is a file, expected a folder"),
        (
            [],
            "no-key",
            "Error: the OpenAI API (https://api.openai.com/v1) needs an API key: "
            "set the environment variable OPENAI_API_KEY",
        ),
        (
            [],
            "no-key",
            "OPENAI_API_KEY (or name another variable with --judge-api-key-env)",
        ),
        (
            ["--judge-backend", "vllm"],
            "no-url",
            "Error: --judge-backend vllm needs --judge-model-path (a folder, hub id or .gguf)",
        ),
        (
            ["--judge-backend", "anthropic", "--judge-model-path", "m"],
            "no-url",
            "Error: --judge-model-path is for a local judge; it cannot go with "
            "--judge-backend anthropic",
        ),
        (
            ["--judge-backend", "fake", "--judge-api-key-env", "KEY"],
            "no-url",
            "Error: --judge-api-key-env is for an API judge; this judge is the fake backend "
            "(--judge-backend fake)",
        ),
        (
            ["--judge-backend", "fake", "--num-threads", "2"],
            "no-url",
            "Error: --num-threads is for a local judge run with transformers or llama.cpp "
            "(--judge-model-path); this judge is --judge-backend fake",
        ),
        (["--num-threads", "0"], None, "Error: --num-threads must be at least 1, got 0"),
        (
            ["--judge-model-path", "m"],
            None,
            "Error: --judge-base-url is for an API judge; this judge runs here "
            "(--judge-backend hf)",
        ),
        (
            ["--judge-backend", "hf", "--judge-model-path", "/nonexistent/judge"],
            "no-url",
            "Error: --judge-model-path /nonexistent/judge: no such file or folder",
        ),
    ],
)
def test_bad_input_gets_one_clear_line(data, args, setup, message):
    extra = (
        ["--judge-base-url", "http://127.0.0.1:9/v1"] if setup not in ("no-key", "no-url") else []
    )
    if extra and "--judge-model" not in args:
        extra += ["--judge-model", "gpt-4"]
    if setup == "drop-answer":
        path = data.answer_file("alpaca-13b")
        kept = [line for _, line in _lines(path) if json.loads(line)["question_id"] != 111]
        path.write_text("\n".join(kept) + "\n")
    elif setup == "bad-judgment-file":
        out = data.judgment_file("gpt-4", "single")
        out.parent.mkdir(parents=True)
        out.write_text(
            '{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], '
            '"score": 5, "turn": 1}\n{oops\n{"question_id": 82}\n'
        )
    elif setup == "no-questions":
        data.question_file.unlink()
    elif setup == "no-references":
        data.reference_file("gpt-4").unlink()
    elif setup == "output-blocked":
        data.judgment_dir.write_text("not a folder")
    result = judge(data, None, *extra, *args, "--yes")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len([line for line in lines if line.startswith("Error:")]) == 1
    assert message in lines[-1]
    assert "Traceback" not in result.stderr
    if setup not in ("bad-judgment-file", "output-blocked"):
        assert not data.judgment_dir.exists()


def test_confirmation_is_asked_only_on_a_terminal(data, server):
    """With a TTY on stdin the user is asked and can decline; nothing is judged then."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtbench.cli.judge",
            "--data-dir",
            str(data.data_dir),
            "--judge-base-url",
            server.base_url,
            "--judge-model",
            "gpt-4",
        ],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(secondary)
    os.write(primary, b"n\n")
    out, err = process.communicate(timeout=60)
    os.close(primary)
    assert process.returncode == 1
    assert "Judge 24 match(es) with 24 call(s)? [Y/n]" in out
    assert "Cancelled; nothing was judged." in err
    assert server.completions() == []


def test_ctrl_c_loses_only_calls_in_flight_and_a_rerun_finishes(data, server):
    server.latency = 0.3
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [
        sys.executable,
        "-m",
        "mtbench.cli.judge",
        "--data-dir",
        str(data.data_dir),
        "--judge-base-url",
        server.base_url,
        "--judge-model",
        "gpt-4",
        "--parallel",
        "2",
        "--model-list",
        "alpaca-13b",
        "vicuna-7b-v1.3",
    ]
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    path = data.judgment_file("gpt-4", "single")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "mtbench-judge interrupted" in err
    assert "Interrupted; work already written is kept and a rerun resumes." in err
    written = list(load_single_judgments(path))
    assert 4 <= len(written) < 16
    calls_before = len(judge_calls(server))
    assert calls_before - len(written) <= 2  # at most the calls in flight were lost

    rerun = judge(data, server, "--parallel", "4", "--model-list", "alpaca-13b", "vicuna-7b-v1.3")
    assert rerun.returncode == 0, rerun.stderr
    rows = list(load_single_judgments(path))
    assert len(rows) == 16 and len({r.key for r in rows}) == 16
    assert len(judge_calls(server)) - calls_before == 16 - len(written)
