"""`generate_answers` in process: rows, batching and choices on SmolLM2 (slow); failures,
reasoning traces and the thread pool of concurrent backends with the fake backend."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from mtbench.backends.base import Conversation
from mtbench.backends.fake import FakeBackend, echo
from mtbench.data.answers import load_answer_file
from mtbench.errors import BackendError
from mtbench.generation import (
    FailedQuestionsError,
    GenConfig,
    GenerationStoppedError,
    generate_answers,
)

GREEDY = {"question_begin": 30, "question_end": 33}  # math questions 111-113: temperature 0


def config_for(bench, model_id: str, **changes) -> GenConfig:
    values = {
        "model_path": "unused-when-a-backend-is-given",
        "model_id": model_id,
        "paths": bench,
        "max_new_token": 12,
        **changes,
    }
    return GenConfig(**values)


@pytest.fixture
def batch_size(smollm2_backend):
    """Set the shared backend's batch size for one test."""
    original = smollm2_backend._batch_size

    def set_size(size: int | None) -> None:
        smollm2_backend._batch_size = size

    yield set_size
    smollm2_backend._batch_size = original


@pytest.mark.model
def test_rows_are_fastchats_format_sorted_one_per_question(bench, smollm2_backend):
    summary = generate_answers(config_for(bench, "smol", question_end=3), backend=smollm2_backend)
    assert summary.generated == 3 and not summary.failed and summary.tokens > 0
    lines = bench.answer_file("smol").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["question_id"] for r in rows] == [81, 82, 83]
    for line, row in zip(lines, rows, strict=True):
        assert list(row)[:5] == ["question_id", "answer_id", "model_id", "choices", "tstamp"]
        assert line == json.dumps(row)  # FastChat's json.dumps layout
        assert row["model_id"] == "smol" and len(row["answer_id"]) == 22
        assert [c["index"] for c in row["choices"]] == [0]
        assert len(row["choices"][0]["turns"]) == 2
        assert all(isinstance(t, str) and t for t in row["choices"][0]["turns"])
        assert row["generation"]["max_new_token"] == 12
        assert row["generation"]["prompt"] == "chat_template"


@pytest.mark.model
def test_batched_answers_equal_one_question_at_a_time(bench, smollm2_backend, batch_size):
    mixed = {"question_begin": 19, "question_end": 22}  # roleplay 100 (sampled), 101-102 greedy
    batch_size(1)
    generate_answers(config_for(bench, "one", **mixed), backend=smollm2_backend)
    batch_size(4)
    generate_answers(config_for(bench, "four", **mixed), backend=smollm2_backend)
    one = load_answer_file(bench.answer_file("one"))
    four = load_answer_file(bench.answer_file("four"))
    assert sorted(one) == sorted(four) == [100, 101, 102]
    for qid in one:
        assert one[qid].choices == four[qid].choices


@pytest.mark.model
def test_choices_are_seeded_by_index(bench, smollm2_backend):
    # Question 81 is `writing`: sampled at temperature 0.7.
    generate_answers(
        config_for(bench, "two", question_end=1, num_choices=2), backend=smollm2_backend
    )
    [answer] = load_answer_file(bench.answer_file("two")).values()
    assert [c.index for c in answer.choices] == [0, 1]
    assert answer.choices[0].turns != answer.choices[1].turns
    generate_answers(
        config_for(bench, "two-again", question_end=1, num_choices=2), backend=smollm2_backend
    )
    [again] = load_answer_file(bench.answer_file("two-again")).values()
    assert again.choices == answer.choices


@pytest.mark.model
def test_seed_n_seeds_choice_i_with_n_plus_i(bench, smollm2_backend):
    generate_answers(
        config_for(bench, "default", question_end=1, num_choices=2), backend=smollm2_backend
    )
    generate_answers(config_for(bench, "seed-1", question_end=1, seed=1), backend=smollm2_backend)
    [default] = load_answer_file(bench.answer_file("default")).values()
    [seeded] = load_answer_file(bench.answer_file("seed-1")).values()
    assert seeded.choices[0].turns == default.choices[1].turns  # seed 1 + choice 0 = choice 1
    assert seeded.extra["generation"]["seed"] == 1 and "seed" not in default.extra["generation"]


@pytest.mark.model
def test_overwrite_regenerates_and_a_settings_change_regenerates(bench, smollm2_backend):
    config = config_for(bench, "ow", **GREEDY)
    generate_answers(config, backend=smollm2_backend)
    first = load_answer_file(bench.answer_file("ow"))
    again = generate_answers(config, backend=smollm2_backend)
    assert (again.generated, again.already_done) == (0, 3)
    generate_answers(replace(config, overwrite=True), backend=smollm2_backend)
    second = load_answer_file(bench.answer_file("ow"))
    assert {q: a.answer_id for q, a in first.items()} != {q: a.answer_id for q, a in second.items()}
    assert {q: a.choices for q, a in first.items()} == {q: a.choices for q, a in second.items()}
    changed = generate_answers(
        config_for(bench, "ow", max_new_token=6, **GREEDY), backend=smollm2_backend
    )
    assert changed.regenerated == 3
    assert len(bench.answer_file("ow").read_text().splitlines()) == 3


def failing_for(marker: str) -> FakeBackend:
    """A local-engine stand-in, one conversation per call, failing every call with `marker`."""

    def reply(conversation: Conversation) -> str:
        if any(marker in message["content"] for message in conversation):
            raise BackendError("out of GPU memory (simulated)")
        return echo(conversation)

    return FakeBackend(reply, batch_size=1)


