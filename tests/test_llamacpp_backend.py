"""The llama.cpp backend on the real SmolLM2 GGUF file: prompts, slots, mtbench-gen, the judge.

Greedy replies are compared with llama.cpp's own replies to the same requests in the same
order, from a fresh backend: llama.cpp computes with the file's quantized weights (so not as
transformers), and its arithmetic varies slightly with the batch a token is computed in, which
a slot's reused cells carry into later requests.
"""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
from conftest import run_cli, run_python, shared_file

from mtbench.backends.base import GenerationParams, finish_reason
from mtbench.data.answers import load_answer_file
from mtbench.data.questions import load_questions
from mtbench.errors import BackendError, ConfigError, TooLongError

pytestmark = [pytest.mark.model, pytest.mark.extra("llama_cpp")]

GREEDY = ["--question-begin", "30", "--question-end", "32"]  # math 111-112: temperature 0


@pytest.fixture
def fresh(smollm2_gguf):
    """Opens SmolLM2 on llama.cpp with empty slots (`fresh(parallel, **options)`), closed after
    the test."""
    from mtbench.backends.llamacpp import LlamaCppBackend

    opened = []

    def open_backend(parallel: int = 1, **options):
        opened.append(
            LlamaCppBackend(str(smollm2_gguf), parallel=parallel, num_threads=1, **options)
        )
        return opened[-1]

    yield open_backend
    for backend in opened:
        backend.close()


def first_turns(*question_ids: int) -> list[list[dict[str, str]]]:
    questions = {q.question_id: q for q in load_questions(shared_file("question.jsonl"))}
    return [[{"role": "user", "content": questions[i].turns[0]}] for i in question_ids]


def test_prompts_tokens_and_decoding_equal_transformers(smollm2_gguf):
    """The file's vocabulary through llama.cpp renders, tokenizes and decodes as transformers."""
    from mtbench.backends.hf_loading import load_tokenizer
    from mtbench.backends.llamacpp import prompt_format
    from mtbench.backends.prompting import PromptFormat

    hf_tokenizer = load_tokenizer(str(smollm2_gguf))
    for template in (None, "chatml", "vicuna_v1.1"):
        ours = prompt_format(str(smollm2_gguf), template)
        theirs = PromptFormat(hf_tokenizer, template)
        assert ours.tokenizer.special_tokens_map == hf_tokenizer.special_tokens_map
        assert ours.special_strings == theirs.special_strings
        for question in load_questions(shared_file("question.jsonl")):
            first = [{"role": "user", "content": question.turns[0]}]
            second = [
                *first,
                {"role": "assistant", "content": "Sure.  Here:\n\n* one\n* 2 €\n"},
                {"role": "user", "content": question.turns[1]},
            ]
            for conversation in (first, second):
                assert ours.render(conversation) == theirs.render(conversation)
                ids = ours.encode(conversation)
                assert ids == theirs.encode(conversation)
                assert ours.tokenizer.decode(ids) == hf_tokenizer.decode(ids)
                assert ours.finish(ids[-40:]) == theirs.finish(ids[-40:])


