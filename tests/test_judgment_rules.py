"""The rules every reader of judgment files shares (`mtbench.data.judgments`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtbench.data.judgments import (
    MODES,
    PairJudgment,
    SingleJudgment,
    combined_verdict,
    first_parsed,
    grading_kind,
)
from mtbench.data.paths import BenchPaths
from mtbench.errors import ConfigError


def single(qid: int, score: float, model: str = "a", turn: int = 1, prompt: str = "single-v1"):
    return SingleJudgment(qid, model, ("gpt-4", prompt), "", "", score, turn, 0.0)


def pair(qid: int, m1: str, m2: str, g1: str = "tie", g2: str = "tie") -> PairJudgment:
    return PairJudgment(qid, m1, m2, g1, g2, ("gpt-4", "pair-v2"), "", "", "", "", 1, 0.0)


@pytest.mark.parametrize(
    ("scores", "kept", "repeats"),
    [
        ([7], [7], 0),
        ([7, 3], [7], 1),  # the first parsed row wins
        ([-1, 3, 5], [3], 2),  # an unparsed row is replaced by the first parsed re-run
        ([-1, -1], [-1], 1),  # nothing parsed: the first row stands, so it is counted unparsed
        ([4, -1], [4], 1),
    ],
)
def test_a_repeated_judgment_counts_once(scores, kept, repeats):
    rows, left_out = first_parsed([single(81, s) for s in scores])
    assert [r.score for r in rows] == kept and left_out == repeats


def test_rows_keep_the_order_their_judgment_first_appears():
    rows = [single(82, -1), single(81, 5), single(82, 6), single(81, 2, turn=2)]
    kept, repeats = first_parsed(rows)
    assert [(r.question_id, r.turn, r.score) for r in kept] == [(82, 1, 6), (81, 1, 5), (81, 2, 2)]
    assert repeats == 1


def test_a_pairwise_match_is_the_same_in_either_model_order():
    rows = [pair(81, "a", "b", "error"), pair(81, "b", "a"), pair(81, "a", "c")]
    kept, repeats = first_parsed(rows)
    assert [(r.model_1, r.model_2) for r in kept] == [("b", "a"), ("a", "c")] and repeats == 1


def test_a_caller_may_count_one_row_per_item_whatever_the_judge_prompt():
    rows = [single(81, 5, prompt="single-v1"), single(81, 9, prompt="single-math-v1")]
    assert len(first_parsed(rows)[0]) == 2  # different judges: two judgments
    kept, repeats = first_parsed(rows, key=lambda j: (j.question_id, j.turn))
    assert [r.score for r in kept] == [5] and repeats == 1


@pytest.mark.parametrize(
    ("g1", "g2", "verdict"),
    [
        ("model_1", "model_1", "model_1"),  # a win needs both orders
        ("model_2", "model_2", "model_2"),
        ("tie", "tie", "tie"),
        ("model_1", "model_2", "tie"),  # the orders disagree
        ("model_1", "tie", "tie"),
        ("tie", "model_2", "tie"),
        ("error", "model_1", "error"),  # either game unparsed: left out by every reader
        ("tie", "error", "error"),
        ("error", "error", "error"),
    ],
)
def test_both_orders_combine_into_one_verdict(g1, g2, verdict):
    assert combined_verdict(g1, g2) == verdict
    assert pair(81, "a", "b", g1, g2).combined == verdict


def test_each_mode_has_one_kind_and_one_file():
    paths = BenchPaths(Path("data"))
    kinds = {mode: grading_kind(mode) for mode in MODES}
    assert kinds == {"single": "single", "pairwise-baseline": "pair", "pairwise-all": "pair"}
    files = {paths.judgment_file("gpt-4", mode).name for mode in (*MODES, "pair")}
    assert files == {"gpt-4_single.jsonl", "gpt-4_pair.jsonl"}


def test_an_unknown_mode_is_a_config_error_everywhere():
    with pytest.raises(ConfigError, match="unknown mode 'pairwise'; choose one of: single, "):
        grading_kind("pairwise")
    with pytest.raises(ConfigError, match="unknown mode 'pairwise'"):
        BenchPaths(Path("data")).judgment_file("gpt-4", "pairwise")
