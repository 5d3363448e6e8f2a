"""`mtbench-show` names the judge snapshot(s) behind its numbers, and warns when they are mixed."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file

from mtbench.analysis.snapshots import NOT_RECORDED, judge_snapshots
from mtbench.cli.show import main
from mtbench.data.jsonl import dumps
from mtbench.data.judgments import PairJudgment, SingleJudgment
from mtbench.data.paths import BenchPaths

OLD = "gpt-5-2025-08-07"
NEW = "gpt-5-2025-11-13"
MIXED_WARNING = (
    "warning: this file mixes 2 judge snapshots; scores from different snapshots may not be "
    "comparable (rejudge with one, or split the file)"
)
QUESTIONS = range(81, 101)  # 20 official questions, two turns each: 40 single rows per model


def meta(snapshot: str | None) -> dict[str, Any]:
    """A judge call's provenance as mtbench writes it; no `model` key when `snapshot` is None."""
    recorded = {"system_fingerprint": "fp_abc", "finish_reason": "stop", "params": {}}
    return recorded if snapshot is None else {"model": snapshot, **recorded}


def single_row(
    qid: int, turn: int, score: int, snapshot: str | None = None, model: str = "m"
) -> dict[str, Any]:
    prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
    row: dict[str, Any] = {
        "question_id": qid,
        "model": model,
        "judge": ["gpt-5", prompt],
        "user_prompt": "u",
        "judgment": f"Rating: [[{score}]]",
        "score": score,
        "turn": turn,
        "tstamp": 0.0,
    }
    if snapshot is not None:
        row["judge_meta"] = meta(snapshot)
    return row


def pair_row(
    qid: int, model_1: str, model_2: str, g1: str | None = None, g2: str | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "question_id": qid,
        "model_1": model_1,
        "model_2": model_2,
        "g1_winner": "model_1" if qid % 2 else "tie",
        "g2_winner": "model_1",
        "judge": ["gpt-5", "pair-v2"],
        "g1_user_prompt": "u",
        "g1_judgment": "[[A]]",
        "g2_user_prompt": "u",
        "g2_judgment": "[[B]]",
        "turn": 1,
        "tstamp": 0.0,
    }
    if g1 is not None:
        row["g1_judge_meta"] = meta(g1)
    if g2 is not None:
        row["g2_judge_meta"] = meta(g2)
    return row


def singles(snapshot: str | None = None, model: str = "m") -> list[dict[str, Any]]:
    """40 rows of `model`, scores 3 to 9, all judged by `snapshot`."""
    return [
        single_row(qid, turn, 3 + (qid + turn) % 7, snapshot, model)
        for qid in QUESTIONS
        for turn in (1, 2)
    ]


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(row) + "\n" for row in rows))


