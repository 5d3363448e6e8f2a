"""Ray: two local CPU replicas give the same answers as one process, one row per question."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from mtbench.answers import load_answer_file
from mtbench.generation import GenConfig, generate_answers

pytestmark = pytest.mark.slow


def test_two_cpu_workers_match_a_single_process(bench, smollm2_model, smollm2_backend):
    # Roleplay 99-100 (sampled at 0.7) and reasoning 101-102 (greedy).
    questions = ["--question-begin", "18", "--question-end", "22"]
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "ray",
        "--data-dir", str(bench.data_dir), "--max-new-token", "8", "--num-workers", "2",
        *questions,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4 question(s) generated")
    lines = bench.answer_file("ray").read_text().splitlines()
    assert [json.loads(line)["question_id"] for line in lines] == [99, 100, 101, 102]

    single = GenConfig(
        model_path=str(smollm2_model),
        model_id="single",
        data_dir=str(bench.data_dir),
        max_new_token=8,
        question_begin=18,
        question_end=22,
    )
    generate_answers(single, backend=smollm2_backend)
    with_ray = load_answer_file(bench.answer_file("ray"))
    alone = load_answer_file(bench.answer_file("single"))
    assert {q: a.choices for q, a in with_ray.items()} == {q: a.choices for q, a in alone.items()}
