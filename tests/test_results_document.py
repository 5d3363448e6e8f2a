"""The JSON results document (`mtbench-show --format json`): versioned, documented field by
field in docs/results-schema.md, and saying what its numbers rest on."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, shared_file

from mtbench.analysis.gate import report_gate
from mtbench.analysis.scores import build_report
from mtbench.calibration.build import Calibration
from mtbench.calibration.fit import ModelPoint, fit_calibration
from mtbench.calibration.published import published_scores
from mtbench.calibration.scale import estimate_scale
from mtbench.data.jsonl import dumps
from mtbench.data.paths import BenchPaths
from mtbench.reports.results import SCHEMA_VERSION, results_document

SCHEMA_DOC = REPO / "docs" / "results-schema.md"
SAMPLE = "third_party/Stefanstud-FastChat-phi3"

# Keys whose values are maps from names (models, categories, snapshots, files) to values.
MAPS = {
    "judge.snapshots",
    "judge_snapshots",
    "data.reference_answers",
    "data.answers",
    "accounting.out_of_scale",
    "models[].categories",
    "coverage",
    "gpt4_scale.calibration.judge_snapshots",
}
# The keys of 0.1.0's output, before the schema was versioned: kept with their meanings.
OLD_KEYS = ("mode", "input_file", "baseline", "bootstrap", "accounting", "models", "coverage")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """Every field path of a document in the notation of docs/results-schema.md (map keys as
    `{*}`, list elements as `[]`), intermediate objects included."""
    paths = {prefix} if prefix and not prefix.endswith("[]") else set()
    if isinstance(value, dict):
        for key, item in value.items():
            name = "{*}" if prefix in MAPS else key
            paths |= field_paths(item, f"{prefix}.{name}" if prefix else name)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            paths |= field_paths(item, f"{prefix}[]")
    return paths


def documented_paths() -> set[str]:
    """The first code span of every row of the fields table, map keys written as `{*}`."""
    paths = set()
    for line in SCHEMA_DOC.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        if match:
            paths.add(re.sub(r"\{[a-z]+\}", "{*}", match.group(1)))
    return paths


@pytest.fixture
def sample_bench(bench: BenchPaths) -> BenchPaths:
    """The bench with the third-party phi-3 judgment files and one of their answer files."""
    bench.judgment_dir.mkdir(parents=True)
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        shutil.copy(shared_file(f"{SAMPLE}/model_judgment/{name}"), bench.judgment_dir / name)
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file(f"{SAMPLE}/model_answer/phi-3-dpo.jsonl"), bench.answer_dir)
    return bench


def sampled_rows() -> list[dict[str, Any]]:
    """20 questions x 2 turns by a recorded judge snapshot, 5 judged twice (both turns), one
    rated 11."""
    rows = []
    for qid in range(81, 101):
        for turn in (1, 2):
            prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
            row = {
                "question_id": qid,
                "model": "m",
                "judge": ["Org/Judge-7B", prompt],
                "user_prompt": "u",
                "judgment": "j",
                "score": 11 if (qid, turn) == (81, 1) else 3 + (qid + turn) % 7,
                "turn": turn,
                "tstamp": 0.0,
                "judge_meta": {"model": "judge-7b-2025-01-01"},
            }
            rows.append(row)
            if qid < 86:
                rows.append({**row, "score": 5, "sample": 2})
    return rows


def calibration() -> tuple[Calibration, Path]:
    """A calibration of the judge as GPT-4 itself: the identity on the published scores."""
    points = [
        ModelPoint(m, p.average, p.average, p.judgments) for m, p in published_scores().items()
    ]
    fit = fit_calibration(points)
    snapshots = {"judge-7b-2025": 160}
    made = Calibration("Judge-7B", Path("x_single.jsonl"), snapshots, {}, fit, None, 80, None)
    return made, Path("calibration/Judge-7B.json")


def test_every_field_printed_is_documented_and_every_documented_field_is_printed(sample_bench):
    single = build_report(sample_bench)
    documents = [
        results_document(single, report_gate(single, fail_under=5.0, max_missing=0.1)),
        results_document(
            build_report(sample_bench, mode="pairwise-baseline", baseline_model="phi-3")
        ),
    ]
    path = sample_bench.judgment_file("Judge-7B", "single")
    path.write_text("".join(dumps(row) + "\n" for row in sampled_rows()))
    sampled = build_report(sample_bench, input_file=path)
    documents.append(results_document(sampled, scale=estimate_scale(sampled, *calibration())))
    printed = set().union(*(field_paths(document) for document in documents))
    documented = documented_paths()
    assert printed - documented == set(), "printed but not in docs/results-schema.md"
    assert documented - printed == set(), "documented but never printed"


def test_version_provenance_and_the_keys_of_before(sample_bench):
    result = run_cli("show", "--data-dir", str(sample_bench.data_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["mtbench_version"] == "0.1.0"
    assert set(OLD_KEYS) <= set(document)
    assert document["judge"] == {
        "name": "gpt-4",
        "prompts": [
            "single-math-v1",
            "single-math-v1-multi-turn",
            "single-v1",
            "single-v1-multi-turn",
        ],
        "snapshots": {"not recorded": 160},  # FastChat's rows record no snapshot...
    }
    assert "judge_snapshots" not in document  # ...so the old key stays out, as before
    data = document["data"]
    assert data["bench"] == "mt_bench"
    assert data["question_file"] == {
        "path": str(sample_bench.question_file),
        "sha256": sha256(shared_file("question.jsonl")),
    }
    assert data["judge_prompts"]["sha256"] == sha256(shared_file("judge_prompts.jsonl"))
    assert data["reference_answers"] == {
        "gpt-4": {
            "path": str(sample_bench.reference_file("gpt-4")),
            "sha256": sha256(shared_file("reference_answer/gpt-4.jsonl")),
        }
    }
    answers = shared_file(f"{SAMPLE}/model_answer/phi-3-dpo.jsonl")
    assert data["answers"]["phi-3-dpo"]["sha256"] == sha256(answers)
    model = document["models"][0]
    assert (model["model"], model["score"], model["turn_1"], model["turn_2"]) == (
        "phi-3-dpo",
        8.2,
        8.3625,
        8.0375,
    )


def test_checksums_follow_the_files(sample_bench):
    before = results_document(build_report(sample_bench, bootstrap=None))["data"]
    answer = sample_bench.answer_dir / "phi-3-dpo.jsonl"
    answer.write_text(answer.read_text() + "\n")
    after = results_document(build_report(sample_bench, bootstrap=None))["data"]
    assert after["answers"]["phi-3-dpo"]["sha256"] == sha256(answer)
    assert after["answers"]["phi-3-dpo"]["sha256"] != before["answers"]["phi-3-dpo"]["sha256"]
    assert after["question_file"] == before["question_file"]
    answer.unlink()
    gone = results_document(build_report(sample_bench, bootstrap=None))["data"]
    assert gone["answers"]["phi-3-dpo"] == {"path": str(answer), "sha256": None}
    # Pairwise-baseline: the baseline's answer file is recorded beside the model's.
    pair = build_report(sample_bench, mode="pairwise-baseline", baseline_model="phi-3")
    assert set(results_document(pair)["data"]["answers"]) == {"phi-3-dpo", "phi-3"}


def test_judge_as_the_rows_name_it_with_its_snapshot(bench):
    path = bench.judgment_file("Org/Judge-7B", "single")
    path.parent.mkdir(parents=True)
    path.write_text("".join(dumps(row) + "\n" for row in sampled_rows()))
    result = run_cli(
        "show", "--data-dir", str(bench.data_dir), "--judge-model", "Org/Judge-7B", "--format",
        "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["judge"] == {
        "name": "Org/Judge-7B",  # the rows' name, where the file is Judge-7B_single.jsonl
        "prompts": ["single-v1", "single-v1-multi-turn"],
        "snapshots": {"judge-7b-2025-01-01": 50},  # 40 judgments and 10 further samples
    }
    assert document["judge_snapshots"] == {"judge-7b-2025-01-01": 50}
    assert document["accounting"]["out_of_scale"] == {"m": 1}
    assert document["models"][0]["sampled_items"] == 10  # questions 81-85, both turns
