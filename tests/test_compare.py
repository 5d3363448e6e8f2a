"""`mtbench-show --compare A B`: paired differences of two runs' single scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, shared_file

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.compare import RunScores, RunSpec, compare_runs, parse_run_spec
from mtbench.data.jsonl import dumps
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import CATEGORIES as MT_BENCH_CATEGORIES
from mtbench.errors import DataError

SINGLE_SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_single.jsonl"


def run(scores, unparsed=(), name="m"):
    return RunScores(RunSpec(Path(f"{name}.jsonl"), name), dict(scores), frozenset(unparsed))


def items(fn, questions=range(81, 101)):
    """Scores for both turns of some questions: fn(question_id, turn) -> score."""
    return {(q, t): fn(q, t) for q in questions for t in (1, 2)}


CATEGORIES = {q: "writing" if q <= 90 else "roleplay" for q in range(81, 101)}


def test_plus_one_everywhere_gives_exactly_one():
    a = run(items(lambda q, t: (q * 7 + t) % 9 + 1))
    b = run({k: v + 1 for k, v in a.scores.items()})
    result = compare_runs(a, b, CATEGORIES)
    for group in ("all", "turn 1", "turn 2", "writing", "roleplay"):
        row = result.groups.loc[group]
        assert (row["diff"], row["lower"], row["upper"]) == (1.0, 1.0, 1.0)
    assert result.groups.loc["all", "items"] == 40 and result.left_out == {}


def test_identical_runs_give_zero_with_a_zero_width_interval():
    a = run(items(lambda q, t: float(q % 10)))
    result = compare_runs(a, a)
    assert tuple(result.groups.loc["all", ["diff", "lower", "upper"]]) == (0.0, 0.0, 0.0)
    assert list(result.groups.index) == ["all", "turn 1", "turn 2"]  # no categories given


def test_questions_not_items_are_resampled():
    """+2 on every first turn and 0 on every second: each question moves by exactly 1, so
    resampling whole questions gives [1, 1] (resampling items would not)."""
    a = run(items(lambda q, t: 5.0))
    b = run(items(lambda q, t: 7.0 if t == 1 else 5.0))
    result = compare_runs(a, b)
    assert tuple(result.groups.loc["all", ["diff", "lower", "upper"]]) == (1.0, 1.0, 1.0)
    assert tuple(result.groups.loc["turn 1", ["diff", "lower", "upper"]]) == (2.0, 2.0, 2.0)


def test_interval_is_seeded_and_brackets_the_difference():
    a = run(items(lambda q, t: 5.0))
    b = run(items(lambda q, t: 5.0 + (q % 5) - 1))  # diffs -1..3, mean 1
    first = compare_runs(a, b, bootstrap=BootstrapSpec(500, seed=3)).groups.loc["all"]
    again = compare_runs(a, b, bootstrap=BootstrapSpec(500, seed=3)).groups.loc["all"]
    other = compare_runs(a, b, bootstrap=BootstrapSpec(500, seed=4)).groups.loc["all"]
    assert first["lower"] < first["diff"] == 1.0 < first["upper"]
    assert (first["lower"], first["upper"]) == (again["lower"], again["upper"])
    assert (first["lower"], first["upper"]) != (other["lower"], other["upper"])
    off = compare_runs(a, b, bootstrap=None).groups
    assert "lower" not in off.columns and off.loc["all", "diff"] == 1.0


def test_only_items_both_runs_scored_are_compared_and_the_rest_counted():
    a_scores = items(lambda q, t: 5.0, questions=[81, 82, 83])
    del a_scores[(83, 2)]
    a = run(a_scores, unparsed=[(83, 2)])  # judged, score -1
    b_scores = items(lambda q, t: 6.0, questions=[81, 82, 84])
    b = run(b_scores)
    result = compare_runs(a, b)
    assert result.groups.loc["all", "items"] == 4  # 81 and 82, both turns
    assert result.left_out == {
        "B: not judged": 1,  # 83 t1
        "A: no parsable score, B: not judged": 1,  # 83 t2
        "A: not judged": 2,  # 84 t1, t2
    }


def test_movers_are_the_largest_changes_first():
    a = run(items(lambda q, t: 5.0, questions=[81, 82, 83]))
    b = run({**a.scores, (82, 2): 9.0, (83, 1): 1.0, (81, 1): 6.0})
    movers = compare_runs(a, b, top=2).movers
    assert list(zip(movers["question_id"], movers["turn"], movers["diff"], strict=True)) == [
        (82, 2, 4.0),
        (83, 1, -4.0),
    ]
    assert compare_runs(a, b, top=0).movers.empty


def test_nothing_in_common_is_an_error():
    with pytest.raises(DataError, match="no item was scored by both runs"):
        compare_runs(run({(81, 1): 5.0}), run({(82, 1): 5.0}))


def test_run_specs(tmp_path):
    paths = BenchPaths(tmp_path)
    paths.judgment_dir.mkdir(parents=True)
    default = paths.judgment_file("gpt-4", "single")
    other = paths.judgment_file("gpt-4o", "single")
    for f in (default, other):
        f.write_text("")
    assert parse_run_spec("vicuna", default, paths) == RunSpec(default, "vicuna")
    assert parse_run_spec(f"{other}:vicuna", default, paths) == RunSpec(other, "vicuna")
    assert parse_run_spec("gpt-4o:vicuna", default, paths) == RunSpec(other, "vicuna")
    assert parse_run_spec(str(other), default, paths) == RunSpec(other, "")
    # A colon that does not follow a file or judge is part of the model name.
    assert parse_run_spec("llama3:8b", default, paths) == RunSpec(default, "llama3:8b")
    assert parse_run_spec(f"{other}:llama3:8b", default, paths) == RunSpec(other, "llama3:8b")
    with pytest.raises(DataError, match="judgment file not found"):
        parse_run_spec(f"{tmp_path}/missing.jsonl:vicuna", default, paths)


# --- the command on real files ---------------------------------------------------------------


@pytest.fixture
def judged(bench):
    bench.judgment_dir.mkdir(parents=True)
    shutil.copy(shared_file(SINGLE_SAMPLE), bench.judgment_file("gpt-4", "single"))
    return bench


def compare_with_phi3_dpo(judged, *args):
    """`mtbench-show --compare phi-3-dpo ARGS...` on the judged data directory."""
    return run_cli("show", "--data-dir", str(judged.data_dir), "--compare", "phi-3-dpo", *args)


def _perturbed(path, rows_change):
    rows = [json.loads(line) for line in shared_file(SINGLE_SAMPLE).read_text().splitlines()]
    rows = rows_change(rows)
    path.write_text("".join(dumps(r) + "\n" for r in rows))
    return path


def test_compare_with_a_copy_one_point_higher(judged, tmp_path):
    def plus_one(rows):
        for row in rows:
            row["score"] += 1
        return rows

    rerun = _perturbed(tmp_path / "rerun_single.jsonl", plus_one)
    result = compare_with_phi3_dpo(judged, str(rerun), "--format", "json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["compared"] == 160 and out["left_out"] == {}
    overall = out["groups"][0]
    assert overall["group"] == "all" and overall["mean_a"] == pytest.approx(8.2)
    assert (overall["diff"], overall["lower"], overall["upper"]) == (1.0, 1.0, 1.0)
    # After all, turn 1 and turn 2: every category, in MT-bench's order (which test_records
    # checks against the official question file).
    assert [g["group"] for g in out["groups"]][3:] == list(MT_BENCH_CATEGORIES)


def test_compare_a_rerun_that_moved_and_lost_items(judged, tmp_path):
    def rerun(rows):
        for row in rows:
            if (row["question_id"], row["turn"]) == (101, 1):
                row["score"] = row["score"] - 5  # reasoning, the biggest move
            if (row["question_id"], row["turn"]) == (81, 2):
                row["score"] = -1  # the judge's reply could not be parsed
        return [r for r in rows if (r["question_id"], r["turn"]) != (160, 2)]  # never judged

    other = _perturbed(judged.judgment_file("gpt-4o", "single"), rerun)
    result = compare_with_phi3_dpo(judged, "gpt-4o:phi-3-dpo", "--top", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"B: phi-3-dpo in {other}"
    assert lines[2] == (
        "Items compared: 158 of 160 (80 questions); left out 2 "
        "(1 with B: no parsable score, 1 with B: not judged)"
    )
    assert lines[3].startswith("B - A = -0.0316 [")  # -5 / 158
    mover = lines[lines.index(next(x for x in lines if x.startswith("question_id"))) + 1].split()
    assert mover[:3] == ["101", "reasoning", "1"] and mover[-1] == "-5.0000"
    csv = compare_with_phi3_dpo(judged, "gpt-4o:phi-3-dpo", "--format", "csv").stdout.splitlines()
    assert csv[0] == "group,items,questions,mean_a,mean_b,diff,lower,upper"
    assert csv[1].startswith("all,158,80,")
    assert next(r for r in csv if r.startswith("reasoning,")).split(",")[5] == "-0.25"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--compare", "phi-3-dpo", "phi-3"),
            "no judgments of model 'phi-3' (models here: phi-3-dpo); to compare a model of another "
            "file write FILE:MODEL",
        ),
        (
            ("--compare", "phi-3-dpo", "phi-3-dpo", "--mode", "pairwise-all"),
            "--compare works on single-mode scores",
        ),
        (
            ("--compare", "phi-3-dpo", "phi-3-dpo", "--model-list", "x"),
            "--compare takes no --model-list",
        ),
        (("--compare", "phi-3-dpo", "phi-3-dpo", "--top", "-1"), "--top must be 0 or more"),
    ],
)
def test_compare_errors_are_one_line(judged, args, expected):
    result = run_cli("show", "--data-dir", str(judged.data_dir), *args)
    assert result.returncode == 1
    assert expected in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_a_file_with_several_models_needs_file_colon_model(judged, tmp_path):
    def two_models(rows):
        return rows + [{**rows[0], "model": "other"}]

    mixed = _perturbed(tmp_path / "mixed.jsonl", two_models)
    result = compare_with_phi3_dpo(judged, str(mixed))
    assert result.returncode == 1
    assert "holds 2 models (other, phi-3-dpo); write FILE:MODEL" in result.stderr
    ok = compare_with_phi3_dpo(judged, f"{mixed}:other", "--bootstrap", "0")
    assert ok.returncode == 0, ok.stderr
    assert "Items compared: 1 of 160" in ok.stdout and "B - A = +0.0000 (" in ok.stdout