def test_a_failed_question_gets_no_row_and_a_rerun_retries_it(bench):
    questions = [json.loads(line) for line in bench.question_file.read_text().splitlines()]
    marker = questions[31]["turns"][0][:40]  # question 112
    failing = failing_for(marker)
    with pytest.raises(FailedQuestionsError, match=r"1 question\(s\) failed \(112\)") as failed:
        generate_answers(config_for(bench, "flaky", **GREEDY), backend=failing)
    summary = failed.value.summary
    assert list(summary.failed) == [112]
    assert "simulated" in summary.failed[112]
    assert sorted(load_answer_file(bench.answer_file("flaky"))) == [111, 113]
    retry = generate_answers(config_for(bench, "flaky", **GREEDY), backend=FakeBackend())
    assert (retry.generated, retry.already_done) == (1, 2)
    assert sorted(load_answer_file(bench.answer_file("flaky"))) == [111, 112, 113]


def test_a_refilling_engine_gets_turn_two_before_new_questions(bench):
    """A local engine that refills its batch takes turns one at a time (`TurnFeed`)."""
    backend = FakeBackend(refill=True, batch_size=2)
    summary = generate_answers(config_for(bench, "refill", question_end=4), backend=backend)
    assert summary.generated == 4 and not summary.failed
    started = [(c[0]["content"], len(c) // 2 + 1) for c in backend.conversations]
    first = [text for text, turn in started if turn == 1]
    assert len(first) == 4
    # Two rows: both first turns start, and each second turn as soon as its first one ends.
    a, b, c, d = first
    assert started[2:4] == [(a, 2), (b, 2)] and started[6:] == [(c, 2), (d, 2)]
    answers = load_answer_file(bench.answer_file("refill"))
    for conversation in backend.conversations[2:4]:  # turn 2 carries turn 1's answer
        assert conversation[1] == {"role": "assistant", "content": echo(conversation[:1])}
    assert summary.tokens == sum(
        len(turn.split()) for answer in answers.values() for turn in answer.choices[0].turns
    )


def test_a_failure_in_a_refilled_batch_costs_only_the_rows_under_way(bench):
    questions = [json.loads(line) for line in bench.question_file.read_text().splitlines()]
    marker = questions[31]["turns"][0][:40]  # question 112

    def reply(conversation: Conversation) -> str:
        if any(marker in message["content"] for message in conversation):
            raise BackendError("out of GPU memory (simulated)")
        return echo(conversation)

    flaky = FakeBackend(reply, batch_size=2, refill=True)
    with pytest.raises(FailedQuestionsError) as failed:
        generate_answers(config_for(bench, "flaky", **GREEDY), backend=flaky)
    lost = failed.value.summary.failed
    assert 112 in lost and len(lost) <= 2  # 112 and the row beside it, if any
    written = sorted(load_answer_file(bench.answer_file("flaky")))
    assert sorted([*written, *lost]) == [111, 112, 113]
    retry = generate_answers(
        config_for(bench, "flaky", **GREEDY), backend=FakeBackend(refill=True, batch_size=2)
    )
    assert (retry.generated, retry.already_done) == (len(lost), len(written))
    assert sorted(load_answer_file(bench.answer_file("flaky"))) == [111, 112, 113]


def test_repeated_failures_stop_a_refilling_run(bench):
    def down(conversation: Conversation) -> str:
        raise BackendError("the model failed (simulated)")

    dead = FakeBackend(down, batch_size=2, refill=True)
    with pytest.raises(GenerationStoppedError, match="simulated") as stopped:
        generate_answers(config_for(bench, "dead", question_end=10), backend=dead)
    assert len(dead.calls) == 3  # three failed rounds in a row, each losing two rows
    summary = stopped.value.summary
    assert (len(summary.failed), summary.unfinished, summary.generated) == (6, 4, 0)


def test_repeated_failures_stop_the_run(bench):
    failing = failing_for("")  # every call fails
    with pytest.raises(BackendError, match="simulated"):
        generate_answers(config_for(bench, "dead", question_end=10), backend=failing)
    assert len(failing.calls) == 3


def test_reasoning_traces_are_kept_apart_from_judged_answers(bench):
    thinking = FakeBackend(lambda conversation: "<think>step 0</think>" + echo(conversation))
    generate_answers(config_for(bench, "think", question_end=1), backend=thinking)
    row = json.loads(bench.answer_file("think").read_text())
    assert row["reasoning"] == [{"index": 0, "turns": ["<think>step 0</think>"] * 2}]
    assert not any("<think>" in turn for turn in row["choices"][0]["turns"])
    turn_two = thinking.conversations[-1]
    assert turn_two[1] == {"role": "assistant", "content": row["choices"][0]["turns"][0]}


@pytest.mark.model
def test_a_bare_answer_file_name_works(bench, smollm2_backend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # FastChat fails on an --answer-file without a folder part
    config = config_for(bench, "bare", question_end=1, max_new_token=4, answer_file="out.jsonl")
    assert generate_answers(config, backend=smollm2_backend).generated == 1
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["question_id"] for line in lines] == [81]


def test_concurrent_backends_get_one_conversation_per_call_from_a_pool(bench):
    def slow_echo(conversation: Conversation) -> str:
        time.sleep(0.05)  # long enough for the calls to overlap
        return f"echo: {conversation[-1]['content'][:10]}"

    api = FakeBackend(slow_echo, concurrent=True)  # a remote-API-like backend
    config = config_for(bench, "api", question_end=8, parallel=4)
    summary = generate_answers(config, backend=api)
    assert summary.generated == 8 and summary.tokens is None
    # 8 questions x 2 turns, one conversation each
    assert [len(call.conversations) for call in api.calls] == [1] * 16
    assert len({call.thread for call in api.calls}) > 1
    rows = load_answer_file(bench.answer_file("api"))
    assert sorted(rows) == list(range(81, 89))
    assert rows[81].turns[1].startswith("echo: ")
