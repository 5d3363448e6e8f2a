"""Single scores outside the judge prompt's 1-10 scale: kept as FastChat keeps them, but counted
and named by `mtbench-judge`'s summary and by every reader of single scores."""

from __future__ import annotations

import io
import json
import logging
import shutil
from itertools import cycle
from threading import Lock

import pytest
from conftest import run_cli, shared_file
from fake_openai_server import FakeOpenAIServer

from mtbench.analysis.compare import build_comparison
from mtbench.analysis.consistency import single_pair_consistency
from mtbench.analysis.scores import build_report
from mtbench.data.judgments import (
    SCORE_SCALE,
    PairJudgment,
    SingleJudgment,
    load_single_judgments,
    out_of_scale,
    out_of_scale_counts,
    out_of_scale_warning,
    score_out_of_scale,
)
from mtbench.judging import JudgeConfig, judge
from mtbench.judging.verdicts import parse_rating
from mtbench.reports.agreement import single_pair_sections
from mtbench.reports.browse import build_page_data
from mtbench.reports.compare import render_comparison
from mtbench.reports.scores import render_report

JUDGE = ("gpt-4", "single-v1")


def single(qid: int, model: str, score: float, turn: int = 1) -> SingleJudgment:
    return SingleJudgment(qid, model, JUDGE, "u", f"Rating: [[{score}]]", score, turn, 0.0)


def write_rows(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_row()) + "\n" for r in rows))


@pytest.mark.parametrize(
    ("score", "off"),
    [(-1, False), (0, True), (0.5, True), (1, False), (7.5, False), (10, False),
     (10.0, False), (10.5, True), (11, True), (100, True)],
)  # fmt: skip
def test_the_scale_is_the_prompts_1_to_10_and_minus_1_is_unparsed_not_off_scale(score, off):
    assert SCORE_SCALE == (1, 10)
    assert score_out_of_scale(score) is off
    assert out_of_scale(single(81, "m", score)) is off


@pytest.mark.parametrize(("reply", "score"), [("[[0]]", 0), ("[[11]]", 11), ("[[100]]", 100)])
def test_off_scale_ratings_are_parsed_and_kept_as_fastchat_keeps_them(reply, score):
    assert parse_rating(f"Rating: {reply}") == score


def test_counts_and_warning_name_every_model():
    rows = [single(81, "b", 0), single(82, "b", 11), single(81, "a", 100), single(83, "a", 5)]
    rows.append(single(84, "a", -1))
    counts = out_of_scale_counts(rows)
    assert counts == {"a": 1, "b": 2}
    assert out_of_scale_warning(counts) == (
        "3 score(s) outside the judge prompt's 1-10 scale, kept as FastChat keeps them "
        "(they count in the means): a (1), b (2)"
    )
    assert out_of_scale_warning({}) is None


def test_judge_summary_counts_them(bench):
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/gpt-4.jsonl"), bench.answer_file("gpt-4"))
    ratings, lock = cycle(["[[0]]", "[[11]]", "[[100]]", "[[10]]"]), Lock()

    def reply(body: dict) -> str:
        with lock:
            return f"Out of bounds.\n\nRating: {next(ratings)}"

    with FakeOpenAIServer(reply=reply) as server:
        config = JudgeConfig(
            paths=bench,
            judge_base_url=server.base_url,
            judge_model="gpt-4",
            first_n=2,
            preflight=False,
        )
        err = io.StringIO()
        result = judge(config, err=err)
    assert result.stats is not None and result.stats.out_of_scale == 3
    assert result.stats.unparsed == 0
    assert (
        "  off scale:  3 score(s) outside the judge prompt's 1-10 scale, kept as FastChat keeps "
        "them (mtbench-show flags them)"
    ) in err.getvalue().splitlines()
    rows = list(load_single_judgments(bench.judgment_file("gpt-4", "single")))
    assert sorted(r.score for r in rows) == [0, 10, 11, 100]  # stored as the judge wrote them


def test_a_judge_within_the_scale_prints_no_such_line(bench):
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/gpt-4.jsonl"), bench.answer_file("gpt-4"))
    with FakeOpenAIServer() as server:
        err = io.StringIO()
        config = JudgeConfig(
            paths=bench, judge_base_url=server.base_url, judge_model="gpt-4", first_n=1
        )
        judge(config, err=err)
    assert "off scale" not in err.getvalue()


