"""Answers that still hold a `<think>` trace: flagged in the plan, judged as-is or stripped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED, shared_file

from mtbench.cli.judge import main
from mtbench.data.answers import load_answer_file
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import load_questions
from mtbench.errors import ConfigError
from mtbench.judging import checks
from mtbench.judging.config import JudgeConfig
from mtbench.judging.matches import build_matches
from mtbench.judging.plan import make_plan

BENCH = "tiny_bench"
NO_SERVER = ("--judge-base-url", "http://127.0.0.1:9/v1", "--judge-model", "gpt-4")
QUESTION = {
    "question_id": 1,
    "category": "writing",
    "turns": ["Say something about rain.", "Now say it in one word."],
}
TRACES = ("Plan: mention clouds, keep it short.", "One word: wet or grey? Wet.")
FINAL = ("Rain falls from the clouds.", "Wet.")
ANSWERS = {
    # Turn 1: a whole block; turn 2: only the closing tag (the template opened the block).
    "thinker": [
        f"<think>\n{TRACES[0]}\n</think>\n\n{FINAL[0]}",
        f"{TRACES[1]}\n</think>{FINAL[1]}",
    ],
    "plain": ["Rain is water falling from the sky.", "Drops."],
}
WARNING = (
    "  warning: 'thinker': 2 answer turn(s) contain a <think> reasoning trace, question(s) 1 "
    "(judged as they are)"
)
CASE = SHARED.parent / "cases" / "06-think-traces-in-answers-judged-silently"


@pytest.fixture
def tiny(tmp_path: Path) -> BenchPaths:
    """One two-turn question, a model whose turns carry traces and one whose do not."""
    paths = BenchPaths(tmp_path / "data", BENCH)
    paths.answer_dir.mkdir(parents=True)
    paths.question_file.write_text(json.dumps(QUESTION) + "\n")
    shutil.copy(shared_file("judge_prompts.jsonl"), paths.data_dir / "judge_prompts.jsonl")
    for model, turns in ANSWERS.items():
        write_answer(paths, model, turns)
    return paths


def write_answer(paths: BenchPaths, model: str, turns: list[str], **extra: object) -> None:
    row = {
        "question_id": 1,
        "answer_id": model,
        "model_id": model,
        "choices": [{"index": 0, "turns": turns}],
        "tstamp": 1.0,
        **extra,
    }
    paths.answer_file(model).write_text(json.dumps(row) + "\n")


def flags_of(paths: BenchPaths, model: str) -> list[tuple[int, str]]:
    """`flag_answers` on one model's file: (turn, problem) pairs."""
    answers = {model: load_answer_file(paths.answer_file(model))}
    flags = checks.flag_answers(load_questions(paths.question_file), answers, [model])
    return sorted((flag.turn, flag.problem) for flag in flags)


