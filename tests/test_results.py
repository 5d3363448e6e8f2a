"""Aggregation rules of `mtbench-show`, case by case (FastChat's `show_result` rules)."""

from __future__ import annotations

import pytest

from mtbench.analysis.scores import (
    pairwise_outcomes,
    pairwise_table,
    single_average_table,
    single_turn_table,
)
from mtbench.analysis.selection import select_pairwise, select_single
from mtbench.data.judgments import PairJudgment, SingleJudgment


def single(qid: int, model: str, score: float, turn: int = 1) -> SingleJudgment:
    prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
    return SingleJudgment(qid, model, ("gpt-4", prompt), "u", "j", score, turn, 0.0)


def pair(qid: int, m1: str, m2: str, g1: str, g2: str, turn: int = 1) -> PairJudgment:
    return PairJudgment(qid, m1, m2, g1, g2, ("gpt-4", "pair-v2"), "", "", "", "", turn, 0.0)


@pytest.mark.parametrize(
    ("rows", "turn1", "turn2", "average"),
    [
        # Plain means per turn; the average pools all rows.
        ([single(1, "a", 8), single(2, "a", 6), single(1, "a", 4, 2)], 7.0, 4.0, 6.0),
        # A -1 row is dropped before averaging, so the average is not the mean of turn means.
        (
            [single(1, "a", 9), single(2, "a", -1), single(1, "a", 6, 2), single(2, "a", 6, 2)],
            9.0,
            6.0,
            7.0,
        ),
        # Fractional scores are kept as written.
        ([single(1, "a", 8.5), single(1, "a", 7.5, 2)], 8.5, 7.5, 8.0),
        # A repeated judgment (same question, model, judge, turn) counts once: the first parsed.
        ([single(1, "a", 10), single(1, "a", 2), single(1, "a", 4, 2)], 10.0, 4.0, 7.0),
        # ...and a -1 followed by a parsed re-run keeps the parsed one.
        ([single(1, "a", -1), single(1, "a", 3), single(1, "a", 5, 2)], 3.0, 5.0, 4.0),
    ],
)
def test_single_tables(rows, turn1, turn2, average):
    frame, _ = select_single(rows)
    assert single_turn_table(frame, 1).loc[("a", 1), "score"] == pytest.approx(turn1)
    assert single_turn_table(frame, 2).loc[("a", 2), "score"] == pytest.approx(turn2)
    assert single_average_table(frame).loc["a", "score"] == pytest.approx(average)


def test_single_accounting_counts_every_dropped_row():
    rows = [single(1, "a", 5), single(1, "a", 5), single(2, "a", -1), single(1, "b", 7)]
    frame, accounting = select_single(rows, model_list=["a"])
    assert (accounting.rows, accounting.unparsed, accounting.duplicates) == (4, 1, 1)
    assert (accounting.filtered, accounting.used) == (1, 1)
    assert list(frame["model"]) == ["a"]


def test_single_tables_are_sorted_best_first():
    frame, _ = select_single([single(1, "low", 2), single(1, "high", 9), single(1, "mid", 5)])
    assert list(single_average_table(frame).index) == ["high", "mid", "low"]


@pytest.mark.parametrize(
    ("g1", "g2", "a", "b"),
    [
        ("model_1", "model_1", (1, 0, 0), (0, 1, 0)),  # agreed win
        ("model_2", "model_2", (0, 1, 0), (1, 0, 0)),  # agreed loss
        ("tie", "tie", (0, 0, 1), (0, 0, 1)),
        ("model_1", "model_2", (0, 0, 1), (0, 0, 1)),  # orders disagree: a tie
        ("model_1", "tie", (0, 0, 1), (0, 0, 1)),  # win in one order only: a tie
        ("tie", "model_2", (0, 0, 1), (0, 0, 1)),
    ],
)
def test_pairwise_outcome_rules(g1, g2, a, b):
    frame, _ = select_pairwise([pair(1, "a", "b", g1, g2)])
    table = pairwise_table(pairwise_outcomes(frame))
    assert tuple(table.loc["a", ["win", "loss", "tie"]]) == a
    assert tuple(table.loc["b", ["win", "loss", "tie"]]) == b


def test_pairwise_rates_and_error_rows():
    rows = [
        pair(1, "a", "b", "model_1", "model_1"),
        pair(2, "a", "b", "model_1", "model_1"),
        pair(3, "a", "b", "model_2", "model_2"),
        pair(4, "a", "b", "tie", "tie"),
        pair(5, "a", "b", "error", "model_1"),  # dropped
        pair(6, "a", "b", "model_1", "error"),  # dropped
    ]
    frame, accounting = select_pairwise(rows)
    table = pairwise_table(pairwise_outcomes(frame))
    assert accounting.unparsed == 2 and accounting.used == 4
    assert table.loc["a", "win_rate"] == pytest.approx(0.5)
    assert table.loc["a", "loss_rate"] == pytest.approx(0.25)
    assert table.loc["a", "win_rate_adjusted"] == pytest.approx((2 + 0.5) / 4)
    assert list(table.index) == ["a", "b"]


def test_pairwise_baseline_mode_keeps_only_rows_with_the_baseline_and_hides_it():
    rows = [
        pair(1, "a", "base", "model_1", "model_1"),
        pair(1, "b", "base", "model_2", "model_2"),
        pair(1, "a", "b", "model_1", "model_1"),  # no baseline: filtered
    ]
    frame, accounting = select_pairwise(rows, baseline="base")
    table = pairwise_table(pairwise_outcomes(frame), baseline="base")
    assert accounting.filtered == 1
    assert sorted(table.index) == ["a", "b"]
    assert table.loc["a", "win"] == 1 and table.loc["b", "loss"] == 1


def test_pairwise_model_list_counts_a_model_in_either_position():
    # FastChat filters on model_1 only, which would drop c's row where it is model_2.
    rows = [
        pair(1, "a", "c", "model_2", "model_2"),
        pair(2, "c", "a", "model_1", "model_1"),
        pair(3, "a", "b", "model_1", "model_1"),  # b not listed
    ]
    frame, accounting = select_pairwise(rows, model_list=["a", "c"])
    table = pairwise_table(pairwise_outcomes(frame))
    assert accounting.filtered == 1
    assert table.loc["c", "win"] == 2 and table.loc["a", "loss"] == 2


def test_pairwise_repeat_in_either_order_counts_once():
    rows = [
        pair(1, "a", "b", "model_1", "model_1"),
        pair(1, "b", "a", "model_1", "model_1"),  # same match re-run with the order swapped
        pair(1, "a", "b", "model_1", "model_1", turn=2),  # another turn: kept
    ]
    frame, accounting = select_pairwise(rows)
    assert accounting.duplicates == 1 and accounting.used == 2
    assert pairwise_table(pairwise_outcomes(frame)).loc["a", "win"] == 2


def test_inconsistent_orders_are_counted():
    rows = [pair(1, "a", "b", "model_1", "model_2"), pair(2, "a", "b", "tie", "tie")]
    _, accounting = select_pairwise(rows)
    assert accounting.inconsistent == 1


def test_empty_input_gives_empty_frames_not_a_crash():
    frame, accounting = select_single([])
    assert frame.empty and accounting.rows == 0
    frame, accounting = select_pairwise([])
    assert frame.empty and accounting.inconsistent == 0
