"""Continuous batching on the transformers path: rows leave as they end and new turns take their
slots (`mtbench.backends.hf_refill`, `hf_slots`). The cache's bookkeeping is checked on small
tensors; the rest on the real SmolLM2 model, against one-prompt-at-a-time generation."""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from collections.abc import Hashable

import pytest
from conftest import shared_file
from test_gen_driver import config_for
from test_hf_backend import reference_generate

from mtbench.backends.base import Conversation, GenerationParams, Reply, finish_reason
from mtbench.data.answers import load_answer_file
from mtbench.data.questions import load_questions
from mtbench.errors import BackendError
from mtbench.generation import FailedQuestionsError, generate_answers

HEADS, DIM, LAYERS = 2, 3, 2


class Rows:
    """What `KVSlots` must hold: every active row's keys and values, column by column."""

    def __init__(self, slots):
        import torch

        self.torch = torch
        self.slots = slots
        self.rows: list[list] = []  # per slot, per layer: (keys, values), shape (heads, n, dim)

    def prefilled(self, length: int):
        """A DynamicCache of one row of `length` random tokens (what `place` copies)."""
        from transformers import DynamicCache

        cache = DynamicCache()
        layers = []
        for index in range(LAYERS):
            keys = self.torch.randn(1, HEADS, length, DIM)
            values = self.torch.randn(1, HEADS, length, DIM)
            cache.update(keys, values, index)
            layers.append((keys[0], values[0]))
        return cache, layers

    def place(self, slot: int, length: int) -> None:
        cache, layers = self.prefilled(length)
        self.slots.place(slot, cache, length, room=4)
        if slot == len(self.rows):
            self.rows.append(layers)
        else:
            self.rows[slot] = layers

    def step(self) -> None:
        """One decoding step: each layer gets a new column per row, and the window it returns
        and the step's mask must show each row exactly its own columns, right-aligned."""
        self.slots.reserve()
        mask = self.slots.step_mask()[:, 0, 0, :]
        width = mask.shape[-1]
        for index in range(LAYERS):
            keys = self.torch.randn(len(self.rows), HEADS, 1, DIM)
            values = self.torch.randn(len(self.rows), HEADS, 1, DIM)
            window_keys, window_values = self.slots.cache.update(keys, values, index)
            assert window_keys.shape == (len(self.rows), HEADS, width, DIM)
            for slot, layers in enumerate(self.rows):
                old_keys, old_values = layers[index]
                layers[index] = (
                    self.torch.cat([old_keys, keys[slot]], dim=1),
                    self.torch.cat([old_values, values[slot]], dim=1),
                )
                own = layers[index][0].shape[1]
                assert mask[slot].tolist() == [False] * (width - own) + [True] * own
                assert self.torch.equal(window_keys[slot, :, width - own :], layers[index][0])
                assert self.torch.equal(window_values[slot, :, width - own :], layers[index][1])
        self.slots.advance()

    def finish(self, slot: int) -> None:
        """The row in `slot` ends and the last row moves into its slot."""
        last = self.slots.active - 1
        if slot != last:
            self.slots.move(last, slot)
            self.rows[slot] = self.rows[last]
        self.rows.pop()
        self.slots.active -= 1


@pytest.mark.extra("torch", "transformers")
def test_slots_keep_every_row_right_aligned_through_joins_moves_and_growth():
    import torch

    from mtbench.backends.hf_slots import KVSlots

    torch.manual_seed(0)
    rows = Rows(KVSlots(size=3, layers=LAYERS))
    rows.place(0, 3)
    rows.step()
    rows.place(1, 9)  # longer than the columns left of the write column: the window moves
    for _ in range(6):  # past the first buffer's columns: it grows
        rows.step()
    rows.place(2, 2)  # the batch grows to three rows
    rows.step()
    rows.finish(0)  # the oldest row ends: its slot takes the last row
    rows.place(2, 5)  # and a new row joins at the end
    for _ in range(3):
        rows.step()
    rows.finish(2)  # the last row ends: nothing moves
    rows.finish(0)
    capacity = rows.slots.capacity
    for step in range(3 * capacity):  # rows come and go: the window moves left, seldom grows
        rows.step()
        if step % 7 == 0:
            rows.place(len(rows.rows), 1 + step % 5)
        if step % 7 == 3 and len(rows.rows) > 1:
            rows.finish(0)
    assert rows.slots.capacity <= 2 * capacity