def show(bench: BenchPaths, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`mtbench-show` on the data dir (judge `gpt-5`, no bootstrap); its stdout."""
    capsys.readouterr()
    base = ["--data-dir", str(bench.data_dir), "--judge-model", "gpt-5", "--bootstrap", "0"]
    code = main([*base, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def snapshot_warnings(text: str) -> list[str]:
    """The warning lines about judge snapshots (the bench's coverage warnings are not)."""
    return [line for line in text.splitlines() if "warning" in line and "snapshot" in line]


def without(text: str, *lines: str) -> str:
    """`text` with each of these whole lines taken out (each must be there once)."""
    for line in lines:
        assert text.count(line + "\n") == 1, text
        text = text.replace(line + "\n", "", 1)
    return text


def test_one_snapshot_is_named_under_the_header_and_changes_no_number(bench, capsys):
    path = bench.judgment_file("gpt-5", "single")
    write(path, singles())
    plain = {fmt: show(bench, capsys, "--format", fmt) for fmt in ("table", "markdown", "csv")}
    write(path, singles(OLD))
    table = show(bench, capsys)
    line = f"judge snapshot: {OLD} (40 judgments)"
    assert table.splitlines()[:3] == ["Mode: single", f"Input file: {path}", line]
    assert not snapshot_warnings(table)
    assert without(table, line) == plain["table"]
    markdown = show(bench, capsys, "--format", "markdown")
    assert markdown == f"{line}\n\n{plain['markdown']}"
    assert show(bench, capsys, "--format", "csv") == plain["csv"]  # one table, left alone
    data = json.loads(show(bench, capsys, "--format", "json"))
    assert data["judge_snapshots"] == {OLD: 40}


def test_two_snapshots_are_listed_most_first_with_a_warning(bench, capsys, caplog):
    path = bench.judgment_file("gpt-5", "single")
    rows = singles(NEW)
    for row in rows[:10]:
        row["judge_meta"] = meta(OLD)
    write(path, rows)
    with caplog.at_level(logging.WARNING):
        table = show(bench, capsys)
    listing = f"judge snapshots: {NEW} (30), {OLD} (10)"
    assert table.splitlines()[2:4] == [listing, MIXED_WARNING]
    assert "mixes 2 judge snapshots" in caplog.text  # on stderr too, for CSV and JSON users
    assert show(bench, capsys, "--format", "markdown").startswith(f"{listing}\n{MIXED_WARNING}\n")
    data = json.loads(show(bench, capsys, "--format", "json"))
    assert list(data["judge_snapshots"].items()) == [(NEW, 30), (OLD, 10)]
    assert "snapshot" not in show(bench, capsys, "--format", "csv")


def test_partly_recorded_snapshots_count_the_rest_as_not_recorded(bench, capsys):
    path = bench.judgment_file("gpt-5", "single")
    rows = singles(OLD)
    for row in rows[:15]:
        del row["judge_meta"]
    write(path, rows)
    table = show(bench, capsys)
    assert table.splitlines()[2] == f"judge snapshot: {OLD} (25), not recorded (15)"
    assert table.splitlines()[3] == (
        "warning: 15 judge call(s) in this file record no snapshot (FastChat's or an older "
        "run's): they may come from another judge version than the rest"
    )
    data = json.loads(show(bench, capsys, "--format", "json"))
    assert data["judge_snapshots"] == {OLD: 25, NOT_RECORDED: 15}


def test_only_the_rows_the_report_uses_are_counted(bench, capsys):
    path = bench.judgment_file("gpt-5", "single")
    repeated = singles(NEW)[:5]  # a re-run with another snapshot: the first rows count
    unparsed = [single_row(101, 1, -1, NEW)]  # dropped: no rating
    other_model = singles(NEW, model="other")  # left out by --model-list
    write(path, singles(OLD) + repeated + unparsed + other_model)
    table = show(bench, capsys, "--model-list", "m")
    assert table.splitlines()[2] == f"judge snapshot: {OLD} (40 judgments)"
    assert NEW not in table and not snapshot_warnings(table)
    everything = show(bench, capsys)
    assert f"judge snapshots: {OLD} (40), {NEW} (40)" in everything
    assert MIXED_WARNING in everything


def test_a_file_that_records_no_snapshot_prints_exactly_as_before(bench, capsys):
    """FastChat's file, and the same rows with provenance but no `model`, print the same."""
    for kind, mode, field in (
        ("single", "single", "judge_meta"),
        ("pair", "pairwise-all", "g1_judge_meta"),
    ):
        path = bench.judgment_file("gpt-5", kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        fastchat = f"third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_{kind}.jsonl"
        shutil.copy(shared_file(fastchat), path)
        formats = ("table", "markdown", "csv", "json")
        before = {fmt: show(bench, capsys, "--mode", mode, "--format", fmt) for fmt in formats}
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        write(path, [{**row, field: meta(None)} for row in rows])
        for fmt in formats:
            after = show(bench, capsys, "--mode", mode, "--format", fmt)
            assert after == before[fmt], fmt
            if fmt != "json":
                assert "snapshot" not in after
        assert "judge_snapshots" not in json.loads(before["json"])


def test_pairwise_counts_each_game_and_only_the_rows_used(bench, capsys, caplog):
    path = bench.judgment_file("gpt-5", "pair")
    rows = [pair_row(qid, "a", "base", OLD, OLD) for qid in QUESTIONS]
    rows[0] = pair_row(81, "a", "base", OLD, NEW)  # one row whose second game got the new one
    rows.append(pair_row(81, "c", "a", NEW, NEW))  # no baseline: only pairwise-all uses it
    write(path, rows)
    with caplog.at_level(logging.WARNING):
        baseline = show(bench, capsys, "--mode", "pairwise-baseline", "--baseline-model", "base")
    assert baseline.splitlines()[2:4] == [f"judge snapshots: {OLD} (39), {NEW} (1)", MIXED_WARNING]
    assert "mixes 2 judge snapshots" in caplog.text
    every = show(bench, capsys, "--mode", "pairwise-all", "--format", "json")
    assert json.loads(every)["judge_snapshots"] == {OLD: 39, NEW: 3}

    write(path, [pair_row(qid, "a", "base", OLD, OLD) for qid in QUESTIONS])
    table = show(bench, capsys, "--mode", "pairwise-all")
    assert table.splitlines()[2] == f"judge snapshot: {OLD} (40 games)"
    assert not snapshot_warnings(table)

    write(path, [pair_row(qid, "a", "base", OLD) for qid in QUESTIONS])  # no game 2 record
    table = show(bench, capsys, "--mode", "pairwise-all")
    assert table.splitlines()[2] == f"judge snapshot: {OLD} (20), not recorded (20)"


def test_judge_snapshots_tolerates_malformed_provenance():
    judge = ("gpt-5", "single-v1")
    rows = [
        SingleJudgment(81, "m", judge, "u", "j", 5, 1, 0.0, {"judge_meta": "oops"}),
        SingleJudgment(82, "m", judge, "u", "j", 5, 1, 0.0, {"judge_meta": {"model": ""}}),
        SingleJudgment(83, "m", judge, "u", "j", 5, 1, 0.0, {"judge_meta": {"model": "b"}}),
        SingleJudgment(84, "m", judge, "u", "j", 5, 1, 0.0, {"judge_meta": {"model": "a"}}),
    ]
    assert list(judge_snapshots(rows).items()) == [("a", 1), ("b", 1), (NOT_RECORDED, 2)]
    pair = PairJudgment(81, "a", "b", "tie", "tie", judge, "", "", "", "", 1, 0.0)
    assert judge_snapshots([pair]) == {NOT_RECORDED: 2}
    assert judge_snapshots([]) == {}