def dry_run(paths: BenchPaths, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """`mtbench-judge --dry-run` in this process: (plan lines, the rendered request)."""
    argv = ["--data-dir", str(paths.data_dir), "--bench-name", paths.bench_name, *NO_SERVER]
    assert main([*argv, "--dry-run", *args]) == 0
    out = capsys.readouterr().out
    plan, marker, request = out.partition("===== judge request:")
    assert marker, out
    return plan, request


def warnings_about(plan: str, model: str) -> list[str]:
    return [line for line in plan.splitlines() if line.startswith(f"  warning: '{model}'")]


def test_plan_warns_once_and_keep_sends_the_trace(tiny, capsys):
    plan, request = dry_run(tiny, capsys, "--model-list", "thinker", "plain")
    assert warnings_about(plan, "thinker") == [WARNING]
    assert warnings_about(plan, "plain") == []
    assert "--answer-reasoning strip judges them with the trace removed" in plan
    assert "<think>" in request and TRACES[0] in request


def test_strip_sends_the_final_answer_only_and_the_plan_says_so(tiny, capsys):
    plan, request = dry_run(
        tiny, capsys, "--model-list", "thinker", "plain", "--answer-reasoning", "strip"
    )
    assert warnings_about(plan, "thinker") == [
        WARNING.replace("(judged as they are)", "(judged with the trace removed)")
    ]
    assert "notice:" not in plan
    assert "[The Start of Assistant's Answer]\n" + FINAL[0] + "\n" in request
    assert "think>" not in request and TRACES[0] not in request


@pytest.mark.parametrize("mode", ["single", "pairwise-all"])
@pytest.mark.parametrize("answer_reasoning", ["keep", "strip"])
def test_every_prompt_of_every_turn_and_order_gets_the_same_treatment(tiny, mode, answer_reasoning):
    config = JudgeConfig(
        paths=tiny,
        judge_base_url=NO_SERVER[1],
        judge_model="gpt-4",
        mode=mode,
        model_list=["thinker", "plain"],
        answer_reasoning=answer_reasoning,
    )
    plan = make_plan(config)
    multi_turn = [m for m in plan.matches if m.judge.multi_turn]
    assert multi_turn and len(plan.matches) == 2 * len(multi_turn)
    thinker = [m for m in plan.matches if "thinker" in m.models]
    assert len(thinker) == 2  # turn 1 and the multi-turn prompt
    for match in thinker:
        for swapped in (False, True)[: match.games]:
            prompt = match.user_prompt(swapped)
            for turn in range(2 if match.judge.multi_turn else 1):
                assert FINAL[turn] in prompt
                assert (TRACES[turn] in prompt) == (answer_reasoning == "keep")
                if match.pairwise:
                    assert ANSWERS["plain"][turn] in prompt
            assert ("think>" in prompt) == (answer_reasoning == "keep")


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("<think>draft</think>Answer.", True),
        ("  <think>\ndraft\n</think>\n\nAnswer.", True),
        ("draft</think>Answer.", True),  # the chat template opened the block
        ("<think>draft cut by the token limit", True),
        ("Answer that mentions <think> tags in passing.", False),
        ("Plain answer.", False),
    ],
)
def test_a_trace_is_what_the_generator_would_strip(tiny, text, flagged):
    write_answer(tiny, "m", [text, "Fine."])
    assert flags_of(tiny, "m") == ([(1, checks.REASONING_TRACE)] if flagged else [])


def test_a_trace_cut_at_the_token_limit_gets_both_warnings(tiny):
    write_answer(tiny, "m", ANSWERS["thinker"], finish_reason=["length", "stop"])
    assert flags_of(tiny, "m") == [
        (1, checks.REASONING_TRACE),
        (1, "cut at the token limit"),
        (2, checks.REASONING_TRACE),
    ]


def test_an_unknown_treatment_is_one_usage_error(tiny, capsys):
    argv = ["--data-dir", str(tiny.data_dir), "--bench-name", BENCH, *NO_SERVER, "--dry-run"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--answer-reasoning", "Strip"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        "mtbench-judge: error: argument --answer-reasoning: invalid choice: 'Strip'"
    )


def test_the_library_rejects_an_unknown_treatment_naming_the_flag(tiny):
    with pytest.raises(ConfigError, match=r"^--answer-reasoning must be one of keep, strip, got "):
        JudgeConfig(paths=tiny, answer_reasoning="remove").validate()
    with pytest.raises(ConfigError, match="answer_reasoning must be one of keep, strip"):
        build_matches([], {}, {}, "single", [], answer_reasoning="remove")


def test_the_case_data_gets_its_expected_warning(tmp_path, capsys):
    if not CASE.is_dir():
        pytest.skip(f"{CASE} is not here (it ships with the shared case folders)")
    shutil.copytree(CASE / "data", tmp_path / "data")
    shutil.copy(shared_file("judge_prompts.jsonl"), tmp_path / "data" / "judge_prompts.jsonl")
    paths = BenchPaths(tmp_path / "data", BENCH)
    plan, request = dry_run(paths, capsys, "--model-list", "thinker", "empty-one")
    assert warnings_about(plan, "thinker") == [WARNING]
    assert warnings_about(plan, "empty-one") == [
        "  warning: 'empty-one': 1 answer turn(s) empty, question(s) 1 (judged as they are)"
    ]
    assert "<think>" in request
    plan, request = dry_run(paths, capsys, "--model-list", "thinker", "--answer-reasoning", "strip")
    assert "(judged with the trace removed)" in warnings_about(plan, "thinker")[0]
    assert "<think>" not in request