@pytest.fixture
def off_scale_file(bench):
    """Two models over questions 81-82, both turns; `a` has three scores off the scale."""
    rows = [
        single(81, "a", 100),
        single(81, "a", 0, turn=2),
        single(82, "a", 11),
        single(82, "a", 8, turn=2),
        single(81, "b", 7),
        single(81, "b", 6, turn=2),
        single(82, "b", 5),
        single(82, "b", 4, turn=2),
    ]
    path = bench.judgment_file("gpt-4", "single")
    write_rows(path, rows)
    return path


def test_show_keeps_them_in_the_means_and_warns_in_every_format(bench, off_scale_file, caplog):
    with caplog.at_level(logging.WARNING):
        report = build_report(bench, bootstrap=None)
    assert report.summary.loc["a", "score"] == pytest.approx((100 + 0 + 11 + 8) / 4)  # FastChat
    assert report.accounting.out_of_scale == {"a": 3}
    warning = (
        "warning: 3 score(s) outside the judge prompt's 1-10 scale, kept as FastChat keeps them "
        "(they count in the means): a (3)."
    )
    assert warning in render_report(report, "table").splitlines()
    assert warning in render_report(report, "markdown")
    assert json.loads(render_report(report, "json"))["accounting"]["out_of_scale"] == {"a": 3}
    assert "3 score(s) outside the judge prompt's 1-10 scale" in caplog.text
    # Filtered out by --model-list: nothing to flag.
    assert build_report(bench, model_list=["b"], bootstrap=None).accounting.out_of_scale == {}
    shown = render_report(build_report(bench, model_list=["b"], bootstrap=None))
    assert "outside the judge prompt" not in shown


def test_show_cli_warns_on_stderr_even_for_csv(bench, off_scale_file):
    result = run_cli("show", "--format", "csv", "--data-dir", str(bench.data_dir))
    assert result.returncode == 0, result.stderr
    assert "3 score(s) outside the judge prompt's 1-10 scale" in result.stderr
    assert "outside" not in result.stdout
    table = run_cli("show", "--bootstrap", "0", "--data-dir", str(bench.data_dir))
    assert table.returncode == 0, table.stderr
    assert "warning: 3 score(s) outside the judge prompt's 1-10 scale" in table.stdout


def test_compare_flags_compared_items_off_scale(bench, off_scale_file, caplog):
    with caplog.at_level(logging.WARNING):
        comparison = build_comparison(bench, "a", "b", bootstrap=None)
    assert comparison.out_of_scale == {"A": 3}
    text = render_comparison(comparison, "table")
    assert (
        "warning: compared items with a score outside the judge prompt's 1-10 scale, kept as "
        "FastChat keeps them: A 3."
    ) in text.splitlines()
    assert json.loads(render_comparison(comparison, "json"))["out_of_scale"] == {"A": 3}
    assert f"{off_scale_file}: 3 score(s) outside" in caplog.text
    same = build_comparison(bench, "b", "b", bootstrap=None)
    assert same.out_of_scale == {} and "warning" not in render_comparison(same, "table")


def test_single_pair_consistency_flags_them():
    singles = [single(81, "a", 11), single(81, "b", 5), single(82, "a", 7), single(82, "b", 0)]
    pairs = [
        PairJudgment(81, "a", "b", "model_1", "model_1", ("gpt-4", "pair-v2"), "", "", "", "", 1),
        PairJudgment(82, "a", "b", "model_1", "tie", ("gpt-4", "pair-v2"), "", "", "", "", 1),
    ]
    result = single_pair_consistency(singles, pairs)
    assert result.out_of_scale == {"a": 1, "b": 1}
    assert int(result.table.loc["all", "total"]) == 2  # still compared, as FastChat scores count
    sections = single_pair_sections(result)
    assert sections.footer[-1] == (
        "warning: 2 score(s) outside the judge prompt's 1-10 scale, kept as FastChat keeps them "
        "(they count in the means): a (1), b (1)."
    )
    assert sections.data["out_of_scale"] == {"a": 1, "b": 1}


def test_browse_page_notes_them(bench, off_scale_file):
    data = build_page_data(bench, bootstrap=None)
    assert (
        "Single grading: 3 score(s) outside the judge prompt's 1-10 scale, kept as FastChat "
        "keeps them (they count in the means): a (3)."
    ) in data["meta"]["notes"]
    assert data["single"]["judgments"]["a"]["81"]["1"]["score"] == 100  # shown as written
