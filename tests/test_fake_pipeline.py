"""The whole pipeline through the CLIs on the fake backend: no model, no network, no cost."""

from __future__ import annotations

import json

from conftest import run_cli

from mtbench.data.answers import load_answer_file
from mtbench.data.judgments import load_pair_judgments, load_single_judgments


def test_gen_then_judge_then_show_with_the_fake_backend(bench):
    data = ("--data-dir", str(bench.data_dir))
    judged = ("--first-n", "3", "--model-list", "smoke-a", "smoke-b", *data)
    for model_id in ("smoke-a", "smoke-b"):
        result = run_cli(
            "gen", "--backend", "fake", "--model-id", model_id, "--question-end", "3", *data
        )
        assert result.returncode == 0, result.stderr
        assert "3 question(s) generated" in result.stdout
    answers = load_answer_file(bench.answer_file("smoke-a"))
    assert sorted(answers) == [81, 82, 83]
    first = answers[81]
    assert first.model_id == "smoke-a" and first.extra["generation"]["backend"] == "fake"
    question = json.loads(bench.question_file.read_text().splitlines()[0])
    # The fake quotes what it was asked: each turn's answer names its own question turn.
    assert first.choices[0].turns[0] == f"(fake reply to: {question['turns'][0][:60]})"
    assert first.choices[0].turns[1] == f"(fake reply to: {question['turns'][1][:60]})"

    single = run_cli("judge", "--judge-backend", "fake", *judged)
    assert single.returncode == 0, single.stderr
    assert "judge:       fake: scripted replies (fake backend, no model)" in single.stderr
    assert "no API cost (fake backend)" in single.stderr
    rows = list(load_single_judgments(bench.judgment_file("fake", "single")))
    assert len(rows) == 3 * 2 * 2 and {r.score for r in rows} == {5.0}
    assert {r.judge[0] for r in rows} == {"fake"} and {r.judgment for r in rows} == {
        "Rating: [[5]]"
    }

    pair = run_cli("judge", "--judge-backend", "fake", "--mode", "pairwise-all", *judged)
    assert pair.returncode == 0, pair.stderr
    pairs = list(load_pair_judgments(bench.judgment_file("fake", "pairwise-all")))
    assert len(pairs) == 3 * 2 and {(r.g1_winner, r.g2_winner) for r in pairs} == {("tie", "tie")}

    shown = run_cli("show", "--judge-model", "fake", "--format", "json", *data)
    assert shown.returncode == 0, shown.stderr
    assert '"smoke-a"' in shown.stdout and '"smoke-b"' in shown.stdout and "5.0" in shown.stdout
    ties = run_cli("show", "--judge-model", "fake", "--mode", "pairwise-all", *data)
    assert ties.returncode == 0, ties.stderr
    assert "smoke-a" in ties.stdout and "tie" in ties.stdout.lower()

    again = run_cli("judge", "--judge-backend", "fake", *judged)
    assert again.returncode == 0 and "Nothing to do: all 12 match(es)" in again.stderr
