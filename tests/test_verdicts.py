"""Verdict parsing: FastChat's rules, checked on hand-made cases and on real GPT-4 judge replies."""

from __future__ import annotations

import pytest
from conftest import shared_file

from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.judging.verdicts import (
    parse_pair_verdict,
    parse_rating,
    parse_two_ratings,
    winner_label,
)

PHI3 = "third_party/Stefanstud-FastChat-phi3/model_judgment"


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("The answer is good.\n\nRating: [[8]]", 8),
        ("Rating: [[8.5]]", 8.5),
        ("Rating: [[8.]]", 8.0),
        ("Rating: [[10]]", 10),
        ("Rating: [[08]]", 8),  # FastChat crashes here (ast.literal_eval("08")).
        ("Rating: [[08.5]]", 8.5),
        ("Rating: [[11]]", 11),  # out of range values are kept, as in FastChat
        ("Rating: [[0]]", 0),
        # The first [[n]] anywhere wins, even the prompt's own example echoed back.
        ('I must answer like "Rating: [[5]]". The answer deserves [[9]].', 5),
        # Any [[n]] beats an earlier [n].
        ("See source [1]. Rating: [[7]]", 7),
        # Without [[n]], the first [n] counts (citation-style brackets included).
        ("As shown in [3], the answer is weak. Rating: [2]", 3),
        ("Rating: [6]", 6),
        ("Rating: [[ 8 ]]", -1),
        ("Rating: 8/10", -1),
        ("Rating: [[-3]]", -1),
        ("Rating: [[eight]]", -1),
        ("$ERROR$", -1),
        ("", -1),
    ],
)
def test_parse_rating(reply, score):
    parsed = parse_rating(reply)
    assert parsed == score
    assert type(parsed) is type(score)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("Assistant A is better. [[A]]", "A"),
        ("Assistant B is better. [[B]]", "B"),
        ("Equally good. [[C]]", "tie"),
        # Substring checks in the order A, B, C: a restated format counts as A.
        ('Output "[[A]]" if A is better, "[[B]]" if B is. My verdict: [[B]]', "A"),
        ("[[B]] ... on reflection [[C]]", "B"),
        ("[[C]] and then [[B]]", "B"),
        ("[A]", "error"),
        ("[[a]]", "error"),
        ("A is better", "error"),
        ("$ERROR$", "error"),
    ],
)
def test_parse_pair_verdict(reply, verdict):
    assert parse_pair_verdict(reply) == verdict


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("[[8, 7.95]]", "tie"),
        ("[[8,7.9]]", "tie"),
        ("[[8, 6]]", "A"),
        ("[6, 9]", "B"),
        ("no numbers", "error"),
    ],
)
def test_two_ratings_format(reply, verdict):
    assert parse_pair_verdict(reply, "[[rating_a,rating_b]]") == verdict


def test_two_ratings_values():
    assert parse_two_ratings("Scores: [[7.5, 9]]") == (7.5, 9)
    assert parse_two_ratings("Scores: [7,9]") == (7, 9)
    assert parse_two_ratings("none") is None


def test_unknown_pair_format_is_refused():
    with pytest.raises(ValueError):
        parse_pair_verdict("[[A]]", "[[X]]")


@pytest.mark.parametrize(
    ("verdict", "swapped", "label"),
    [
        ("A", False, "model_1"),
        ("B", False, "model_2"),
        ("A", True, "model_2"),
        ("B", True, "model_1"),
        ("tie", True, "tie"),
        ("error", False, "error"),
    ],
)
def test_winner_label_maps_game_two_back(verdict, swapped, label):
    assert winner_label(verdict, swapped) == label


def test_real_gpt4_single_replies_parse_to_fastchats_scores():
    """160 real GPT-4 replies graded by FastChat: our parser gives the same score for each."""
    rows = list(load_single_judgments(shared_file(f"{PHI3}/gpt-4_single.jsonl")))
    assert len(rows) == 160
    mismatches = [
        (row.question_id, row.turn, row.score, parse_rating(row.judgment))
        for row in rows
        if parse_rating(row.judgment) != row.score
        or type(parse_rating(row.judgment)) is not type(row.score)
    ]
    assert mismatches == []
    assert len({row.score for row in rows}) > 5  # a real spread, not one repeated verdict


def test_real_gpt4_pair_replies_parse_to_fastchats_winners():
    """75 real pairwise rows (150 replies), including `$ERROR$` games, mapped back as FastChat."""
    rows = list(load_pair_judgments(shared_file(f"{PHI3}/gpt-4_pair.jsonl")))
    assert len(rows) == 75
    for row in rows:
        g1 = winner_label(parse_pair_verdict(row.g1_judgment), swapped=False)
        g2 = winner_label(parse_pair_verdict(row.g2_judgment), swapped=True)
        assert (g1, g2) == (row.g1_winner, row.g2_winner), row.question_id
    winners = {row.g1_winner for row in rows} | {row.g2_winner for row in rows}
    assert winners == {"model_1", "model_2", "tie", "error"}
