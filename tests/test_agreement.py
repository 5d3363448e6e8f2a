"""Judge-vs-judge agreement: FastChat's `compute_agreement.py` numbers on hand-built vote sets,
our own pairwise judgment files read as votes, and the `mtbench-agreement judges` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, shared_file

from mtbench.analysis.agreement import choose_judges, judge_agreement, votes_agree
from mtbench.data.jsonl import dumps
from mtbench.data.judgments import PairJudgment
from mtbench.data.votes import Vote, VoteSource, judge_name, pair_votes
from mtbench.errors import ConfigError

PAIR_SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_pair.jsonl"
GPT4 = ["gpt-4", "pair-v2"]


def vote(qid, a, b, winner, judge, turn=1):
    return {
        "question_id": qid,
        "model_a": a,
        "model_b": b,
        "winner": winner,
        "judge": judge,
        "turn": turn,
    }


# A vote set in the released format, small enough to count by hand (see each match's comment).
HUMAN = [
    # q81 t1: gpt-4 beats vicuna for expert_1 (written in the other model order), a tie for
    # expert_2; the author's vote is not a `human` vote.
    vote(81, "vicuna-13b", "gpt-4", "model_b", "expert_1"),
    vote(81, "gpt-4", "vicuna-13b", "tie (bothbad)", "expert_2"),
    vote(81, "gpt-4", "vicuna-13b", "model_b", "author_1"),
    # q82 t1: a tie.
    vote(82, "alpaca-13b", "llama-13b", "tie", "expert_0"),
    # q83 t1: expert_3 says claude, expert_4 says gpt-4.
    vote(83, "claude-v1", "gpt-4", "model_a", "expert_3"),
    vote(83, "gpt-4", "claude-v1", "model_a", "expert_4"),
    # q84 t1: three experts, no GPT-4 vote: model_a, model_a, tie.
    vote(84, "gpt-4", "llama-13b", "model_a", "expert_0"),
    vote(84, "gpt-4", "llama-13b", "model_a", "expert_1"),
    vote(84, "llama-13b", "gpt-4", "tie", "expert_2"),
    # q81 t2: gpt-4 loses to vicuna for expert_1.
    vote(81, "gpt-4", "vicuna-13b", "model_b", "expert_1", turn=2),
]
GPT4_VOTES = [
    vote(81, "gpt-4", "vicuna-13b", "model_a", GPT4),
    vote(82, "alpaca-13b", "llama-13b", "tie", GPT4),
    vote(83, "gpt-4", "claude-v1", "model_b", GPT4),
    vote(81, "vicuna-13b", "gpt-4", "model_a", GPT4, turn=2),
]


def as_votes(raw):
    return [
        Vote(
            v["question_id"],
            v["model_a"],
            v["model_b"],
            v["winner"],
            judge_name(v["judge"]),
            v["turn"],
        )
        for v in raw
    ]


@pytest.mark.parametrize(
    ("judges", "expected"),
    [
        # turn 1: q81 1 of 2 agree, q82 1 of 1 (tie = tie), q83 1 of 2; without ties q81 1 of 1
        # and q83 1 of 2. turn 2: q81 1 of 1.
        (("gpt4-pair", "human"), [(5, 3), (3, 2), (1, 1), (1, 1)]),
        # Either order gives the same numbers (FastChat accepts only this one).
        (("human", "gpt4-pair"), [(5, 3), (3, 2), (1, 1), (1, 1)]),
        # human vs human: every unordered pair of human votes on a match. q81: win vs tie,
        # q83: disagree, q84: 3 pairs of which 1 agrees; without ties q83 and q84's one pair.
        (("human", "human"), [(5, 1), (2, 1), (0, 0), (0, 0)]),
        # Beyond FastChat: authors vs GPT-4 (q81 t1 only: gpt-4 vs vicuna disagree).
        (("author", "gpt4-pair"), [(1, 0), (1, 0), (0, 0), (0, 0)]),
    ],
)
def test_fastchat_agreement_counts(judges, expected):
    result = judge_agreement(as_votes(HUMAN + GPT4_VOTES), *judges)
    fastchat = [(c.total, c.agree) for c in result.counts if c.turn in (1, 2)]
    assert fastchat == expected
    assert [(c.turn, c.with_ties) for c in result.counts[:4]] == [
        (1, True),
        (1, False),
        (2, True),
        (2, False),
    ]
    every_turn = [c for c in result.counts if c.turn is None]
    assert every_turn[0].total == expected[0][0] + expected[2][0]
    assert every_turn[1].agree == expected[1][1] + expected[3][1]


@pytest.mark.parametrize(
    ("first", "second", "agree"),
    [
        ("model_a", "model_a", True),
        ("model_a", "model_b", False),
        ("tie", "tie (bothbad)", True),
        ("tie (bothbad)", "tie (bothbad)", True),
        ("tie", "model_a", False),
    ],
)
def test_votes_agree(first, second, agree):
    assert votes_agree(first, second) is agree


@pytest.mark.parametrize(
    ("judge", "name"),
    [
        (["gpt-4", "pair-v2"], "gpt4-pair"),
        (["gpt-4", "pair-math-v1-multi-turn"], "gpt4-pair"),
        ("expert_12", "human"),
        ("author_3", "author"),
        (["gpt-4o", "pair-v2"], "gpt-4o-pair"),
        (["gpt-4", "single-v1"], "gpt-4-single-v1"),
        ("my-judge", "my-judge"),
    ],
)
def test_judge_names(judge, name):
    assert judge_name(judge) == name


def test_judges_are_chosen_as_fastchat_by_default_else_the_two_found():
    votes = as_votes(HUMAN + GPT4_VOTES)
    assert choose_judges(votes, None) == ("gpt4-pair", "human")
    assert choose_judges(as_votes(HUMAN), None) == ("author", "human")
    assert choose_judges(as_votes(GPT4_VOTES), None) == ("gpt4-pair", "gpt4-pair")
    with pytest.raises(ConfigError, match="judge 'gpt-4o-pair' has no votes"):
        choose_judges(votes, ["gpt-4o-pair", "human"])
    three = as_votes([vote(1, "a", "b", "tie", x) for x in ("j1", "j2", "j3")])
    with pytest.raises(ConfigError, match="judges found: j1, j2, j3; choose two"):
        choose_judges(three, None)


def pair(qid, g1, g2, turn=1, judge=("gpt-4", "pair-v2"), m1="a", m2="b"):
    return PairJudgment(qid, m1, m2, g1, g2, judge, "", "", "", "", turn, 0.0)


def test_pairwise_judgments_become_votes_as_mtbench_show_combines_them():
    rows = [
        pair(1, "model_1", "model_1"),  # a win for a
        pair(2, "model_1", "model_2"),  # orders disagree: a tie
        pair(3, "tie", "model_2"),  # a tie
        pair(4, "model_2", "error"),  # dropped
        pair(5, "model_2", "model_2"),  # a win for b ...
        pair(5, "model_1", "model_1"),  # ... and its repeat counts once
    ]
    votes, counts = pair_votes(rows)
    assert [(v.question_id, v.winner) for v in votes] == [
        (1, "model_a"),
        (2, "tie"),
        (3, "tie"),
        (5, "model_b"),
    ]
    assert {v.judge for v in votes} == {"gpt4-pair"}
    assert counts == {"rows": 6, "repeated": 1, "error": 1}
    per_game, counts = pair_votes(rows, per_game=True, label="run-1")
    assert [(v.question_id, v.winner) for v in per_game] == [
        (1, "model_a"),
        (1, "model_a"),
        (2, "model_a"),
        (2, "model_b"),
        (3, "tie"),
        (3, "model_b"),
        (4, "model_b"),
        (5, "model_b"),
        (5, "model_b"),
    ]
    assert {v.judge for v in per_game} == {"run-1"} and counts["error"] == 1


def test_label_prefix_of_a_vote_file(tmp_path):
    assert VoteSource.parse("run1=x/gpt-4_pair.jsonl") == VoteSource(
        Path("x/gpt-4_pair.jsonl"), "run1"
    )
    odd = tmp_path / "a=b.json"
    odd.write_text("[]")
    assert VoteSource.parse(str(odd)).label is None


# --- the command, as a user runs it -------------------------------------------------------


@pytest.fixture
def vote_files(tmp_path):
    human, gpt4 = tmp_path / "human_judgments.json", tmp_path / "gpt4_pair_judgments.json"
    human.write_text(json.dumps(HUMAN))
    gpt4.write_text(json.dumps(GPT4_VOTES))
    return human, gpt4


def test_fastchat_command_line_prints_fastchat_lines(vote_files):
    human, gpt4 = vote_files
    result = run_cli(
        "agreement", "--judges", "gpt4-pair", "human", "--votefiles", str(human), str(gpt4)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "turn 1 with tie. #total: 5, #agree: 3, ratio: 0.60",
        "turn 1 without tie. #total: 3, #agree: 2, ratio: 0.67",
        "turn 2 with tie. #total: 1, #agree: 1, ratio: 1.00",
        "turn 2 without tie. #total: 1, #agree: 1, ratio: 1.00",
    ]
    assert "all turns with tie. #total: 6, #agree: 4, ratio: 0.67" in result.stdout
    assert "Votes read: author 1, gpt4-pair 4, human 9" in result.stdout


def test_human_vs_human_and_json(vote_files):
    human, _ = vote_files
    result = run_cli(
        "agreement",
        "judges",
        "--votefiles",
        str(human),
        "--judges",
        "human",
        "human",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["judges"] == ["human", "human"]
    assert [(r["turn"], r["with_ties"], r["total"], r["agree"]) for r in out["results"][:4]] == [
        (1, True, 5, 1),
        (1, False, 2, 1),
        (2, True, 0, 0),
        (2, False, 0, 0),
    ]
    assert out["results"][2]["ratio"] is None


def _copy_pair_file(tmp_path, name, change=None):
    rows = [json.loads(line) for line in shared_file(PAIR_SAMPLE).read_text().splitlines()]
    if change:
        rows = change(rows)
    path = tmp_path / name
    path.write_text("".join(dumps(r) + "\n" for r in rows))
    return path, rows


def test_two_runs_of_one_judge_on_real_files(tmp_path):
    """A re-run that breaks 5 consistent wins into disagreeing orders agrees on 68 of 73."""
    first = tmp_path / "gpt-4_pair.jsonl"
    shutil.copy(shared_file(PAIR_SAMPLE), first)

    def rerun(rows):
        wins = [r for r in rows if r["g1_winner"] == r["g2_winner"] == "model_1"][:5]
        for row in wins:
            row["g2_winner"] = "model_2"
        return rows

    second, _ = _copy_pair_file(tmp_path, "rerun_pair.jsonl", rerun)
    result = run_cli("agreement", "--votefiles", f"run1={first}", f"run2={second}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # 73 rows parse in both runs (2 have an error); the 5 changed rows are ties in run 2.
    assert lines[0] == "turn 1 with tie. #total: 73, #agree: 68, ratio: 0.93"
    # Without ties: run 1 has 38 decisive rows, of which 33 stay decisive in run 2, all agreeing.
    assert lines[1] == "turn 1 without tie. #total: 33, #agree: 33, ratio: 1.00"
    assert "Judges: run1 vs run2" in result.stdout


def test_two_judge_models_compared_by_their_files(tmp_path):
    """Files from two judge models need no labels: the two judge names are found."""

    def as_gpt4o(rows):
        for row in rows:
            row["judge"] = ["gpt-4o", row["judge"][1]]
            row["g1_winner"], row["g2_winner"] = row["g2_winner"], row["g1_winner"]
        return rows

    other, _ = _copy_pair_file(tmp_path, "gpt-4o_pair.jsonl", as_gpt4o)
    result = run_cli(
        "agreement",
        "--votefiles",
        str(shared_file(PAIR_SAMPLE)),
        str(other),
        "--per-game",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0] == "turn,ties,total,agree,ratio"
    # Per game, every game of one judge meets both games of the other: 73 rows with two parsed
    # games give 4 comparisons each (292), of which the consistent 46 give 4 agreements and
    # the 27 disagreeing ones 2; the row with one error game adds its 1 game x 1 game = 1.
    assert rows[1].startswith("1,with tie,293,239,")


def test_per_game_self_agreement_is_position_consistency():
    result = run_cli("agreement", "--votefiles", str(shared_file(PAIR_SAMPLE)), "--per-game")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "turn 1 with tie. #total: 73, #agree: 46, ratio: 0.63"
    assert "Judges: gpt4-pair with itself" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"question_id": 81}]', "vote #1: missing field 'model_a'"),
        (
            json.dumps([vote(81, "a", "b", "model_c", "expert_0")]),
            "vote #1: field 'winner' must be model_a, model_b or a tie",
        ),
        ("[{", "not valid JSON"),
        (json.dumps([vote(81, "a", "b", "tie", 7)]), "judge must be a text or [model, prompt]"),
    ],
)
def test_bad_vote_files_give_one_line_errors(tmp_path, content, expected):
    path = tmp_path / "votes.json"
    path.write_text(content)
    result = run_cli("agreement", "--votefiles", str(path))
    assert result.returncode == 1
    assert expected in result.stderr and str(path) in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_unknown_judge_and_missing_file_are_clear_errors(vote_files, tmp_path):
    human, gpt4 = vote_files
    result = run_cli("agreement", "--votefiles", str(human), "--judges", "gpt4-pair", "human")
    assert result.returncode == 1
    assert "judge 'gpt4-pair' has no votes in these files (judges found: author, human)" in (
        result.stderr
    )
    missing = run_cli("agreement", "--votefiles", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "vote file not found" in missing.stderr
