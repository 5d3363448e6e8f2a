"""`mtbench-gen` as a user runs it: end to end on the SmolLM2 GGUF file, and bad input."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

import pytest
from conftest import require_modules, run_cli, unused_port

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def assert_one_line_error(result, *fragments: str, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") or code == 2, last
    for fragment in fragments:
        assert fragment in last, last
    return last


@pytest.mark.model
def test_end_to_end_on_the_gguf_file_then_resume(
    bench, smollm2_gguf, smollm2_model, model_cache_dir
):
    env = {"MTBENCH_CACHE_DIR": str(model_cache_dir)}
    args = [
        "--model-path", str(smollm2_gguf),
        "--backend", "hf",  # transformers (with llama-cpp-python installed, auto is llamacpp)
        "--model-id", "smollm2",
        "--data-dir", str(bench.data_dir),
        "--question-end", "3",
        "--max-new-token", "16",
        "--num-threads", "1",
    ]  # fmt: skip
    first = run_cli("gen", *args, env=env)
    assert first.returncode == 0, first.stderr
    answer_file = bench.answer_file("smollm2")
    assert f"Output to {answer_file}" in first.stderr
    assert first.stdout.startswith("3 question(s) generated, ")
    assert "tokens/s" in first.stdout and str(answer_file) in first.stdout
    # stderr is a pipe here, as in a log file: the bar still ends with its final state.
    assert re.search(
        r"generating: 100%\|[^\n]*\| 6/6 turns \[[^\n]*3/3 questions, \d+ tokens, [\d.]+ tok/s\]",
        first.stderr,
    )
    rows = [json.loads(line) for line in answer_file.read_text().splitlines()]
    assert [row["question_id"] for row in rows] == [81, 82, 83]
    assert all(len(row["choices"][0]["turns"]) == 2 for row in rows)
    assert rows[0]["generation"]["model_path"] == str(smollm2_gguf.resolve())
    assert rows[0]["generation"]["num_threads"] == 1  # recorded, not part of the resume key
    # 16 tokens cannot finish a travel blog post: the row says so, and the judge warns.
    assert rows[0]["finish_reason"] == [["length", "length"]]
    plan = run_cli(
        "judge", "--data-dir", str(bench.data_dir), "--model-list", "smollm2",
        "--first-n", "3", "--dry-run",
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert "'smollm2': " in plan.stdout and "cut at the token limit, question(s) 81" in plan.stdout
    content = answer_file.read_bytes()

    again = run_cli("gen", *args, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 question(s) generated, 3 already done")
    assert answer_file.read_bytes() == content


@pytest.mark.model
def test_show_prompt_prints_the_chat_template_rendering(bench, smollm2_model):
    from transformers import AutoTokenizer

    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "x",
        "--data-dir", str(bench.data_dir), "--show-prompt",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    question = json.loads(bench.question_file.read_text().splitlines()[0])
    tokenizer = AutoTokenizer.from_pretrained(smollm2_model)
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": question["turns"][0]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert result.stdout == expected + "\n"
    assert not bench.answer_file("x").exists()


@pytest.mark.model
def test_show_prompt_with_a_legacy_template_and_system_message(bench, smollm2_model):
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "x",
        "--data-dir", str(bench.data_dir), "--show-prompt",
        "--conv-template", "vicuna_v1.1", "--system-message", "Be brief.",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Be brief. USER: Compose an engaging travel blog post")
    assert result.stdout.endswith(" ASSISTANT:\n")


def test_missing_model_path(bench):
    result = run_cli(
        "gen",
        "--model-path",
        "/no/such/model",
        "--model-id",
        "m",
        "--data-dir",
        str(bench.data_dir),
    )
    assert_one_line_error(result, "--model-path /no/such/model: no such file or folder")
    assert not bench.answer_file("m").exists()


def no_hub(tmp_path: Path) -> dict[str, str]:
    """An environment whose hub refuses every connection, with an empty hub cache."""
    return {
        "HF_ENDPOINT": f"http://127.0.0.1:{unused_port()}",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "0",
        **{name: "" for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")},
    }


@pytest.mark.parametrize("offline", ["0", "1"])
def test_a_hub_id_without_the_hub_fails_at_once_in_one_line(bench, tmp_path, offline):
    require_modules("torch", "transformers")
    env = {**no_hub(tmp_path), "HF_HUB_OFFLINE": offline}
    started = time.monotonic()
    result = run_cli(
        "gen", "--model-path", HUB_ID, "--model-id", "x", "--data-dir", str(bench.data_dir),
        env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    why = "HF_HUB_OFFLINE is set" if offline == "1" else "the Hugging Face hub cannot be reached"
    assert_one_line_error(
        result, f"--model-path {HUB_ID}: {why}", "not in the local hub cache",
        "HF_HUB_OFFLINE=1", "a local model folder or a .gguf file",
    )  # fmt: skip
    assert result.stderr.count("\n") == 1, result.stderr  # no retry chatter before it
    assert elapsed < 30  # transformers alone retried for about 49 s
    assert not bench.answer_file("x").exists()


@pytest.mark.model
def test_a_cached_hub_model_loads_without_the_hub(bench, tmp_path, smollm2_model):
    env = no_hub(tmp_path)
    snapshot = Path(env["HF_HOME"], "hub", "models--" + HUB_ID.replace("/", "--"))
    commit = "0" * 40
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text(commit)
    (snapshot / "snapshots" / commit).mkdir(parents=True)
    for item in smollm2_model.iterdir():
        (snapshot / "snapshots" / commit / item.name).symlink_to(item)
    result = run_cli(
        "gen", "--model-path", HUB_ID, "--model-id", "x", "--data-dir", str(bench.data_dir),
        "--question-end", "1", "--max-new-token", "4", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Retry" not in result.stderr and "thrown while requesting" not in result.stderr
    assert result.stdout.startswith("1 question(s) generated, ")


def test_missing_question_file(tmp_path):
    result = run_cli(
        "gen", "--model-path", "/no/such/model", "--model-id", "m", "--data-dir", str(tmp_path)
    )
    assert_one_line_error(result, "question.jsonl", "question file not found", "mtbench-download")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--num-gpus-total", "3", "--num-gpus-per-model", "2"], "not a multiple"),
        (["--num-workers", "2", "--num-gpus-total", "2"], "--num-workers is for CPU runs"),
        (["--max-new-token", "0"], "--max-new-token must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--max-gpu-memory", "40 gigs"], "--max-gpu-memory 40 gigs: give a size"),
        (["--backend", "vllm", "--max-gpu-memory", "40GiB"], "use --gpu-memory-utilization"),
        (["--num-threads", "0"], "--num-threads must be at least 1, got 0"),
        (["--backend", "vllm", "--num-threads", "2"], "--num-threads is for --backend hf"),
        (["--backend", "fake", "--num-threads", "2"], "--num-threads is for local models"),
        (["--backend", "hf", "--max-model-len", "9"], "is for --backend vllm or llamacpp"),
        (
            ["--backend", "llamacpp", "--batch-size", "4"],
            "--batch-size does not apply to --backend llamacpp: --parallel N",
        ),
        (["--backend", "llamacpp", "--dtype", "float32"], "the GGUF file's own weight types"),
    ],
)
def test_bad_flag_combinations(bench, extra, fragment):
    result = run_cli(
        "gen", "--model-path", "m", "--model-id", "m", "--data-dir", str(bench.data_dir), *extra
    )
    assert_one_line_error(result, fragment)


def test_unknown_template_is_a_usage_error(bench):
    result = run_cli(
        "gen", "--model-path", "m", "--model-id", "m", "--conv-template", "vicuna",
        "--data-dir", str(bench.data_dir),
    )  # fmt: skip
    assert result.returncode == 2
    assert "invalid choice: 'vicuna'" in result.stderr and "vicuna_v1.1" in result.stderr


def test_required_flags(bench):
    result = run_cli("gen", "--model-path", "m")
    assert result.returncode == 2
    assert "--model-id" in result.stderr


def test_a_file_that_is_not_a_model(bench, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    result = run_cli(
        "gen", "--model-path", str(notes), "--model-id", "m", "--data-dir", str(bench.data_dir)
    )
    assert_one_line_error(result, "not a .gguf file")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
@pytest.mark.model
def test_vllm_backend_without_vllm_names_the_extra(bench, smollm2_model):
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "m", "--backend", "vllm",
        "--data-dir", str(bench.data_dir), "--question-end", "1",
    )  # fmt: skip
    assert_one_line_error(result, "--backend vllm needs", "pip install 'mtbench-toolkit[vllm]'")
    assert not bench.answer_file("m").exists()


@pytest.mark.model
def test_an_answer_file_that_cannot_be_written(bench, smollm2_model):
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "m",
        "--data-dir", str(bench.data_dir), "--answer-file", "/proc/mtbench/out.jsonl",
    )  # fmt: skip
    assert_one_line_error(
        result, "/proc/mtbench/out.jsonl", "cannot create the answer file's folder"
    )


@pytest.mark.model
def test_a_malformed_answer_file_names_its_line(bench, smollm2_model):
    answer_file = bench.answer_file("m")
    answer_file.parent.mkdir(parents=True)
    answer_file.write_text('{"question_id": 81, "choices": []}\n')
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "m",
        "--data-dir", str(bench.data_dir),
    )  # fmt: skip
    assert_one_line_error(result, f"{answer_file}:1:", "choices")
    assert answer_file.read_text() == '{"question_id": 81, "choices": []}\n'
