"""`mtbench-show`'s CI gate: `--fail-under`, `--compare --fail-if-worse`, `--max-missing`.

Every outcome runs the real command on real judgment files and checks its exit status: 0 when
every check passes, 3 (`EXIT_GATE`) when one fails, 1 for a bad flag; and the verdict in the
text and JSON output. Noise alone must never fail a build: a threshold inside the interval
passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import run_cli

from mtbench.analysis.gate import EXIT_GATE
from mtbench.data.jsonl import dumps
from mtbench.data.judgments import SingleJudgment
from mtbench.data.paths import BenchPaths

QUESTIONS = range(81, 101)  # 20 questions: 40 items per model of the official 160


def write(bench: BenchPaths, judge: str, score: Callable[[str, int, int], float], models) -> Path:
    """`{judge}_single.jsonl` with score(model, question, turn) for every item of QUESTIONS."""
    path = bench.judgment_file(judge, "single")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        SingleJudgment(
            question_id=q,
            model=m,
            judge=(judge, "single-v1" if t == 1 else "single-v1-multi-turn"),
            user_prompt="[Question] ...",
            judgment=f"Rating: [[{score(m, q, t)}]]",
            score=score(m, q, t),
            turn=t,
        ).to_row()
        for m in models
        for q in QUESTIONS
        for t in (1, 2)
    ]
    path.write_text("".join(dumps(row) + "\n" for row in rows))
    return path


def spread(model: str, question: int, turn: int) -> int:
    """Scores 5 to 9 around a mean of 7 (varying by question, so the interval has width)."""
    return 5 + (question * 3 + turn) % 5


def show(bench: BenchPaths, *args: str):
    return run_cli("show", "--data-dir", str(bench.data_dir), "--judge-model", "j", *args)


def verdict(result) -> dict:
    return json.loads(result.stdout)["gate"]


def test_fail_under_passes_inside_the_interval_and_fails_only_below_it(bench):
    write(bench, "j", spread, ["m"])
    # The mean is 7.0 with an interval of about +-0.5 over 20 questions.
    data = json.loads(show(bench, "--format", "json").stdout)
    (model,) = data["models"]
    assert model["score"] == 7.0 and 6.3 < model["lower"] < 7.0 < model["upper"] < 7.7
    inside = show(bench, "--fail-under", "7.2", "--format", "json")  # above the score
    assert inside.returncode == 0, inside.stderr
    assert verdict(inside)["passed"] is True
    (check,) = verdict(inside)["checks"]
    assert check["check"] == "fail-under" and check["bound"] == model["upper"]
    above = show(bench, "--fail-under", f"{model['upper'] + 0.01:.4f}")
    assert above.returncode == EXIT_GATE
    assert "gate: FAILED (1 of 1 check(s); exit 3)" in above.stdout
    assert "whole interval is below" in above.stderr  # also on stderr, for CI logs
    # Without an interval the score itself is compared.
    bare = show(bench, "--fail-under", "7.2", "--bootstrap", "0", "--format", "json")
    assert bare.returncode == EXIT_GATE and verdict(bare)["checks"][0]["bound"] is None
    assert show(bench, "--fail-under", "7.0", "--bootstrap", "0").returncode == 0


def test_fail_under_checks_every_model(bench):
    write(bench, "j", lambda m, q, t: spread(m, q, t) - (3 if m == "weak" else 0), ["ok", "weak"])
    result = show(bench, "--fail-under", "6", "--format", "json")
    assert result.returncode == EXIT_GATE
    outcome = {c["subject"]: c["passed"] for c in verdict(result)["checks"]}
    assert outcome == {"ok": True, "weak": False}
    only_ok = show(bench, "--fail-under", "6", "--model-list", "ok")
    assert only_ok.returncode == 0 and "gate: passed (1 check(s))" in only_ok.stdout


def test_fail_if_worse_fails_only_when_the_paired_interval_says_so(bench):
    write(bench, "j", lambda m, q, t: spread(m, q, t) - (1 if m == "b" else 0), ["a", "b"])
    worse = show(bench, "--compare", "a", "b", "--fail-if-worse", "--format", "json")
    assert worse.returncode == EXIT_GATE
    (check,) = verdict(worse)["checks"]
    assert (check["value"], check["bound"], check["passed"]) == (-1.0, -1.0, False)
    # A margin of 1.5 tolerates a drop of 1.
    assert show(bench, "--compare", "a", "b", "--fail-if-worse", "1.5").returncode == 0
    # B better: never a failure.
    assert show(bench, "--compare", "b", "a", "--fail-if-worse").returncode == 0


def test_fail_if_worse_does_not_fail_on_noise(bench):
    # B differs from A by -1 or +1 per item, a little more often -1: within noise.
    def noisy(m: str, q: int, t: int) -> int:
        return spread(m, q, t) + ((-1, 1, -1, 1, -1)[(q + 2 * t) % 5] if m == "b" else 0)

    write(bench, "j", noisy, ["a", "b"])
    result = show(bench, "--compare", "a", "b", "--fail-if-worse", "--format", "json")
    data = json.loads(result.stdout)
    overall = data["groups"][0]
    assert overall["group"] == "all" and overall["lower"] < data["diff"] < 0 < overall["upper"]
    assert result.returncode == 0, result.stderr
    assert verdict(result)["passed"] is True


def test_max_missing_counts_against_the_question_file(bench):
    write(bench, "j", spread, ["m"])  # 40 of the bench's 160 items
    over = show(bench, "--max-missing", "0.5", "--format", "json")
    assert over.returncode == EXIT_GATE
    (check,) = verdict(over)["checks"]
    assert check["value"] == 0.75 and check["threshold"] == 0.5
    # The same judgments on a bench of exactly those questions: nothing is missing.
    rows = [
        line
        for line in bench.question_file.read_text().splitlines()
        if json.loads(line)["question_id"] in QUESTIONS
    ]
    bench.question_file.write_text("\n".join(rows) + "\n")
    assert show(bench, "--max-missing", "0").returncode == 0
    compared = show(bench, "--compare", "m", "m", "--max-missing", "0")
    assert compared.returncode == 0, compared.stderr


def test_unparsed_verdicts_count_as_missing(bench):
    path = write(bench, "j", spread, ["m"])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows[:4]:
        row["score"] = -1
    path.write_text("".join(dumps(row) + "\n" for row in rows))
    kept = [
        line
        for line in bench.question_file.read_text().splitlines()
        if json.loads(line)["question_id"] in QUESTIONS
    ]
    bench.question_file.write_text("\n".join(kept) + "\n")
    result = show(bench, "--max-missing", "0.05", "--format", "json")
    assert result.returncode == EXIT_GATE
    assert verdict(result)["checks"][0]["value"] == 4 / 40
    assert show(bench, "--max-missing", "0.1").returncode == 0


def test_pairwise_fail_under_is_on_the_adjusted_win_rate(bench):
    path = bench.judgment_file("j", "pairwise-all")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "question_id": q,
            "model_1": "a",
            "model_2": "b",
            "g1_winner": "model_1",
            "g2_winner": "model_1",
            "judge": ["j", "pair-v2"],
            "g1_user_prompt": "",
            "g1_judgment": "[[A]]",
            "g2_user_prompt": "",
            "g2_judgment": "[[B]]",
            "turn": 1,
            "tstamp": 0.0,
        }
        for q in QUESTIONS
    ]
    path.write_text("".join(dumps(row) + "\n" for row in rows))
    result = show(bench, "--mode", "pairwise-all", "--fail-under", "0.5", "--format", "json")
    assert result.returncode == EXIT_GATE
    outcome = {c["subject"]: (c["value"], c["passed"]) for c in verdict(result)["checks"]}
    assert outcome == {"a": (1.0, True), "b": (0.0, False)}


def test_bad_gate_flags_are_one_line_errors(bench):
    write(bench, "j", spread, ["m"])
    cases = [
        (("--fail-if-worse",), "--fail-if-worse needs --compare"),
        (("--compare", "m", "m", "--fail-under", "5"), "with --compare use --fail-if-worse"),
        (("--max-missing", "5"), "--max-missing is a share from 0 to 1"),
        (("--compare", "m", "m", "--fail-if-worse", "-1"), "margin of 0 or more"),
    ]
    for args, message in cases:
        result = show(bench, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip().splitlines()[-1].startswith("Error: "), result.stderr
        assert message in result.stderr
    assert show(bench, "--fail-under", "x").returncode == 2  # argparse: a usage error


def test_help_documents_the_exit_statuses():
    result = run_cli("show", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert f"{EXIT_GATE} a gate check failed" in text and "1 an error (bad data" in text


def test_fail_under_refuses_what_cannot_be_a_threshold(bench):
    write(bench, "j", spread, ["m"])
    for value, message in (("nan", "finite score"), ("inf", "finite score")):
        result = show(bench, "--fail-under", value)
        assert result.returncode == 1 and message in result.stderr, result.stderr


def test_fail_under_fails_a_listed_model_without_judgments(bench):
    write(bench, "j", spread, ["m"])
    result = show(bench, "--fail-under", "1", "--model-list", "m", "absent", "--format", "json")
    assert result.returncode == EXIT_GATE
    outcome = {c["subject"]: c["passed"] for c in verdict(result)["checks"]}
    assert outcome == {"m": True, "absent": False}


def test_pairwise_fail_under_is_a_win_rate(bench):
    write(bench, "j", spread, ["m"])
    result = show(bench, "--mode", "pairwise-all", "--fail-under", "5")
    assert result.returncode == 1 and "adjusted win rate, from 0 to 1" in result.stderr
