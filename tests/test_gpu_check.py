"""scripts/gpu_check.sh and its report: the comparison on real answer files, and the script's
own steps run for real on CPU (`--cpu-smoke`: the same mtbench-gen commands, with --backend hf
in place of vllm and CPU replicas on a Ray head of its own). The GPU run itself needs a CUDA
machine and is not part of the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli, shared_file

from mtbench.data.paths import BenchPaths
from mtbench.generation.pipeline import GenSummary

REPORT = REPO / "scripts" / "gpu_check_report.py"
SCRIPT = REPO / "scripts" / "gpu_check.sh"
# Question 100 is roleplay (sampled at 0.7), 101 and 102 are reasoning (greedy).
SLICE = ("--question-begin", "19", "--question-end", "22")


def fake_run(bench: BenchPaths, name: str, tmp_path: Path) -> tuple[Path, Path]:
    """A real `mtbench-gen --backend fake` run: its answer file and its stdout, kept in a file."""
    result = run_cli(
        "gen", "--backend", "fake", "--model-id", name, "--data-dir", str(bench.data_dir), *SLICE
    )
    assert result.returncode == 0, result.stderr
    stdout = tmp_path / f"{name}.out"
    stdout.write_text(result.stdout)
    return bench.answer_file(name), stdout


def edit_turn(answer_file: Path, question_id: int, turn: int, text: str) -> None:
    rows = [json.loads(line) for line in answer_file.read_text().splitlines()]
    for row in rows:
        if row["question_id"] == question_id:
            row["choices"][0]["turns"][turn] = text
    answer_file.write_text("".join(json.dumps(row) + "\n" for row in rows))


def report(bench: BenchPaths, out: Path, *runs: tuple[str, Path, Path, str]):
    args = [sys.executable, str(REPORT), "--question-file", str(bench.question_file), *SLICE]
    args += ["--out", str(out), "--fact", "mode", "test"]
    for name, answers, stdout, seconds in runs:
        args += ["--run", name, str(answers), str(stdout), seconds]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    summary = json.loads((out / "summary.json").read_text())
    return result, summary


def test_report_counts_identical_greedy_turns_and_reads_the_speed(bench, tmp_path):
    hf_answers, hf_out = fake_run(bench, "hf", tmp_path)
    other_answers, other_out = fake_run(bench, "other", tmp_path)
    # The real summary line of a run whose backend counts tokens: 3000 tokens in 10 s.
    hf_out.write_text(
        GenSummary(hf_answers, 3, generated=3, tokens=3000, seconds=12.0, generation_seconds=10.0)
        .line() + "\n"
    )  # fmt: skip
    reference = json.loads(hf_answers.read_text().splitlines()[2])["choices"][0]["turns"][1]
    edit_turn(other_answers, 102, 1, reference[:7] + " but then something else")
    edit_turn(other_answers, 100, 0, "sampled turns are not compared")

    result, summary = report(
        bench, tmp_path / "out", ("hf", hf_answers, hf_out, "15.2"),
        ("other", other_answers, other_out, "3.04"),
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    hf, other = summary["runs"]
    assert hf | {"run": "hf", "questions": 3, "tokens": 3000, "tokens_per_s": 300.0} == hf
    assert hf["generation_s"] == 10.0 and hf["wall_s"] == 15.2
    # The fake backend counts no tokens: no speed, but the answers still compare.
    assert other["tokens"] is None and other["tokens_per_s"] is None and other["wall_s"] == 3.0
    assert (other["greedy_turns"], other["identical_turns"]) == (4, 3)
    assert other["differing"] == [{"question_id": 102, "turn": 2, "same_chars": 7}]
    assert summary["problems"] == [] and summary["facts"] == {"mode": "test"}
    lines = result.stdout.splitlines()
    assert "| hf | 3 | 3000 | 300.0 | 1.00 | 15.2 | - |" in lines
    assert "| other | 3 | n/a | n/a | n/a | 3.0 | 3/4 |" in lines
    assert "- other: question 102 turn 2 parts from hf's after 7 characters" in lines
    assert (tmp_path / "out" / "summary.md").read_text() == result.stdout


def test_report_fails_on_a_missing_answer_or_summary_line(bench, tmp_path):
    hf_answers, hf_out = fake_run(bench, "hf", tmp_path)
    other_answers, other_out = fake_run(bench, "other", tmp_path)
    other_answers.write_text("".join(other_answers.read_text().splitlines(True)[:2]))
    other_out.write_text("Traceback (most recent call last):\n")

    result, summary = report(
        bench, tmp_path / "out", ("hf", hf_answers, hf_out, "1"),
        ("other", other_answers, other_out, "1"),
    )  # fmt: skip

    assert result.returncode == 1
    assert summary["problems"] == [
        f"other: no summary line in {other_out}",
        f"other: no answer to question(s) [102] in {other_answers}",
    ]
    assert f"- FAILED: other: no answer to question(s) [102] in {other_answers}" in result.stdout
    assert summary["runs"][1]["questions"] == 2


def test_the_script_refuses_an_unknown_argument():
    result = subprocess.run(["bash", str(SCRIPT), "--gpu"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "gpu_check: unknown argument '--gpu' (use --cpu-smoke or --help)\n"


@pytest.mark.model
@pytest.mark.ray
def test_cpu_smoke_runs_every_step_of_the_gpu_check(tmp_path, smollm2_gguf, model_cache_dir):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "OUT": str(out),
        "MTBENCH_CACHE_DIR": str(model_cache_dir),
        "GPU_CHECK_QUESTION_FILE": str(shared_file("question.jsonl")),
        "GPU_CHECK_QUESTION_BEGIN": "30",  # question 111, math: greedy
        "GPU_CHECK_QUESTION_END": "31",
        "GPU_CHECK_MAX_NEW_TOKEN": "4",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "--cpu-smoke"], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [run["run"] for run in summary["runs"]] == ["hf", "vllm", "ray"]
    for run in summary["runs"]:
        assert run["questions"] == 1 and 0 < run["tokens"] <= 8 and run["tokens_per_s"] > 0
    # float32 on CPU: batched greedy answers are identical, in process and on Ray replicas.
    for run in summary["runs"][1:]:
        assert (run["greedy_turns"], run["identical_turns"]) == (2, 2)
    assert sorted(p.name for p in out.iterdir()) == [
        "gpu_check.log", "hf.jsonl", "ray.jsonl", "summary.json", "summary.md", "vllm.jsonl",
    ]  # fmt: skip
    assert result.stdout.splitlines()[-1].startswith("gpu_check: done in ")
