"""`mtbench-refs`: reference-answer sets and where two of them differ."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli, shared_file

from mtbench.analysis.references import diff_references, excerpts
from mtbench.data.jsonl import dumps

GPT4O_REFS = "third_party/lm-sys-FastChat-pr3404/reference_answer/gpt-4o.jsonl"


@pytest.mark.parametrize(
    ("a", "b", "width", "expected"),
    [
        (
            "same start, then A",
            "same start, then B",
            70,
            ("same start, then A", "same start, then B", 17),
        ),
        ("", "new", 70, ("", "new", 0)),
        # Far into a long text: the excerpt starts at a word shortly before the difference.
        (
            "x " * 50 + "alpha beta gamma",
            "x " * 50 + "alpha beta delta",
            12,
            ("...beta gamma", "...beta delta", 111),
        ),
        (
            "x " * 50 + "alpha beta gamma",
            "x " * 50 + "alpha beta delta",
            70,
            ("...x x x x x alpha beta gamma", "...x x x x x alpha beta delta", 111),
        ),
        (
            "line one\nline two",
            "line one\nline 2",
            70,
            ("line one\\nline two", "line one\\nline 2", 14),
        ),
    ],
)
def test_excerpts(a, b, width, expected):
    assert excerpts(a, b, width) == expected


def _rows(relative):
    return [json.loads(line) for line in shared_file(relative).read_text().splitlines()]


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def corrected(bench):
    """A corrected copy of the GPT-4 references: Q104 fixed, Q105's turn 2 gone, Q130 dropped,
    Q120 with only extra whitespace, and a reference for a new question 161."""
    rows = _rows("reference_answer/gpt-4.jsonl")
    by_id = {r["question_id"]: r for r in rows}
    by_id[104]["choices"][0]["turns"] = ["David has one brother.", "David would have two brothers."]
    by_id[105]["choices"][0]["turns"] = by_id[105]["choices"][0]["turns"][:1]
    by_id[120]["choices"][0]["turns"][0] += "  \n"
    del by_id[130]
    by_id[161] = {**by_id[101], "question_id": 161}
    return _write(bench.reference_file("gpt-4-corrected"), list(by_id.values()))


def test_diff_of_a_corrected_copy(bench, corrected):
    categories = {104: "reasoning", 105: "reasoning", 120: "math"}
    diff = diff_references(bench.reference_file("gpt-4"), corrected, categories)
    changes = [(r.question_id, r.category, r.turn, r.status) for r in diff.changes.itertuples()]
    assert changes == [
        (104, "reasoning", 1, "differs"),
        (104, "reasoning", 2, "differs"),
        (105, "reasoning", 2, "only in A"),
        (120, "math", 1, "differs"),
    ]
    assert (diff.only_a, diff.only_b) == ([130], [161])
    assert diff.identical == 29 * 2 - 4
    first = diff.changes.iloc[0]
    assert first["excerpt_b"] == "David has one brother."
    # "only" and "one" share their first two letters.
    assert first["excerpt_a"] == "David has only one brother." and first["at"] == 12
    quiet = diff_references(bench.reference_file("gpt-4"), corrected, ignore_whitespace=True)
    assert 120 not in set(quiet.changes["question_id"])


def test_gpt4_and_gpt4o_references_on_real_files(bench):
    shutil.copy(shared_file(GPT4O_REFS), bench.reference_file("gpt-4o"))
    result = run_cli("refs", "diff", "gpt-4", "gpt-4o", "--data-dir", str(bench.data_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"A: {bench.reference_file('gpt-4')} (30 questions)"
    # Written by two different models, they share only the one-line answer to Q107 turn 1.
    assert lines[2] == (
        "59 turn(s) differ and 1 are identical in the 30 question(s) both sets "
        "have; only in A: none; only in B: none."
    )
    assert "Question 104 (reasoning), turn 1, from character 10" in lines
    as_json = json.loads(
        run_cli(
            "refs",
            "diff",
            "gpt-4",
            str(bench.reference_file("gpt-4o")),
            "--data-dir",
            str(bench.data_dir),
            "--format",
            "json",
        ).stdout
    )
    assert len(as_json["changes"]) == 59
    assert (107, 1) not in {(c["question_id"], c["turn"]) for c in as_json["changes"]}
    assert {c["category"] for c in as_json["changes"]} == {"reasoning", "math", "coding"}


def test_diff_command_formats(bench, corrected):
    args = ("refs", "diff", "gpt-4", "gpt-4-corrected", "--data-dir", str(bench.data_dir))
    text = run_cli(*args).stdout
    assert "only in A: 130; only in B: 161." in text
    assert "Question 105 (reasoning), turn 2 (only in A)" in text
    csv = run_cli(*args, "--format", "csv").stdout.splitlines()
    assert csv[0] == "question_id,category,turn,status,at,excerpt_a,excerpt_b"
    assert csv[1] == "104,reasoning,1,differs,12,David has only one brother.,David has one brother."
    markdown = run_cli(*args, "--format", "markdown").stdout
    assert "| 105 | reasoning | 2 | only in A | 0 |" in markdown


def test_list_command(bench, corrected):
    result = run_cli("refs", "list", "--data-dir", str(bench.data_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    sets = {s["name"]: s for s in json.loads(result.stdout)["sets"]}
    assert sets["gpt-4"]["questions"] == 30 and sets["gpt-4"]["turns"] == 60
    assert sets["gpt-4-corrected"]["questions"] == 30 and sets["gpt-4-corrected"]["turns"] == 59


def test_unknown_set_names_the_sets_there(bench):
    result = run_cli("refs", "diff", "gpt-4", "claude-v1", "--data-dir", str(bench.data_dir))
    assert result.returncode == 1
    assert "no reference set 'claude-v1'" in result.stderr
    assert "(sets there: gpt-4)" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    narrow = run_cli(
        "refs", "diff", "gpt-4", "gpt-4", "--width", "3", "--data-dir", str(bench.data_dir)
    )
    assert narrow.returncode == 1 and "--width must be at least 10" in narrow.stderr
