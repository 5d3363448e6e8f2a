"""Position consistency and single-vs-pairwise consistency of one judge."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli, shared_file

from mtbench.analysis.consistency import (
    position_consistency,
    position_outcome,
    score_verdict,
    single_pair_consistency,
)
from mtbench.data.jsonl import dumps
from mtbench.data.judgments import PairJudgment, SingleJudgment

PAIR_SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_pair.jsonl"
SINGLE_SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_single.jsonl"


@pytest.mark.parametrize(
    ("g1", "g2", "outcome"),
    [
        ("model_1", "model_1", "consistent"),
        ("model_2", "model_2", "consistent"),
        ("tie", "tie", "consistent"),
        # Game 1 shows model_1 first, game 2 shows model_2 first: whoever was first won twice.
        ("model_1", "model_2", "first"),
        ("model_2", "model_1", "second"),
        # A win in one order and a tie in the other: the winner's position of that game.
        ("model_1", "tie", "first"),
        ("tie", "model_2", "first"),
        ("model_2", "tie", "second"),
        ("tie", "model_1", "second"),
        ("error", "model_1", "error"),
        ("tie", "error", "error"),
    ],
)
def test_position_outcome(g1, g2, outcome):
    assert position_outcome(g1, g2) == outcome


@pytest.mark.parametrize(
    ("s1", "s2", "margin", "verdict"),
    [
        (8, 6, 0, "model_1"),
        (5, 5, 0, "tie"),
        (3, 9, 0, "model_2"),
        (7, 6.5, 0, "model_1"),
        (7, 6.5, 0.5, "tie"),
        (7, 6, 0.5, "model_1"),
    ],
)
def test_score_verdict(s1, s2, margin, verdict):
    assert score_verdict(s1, s2, margin) == verdict


def pair(qid, g1, g2, turn=1, m1="a", m2="b"):
    return PairJudgment(qid, m1, m2, g1, g2, ("gpt-4", "pair-v2"), "", "", "", "", turn, 0.0)


def single(qid, model, score, turn=1):
    return SingleJudgment(qid, model, ("gpt-4", "single-v1"), "", "", score, turn, 0.0)


def test_position_tables_count_each_outcome_once():
    rows = [
        pair(81, "model_1", "model_1"),
        pair(81, "model_2", "model_1"),  # a repeat of the same match: counted once
        pair(82, "model_1", "model_2"),
        pair(83, "tie", "model_1", turn=2),
        pair(91, "error", "model_2", m1="b", m2="c"),
    ]
    categories = {81: "writing", 82: "writing", 83: "writing", 91: "roleplay"}
    report = position_consistency(rows, categories)
    assert report.repeated == 1
    overall = report.tables["All"].loc["all"]
    assert (
        overall["rows"],
        overall["consistent"],
        overall["first"],
        overall["second"],
        overall["error"],
    ) == (4, 1, 1, 1, 1)
    assert overall["inconsistent_pct"] == pytest.approx(100 * 2 / 3)
    # Games by the position that won: A in 81 g1, 82 g1 and g2, 91 g2 (c, shown first in game
    # 2); B in 81 g2 and 83 g2 (model_1, shown second in game 2); a tie in 83 g1.
    assert (overall["games_a"], overall["games_b"], overall["games_tie"]) == (4, 2, 1)
    assert list(report.tables["By turn"].index) == [1, 2]
    assert list(report.tables["By category"].index) == ["writing", "roleplay"]
    assert list(report.tables["By model pair"].index) == ["a vs b", "b vs c"]
    assert report.tables["By model pair"].loc["b vs c", "error"] == 1


def test_position_consistency_of_the_real_sample():
    from mtbench.data.judgments import load_pair_judgments
    from mtbench.data.questions import load_questions

    categories = {q.question_id: q.category for q in load_questions(shared_file("question.jsonl"))}
    report = position_consistency(load_pair_judgments(shared_file(PAIR_SAMPLE)), categories)
    overall = report.tables["All"].loc["all"]
    # 75 rows: 2 with an error; of 73, 46 agree in both orders, 24 favour the first position
    # (16 model_1/model_2, 5 model_1/tie, 3 tie/model_2) and 3 the second.
    assert (overall["rows"], overall["error"], overall["consistent"]) == (75, 2, 46)
    assert (overall["first"], overall["second"]) == (24, 3)
    by_category = report.tables["By category"]
    assert by_category.loc["writing", "inconsistent"] == 7
    assert by_category.loc["writing", "inconsistent_pct"] == pytest.approx(70.0)
    assert by_category["rows"].sum() == 75


@pytest.fixture
def judged(bench):
    bench.judgment_dir.mkdir(parents=True)
    shutil.copy(shared_file(PAIR_SAMPLE), bench.judgment_file("gpt-4", "pair"))
    return bench


def test_position_command_on_the_real_sample(judged):
    result = run_cli("agreement", "position", "--data-dir", str(judged.data_dir))
    assert result.returncode == 0, result.stderr
    assert (
        "27 of 73 matches judged in both orders disagree (37.0%): the first position "
        "(Assistant A) favoured in 24, the second in 3; 2 with an unparsable verdict left "
        "out, 0 repeated rows counted once."
    ) in result.stdout
    assert "Single games: A won 79, B won 43, tie 25 of 147." in result.stdout
    as_json = json.loads(
        run_cli(
            "agreement", "position", "--data-dir", str(judged.data_dir), "--format", "json"
        ).stdout
    )
    writing = next(r for r in as_json["by_category"] if r["category"] == "writing")
    assert (writing["rows"], writing["first"], writing["second"]) == (10, 7, 0)
    csv = run_cli(
        "agreement", "position", "--data-dir", str(judged.data_dir), "--format", "csv"
    ).stdout.splitlines()
    assert csv[0] == (
        "table,group,rows,error,consistent,inconsistent,first,second,"
        "inconsistent_pct,games,games_a,games_b,games_tie"
    )
    assert "By model pair,phi-3 vs phi-3-dpo,75,2,46,27,24,3," in "\n".join(csv)


def test_position_command_without_a_file_says_what_to_run(bench):
    result = run_cli("agreement", "position", "--data-dir", str(bench.data_dir))
    assert result.returncode == 1
    assert "gpt-4_pair.jsonl: pairwise judgment file not found; run `mtbench-judge" in result.stderr


# --- single vs pairwise ------------------------------------------------------------------

SINGLES = [
    single(1, "a", 8),
    single(1, "b", 6),  # a better
    single(2, "a", 5),
    single(2, "b", 5),  # equal
    single(3, "a", 3),
    single(3, "b", 9),  # b better
    single(4, "a", 7),
    single(4, "b", 6.5),  # a slightly better
    single(5, "a", 6),
    single(5, "b", 6),  # equal
    single(6, "a", 6),
    single(6, "b", -1),  # b's score unparsed
    single(1, "a", 2, turn=2),
    single(1, "b", 4, turn=2),  # b better
]
PAIRS = [
    pair(1, "model_1", "model_1"),  # a wins: agrees with the scores
    pair(2, "tie", "tie"),  # tie: agrees
    pair(3, "model_1", "model_2"),  # orders disagree, a tie: scores say b
    pair(4, "model_2", "model_2"),  # b wins: scores say a
    pair(5, "error", "model_1"),  # unparsed
    pair(6, "model_1", "model_1"),  # no single score for b
    pair(1, "model_2", "model_2", turn=2),  # b wins: agrees
]


@pytest.mark.parametrize(
    ("margin", "per_game", "turn_1", "all_turns", "left_out"),
    [
        # (total, agree, total without ties, agree without ties)
        (
            0.0,
            False,
            (4, 2, 2, 1),
            (5, 3, 3, 2),
            {"pairwise verdict unparsed": 1, "no single score for b": 1},
        ),
        # With a margin of 0.5, q4's scores tie: q4 still disagrees, and leaves the no-tie count.
        (
            0.5,
            False,
            (4, 2, 1, 1),
            (5, 3, 2, 2),
            {"pairwise verdict unparsed": 1, "no single score for b": 1},
        ),
        # Each order alone: q1 2/2, q2 2/2, q3 1/2, q4 0/2, q5 game 2 (a vs a tie) 0/1.
        (
            0.0,
            True,
            (9, 5, 6, 3),
            (11, 7, 8, 5),
            {"pairwise verdict unparsed": 1, "no single score for b": 2},
        ),
    ],
)
def test_single_vs_pairwise(margin, per_game, turn_1, all_turns, left_out):
    result = single_pair_consistency(SINGLES, PAIRS, margin, per_game)
    columns = ["total", "agree", "total_no_tie", "agree_no_tie"]
    assert tuple(result.table.loc["turn 1", columns]) == turn_1
    assert tuple(result.table.loc["all", columns]) == all_turns
    assert result.left_out == left_out
    assert result.confusion.to_numpy().sum() == all_turns[0]


def test_single_vs_pairwise_confusion():
    result = single_pair_consistency(SINGLES, PAIRS)
    confusion = result.confusion
    assert confusion.loc["model_1", "model_1"] == 1  # q1
    assert confusion.loc["model_2", "model_2"] == 1  # q1 turn 2
    assert confusion.loc["model_2", "model_1"] == 1  # q4
    assert confusion.loc["tie", "tie"] == 1  # q2
    assert confusion.loc["tie", "model_2"] == 1  # q3


def _write(path, rows):
    path.write_text("".join(dumps(r.to_row()) + "\n" for r in rows))


def test_single_pair_command(bench):
    bench.judgment_dir.mkdir(parents=True)
    _write(bench.judgment_file("gpt-4", "single"), SINGLES)
    _write(bench.judgment_file("gpt-4", "pair"), PAIRS)
    result = run_cli("agreement", "single-pair", "--data-dir", str(bench.data_dir))
    assert result.returncode == 0, result.stderr
    assert "Agree on 3 of 5 verdicts (60.0%); without ties 2 of 3 (66.7%)." in result.stdout
    assert "Left out: 1 pairwise verdict unparsed, 1 no single score for b." in result.stdout
    out = json.loads(
        run_cli(
            "agreement",
            "single-pair",
            "--data-dir",
            str(bench.data_dir),
            "--tie-margin",
            "0.5",
            "--format",
            "json",
        ).stdout
    )
    overall = next(r for r in out["agreement"] if r["turns"] == "all")
    assert (overall["total_no_tie"], overall["agree_no_tie"]) == (2, 2)
    assert out["confusion"]["model_2"]["tie"] == 1


def test_single_pair_on_the_real_sample_names_what_is_missing(judged):
    shutil.copy(shared_file(SINGLE_SAMPLE), judged.judgment_file("gpt-4", "single"))
    result = run_cli("agreement", "single-pair", "--data-dir", str(judged.data_dir))
    # The sample's single file grades phi-3-dpo only, so no match has both single scores.
    assert result.returncode == 1
    assert (
        "no pairwise verdict could be compared with single scores (73 no single score for "
        "phi-3; 2 pairwise verdict unparsed)" in result.stderr
    )


def test_single_pair_rejects_a_negative_margin(judged):
    result = run_cli(
        "agreement", "single-pair", "--data-dir", str(judged.data_dir), "--tie-margin", "-1"
    )
    assert result.returncode == 1 and "--tie-margin must be 0 or more" in result.stderr
