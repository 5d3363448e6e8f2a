"""The transformers backend on the real SmolLM2 model: batching, stopping, post-processing."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil

import pytest
from conftest import shared_file

from mtbench.backends.base import Backend, GenerationParams, finish_reason
from mtbench.backends.conv_templates import TEMPLATES
from mtbench.backends.hf_loading import convert_gguf_cached, gguf_cache_folder, resolve_model_path
from mtbench.backends.prompting import PromptFormat, cut_at_stop_str
from mtbench.data.questions import load_questions
from mtbench.errors import ConfigError


@pytest.fixture(scope="module")
def first_turns() -> list[list[dict[str, str]]]:
    """Turn 1 of five questions from different categories (prompts of different lengths)."""
    questions = load_questions(shared_file("question.jsonl"))
    picked = [q for q in questions if q.question_id in (81, 101, 113, 125, 131)]
    return [[{"role": "user", "content": q.turns[0]}] for q in picked]


def reference_generate(
    backend, fmt: PromptFormat, conversation, max_new_tokens: int
) -> tuple[str, int]:
    """FastChat's way: one prompt, greedy to EOS or the limit, then post-processing."""
    import torch

    ids = torch.tensor([fmt.encode(conversation)])
    with torch.inference_mode():
        output = backend.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=backend.pad_id,
        )
    generated = output[0, ids.shape[1] :].tolist()
    return fmt.finish(generated), len(generated)


@pytest.mark.model
def test_is_a_backend(smollm2_backend):
    assert isinstance(smollm2_backend, Backend)
    assert smollm2_backend.concurrent is False
    # No --num-threads: torch runs with the cores left free by other work, and says so.
    import torch

    assert smollm2_backend.num_threads == torch.get_num_threads() >= 1
    assert smollm2_backend.model_name == "smollm2"
    assert smollm2_backend.refills  # a plain Llama: decoded in refilled batches


@pytest.mark.model
def test_tokens_are_reported_step_by_step_and_add_up_to_the_calls_count(
    smollm2_backend, first_turns
):
    steps: list[int] = []
    smollm2_backend.token_listener = steps.append
    try:
        before = smollm2_backend.tokens_generated
        smollm2_backend.generate(first_turns[:3], GenerationParams(max_new_tokens=8))
    finally:
        smollm2_backend.token_listener = None
    assert len(steps) == 8 and steps[0] == 3  # every row runs in the first step
    assert sum(steps) == smollm2_backend.tokens_generated - before


@pytest.mark.model
def test_batched_greedy_equals_one_at_a_time(smollm2_backend, first_turns):
    params = GenerationParams(max_new_tokens=24)
    one_by_one = [smollm2_backend.generate([c], params)[0] for c in first_turns]
    batched = smollm2_backend.generate(first_turns, params)
    assert batched == one_by_one
    assert all(reply.strip() for reply in batched)


@pytest.mark.model
def test_matches_fastchat_style_generation(smollm2_backend, first_turns):
    fmt = smollm2_backend.format
    expected = [reference_generate(smollm2_backend, fmt, c, 24)[0] for c in first_turns[:3]]
    assert (
        smollm2_backend.generate(first_turns[:3], GenerationParams(max_new_tokens=24)) == expected
    )


@pytest.mark.parametrize("stop", ["str", "id"])
@pytest.mark.model
def test_stopping_early_gives_fastchats_cut_with_fewer_tokens(smollm2_backend, first_turns, stop):
    tokenizer = smollm2_backend.tokenizer
    base = dataclasses.replace(TEMPLATES["chatml"], name="test")
    if stop == "str":
        template = dataclasses.replace(base, stop_str=".")
    else:
        template = dataclasses.replace(base, stop_token_ids=(tokenizer.convert_tokens_to_ids(","),))
    fmt = PromptFormat(tokenizer, template)
    original = smollm2_backend.format
    smollm2_backend.format = fmt
    try:
        conversations = first_turns[:3]
        references = [reference_generate(smollm2_backend, fmt, c, 32) for c in conversations]
        before = smollm2_backend.tokens_generated
        replies = smollm2_backend.generate(conversations, GenerationParams(max_new_tokens=32))
        used = smollm2_backend.tokens_generated - before
    finally:
        smollm2_backend.format = original
    assert replies == [text for text, _ in references]
    assert used < sum(count for _, count in references)
    if stop == "str":
        assert all("." not in reply for reply in replies)


