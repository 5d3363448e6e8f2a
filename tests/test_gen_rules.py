"""Generation rules without a model: temperatures, reasoning traces, resume plans, grouping,
replica placement, flag checks, and vLLM's sampling parameters."""

from __future__ import annotations

import json

import pytest
from conftest import shared_file

from mtbench.backends.base import GenerationParams
from mtbench.backends.vllm import sampling_kwargs
from mtbench.data.questions import Question, load_questions
from mtbench.errors import ConfigError
from mtbench.generation.config import GenConfig, plan_placement
from mtbench.generation.plan import make_plan
from mtbench.generation.reasoning import split_reasoning
from mtbench.generation.sampling import choice_params, question_temperature
from mtbench.generation.scheduler import Task, make_groups


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(shared_file("question.jsonl"))


# --- temperatures and seeds (spec §3.2, checklist 8) ---


def test_fastchat_category_temperatures(questions):
    by_category = {q.category: question_temperature(q) for q in questions}
    assert by_category == {
        "writing": 0.7,
        "roleplay": 0.7,
        "reasoning": 0.0,
        "math": 0.0,
        "coding": 0.0,
        "extraction": 0.0,
        "stem": 0.1,
        "humanities": 0.1,
    }
    assert question_temperature(Question(1, "unknown-category", ("q",))) == 0.7


def test_required_and_forced_temperatures_take_precedence():
    question = Question(1, "math", ("q",), required_temperature=0.3)
    assert question_temperature(question) == 0.3
    assert question_temperature(question, force_temperature=0.9) == 0.9


def test_greedy_below_1e_4_and_seed_is_the_choice_index(questions):
    math = next(q for q in questions if q.category == "math")
    stem = next(q for q in questions if q.category == "stem")
    assert choice_params(math, 0, 64).greedy
    params = choice_params(stem, 2, 64)
    assert not params.greedy and params.seed == 2 and params.max_new_tokens == 64
    assert GenerationParams(temperature=0.00009).greedy
    assert not GenerationParams(temperature=0.0001).greedy
    assert choice_params(stem, 2, 64, seed=None).seed is None
    assert choice_params(stem, 2, 64, seed=9).seed == 9


@pytest.mark.parametrize(
    ("backend", "seed", "seeds", "recorded"),
    [
        ("hf", None, [0, 1, 2], None),  # FastChat's gen_model_answer: torch.manual_seed(i)
        ("vllm", None, [0, 1, 2], None),
        ("hf", 0, [0, 1, 2], None),  # the same seeds: rows need not be regenerated
        ("hf", 5, [5, 6, 7], 5),
        ("openai", None, [None, None, None], None),  # FastChat's gen_api_answer sends none
        ("anthropic", None, [None, None, None], None),
        ("fake", None, [None, None, None], None),
        ("openai", 0, [0, 1, 2], 0),
        ("openai", 3, [3, 4, 5], 3),
    ],
)
def test_choice_seeds_follow_fastchat_unless_seed_is_given(backend, seed, seeds, recorded):
    config = GenConfig("x", "m", backend=backend, seed=seed)
    assert [config.choice_seed(i) for i in range(3)] == seeds
    assert config.settings().get("seed") == recorded


# --- reasoning traces ---


@pytest.mark.parametrize(
    ("reply", "answer", "trace"),
    [
        ("<think>plan</think>\n\nThe answer.", "The answer.", "<think>plan</think>"),
        ("plan only closed</think> Answer", "Answer", "plan only closed</think>"),
        ("  <think>cut by the token limit", "", "<think>cut by the token limit"),
        ("A plain answer.", "A plain answer.", ""),
    ],
)
def test_split_reasoning(reply, answer, trace):
    assert split_reasoning(reply) == (answer, trace)


def test_turn_two_sees_the_answer_without_its_trace():
    task = Task(Question(1, "writing", ("Q1", "Q2")), 0, GenerationParams(), system_message="S")
    task.record("<think>hmm</think>A1")
    assert task.conversation() == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]
    assert task.traces == ["<think>hmm</think>"]
    kept = Task(Question(1, "writing", ("Q1", "Q2")), 0, GenerationParams(), strip_reasoning=False)
    kept.record("<think>hmm</think>A1")
    assert kept.answers == ["<think>hmm</think>A1"]


# --- resume plans ---


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def row(qid, settings=None):
    base = {
        "question_id": qid,
        "answer_id": f"id{qid}",
        "model_id": "m",
        "choices": [{"index": 0, "turns": ["a", "b"]}],
        "tstamp": 1.0,
    }
    if settings is not None:
        base["generation"] = settings
    return base


def test_plan_resumes_by_settings(tmp_path, questions):
    config = GenConfig(model_path="org/model", model_id="m", max_new_token=64)
    settings = config.settings()
    answer_file = tmp_path / "m.jsonl"
    other = {**settings, "max_new_token": 32}
    cosmetic = {**settings, "backend": "vllm", "dtype": "bfloat16"}
    write_rows(
        answer_file, [row(81, settings), row(82, other), row(83, cosmetic), row(84), row(999)]
    )
    plan = make_plan(questions[:6], answer_file, settings, overwrite=False)
    assert plan.done == [81, 83, 84]
    assert plan.stale == [82]
    assert [q.question_id for q in plan.todo] == [82, 85, 86]
    everything = make_plan(questions[:6], answer_file, settings, overwrite=True)
    assert [q.question_id for q in everything.todo] == [81, 82, 83, 84, 85, 86]
    assert make_plan(questions[:2], tmp_path / "none.jsonl", settings, False).done == []