@pytest.mark.parametrize(
    "flags", [[], ["--system-message", "Be brief."], ["--conv-template", "chatml"]]
)
def test_show_prompt_is_the_transformers_backends_byte_for_byte(bench, smollm2_gguf, flags):
    shown = {}
    for backend in ("llamacpp", "hf"):
        result = run_cli(
            "gen", "--model-path", str(smollm2_gguf), "--model-id", "x", "--backend", backend,
            "--data-dir", str(bench.data_dir), "--show-prompt", *flags,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        shown[backend] = result.stdout.encode()
    assert shown["llamacpp"] == shown["hf"]
    assert b"Compose an engaging travel blog post" in shown["hf"]
    assert not bench.answer_file("x").exists()


def test_mtbench_gen_writes_greedy_answers_then_resumes(bench, smollm2_gguf, fresh):
    args = [
        "--model-path", str(smollm2_gguf), "--model-id", "smol", "--data-dir",
        str(bench.data_dir), "--question-begin", "30", "--question-end", "31",
        "--max-new-token", "24", "--parallel", "1", "--num-threads", "1",
    ]  # fmt: skip
    first = run_cli("gen", *args)  # no --backend: a .gguf file goes to llama.cpp
    assert first.returncode == 0, first.stderr
    assert "llama.cpp runs" in first.stderr and "--backend hf runs it with transformers" in (
        first.stderr
    )
    assert first.stdout.startswith("1 question(s) generated, ") and "tokens/s" in first.stdout
    answer_file = bench.answer_file("smol")
    rows = [json.loads(line) for line in answer_file.read_text().splitlines()]
    assert [row["question_id"] for row in rows] == [111]
    questions = {q.question_id: q for q in load_questions(bench.question_file)}
    params = GenerationParams(max_new_tokens=24)
    one_slot = fresh(1)  # the same requests in the same order: turn 1, then turn 2
    for row in rows:
        generation = row["generation"]
        assert generation["backend"] == "llamacpp" and generation["dtype"] == "Q4_1"
        assert generation["num_threads"] == 1 and generation["prompt"] == "chat_template"
        assert generation["model_path"] == str(smollm2_gguf.resolve())
        assert all(reason in ("stop", "length") for reason in row["finish_reason"][0])
        # Turn 2 sees the model's own post-processed turn 1, as FastChat.
        turns = row["choices"][0]["turns"]
        question = questions[row["question_id"]]
        conversation = [{"role": "user", "content": question.turns[0]}]
        assert turns[0] == one_slot.generate([conversation], params)[0]
        conversation += [
            {"role": "assistant", "content": turns[0]},
            {"role": "user", "content": question.turns[1]},
        ]
        assert turns[1] == one_slot.generate([conversation], params)[0]
    content = answer_file.read_bytes()
    again = run_cli("gen", *args[:-4], "--parallel", "4")  # slots are not a resume key
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 question(s) generated, 1 already done")
    assert answer_file.read_bytes() == content


def test_a_freed_slot_is_refilled_while_a_long_reply_runs(smollm2_gguf):
    """Two slots: three short replies go through one slot while the long one holds the other."""
    from mtbench.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(str(smollm2_gguf), parallel=2, num_threads=1)
    finished: list[str] = []
    long_reply: list[str] = []

    def long_call() -> None:
        # A travel blog post: greedy, it runs to the limit.
        long_reply.extend(backend.generate(first_turns(81), GenerationParams(max_new_tokens=48)))
        finished.append("long")

    try:
        worker = threading.Thread(target=long_call)
        worker.start()
        short = 0
        for qid in (101, 102, 103):
            reply = backend.generate(first_turns(qid), GenerationParams(max_new_tokens=3))[0]
            short += reply.meta["usage"]["output_tokens"]
            finished.append(f"short {qid}")
        worker.join()
    finally:
        backend.close()
    assert long_reply[0].finish_reason == "length" and long_reply[0].strip()
    assert finished == ["short 101", "short 102", "short 103", "long"]
    usage = long_reply[0].meta["usage"]
    assert usage["input_tokens"] > 20 and usage["output_tokens"] == 48
    assert backend.tokens_generated == usage["output_tokens"] + short


def test_a_second_turn_processes_only_what_its_first_turn_left_out(fresh):
    backend = fresh(2)
    params = GenerationParams(max_new_tokens=32)
    conversation = first_turns(81)
    answer = backend.generate(conversation, params)[0]
    question_81 = load_questions(shared_file("question.jsonl"))[0]
    second = [
        *conversation[0],
        {"role": "assistant", "content": answer},
        {"role": "user", "content": question_81.turns[1]},
    ]
    reused = backend.server.reused
    backend.generate([second], params)
    # The first turn's prompt and most of its answer are in the slot already.
    assert backend.server.reused - reused >= len(backend.format.encode(conversation[0])) + 16


def test_a_reply_stops_where_the_stop_string_first_appears(fresh):
    """one_shot's `###` ends a reply as soon as it appears after position 0 (FastChat would cut
    the text there anyway): the same text as running on to the limit, fewer tokens."""
    conversations = first_turns(111, 112, 113, 114, 115, 116)
    params = GenerationParams(max_new_tokens=96)
    stopping = fresh(1, conv_template="one_shot")
    assert stopping.format.stop_str == "###"
    cut = stopping.generate(conversations, params)
    running_on = fresh(1, conv_template="one_shot")
    running_on.server.stop_str = None  # only the post-processing cuts at the stop string
    full = running_on.generate(conversations, params)
    assert cut == full
    stopped = [i for i, reply in enumerate(cut) if finish_reason(reply) != finish_reason(full[i])]
    assert stopped and all(
        finish_reason(cut[i]) == "stop" and finish_reason(full[i]) == "length" for i in stopped
    )
    assert stopping.tokens_generated < running_on.tokens_generated


def test_sampling_follows_the_seed(fresh):
    conversations = first_turns(81) * 4
    params = [GenerationParams(max_new_tokens=16, temperature=0.7, seed=s) for s in (0, 0, 1, 2)]
    sampled = fresh(4).generate_each(conversations, params)  # decoded side by side
    assert sampled[0] == sampled[1]
    assert len(set(sampled)) >= 2  # other seeds, other replies


def test_cancel_ends_a_waiting_call(smollm2_gguf):
    from mtbench.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(str(smollm2_gguf), parallel=1, num_threads=1)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            backend.generate(first_turns(81, 82), GenerationParams(max_new_tokens=2000))
        except BackendError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 60
    while backend.server.busy < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # until both conversations are in (the first renders import jinja)
    assert backend.server.busy == 2
    started = time.monotonic()
    backend.cancel()
    worker.join(timeout=30)
    waited = time.monotonic() - started
    backend.close()
    assert not worker.is_alive() and waited < 30
    assert [str(e) for e in errors] == ["generation cancelled"]


LONG = "Answer in the style of a sonnet, please. " * 30  # about 300 tokens


def test_a_prompt_longer_than_the_context(smollm2_gguf):
    from mtbench.backends.llamacpp import LlamaCppBackend

    # llama.cpp rounds a context up to a multiple of 256 tokens: 200 becomes 256.
    backend = LlamaCppBackend(str(smollm2_gguf), parallel=1, max_model_len=200, num_threads=1)
    try:
        assert backend.n_ctx_seq == 256
        long = [{"role": "user", "content": LONG}]
        prompt_tokens = len(backend.format.encode(long))
        assert prompt_tokens > 256
        with pytest.raises(TooLongError) as caught:
            backend.generate([long], GenerationParams(max_new_tokens=8))
        # The context's end cuts a reply that fits only in part, as llama-server does.
        short = [{"role": "user", "content": "Write a long essay on the sea."}]
        reply = backend.generate([short], GenerationParams(max_new_tokens=300))[0]
    finally:
        backend.close()
    assert (
        f"the prompt is {prompt_tokens} tokens, more than the context of 256 tokens per "
        "sequence (n_ctx) leaves room for; raise it with --max-model-len"
    ) in str(caught.value)
    if reply.meta["usage"]["output_tokens"] < 300 and reply.finish_reason == "length":
        assert reply.meta["usage"]["input_tokens"] + reply.meta["usage"]["output_tokens"] == 257


def test_mtbench_gen_names_the_questions_whose_prompt_does_not_fit(bench, smollm2_gguf):
    result = run_cli(
        "gen", "--model-path", str(smollm2_gguf), "--model-id", "m", "--data-dir",
        str(bench.data_dir), *GREEDY, "--max-model-len", "256", "--system-message", LONG,
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: 2 question(s) failed (111, 112): the prompt is ")
    assert "more than the context of 256 tokens per sequence (n_ctx)" in last
    assert "raise it with --max-model-len" in last and "Traceback" not in result.stderr


def test_bad_gguf_files_fail_in_one_line(bench, smollm2_gguf, tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file" * 100)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(smollm2_gguf.read_bytes()[:10_000_000])
    for path in (garbage, truncated):
        result = run_cli(
            "gen", "--model-path", str(path), "--model-id", "m", "--backend", "llamacpp",
            "--data-dir", str(bench.data_dir), "--question-end", "1",
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"Error: --model-path {path}: llama.cpp cannot load this GGUF")
        assert not bench.answer_file("m").exists()
    with pytest.raises(ConfigError, match="llama.cpp runs .gguf files"):
        from mtbench.backends.llamacpp import LlamaCppBackend

        LlamaCppBackend(str(tmp_path))


def test_without_llama_cpp_the_extra_is_named_and_auto_uses_transformers(bench, smollm2_gguf):
    code = f"""
import sys
sys.modules["llama_cpp"] = None  # as if llama-cpp-python were not installed
from mtbench.cli.gen import main
from mtbench.generation import GenConfig
print(GenConfig({str(smollm2_gguf)!r}, model_id="m").backend)
sys.exit(main(["--model-path", {str(smollm2_gguf)!r}, "--model-id", "m", "--backend",
               "llamacpp", "--data-dir", {str(bench.data_dir)!r}, "--question-end", "1"]))
"""
    result = run_python(code)
    assert result.returncode == 1 and result.stdout == "hf\n", result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: --backend llamacpp needs the Python package 'llama_cpp', which is not "
        "installed: run pip install 'mtbench-toolkit[llamacpp]'"
    )


def test_the_llamacpp_extra_needs_no_torch(bench, smollm2_gguf):
    code = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
from mtbench.cli.gen import main
code = main(["--model-path", {str(smollm2_gguf)!r}, "--model-id", "m", "--data-dir",
             {str(bench.data_dir)!r}, "--question-end", "1", "--max-new-token", "4"])
print(code, sys.modules["torch"])
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 None"
    assert sorted(load_answer_file(bench.answer_file("m"))) == [81]


def test_the_judge_runs_on_llamacpp(bench, smollm2_gguf):
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/alpaca-13b.jsonl"), bench.answer_file("alpaca-13b"))
    result = run_cli(
        "judge", "--data-dir", str(bench.data_dir), "--judge-model-path", str(smollm2_gguf),
        "--model-list", "alpaca-13b", "--first-n", "1", "--judge-max-tokens", "24",
        "--parallel", "2", "--num-threads", "1",
    )  # fmt: skip
    assert "(llama.cpp)" in result.stderr and "no API cost (local model)" in result.stderr
    name = smollm2_gguf.stem
    path = bench.judgment_file(name, "single")
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    # SmolLM2 rarely writes a verdict: a reply that never fits is a failed call (exit 1).
    assert result.returncode == (0 if len(rows) == 2 else 1), result.stderr
    assert f"judged:     {len(rows)} of 2 match(es)" in result.stderr
    for row in rows:
        assert row["judge"][0] == name and row["judgment"].strip()
        assert row["judge_meta"]["usage"]["output_tokens"] >= 1


def test_answers_load_as_fastchats_rows(bench, smollm2_gguf):
    """What mtbench-gen wrote on llama.cpp loads like any answer file."""
    result = run_cli(
        "gen", "--model-path", str(smollm2_gguf), "--model-id", "m", "--data-dir",
        str(bench.data_dir), "--question-end", "2", "--max-new-token", "8", "--num-choices", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = load_answer_file(bench.answer_file("m"))
    assert sorted(answers) == [81, 82]
    for answer in answers.values():
        assert [c.index for c in answer.choices] == [0, 1]
        assert all(len(c.turns) == 2 for c in answer.choices)
