"""A local transformers model as the judge: SmolLM2 through mtbench-judge, end to end.

SmolLM2-135M is far too small to grade answers: most of its verdicts cannot be parsed. What is
tested is the plumbing: batches reach the local backend, the rows are FastChat's, unparseable
verdicts are stored as -1 / error and counted, and a rerun resumes.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli, shared_file

from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths

pytestmark = pytest.mark.model


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    bench.answer_dir.mkdir(parents=True)
    for model in ("alpaca-13b", "vicuna-7b-v1.3"):
        shutil.copy(shared_file(f"model_answer/{model}.jsonl"), bench.answer_file(model))
    return bench


def test_smollm2_judges_single_answers_and_resumes(data, smollm2_model, model_cache_dir):
    args = [
        "--data-dir",
        str(data.data_dir),
        "--judge-model-path",
        str(smollm2_model),
        "--model-list",
        "alpaca-13b",
        "--judge-max-tokens",
        "24",
        "--batch-size",
        "3",
    ]
    env = {"MTBENCH_CACHE_DIR": str(model_cache_dir)}
    first = run_cli("judge", *args, "--first-n", "1", env=env)
    assert "no API cost (local model)" in first.stderr
    name = smollm2_model.name
    path = data.judgment_file(name, "single")
    rows = list(load_single_judgments(path)) if path.exists() else []
    # A reply cut at 24 tokens before its verdict is asked again with more room; one that never
    # fits is a failed call (exit 1), never a -1 row.
    assert first.returncode == (0 if len(rows) == 2 else 1), first.stderr
    assert f"judged:     {len(rows)} of 2 match(es)" in first.stderr
    assert {(r.question_id, r.turn) for r in rows} <= {(81, 1), (81, 2)}
    for row in rows:
        assert row.judge[0] == name and row.judgment.strip()
        assert row.score != -1 or row.extra["judge_meta"]["finish_reason"] != "length"
    unparsed = sum(r.score == -1 for r in rows)
    assert f"unparsed:   {unparsed} verdict(s)" in first.stderr
    # A rerun with more questions judges only what is not written yet.
    second = run_cli("judge", *args, "--first-n", "2", env=env)
    assert f"4 ({len(rows)} already judged, {4 - len(rows)} to judge)" in second.stderr
    again = list(load_single_judgments(path)) if path.exists() else []
    assert len({r.key for r in again}) == len(again)  # no match written twice


def test_smollm2_judges_pairs_in_batches(data, smollm2_backend, tmp_path):
    from mtbench.backends.base import GenerationParams
    from mtbench.data.answers import load_answer_file
    from mtbench.data.judge_prompts import load_judge_prompts
    from mtbench.data.questions import load_questions
    from mtbench.judging import build_matches, make_judges, run_matches

    questions = load_questions(data.question_file, end=1)
    answers = {m: load_answer_file(data.answer_file(m)) for m in ("alpaca-13b", "vicuna-7b-v1.3")}
    judges = make_judges(load_judge_prompts(data.judge_prompts_file), "smollm2", "pairwise-all")
    matches = build_matches(questions, answers, judges, "pairwise-all", list(answers))
    output = tmp_path / "smollm2_pair.jsonl"
    stats = run_matches(
        matches, smollm2_backend, output, GenerationParams(max_new_tokens=16), batch_size=3
    )
    rows = list(load_pair_judgments(output)) if output.exists() else []
    # Games cut before their verdict (likely at 16 tokens) fail their match instead of `error`.
    assert stats.judged == len(rows) and stats.judged + stats.failed == 2
    assert stats.calls_done == 4
    assert stats.unparsed == sum("error" in (r.g1_winner, r.g2_winner) for r in rows)
    for row in rows:
        assert row.g1_user_prompt != row.g2_user_prompt and row.g1_judgment and row.g2_judgment
    if rows:
        assert json.loads(output.read_text().splitlines()[0])["judge"] == ["smollm2", "pair-v2"]


def test_a_local_judge_whose_chat_template_opens_a_trace_is_read_after_it(
    data, smollm2_model, tmp_path, model_cache_dir, monkeypatch
):
    """A chat template that ends the prompt with `<think>` (as DeepSeek-R1's does): the model
    writes only the rest of the trace, so its whole reply is thinking until it closes the tag.
    Nothing in it may be read as the verdict, and the stored judgment never holds it."""
    import io

    from mtbench.errors import BackendError
    from mtbench.judging import JudgeConfig
    from mtbench.judging.pipeline import judge
    from mtbench.judging.runner import JudgeStats

    thinking = tmp_path / "thinking-judge"
    shutil.copytree(smollm2_model, thinking)
    template = thinking / "chat_template.jinja"
    template.write_text(
        template.read_text().rstrip("\n") + "{% if add_generation_prompt %}<think>\n{% endif %}"
    )
    monkeypatch.setenv("MTBENCH_CACHE_DIR", str(model_cache_dir))
    stats = JudgeStats()
    config = JudgeConfig(
        paths=data,
        judge_model_path=str(thinking),
        model_list=["alpaca-13b"],
        first_n=1,
        max_tokens=24,
    )
    try:
        judge(config, err=io.StringIO(), stats=stats)
    except BackendError:
        pass  # calls cut by the small limit every time are failed calls, not judgments
    assert stats.judged + stats.no_verdict == 2
    path = data.judgment_file("thinking-judge", "single")
    rows = list(load_single_judgments(path)) if path.exists() else []
    assert len(rows) == stats.judged
    for row in rows:
        reasoning = row.extra["judge_meta"]["reasoning"]
        assert reasoning.startswith("<think>\n") and "<think>" not in row.judgment
        if "</think>" not in reasoning:
            assert (row.judgment, row.score) == ("", -1)