# --- grouping ---


def tasks_for(questions, choices=1):
    return [Task(q, c, choice_params(q, c, 16)) for q in questions for c in range(choices)]


def test_groups_share_one_sampling_setting_and_split_evenly(questions):
    groups = make_groups(tasks_for(questions, choices=2), chunk_size=16, slots=1)
    for group in groups:
        assert len({t.params for t in group.tasks}) == 1
    sizes = [len(g.tasks) for g in groups]
    assert sum(sizes) == 160 and max(sizes) <= 16
    greedy_choice0 = [
        len(g.tasks) for g in groups if g.tasks[0].params.greedy and g.tasks[0].choice == 0
    ]
    assert greedy_choice0 == [14, 13, 13]  # 40 questions in 3 even groups, not 16+16+8


def test_groups_mix_temperatures_when_the_engine_can(questions):
    groups = make_groups(tasks_for(questions, choices=2), 16, 1, mix_temperatures=True)
    assert [len(g.tasks) for g in groups] == [16] * 10
    for group in groups:
        assert len({t.choice for t in group.tasks}) == 1
    assert len({t.params.temperature for t in groups[0].tasks}) > 1


def test_groups_sort_longest_first_and_feed_every_replica(questions):
    groups = make_groups(tasks_for(questions[:4]), chunk_size=16, slots=2)
    assert len(groups) == 2
    lengths = [len(t.question.turns[0]) for t in groups[0].tasks]
    assert lengths == sorted(lengths, reverse=True)


# --- flags and placement ---


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_new_token": 0}, "--max-new-token must be at least 1"),
        ({"num_choices": 0}, "--num-choices must be at least 1"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"num_workers": 2, "num_gpus_total": 2}, "--num-workers is for CPU runs"),
        ({"num_gpus_total": 3, "num_gpus_per_model": 2}, "not a multiple"),
        ({"model_id": "org/model"}, "subfolder"),
        ({"model_id": " "}, "--model-id must not be empty"),
        ({"backend": "tgi"}, "--backend tgi"),
        ({"max_gpu_memory": "40"}, "--max-gpu-memory 40: give a size per GPU such as 40GiB"),
        ({"max_gpu_memory": "40Gb"}, "--max-gpu-memory 40Gb"),  # accelerate: bits
        ({"gpu_memory_utilization": 90}, "above 0 and at most 1, got 90"),
        ({"gpu_memory_utilization": 0.5}, "--gpu-memory-utilization is for --backend vllm"),
        ({"max_model_len": 4096}, "--max-model-len is for --backend vllm"),
        ({"backend": "vllm", "max_model_len": 0}, "--max-model-len must be at least 1"),
        ({"backend": "vllm", "max_gpu_memory": "40GiB"}, "use --gpu-memory-utilization"),
        ({"backend": "vllm", "batch_size": 8}, "vLLM schedules batches itself"),
        ({"backend": "openai", "max_model_len": 4096}, "--max-model-len is for local models"),
    ],
)
def test_bad_flag_values(changes, message):
    config = GenConfig(**{"model_path": "x", "model_id": "m", **changes})
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_placement(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    place = plan_placement
    cpu = place(GenConfig("x", "m"), visible_gpus=0, ray_available=True)
    assert (cpu.replicas, cpu.gpus_per_replica, cpu.use_ray) == (1, 0, False)
    workers = place(GenConfig("x", "m", num_workers=2), 0, True)
    assert (workers.replicas, workers.use_ray) == (2, True)
    four = place(GenConfig("x", "m"), visible_gpus=4, ray_available=True)
    assert (four.replicas, four.gpus_per_replica, four.use_ray) == (4, 1, True)
    pairs = place(GenConfig("x", "m", num_gpus_per_model=2), 4, True)
    assert (pairs.replicas, pairs.gpus_per_replica) == (2, 2)
    no_ray = place(GenConfig("x", "m"), visible_gpus=4, ray_available=False)
    assert (no_ray.replicas, no_ray.use_ray) == (1, False)
    with pytest.raises(ConfigError, match="only 2 GPU"):
        place(GenConfig("x", "m", num_gpus_total=4), 2, True)
    with pytest.raises(ConfigError, match="no GPU is visible"):
        place(GenConfig("x", "m", num_gpus_per_model=2), 0, True)
    with pytest.raises(ConfigError, match="--backend vllm runs several replicas only"):
        place(GenConfig("x", "m", backend="vllm", num_gpus_per_model=2), 4, True)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert place(GenConfig("x", "m"), visible_gpus=1, ray_available=True).use_ray


# --- vLLM sampling parameters (vLLM itself is not installed here) ---


def test_vllm_sampling_follows_transformers_defaults():
    defaults = {"top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}
    greedy = sampling_kwargs(GenerationParams(max_new_tokens=8), defaults, ())
    assert greedy["temperature"] == 0.0 and "seed" not in greedy and "stop_token_ids" not in greedy
    assert greedy["skip_special_tokens"] is False and greedy["max_tokens"] == 8
    sampled = sampling_kwargs(
        GenerationParams(max_new_tokens=8, temperature=0.7, seed=1), defaults, (2,)
    )
    assert sampled["temperature"] == 0.7 and sampled["seed"] == 1 and sampled["top_k"] == 50
    assert sampled["stop_token_ids"] == [2]


def test_importing_the_generator_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, mtbench.cli.gen, mtbench.generation, mtbench.backends.hf, "
        "mtbench.backends.vllm; "
        "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'ray') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