@pytest.mark.model
def test_out_of_memory_halves_the_batch_and_loses_nothing(
    smollm2_model, smollm2_backend, first_turns, caplog
):
    """Static batches (`generate`): a GPU running out of memory is simulated, batches above 2
    rows raise torch's own error. (Refilled batches: test_hf_refill.)"""
    import torch

    from mtbench.backends.hf import HFBackend
    from mtbench.errors import BackendError

    backend = HFBackend(str(smollm2_model), dtype="float32", batch_size=8, refill=False)
    assert not backend.refills
    real_generate = backend.model.generate
    rows_tried = []

    def limited_generate(*args, input_ids, **kwargs):
        rows_tried.append(input_ids.shape[0])
        if input_ids.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_generate(*args, input_ids=input_ids, **kwargs)

    backend.model.generate = limited_generate
    params = GenerationParams(max_new_tokens=16)
    with caplog.at_level("WARNING", logger="mtbench.backends.hf"):
        replies = backend.generate(first_turns, params)
    assert replies == smollm2_backend.generate(first_turns, params)
    assert rows_tried == [5, 2, 2, 1]  # halved from the rows tried, not from 8
    assert backend.batch_size(16) == 2  # later calls start at the size that fitted
    assert [r.getMessage() for r in caplog.records] == [
        "out of memory at batch size 5; retrying with 2",
    ]

    # Out of memory with a single row, or any other failure, is an error (one line), not a loop.
    def always_out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory.\nSee documentation for Memory Management")

    backend.model.generate = always_out_of_memory
    with pytest.raises(BackendError, match=r"^generation failed: CUDA out of memory\.$"):
        backend.generate(first_turns[:1], params)
    backend.close()


@pytest.mark.model
def test_replies_say_why_they_ended(smollm2_backend, first_turns):
    capped = smollm2_backend.generate(first_turns[:2], GenerationParams(max_new_tokens=2))
    assert [finish_reason(reply) for reply in capped] == ["length", "length"]
    short = [[{"role": "user", "content": "What is 2+2? Answer with a number only."}]]
    ended = smollm2_backend.generate(short, GenerationParams(max_new_tokens=64))[0]
    assert finish_reason(ended) == "stop" and "4" in ended
    # The reason survives pickling, as replies do when they come back from Ray workers.
    assert finish_reason(pickle.loads(pickle.dumps(ended))) == "stop"


@pytest.mark.model
def test_mixed_temperatures_share_a_batch_and_rows_do_not_depend_on_it(
    smollm2_backend, first_turns
):
    greedy = GenerationParams(max_new_tokens=16, seed=0)
    sampled = GenerationParams(max_new_tokens=16, temperature=0.7, seed=0)
    mixed = [greedy, sampled, greedy, sampled]
    replies = smollm2_backend.generate_each(first_turns[:4], mixed)
    alone = [smollm2_backend.generate([c], p)[0] for c, p in zip(first_turns, mixed, strict=False)]
    assert replies == alone  # greedy rows exact, sampled rows seeded per row
    assert all(reply for reply in replies)


@pytest.mark.model
def test_sampling_is_reproducible_for_a_seed(smollm2_backend, first_turns):
    params = GenerationParams(max_new_tokens=16, temperature=0.7, seed=3)
    assert smollm2_backend.generate(first_turns[:2], params) == smollm2_backend.generate(
        first_turns[:2], params
    )


@pytest.mark.model
def test_system_message_first_is_accepted(smollm2_backend):
    conversation = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello."},
    ]
    prompt = smollm2_backend.format.render(conversation)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    [reply] = smollm2_backend.generate([conversation], GenerationParams(max_new_tokens=8))
    assert isinstance(reply, str) and reply


