"""`mtbench-show` with several judges: their single scores pooled item by item."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_cli, shared_file

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.pooling import build_pooled_report, file_label
from mtbench.data.jsonl import dumps
from mtbench.data.judgments import SingleJudgment
from mtbench.data.paths import BenchPaths

SINGLE_SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_single.jsonl"

MODELS = ("m-a", "m-b", "m-c")
QUESTIONS = range(81, 91)  # writing questions in the official question file
Item = tuple[str, int, int]
Scores = dict[Item, float]


def scores(fn: Callable[[str, int, int], float], models=MODELS) -> Scores:
    """Scores of every (model, question, turn): fn(model, question_id, turn) -> score."""
    return {(m, q, t): fn(m, q, t) for m in models for q in QUESTIONS for t in (1, 2)}


LEVEL = {"m-a": 3, "m-b": 5, "m-c": 7}


def base(model: str, question: int, turn: int) -> float:
    """Judge A: m-a < m-b < m-c by two points, items varying from there by 0 to 2."""
    return LEVEL.get(model, 4) + (question + turn) % 3


def write_judge(bench: BenchPaths, judge: str, items: Scores, extra_rows=()) -> Path:
    """`{judge}_single.jsonl` of the bench holding these scores (and raw `extra_rows`)."""
    path = bench.judgment_file(judge, "single")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        SingleJudgment(
            question_id=q,
            model=m,
            judge=(judge, "single-v1"),
            user_prompt="[Question] ...",
            judgment=f"Rating: [[{score}]]",
            score=score,
            turn=t,
        ).to_row()
        for (m, q, t), score in items.items()
    ]
    path.write_text("".join(dumps(row) + "\n" for row in [*rows, *extra_rows]))
    return path


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_judge_b_one_point_above_judge_a_everywhere(bench):
    a = scores(base)
    write_judge(bench, "judge-a", a)
    write_judge(bench, "judge-b", {item: s + 1 for item, s in a.items()})
    report = build_pooled_report(bench, ["judge-a", "judge-b"], bootstrap=BootstrapSpec(200))
    row = report.agreement.loc["judge-a vs judge-b"]
    assert (row["offset"], row["mean_abs_diff"]) == (1.0, 1.0)
    assert (row["spearman"], row["exact"], row["within_one"]) == (1.0, 0.0, 1.0)
    assert (row["models"], row["items"]) == (3, 60)
    assert list(report.scores.index) == ["m-c", "m-b", "m-a"]  # best first
    for model in MODELS:
        own = mean(s for (m, _, _), s in a.items() if m == model)
        assert report.scores.loc[model, "pooled"] == pytest.approx(own + 0.5)
        assert report.judge_scores.loc[model, "judge-a"] == pytest.approx(own)
        assert report.judge_scores.loc[model, "judge-b"] == pytest.approx(own + 1)
        lower, upper = report.scores.loc[model, ["lower", "upper"]]
        assert lower < report.scores.loc[model, "pooled"] < upper
    assert report.coverage["left_out"].sum() == 0 and report.notes == ()


def test_a_judge_that_reverses_the_ranking_has_spearman_minus_one(bench):
    a = scores(base)
    write_judge(bench, "judge-a", a)
    write_judge(bench, "judge-b", {item: s + 1 for item, s in a.items()})
    write_judge(bench, "contrarian", {(m, q, t): 10.0 - s for (m, q, t), s in a.items()})
    report = build_pooled_report(bench, ["judge-a", "judge-b", "contrarian"], bootstrap=None)
    spearman = report.agreement["spearman"].to_dict()
    assert spearman == {
        "judge-a vs judge-b": 1.0,
        "judge-a vs contrarian": -1.0,
        "judge-b vs contrarian": -1.0,
    }
    assert "lower" not in report.scores.columns
    # Per item (a + a + 1 + 10 - a) / 3 = (a + 11) / 3: the ranking of judge A, compressed.
    assert list(report.scores.index) == ["m-c", "m-b", "m-a"]


def test_items_missing_from_one_judge_are_counted_and_left_out_of_the_pool(bench):
    a = scores(base, models=(*MODELS, "m-only-a"))
    b = {item: s + 1 for item, s in a.items() if item[0] != "m-only-a"}
    del b[("m-a", 81, 2)]
    del b[("m-b", 82, 1)], b[("m-b", 82, 2)]
    del b[("m-c", 83, 1)]
    unparsed = SingleJudgment(83, "m-c", ("judge-b", "single-v1"), "", "no rating", -1, 1)
    write_judge(bench, "judge-a", a)
    write_judge(bench, "judge-b", b, extra_rows=[unparsed.to_row()])
    report = build_pooled_report(bench, ["judge-a", "judge-b"], bootstrap=None)
    coverage = report.coverage
    assert coverage.loc["m-a"].to_dict() == {
        "items": 20,
        "pooled_items": 19,
        "left_out": 1,
        "judge-a": 0,
        "judge-b": 1,
    }
    assert coverage.loc["m-b", ["pooled_items", "left_out"]].tolist() == [18, 2]
    assert coverage.loc["m-c", ["pooled_items", "left_out", "judge-b"]].tolist() == [19, 1, 1]
    assert coverage.loc["m-only-a", ["pooled_items", "left_out", "judge-b"]].tolist() == [0, 20, 20]
    assert "m-only-a" not in report.scores.index  # nothing pooled, so no pooled score
    assert report.accountings["judge-b"].unparsed == 1
    pooled_b = [s + 0.5 for item, s in a.items() if item[0] == "m-b" and item[1] != 82]
    assert report.scores.loc["m-b", "pooled"] == pytest.approx(mean(pooled_b))
    assert report.scores.loc["m-b", ["items", "questions"]].tolist() == [18, 9]
    assert len(report.items) == 19 + 18 + 19
    # The agreement is measured on the same pooled items.
    assert report.agreement.loc["judge-a vs judge-b", "items"] == 56


def test_top_disagreements_are_the_largest_spreads_in_order(bench):
    a = scores(lambda m, q, t: 5.0)
    b, c = dict(a), dict(a)
    b[("m-b", 85, 2)] = 9.0  # spread 4
    b[("m-a", 83, 1)] = 2.0  # with judge C's 6: spread 4, and m-a sorts before m-b
    c[("m-a", 83, 1)] = 6.0
    b[("m-c", 82, 1)] = 8.0  # spread 3
    c[("m-a", 90, 2)] = 2.0  # spread 3
    for judge, items in (("judge-a", a), ("judge-b", b), ("judge-c", c)):
        write_judge(bench, judge, items)
    result = run_cli(
        "show",
        "--data-dir",
        str(bench.data_dir),
        "--judge-model",
        "judge-a",
        "judge-b",
        "judge-c",
        "--top",
        "5",
        "--format",
        "json",
        "--bootstrap",
        "0",
    )
    assert result.returncode == 0, result.stderr
    top = json.loads(result.stdout)["disagreements"]
    assert [(d["model"], d["question_id"], d["turn"], d["spread"]) for d in top] == [
        ("m-a", 83, 1, 4.0),
        ("m-b", 85, 2, 4.0),
        ("m-a", 90, 2, 3.0),
        ("m-c", 82, 1, 3.0),
        ("m-a", 81, 1, 0.0),  # then no spread at all, by model, question, turn
    ]
    assert top[0]["category"] == "writing"
    assert top[0]["scores"] == {"judge-a": 5.0, "judge-b": 2.0, "judge-c": 6.0}


def test_the_third_party_file_and_a_shifted_copy(bench):
    bench.judgment_dir.mkdir(parents=True)
    shutil.copy(shared_file(SINGLE_SAMPLE), bench.judgment_file("gpt-4", "single"))
    rows = [json.loads(line) for line in shared_file(SINGLE_SAMPLE).read_text().splitlines()]
    shifted = bench.judgment_dir / "gpt-4-minus-one_single.jsonl"
    shifted.write_text("".join(dumps({**r, "score": r["score"] - 1}) + "\n" for r in rows))
    result = run_cli(
        "show", "--data-dir", str(bench.data_dir), "--judge-model", "gpt-4", "gpt-4-minus-one",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [(j["label"], j["accounting"]["used"]) for j in out["judges"]] == [
        ("gpt-4", 160),
        ("gpt-4-minus-one", 160),
    ]
    (model,) = out["models"]
    assert model["model"] == "phi-3-dpo" and (model["items"], model["questions"]) == (160, 80)
    assert model["judges"]["gpt-4"] == pytest.approx(8.2)  # FastChat's published average
    assert model["judges"]["gpt-4-minus-one"] == pytest.approx(7.2)
    assert model["pooled"] == pytest.approx(7.7)
    assert model["lower"] < model["pooled"] < model["upper"]
    (pair,) = out["agreement"]
    assert (pair["offset"], pair["exact"], pair["within_one"]) == (-1.0, 0.0, 1.0)
    assert pair["spearman"] is None and "1 here" in out["notes"][0]
    # Three 1s became 0s: kept, as FastChat keeps them, and counted.
    assert out["judges"][1]["accounting"]["out_of_scale"] == {"phi-3-dpo": 3}
    assert (out["pooled_items"], out["left_out_items"]) == (160, 0)
    assert len(out["items"]) == 160 and len(out["disagreements"]) == 10


@pytest.fixture
def two_judges(bench):
    a = scores(base)
    write_judge(bench, "judge-a", a)
    write_judge(bench, "judge-b", {item: s + 1 for item, s in a.items()})
    return bench


def show(bench: BenchPaths, *args: str):
    return run_cli("show", "--data-dir", str(bench.data_dir), *args)


def test_every_format_renders(two_judges):
    args = ("--judge-model", "judge-a", "Org/judge-b", "--seed", "3")
    table = show(two_judges, *args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "Mode: single, pooled over 2 judges"
    assert lines[1] == f"Judge judge-a: {two_judges.judgment_file('judge-a', 'single')}"
    assert "Items (model, question, turn) pooled: 60 of 60; left out 0" in table.stdout
    assert "paired bootstrap over questions, 1000 resamples, seed 3" in table.stdout
    assert any(line.split()[:4] == ["judge-a", "vs", "judge-b", "judge-a"] for line in lines)
    own = mean(base("m-c", q, t) for q in QUESTIONS for t in (1, 2))
    csv = show(two_judges, *args, "--format", "csv").stdout.splitlines()
    assert csv[0] == "model,pooled,lower,upper,judge-a,judge-b,items,questions"
    assert csv[1].startswith(f"m-c,{own + 0.5},") and csv[1].endswith(f",{own + 1},20,10")
    markdown = show(two_judges, *args, "--format", "markdown").stdout
    assert "| judge-a vs judge-b | judge-a | judge-b | 3 | 60 | 1.0000 | 0.0000 |" in markdown
    assert "### Items the judges disagree on most (top 10 by spread = max - min)" in markdown
    out = json.loads(show(two_judges, *args, "--format", "json").stdout)
    assert [m["model"] for m in out["models"]] == ["m-c", "m-b", "m-a"]
    assert out["bootstrap"] == {"resamples": 1000, "seed": 3, "confidence": 0.95}
    assert out["coverage"][0]["not_scored_by"] == {"judge-a": 0, "judge-b": 0}


def test_files_are_labelled_by_their_names(two_judges, tmp_path):
    other = tmp_path / "rerun.jsonl"
    shutil.copy(two_judges.judgment_file("judge-b", "single"), other)
    files = (str(two_judges.judgment_file("judge-a", "single")), str(other))
    out = json.loads(show(two_judges, "--input-file", *files, "--format", "json").stdout)
    assert [j["label"] for j in out["judges"]] == ["judge-a", "rerun"]
    assert out["agreement"][0]["offset"] == 1.0
    assert (file_label("x/gpt-4_single.jsonl"), file_label("a_single_b.jsonl")) == (
        "gpt-4",
        "a_single_b",
    )


def test_model_list_and_repeats_follow_the_single_judge_rules(two_judges):
    path = two_judges.judgment_file("judge-a", "single")
    path.write_text(path.read_text() + path.read_text().splitlines(keepends=True)[0])
    out = json.loads(
        show(
            two_judges, "--judge-model", "judge-a", "judge-b", "--model-list", "m-a", "m-b",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    accounting = out["judges"][0]["accounting"]
    assert (accounting["duplicates"], accounting["filtered"], accounting["used"]) == (1, 20, 40)
    assert [m["model"] for m in out["models"]] == ["m-b", "m-a"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("--judge-model", "judge-a", "judge-b", "--mode", "pairwise-all"),
            "pooling several judges works on single-mode scores",
        ),
        (
            ("--judge-model", "judge-a", "Org/judge-a"),
            "--judge-model 'judge-a' and 'Org/judge-a' both give the judge label 'judge-a'",
        ),
        (
            ("--input-file", "x/pooled_single.jsonl", "y.jsonl"),
            "gives the judge label 'pooled', which is also a column",
        ),
        (("--judge-model", "judge-a", "judge-z"), "single judgment file of judge 'judge-z' not"),
        (("--judge-model", "judge-a", "judge-b", "--compare", "m-a", "m-b"), "--compare takes"),
        (("--judge-model", "judge-a", "judge-b", "--top", "-1"), "--top must be 0 or more"),
        (
            ("--judge-model", "judge-a", "judge-b", "--input-file", "x.jsonl"),
            "either with --judge-model or with --input-file",
        ),
    ],
)
def test_errors_are_one_line(two_judges, args, expected):
    result = show(two_judges, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and expected in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stdout == ""


def test_one_judge_prints_what_it_printed_before(two_judges):
    before = show(two_judges, "--judge-model", "judge-a")  # the flag as it always was
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("Mode: single\nInput file: ")
    path = str(two_judges.judgment_file("judge-a", "single"))
    assert show(two_judges, "--input-file", path).stdout == before.stdout
    assert show(two_judges, "--input-file", path, "--judge-model", "judge-a").stdout == (
        before.stdout
    )
