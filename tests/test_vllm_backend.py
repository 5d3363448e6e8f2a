"""The vLLM backend without vLLM: the clear error, and its own logic around a stand-in engine.

vLLM needs a GPU and is not installed here, so `vllm.LLM` itself is never run by these tests.
What is checked is mtbench's side: the engine arguments, prompts handed over as token ids
rendered by the real SmolLM2 tokenizer, one sampling setting per request, FastChat's
post-processing of the returned token ids, and token counting.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import types

import pytest

from mtbench.backends.base import GenerationParams
from mtbench.errors import MissingDependencyError

# The stand-in engine is driven with the real SmolLM2 tokenizer.
pytestmark = pytest.mark.model


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_missing_vllm_names_the_extra(smollm2_model):
    from mtbench.backends.vllm import VLLMBackend

    with pytest.raises(MissingDependencyError, match=r"pip install 'mtbench-toolkit\[vllm\]'"):
        VLLMBackend(str(smollm2_model))


def test_missing_vllm_names_the_flag_of_the_command_that_chose_it(monkeypatch):
    from mtbench.backends.vllm import import_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # importing it now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"^--backend vllm needs .*\[vllm\]"):
        import_vllm()
    with pytest.raises(MissingDependencyError, match=r"^--judge-backend vllm needs "):
        import_vllm("--judge-backend")


@pytest.fixture
def stand_in_vllm(monkeypatch, smollm2_model):
    """A `vllm` module whose LLM replies with scripted text (token ids, EOS appended)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_model)
    module = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class LLM:
        instances: list[LLM] = []

        def __init__(self, **kwargs):
            self.kwargs = kwargs
            self.calls: list[tuple[list, list, bool]] = []
            LLM.instances.append(self)

        def generate(self, prompts, sampling_params, use_tqdm=True):
            self.calls.append((prompts, sampling_params, use_tqdm))
            outputs = []
            for number, _prompt in enumerate(prompts):
                ids = tokenizer(f" Reply {number} ", add_special_tokens=False).input_ids
                completion = types.SimpleNamespace(token_ids=ids + [tokenizer.eos_token_id])
                outputs.append(types.SimpleNamespace(outputs=[completion]))
            return outputs

    module.LLM = LLM
    module.SamplingParams = SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_vllm_backend_logic_around_the_engine(stand_in_vllm, smollm2_model):
    from mtbench.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(smollm2_model), model_name="smol", num_gpus=2, dtype="bfloat16")
    [llm] = stand_in_vllm.LLM.instances
    assert llm.kwargs["model"] == str(smollm2_model)
    assert llm.kwargs["tensor_parallel_size"] == 2
    assert llm.kwargs["dtype"] == "bfloat16"
    conversations = [
        [{"role": "user", "content": "First?"}],
        [{"role": "user", "content": "Second?"}],
    ]
    params = [
        GenerationParams(max_new_tokens=32),
        GenerationParams(max_new_tokens=32, temperature=0.7, seed=1),
    ]
    replies = backend.generate_each(conversations, params)
    assert replies == ["Reply 0", "Reply 1"]  # EOS string removed, stripped
    prompts, sampling, use_tqdm = llm.calls[0]
    assert prompts[0] == {"prompt_token_ids": backend.format.encode(conversations[0])}
    assert backend.tokenizer.decode(prompts[1]["prompt_token_ids"]).endswith(
        "<|im_start|>user\nSecond?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert sampling[0].kwargs["temperature"] == 0.0 and "seed" not in sampling[0].kwargs
    assert sampling[1].kwargs["temperature"] == 0.7 and sampling[1].kwargs["seed"] == 1
    assert sampling[1].kwargs["top_k"] == 50  # transformers' default, as FastChat sampled
    assert use_tqdm is False
    assert backend.tokens_generated > 0
    assert backend.batch_size(1024) >= 256  # vLLM schedules large batches itself


def test_backend_vllm_through_the_driver(stand_in_vllm, smollm2_model, bench):
    from mtbench.data.answers import load_answer_file
    from mtbench.generation import GenConfig, generate_answers

    config = GenConfig(
        model_path=str(smollm2_model),
        model_id="via-vllm",
        backend="vllm",
        paths=bench,
        question_end=4,
        max_new_token=16,
    )
    summary = generate_answers(config)
    assert summary.generated == 4
    [llm] = stand_in_vllm.LLM.instances
    assert len(llm.calls) == 2  # all turn 1s in one call, then all turn 2s
    answers = load_answer_file(bench.answer_file("via-vllm"))
    assert sorted(answers) == [81, 82, 83, 84]
    assert all(a.extra["generation"]["backend"] == "vllm" for a in answers.values())


def test_memory_flags_reach_the_engine(stand_in_vllm, smollm2_model, bench):
    from mtbench.generation import GenConfig, generate_answers

    config = GenConfig(
        model_path=str(smollm2_model), model_id="capped", backend="vllm",
        paths=bench, question_end=1, max_new_token=8,
        gpu_memory_utilization=0.5, max_model_len=4096,
    )  # fmt: skip
    generate_answers(config)
    [llm] = stand_in_vllm.LLM.instances
    assert llm.kwargs["gpu_memory_utilization"] == 0.5
    assert llm.kwargs["max_model_len"] == 4096


def test_engine_that_does_not_fit_points_at_the_flags(stand_in_vllm, smollm2_model):
    from mtbench.backends.vllm import VLLMBackend
    from mtbench.errors import BackendError

    class TooLong:
        def __init__(self, **kwargs):
            raise ValueError(
                "The model's max seq len (131072) is larger than the maximum number of tokens "
                "that can be stored in KV cache (52000). Try increasing `gpu_memory_utilization` "
                "or decreasing `max_model_len` when initializing the engine.\nmore detail"
            )

    stand_in_vllm.LLM = TooLong
    with pytest.raises(BackendError) as caught:
        VLLMBackend(str(smollm2_model))
    message = str(caught.value)
    assert message.startswith(f"vLLM cannot load {smollm2_model}: The model's max seq len")
    assert message.endswith("(mtbench-gen: --max-model-len, --gpu-memory-utilization)")
    assert "\n" not in message


def test_the_judge_runs_on_vllm_through_the_shared_registry(stand_in_vllm, smollm2_model, bench):
    import shutil

    from conftest import shared_file

    from mtbench.data.judgments import load_single_judgments
    from mtbench.judging import JudgeConfig, judge

    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/alpaca-13b.jsonl"), bench.answer_file("alpaca-13b"))
    options = JudgeConfig(
        paths=bench,
        judge_backend="vllm",
        judge_model_path=str(smollm2_model),
        judge_name="smol-vllm",
        model_list=["alpaca-13b"],
        first_n=2,
        batch_size=4,
    )
    err = io.StringIO()
    judge(options, err=err)
    [llm] = stand_in_vllm.LLM.instances
    assert [len(prompts) for prompts, _, _ in llm.calls] == [4]  # one batch of 2 x 2 turns
    assert "judge:       smol-vllm: local model" in err.getvalue()
    assert "judged:     4 of 4" in err.getvalue()
    rows = list(load_single_judgments(bench.judgment_file("smol-vllm", "single")))
    assert len(rows) == 4 and {r.judge[0] for r in rows} == {"smol-vllm"}
    assert {r.judgment for r in rows} == {"Reply 0", "Reply 1", "Reply 2", "Reply 3"}
    assert all(r.score == -1 for r in rows)  # the stand-in gives no verdict