@pytest.mark.model
def test_postprocessing_follows_fastchat(smollm2_backend):
    tokenizer = smollm2_backend.tokenizer
    ids = tokenizer(
        "  Hello<|im_end|> world ### Title<|im_start|>", add_special_tokens=False
    ).input_ids
    plain = PromptFormat(tokenizer)
    assert plain.finish(ids) == "Hello world ### Title"
    one_shot = PromptFormat(
        tokenizer, dataclasses.replace(TEMPLATES["one_shot"], system_message="", few_shot=())
    )
    assert one_shot.finish(ids) == "Hello world"
    world = tokenizer.convert_tokens_to_ids("Ġworld")
    with_ids = PromptFormat(
        tokenizer, dataclasses.replace(TEMPLATES["chatml"], stop_token_ids=(world,))
    )
    assert with_ids.finish(ids) == "Hello"


def test_cut_at_stop_str_keeps_a_stop_string_at_position_zero():
    assert cut_at_stop_str("### Heading\ntext ### more", "###") == "### Heading\ntext ### more"
    assert cut_at_stop_str("answer\n### Human: next", "###") == "answer\n"
    assert cut_at_stop_str("a</s>b\nUser", ["\nUser", "</s>"]) == "a"
    assert cut_at_stop_str("no stop", None) == "no stop"


@pytest.mark.model
def test_no_chat_template_and_no_conv_template_is_an_error(smollm2_backend):
    class NoTemplate:
        chat_template = None
        all_special_tokens: list[str] = []

    with pytest.raises(ConfigError, match="no chat template.*--conv-template"):
        PromptFormat(NoTemplate(), None, model_name="base-model")


@pytest.mark.model
def test_gguf_conversion_is_cached_and_keyed_by_transformers_version(
    smollm2_gguf, smollm2_model, model_cache_dir, monkeypatch
):
    stamp = (smollm2_model / "model.safetensors").stat().st_mtime_ns
    assert convert_gguf_cached(smollm2_gguf, model_cache_dir) == smollm2_model
    assert (smollm2_model / "model.safetensors").stat().st_mtime_ns == stamp
    assert resolve_model_path(str(smollm2_gguf), model_cache_dir) == str(smollm2_model)
    import transformers

    monkeypatch.setattr(transformers, "__version__", "0.0.1")
    assert gguf_cache_folder(smollm2_gguf, model_cache_dir) != smollm2_model


@pytest.mark.model
def test_model_path_errors_name_the_path(tmp_path, smollm2_model, monkeypatch):
    from mtbench.backends import hf_loading

    monkeypatch.setattr(hf_loading, "hub_reachable", lambda: None)  # as if online
    with pytest.raises(ConfigError, match="--model-path /no/such/model: no such file or folder"):
        resolve_model_path("/no/such/model")
    empty = tmp_path / "weights"
    empty.mkdir()
    (empty / "m.gguf").write_bytes(b"")
    with pytest.raises(ConfigError, match="no config.json.*give its path"):
        resolve_model_path(str(empty))
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(ConfigError, match="not a .gguf file"):
        resolve_model_path(str(text))
    with pytest.raises(ConfigError, match="hub id"):
        resolve_model_path("bad id with spaces")
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == (
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    )


@pytest.mark.model
def test_a_model_folder_without_chat_template_fails_clearly(tmp_path, smollm2_model):
    from mtbench.backends.hf import HFBackend

    folder = tmp_path / "base"
    folder.mkdir()
    for item in smollm2_model.iterdir():
        if item.name == "chat_template.jinja":
            continue
        if item.suffix == ".safetensors":
            os.symlink(item, folder / item.name)
        else:
            shutil.copy(item, folder / item.name)
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    tokenizer_config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    with pytest.raises(ConfigError, match="no chat template.*--conv-template NAME"):
        HFBackend(str(folder), model_name="base")


@pytest.mark.parametrize(
    ("cores", "total", "load", "env", "expected"),
    [
        (2, 2, 0.1, {}, 2),  # an idle machine: every core
        (2, 2, 1.2, {}, 1),  # one core kept busy by other work
        (2, 2, 7.5, {}, 1),  # busier than it has cores: still one thread
        (4, 64, 32.0, {}, 2),  # pinned to 4 of 64 cores, half of them busy
        (2, 2, 0.0, {"OMP_NUM_THREADS": "2"}, None),  # the user's choice: left to torch
    ],
)
def test_default_cpu_threads_leave_busy_cores_alone(monkeypatch, cores, total, load, env, expected):
    from mtbench.backends import hf_loading

    for name in hf_loading.THREAD_ENVS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "cpu_count", lambda: total)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert hf_loading.default_cpu_threads() == expected