@pytest.mark.extra("torch", "transformers")
def test_an_eager_model_gets_an_additive_mask():
    import torch

    from mtbench.backends.hf_slots import KVSlots

    slots = KVSlots(size=2, layers=LAYERS, mask_dtype=torch.float32)
    rows = Rows(slots)
    rows.place(0, 1)
    rows.place(1, 3)
    slots.reserve()
    mask = slots.step_mask()
    minimum = torch.finfo(torch.float32).min
    assert mask[:, 0, 0, :].tolist() == [[minimum, minimum, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


# --- On SmolLM2 ---


@pytest.fixture(scope="module")
def first_turns() -> list[list[dict[str, str]]]:
    """Turn 1 of six questions from different categories (prompts of different lengths)."""
    questions = load_questions(shared_file("question.jsonl"))
    picked = [q for q in questions if q.question_id in (81, 95, 101, 113, 125, 131)]
    return [[{"role": "user", "content": q.turns[0]}] for q in picked]


@pytest.fixture(scope="module")
def static_backend(smollm2_model):
    """SmolLM2 generated by transformers' `generate` in static batches (as before refilling)."""
    from mtbench.backends.hf import HFBackend

    backend = HFBackend(str(smollm2_model), model_name="smollm2", dtype="float32", refill=False)
    yield backend
    backend.close()


class LoggedFeed:
    """A `TurnFeed` over conversations that records when each is taken and done."""

    def __init__(self, conversations: list[Conversation], params: list[GenerationParams]):
        self.items = list(enumerate(zip(conversations, params, strict=True)))
        self.replies: dict[Hashable, Reply] = {}
        self.events: list[tuple[str, Hashable]] = []

    def take(self):
        if not self.items:
            return None
        index, (conversation, params) = self.items.pop(0)
        self.events.append(("take", index))
        return index, conversation, params

    def done(self, key: Hashable, reply: Reply, tokens: int) -> None:
        self.events.append(("done", key))
        self.replies[key] = reply


@pytest.mark.model
def test_refilled_greedy_replies_equal_one_prompt_at_a_time(
    smollm2_backend, first_turns, monkeypatch
):
    limits = [20, 40, 12, 32, 26, 8]  # rows end at different steps, so slots get refilled
    params = [GenerationParams(max_new_tokens=n) for n in limits]
    feed = LoggedFeed(first_turns, params)
    steps: list[int] = []
    monkeypatch.setattr(smollm2_backend, "_batch_size", 3)
    monkeypatch.setattr(smollm2_backend, "token_listener", steps.append)
    before = smollm2_backend.tokens_generated
    smollm2_backend.generate_refilling(feed)
    fmt = smollm2_backend.format
    for index, (conversation, limit) in enumerate(zip(first_turns, limits, strict=True)):
        text, count = reference_generate(smollm2_backend, fmt, conversation, limit)
        assert feed.replies[index] == text
        assert finish_reason(feed.replies[index]) == ("length" if count == limit else "stop")
    # Three rows at most; a new conversation starts as soon as a row ends, not when all three do.
    assert max(steps) == 3 and sum(steps) == smollm2_backend.tokens_generated - before
    events = feed.events
    assert events[:3] == [("take", 0), ("take", 1), ("take", 2)]
    first_done = events.index(("done", 2))  # the 12-token row ends first
    assert events[first_done + 1] == ("take", 3)
    assert {key for kind, key in events[: first_done + 2] if kind == "take"} - {2} == {0, 1, 3}


@pytest.mark.model
def test_refilled_and_static_batches_give_the_same_replies_greedy_and_sampled(
    smollm2_backend, static_backend, first_turns
):
    params = [
        GenerationParams(max_new_tokens=24, temperature=temperature, seed=seed)
        for temperature, seed in [(0.0, 0), (0.7, 0), (0.0, 1), (0.7, 1), (0.1, 2), (0.7, 0)]
    ]
    refilled = smollm2_backend.generate_each(first_turns, params)
    assert refilled == static_backend.generate_each(first_turns, params)
    one_row = [
        smollm2_backend.generate_each([c], [p])[0] for c, p in zip(first_turns, params, strict=True)
    ]
    assert refilled == one_row  # sampled rows draw from their own seeded generator
    assert refilled[1] != refilled[5]  # same seed, other prompt: another reply


@pytest.mark.model
def test_answers_with_refilled_batches_equal_static_ones_over_both_turns(
    bench, smollm2_backend, static_backend, monkeypatch
):
    mixed = {"question_begin": 19, "question_end": 23}  # roleplay 100 (sampled), 101-103 greedy
    monkeypatch.setattr(smollm2_backend, "_batch_size", 2)
    real_forward = smollm2_backend.model.forward
    prefilled: list[int] = []

    @functools.wraps(real_forward)
    def counting(*args, **kwargs):
        if kwargs["input_ids"].shape[1] > 1:
            prefilled.append(kwargs["input_ids"].shape[1])
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(smollm2_backend.model, "forward", counting)
    summary = generate_answers(
        config_for(bench, "refilled", max_new_token=16, **mixed), backend=smollm2_backend
    )
    generate_answers(config_for(bench, "static", max_new_token=16, **mixed), backend=static_backend)
    refilled = load_answer_file(bench.answer_file("refilled"))
    static = load_answer_file(bench.answer_file("static"))
    assert sorted(refilled) == sorted(static) == [100, 101, 102, 103]
    for qid in refilled:
        assert refilled[qid].choices == static[qid].choices
    assert 0 < summary.tokens <= 4 * 2 * 16
    # Turn 2 kept turn 1's keys and values: only its new user message (and any part of the
    # reply that re-encodes differently) was prefilled.
    fmt = smollm2_backend.format
    questions = {q.question_id: q for q in load_questions(bench.question_file)}
    first, second = [], []
    for qid, answer in refilled.items():
        user = questions[qid].turns
        first.append(len(fmt.encode([{"role": "user", "content": user[0]}])))
        conversation = [
            {"role": "user", "content": user[0]},
            {"role": "assistant", "content": answer.choices[0].turns[0]},
            {"role": "user", "content": user[1]},
        ]
        second.append(len(fmt.encode(conversation)))
    new_messages = sum(b - a for a, b in zip(first, second, strict=True))
    assert sum(prefilled) <= sum(first) + new_messages < sum(first) + sum(second)


@pytest.mark.model
def test_out_of_memory_halves_the_rows_and_restarts_them(
    smollm2_model, smollm2_backend, first_turns, caplog
):
    """Running out of memory is simulated: steps of more than 2 rows raise torch's own error."""
    import torch

    from mtbench.backends.hf import HFBackend

    backend = HFBackend(str(smollm2_model), dtype="float32", batch_size=5)
    real_forward = backend.model.forward
    rows_tried: list[int] = []

    @functools.wraps(real_forward)
    def limited_forward(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        rows_tried.append(rows)
        if rows > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(*args, **kwargs)

    backend.model.forward = limited_forward
    steps: list[int] = []
    backend.token_listener = steps.append
    params = GenerationParams(max_new_tokens=12, temperature=0.7, seed=4)
    with caplog.at_level("WARNING", logger="mtbench.backends.hf_refill"):
        replies = backend.generate(first_turns[:5], params)
    assert replies == smollm2_backend.generate(first_turns[:5], params)
    assert max(rows_tried) == 5 and rows_tried.count(5) == 1  # one step of 5, then at most 2
    assert backend.batch_size(12) == 2  # later calls start at the size that fitted
    assert [r.getMessage() for r in caplog.records] == [
        "out of memory with 5 rows; going on with 2"
    ]
    assert sum(steps) == backend.tokens_generated  # restarted tokens taken back

    def always_out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory.\nSee documentation for Memory Management")

    backend.model.forward = functools.wraps(real_forward)(always_out_of_memory)
    with pytest.raises(BackendError, match=r"^generation failed: CUDA out of memory\.$"):
        backend.generate(first_turns[:1], params)
    backend.close()


@pytest.mark.model
def test_a_failed_step_costs_only_the_questions_under_way_and_a_rerun_finishes(
    bench, smollm2_backend, monkeypatch
):
    monkeypatch.setattr(smollm2_backend, "_batch_size", 2)
    real_forward = smollm2_backend.model.forward
    calls = 0

    @functools.wraps(real_forward)
    def failing_once(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 12:
            raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED (simulated)")
        return real_forward(*args, **kwargs)

    config = config_for(bench, "flaky", question_end=4, max_new_token=6, force_temperature=0.0)
    monkeypatch.setattr(smollm2_backend.model, "forward", failing_once)
    with pytest.raises(FailedQuestionsError, match="simulated") as failed:
        generate_answers(config, backend=smollm2_backend)
    lost = failed.value.summary.failed
    assert 1 <= len(lost) <= 2  # the two rows under way
    written = load_answer_file(bench.answer_file("flaky"))
    assert sorted([*written, *lost]) == [81, 82, 83, 84]
    monkeypatch.setattr(smollm2_backend.model, "forward", real_forward)
    retry = generate_answers(config, backend=smollm2_backend)
    assert (retry.generated, retry.already_done) == (len(lost), len(written))
    generate_answers(dataclasses.replace(config, model_id="clean"), backend=smollm2_backend)
    clean = load_answer_file(bench.answer_file("clean"))
    again = load_answer_file(bench.answer_file("flaky"))
    assert {q: a.choices for q, a in again.items()} == {q: a.choices for q, a in clean.items()}


@pytest.mark.model
def test_eager_attention_refills_with_an_additive_mask(smollm2_backend, first_turns):
    model = smollm2_backend.model
    params = GenerationParams(max_new_tokens=16)
    expected = smollm2_backend.generate(first_turns[:4], params)
    model.set_attn_implementation("eager")
    try:
        assert smollm2_backend.generate(first_turns[:4], params) == expected
    finally:
        model.set_attn_implementation("sdpa")


@pytest.mark.model
def test_a_generation_config_with_a_repetition_penalty_keeps_static_batches(
    smollm2_model, first_turns, tmp_path
):
    from mtbench.backends.hf import HFBackend

    folder = tmp_path / "penalized"
    shutil.copytree(smollm2_model, folder)
    config_file = folder / "generation_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "repetition_penalty": 1.3}))
    backend = HFBackend(str(folder), dtype="float32")
    assert not backend.refills  # the refill loop would not apply the penalty
    replies = backend.generate(first_turns[:2], GenerationParams(max_new_tokens=16))
    expected = [reference_generate(backend, backend.format, c, 16)[0] for c in first_turns[:2]]
    assert replies == expected
    backend.close()
