"""bfloat16 on CPU: what `--dtype auto` picks, what rows record, and what batching keeps.

float32 keeps its exact guarantee (batched greedy answers equal one-at-a-time ones, see
test_hf_backend.py); these tests state what holds in bfloat16, on the real SmolLM2 model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import run_cli, shared_file
from test_gen_driver import config_for

from mtbench.backends import hf, hf_loading
from mtbench.backends.base import GenerationParams
from mtbench.backends.hf_loading import cpu_computes_bf16, dtype_note, planned_dtype, torch_dtype
from mtbench.data.answers import load_answer_file
from mtbench.data.questions import load_questions
from mtbench.generation import generate_answers


def test_auto_is_bfloat16_on_a_cpu_that_computes_it_and_float32_elsewhere():
    import torch

    native = cpu_computes_bf16()
    assert torch_dtype("auto", "cpu") is (torch.bfloat16 if native else torch.float32)
    assert torch_dtype(None, "cpu") is torch.float32  # the CPU default stays FastChat's
    assert torch_dtype(None, "cuda") is torch.float16
    assert torch_dtype("auto", "cuda") == "auto"  # on a GPU: the model config's dtype


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="no /proc/cpuinfo to compare")
def test_torch_probe_agrees_with_the_kernels_cpu_flags():
    # A cross-check only: mtbench asks torch, never this file.
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    if not flags:
        pytest.skip("/proc/cpuinfo lists no flags here")
    assert cpu_computes_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_the_run_says_what_auto_chose_and_hints_at_it_where_it_helps(monkeypatch):
    monkeypatch.setattr(hf_loading, "cpu_computes_bf16", lambda: True)
    assert dtype_note("auto", "cpu", "bfloat16") == (
        "--dtype auto: bfloat16 weights (the CPU computes bfloat16 natively)"
    )
    hint = dtype_note(None, "cpu", "float32")
    assert hint is not None and "--dtype auto generated 1.3x to 1.9x as fast" in hint
    assert dtype_note("float32", "cpu", "float32") is None  # asked for: nothing to say
    assert dtype_note("auto", "cuda", "bfloat16") is None
    monkeypatch.setattr(hf_loading, "cpu_computes_bf16", lambda: False)
    assert "no native bfloat16" in (dtype_note("auto", "cpu", "float32") or "")
    assert dtype_note(None, "cpu", "float32") is None
    assert planned_dtype("auto")[0] == "float32"  # planned before loading, by the same rule


@pytest.fixture(scope="module")
def bf16_backend(smollm2_model: Path):
    """SmolLM2 loaded in bfloat16 (beside the session's float32 one)."""
    backend = hf.HFBackend(str(smollm2_model), model_name="smollm2", dtype="bfloat16")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def first_turns() -> list[list[dict[str, str]]]:
    questions = load_questions(shared_file("question.jsonl"))
    picked = [q for q in questions if q.question_id in (81, 101, 113, 125, 131)]
    return [[{"role": "user", "content": q.turns[0]}] for q in picked]


@pytest.mark.model
def test_bfloat16_batches_are_reproducible_and_start_like_one_at_a_time(bf16_backend, first_turns):
    """What holds in bfloat16: the same batch gives the same answers every time, and each
    batched answer starts as the one-at-a-time answer does; but, unlike float32, padding a
    prompt into a batch changes its rounding, so the greedy answers may part after a few words
    (README: on 16 MT-bench first turns, 11 agreed in full at 24 new tokens, 9 at 64)."""
    assert bf16_backend.dtype_name == "bfloat16"
    params = GenerationParams(max_new_tokens=24)
    batched = bf16_backend.generate(first_turns, params)
    assert bf16_backend.generate(first_turns, params) == batched
    one_by_one = [bf16_backend.generate([c], params)[0] for c in first_turns]
    for alone, together in zip(one_by_one, batched, strict=True):
        assert alone.strip() and together.strip()
        assert together.startswith(alone[:16])  # the first words agree


@pytest.mark.model
def test_rows_record_the_weights_dtype_and_a_rerun_in_another_says_it_mixes(
    bench, smollm2_backend, bf16_backend, caplog
):
    generate_answers(config_for(bench, "m", question_end=1, max_new_token=6), backend=bf16_backend)
    first = load_answer_file(bench.answer_file("m"))
    assert first[81].extra["generation"]["dtype"] == "bfloat16"
    with caplog.at_level(logging.WARNING):
        summary = generate_answers(
            config_for(bench, "m", question_end=2, max_new_token=6), backend=smollm2_backend
        )
    # The dtype is not a resume key (same model, same prompts): question 81 is kept...
    assert (summary.generated, summary.already_done) == (1, 1)
    answers = load_answer_file(bench.answer_file("m"))
    assert answers[81].choices == first[81].choices
    assert answers[82].extra["generation"]["dtype"] == "float32"
    # ... but never silently: the run names the mix and the way out.
    assert "keeping answer(s) made with other weights (1 in bfloat16)" in caplog.text
    assert "generates in float32" in caplog.text and "--overwrite" in caplog.text


@pytest.mark.model
def test_gen_says_what_auto_chose_and_records_it(bench, smollm2_model):
    """As a user runs it: the choice is said once, before generating, and written in the row."""
    args = ["--model-path", str(smollm2_model), "--model-id", "s", "--data-dir"]
    args += [str(bench.data_dir), "--question-end", "1", "--max-new-token", "4"]
    result = run_cli("gen", *args, "--dtype", "auto")
    assert result.returncode == 0, result.stderr
    chosen = "bfloat16" if cpu_computes_bf16() else "float32"
    assert result.stderr.count(f"--dtype auto: {chosen} weights") == 1
    (row,) = [json.loads(line) for line in bench.answer_file("s").read_text().splitlines()]
    assert row["generation"]["dtype"] == chosen
