"""Stale judgments: a row whose graded prompt has changed is judged again, and readers skip it.

Every judge run here is real: `mtbench.judging.judge` (or `mtbench-judge`) against the scripted
OpenAI-compatible server, whose requests are counted. The scripted judge rates by question (and
turn), and gives 10 to any prompt holding a rewritten answer, so each test knows its numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED, judge_bench, run_cli, shared_file
from fake_openai_server import FakeOpenAIServer

from mtbench.data.jsonl import dumps, read_jsonl, write_jsonl_atomic
from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths
from mtbench.judging import JudgeConfig, judge, make_plan

QUESTIONS = (81, 82, 111, 112)  # two writing questions, two math ones (reference-based)
RATINGS = {81: 3, 82: 5, 111: 7, 112: 4}
"""The scripted judge's turn-1 rating of each question; the multi-turn prompt gets one more."""
REWRITTEN = "REWRITTEN ANSWER"
"""Marks an answer or reference this file changed; the scripted judge rates it 10."""
MULTI_TURN = "<|The Start of Assistant A's Conversation with User|>"
PAIR_MODELS = ("alpaca-13b", "vicuna-7b-v1.3")
BASELINE = "gpt-3.5-turbo"
PHI3 = "third_party/Stefanstud-FastChat-phi3"


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """The bench cut to `QUESTIONS`, with three official answer files."""
    return judge_bench(bench, QUESTIONS, (*PAIR_MODELS, BASELINE))


def question_texts(paths: BenchPaths) -> dict[int, str]:
    return {row["question_id"]: row["turns"][0] for _, row in read_jsonl(paths.question_file)}


def scripted_judge(paths: BenchPaths):
    """A reply function: `RATINGS` by question (+1 multi-turn), 10 for a rewritten answer."""
    texts = question_texts(paths)

    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        if "[[rating]]" not in json.dumps(body):  # the multi-turn prompts ask in the system part
            return "Both are fine.\n\n[[C]]"  # pairwise: a tie, whatever is compared
        if REWRITTEN in prompt:
            return "Changed.\n\nRating: [[10]]"
        (qid,) = [q for q, text in texts.items() if text in prompt]
        return f"Fine.\n\nRating: [[{RATINGS[qid] + (MULTI_TURN in prompt)}]]"

    return reply


@pytest.fixture
def server(data: BenchPaths):
    with FakeOpenAIServer(reply=scripted_judge(data)) as server:
        yield server


def run_judge(paths: BenchPaths, server: FakeOpenAIServer, **options: Any) -> tuple[str, str, int]:
    """Judge with the library call; returns the status, the plan and summary, and calls made."""
    before = len(server.completions())
    config = JudgeConfig(
        paths=paths,
        judge_base_url=server.base_url,
        judge_model="gpt-4",
        preflight=False,  # so that every request counted is a judgment
        parallel=4,
        max_attempts=1,  # a broken script fails at once
        **options,
    )
    err = io.StringIO()
    result = judge(config, err=err)
    return result.status, err.getvalue(), len(server.completions()) - before


def rewrite_turns(path: Path, changes: Mapping[int, Iterable[int]]) -> None:
    """Replace the answer (or reference) turns `changes[question_id]` of an answer file."""
    lines = []
    for _, row in read_jsonl(path):
        for turn in changes.get(row["question_id"], ()):
            row["choices"][0]["turns"][turn - 1] = f"{REWRITTEN} (turn {turn})"
        lines.append(dumps(row))
    write_jsonl_atomic(path, lines)


def edit_judge_prompt(paths: BenchPaths, name: str, field: str, addition: str) -> None:
    lines = []
    for _, row in read_jsonl(paths.judge_prompts_file):
        if row["name"] == name:
            row[field] += addition
        lines.append(dumps(row))
    write_jsonl_atomic(paths.judge_prompts_file, lines)


def show(paths: BenchPaths, *args: str) -> dict[str, Any]:
    result = run_cli("show", "--data-dir", str(paths.data_dir), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def show_table(paths: BenchPaths, *args: str) -> str:
    result = run_cli("show", "--data-dir", str(paths.data_dir), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def scores(report: dict[str, Any]) -> dict[str, float]:
    return {entry["model"]: entry["score"] for entry in report["models"]}


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def old_rating(question_id: int, turn: int) -> int:
    return RATINGS[question_id] + (turn == 2)


# --- mtbench-judge: exactly the matches whose prompt changed are asked again ---


MODE_CASES = {
    # mode: (models, matches, calls per match, stale matches after alpaca's q81/q111 turn 1)
    "single": (PAIR_MODELS, 16, 1, 4),  # 4 questions x 2 turns x 2 models; turns 1 and 2 of each
    "pairwise-baseline": (PAIR_MODELS, 16, 2, 4),  # alpaca vs the baseline: q81, q111 x 2 turns
    "pairwise-all": ((*PAIR_MODELS, BASELINE), 24, 2, 8),  # 3 pairs; alpaca is in 2 of them
}


@pytest.mark.parametrize("mode", list(MODE_CASES))
def test_changed_answers_are_judged_again_in_every_mode(data, server, mode):
    models, matches, games, stale = MODE_CASES[mode]
    options = {"mode": mode, "model_list": list(models)}
    status, _, calls = run_judge(data, server, **options)
    assert (status, calls) == ("done", matches * games)
    output = data.judgment_file("gpt-4", mode)
    first_run = output.read_bytes()

    # A changed turn-1 answer changes the turn-1 prompt and the multi-turn one (it holds both).
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1], 111: [1]})
    status, plan, calls = run_judge(data, server, **options)
    assert status == "done"
    assert calls == stale * games
    done = matches - stale
    assert (
        f"  matches:     {matches} ({done} already judged, {stale} to judge, {stale} of them stale)"
        in plan
    )
    assert f"notice: {stale} judged match(es) in {output.name} are stale" in plan
    assert f"they are judged again ({stale * games} call" in plan  # the cost of the stale part
    # Append-only: the old rows stay as they were, the new ones follow.
    assert output.read_bytes().startswith(first_run)
    loader = load_single_judgments if mode == "single" else load_pair_judgments
    rows = list(loader(output))
    assert len(rows) == matches + stale
    new = rows[matches:]
    assert {(row.question_id, row.turn) for row in new} == {(81, 1), (81, 2), (111, 1), (111, 2)}
    for row in new:
        graded = row.user_prompt if mode == "single" else row.g1_user_prompt + row.g2_user_prompt
        assert REWRITTEN in graded

    status, plan, calls = run_judge(data, server, **options)
    assert (status, calls) == ("nothing_to_do", 0)
    assert f"Nothing to do: all {matches} match(es)" in plan


def test_a_changed_turn_two_answer_makes_only_the_multi_turn_match_stale(data, server):
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    rewrite_turns(data.answer_file("vicuna-7b-v1.3"), {82: [2], 112: [2]})
    status, plan, calls = run_judge(data, server, **options)
    assert (status, calls) == ("done", 2)
    assert "16 (14 already judged, 2 to judge, 2 of them stale)" in plan
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert sorted((r.model, r.question_id, r.turn) for r in rows[16:]) == [
        ("vicuna-7b-v1.3", 82, 2),
        ("vicuna-7b-v1.3", 112, 2),
    ]


def test_a_changed_baseline_answer_makes_every_models_match_stale(data, server):
    options = {"mode": "pairwise-baseline", "model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 32
    rewrite_turns(data.answer_file(BASELINE), {82: [1]})
    status, plan, calls = run_judge(data, server, **options)
    assert (status, calls) == ("done", 2 * 2 * 2)  # 2 models x turns 1-2, two games each
    assert "16 (12 already judged, 4 to judge, 4 of them stale)" in plan


def test_a_changed_reference_answer_makes_its_math_matches_stale(data, server):
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    # The math prompts hold the reference; the multi-turn one holds both of its turns.
    rewrite_turns(data.reference_file("gpt-4"), {111: [1]})
    status, plan, calls = run_judge(data, server, **options)
    assert (status, calls) == ("done", 4)  # q111 turns 1-2, for each of the two models
    assert "16 (12 already judged, 4 to judge, 4 of them stale)" in plan
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert sorted((r.model, r.question_id, r.turn, r.judge[1]) for r in rows[16:]) == [
        ("alpaca-13b", 111, 1, "single-math-v1"),
        ("alpaca-13b", 111, 2, "single-math-v1-multi-turn"),
        ("vicuna-7b-v1.3", 111, 1, "single-math-v1"),
        ("vicuna-7b-v1.3", 111, 2, "single-math-v1-multi-turn"),
    ]
    assert run_judge(data, server, **options)[2] == 0


def test_an_edited_judge_prompt_template_makes_its_matches_stale(data, server):
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    edit_judge_prompt(data, "single-v1", "prompt_template", "\n\nBe strict.")
    status, plan, calls = run_judge(data, server, **options)
    # single-v1 grades turn 1 of the questions without a reference: q81, q82, two models.
    assert (status, calls) == ("done", 4)
    assert "16 (12 already judged, 4 to judge, 4 of them stale)" in plan
    rows = list(load_single_judgments(data.judgment_file("gpt-4", "single")))
    assert {(r.question_id, r.turn, r.judge[1]) for r in rows[16:]} == {
        (81, 1, "single-v1"),
        (82, 1, "single-v1"),
    }
    assert all(r.user_prompt.endswith("Be strict.") for r in rows[16:])
    assert run_judge(data, server, **options)[2] == 0


def test_keep_stale_counts_changed_matches_as_judged(data, server):
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    output = data.judgment_file("gpt-4", "single")
    before = output.read_bytes()
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1], 111: [1]})
    edit_judge_prompt(data, "single-v1", "prompt_template", "\n\nBe strict.")
    status, plan, calls = run_judge(data, server, keep_stale=True, **options)
    assert (status, calls) == ("nothing_to_do", 0)
    assert "matches:     16 (16 already judged, 0 to judge)\n" in plan
    assert "of them stale" not in plan and "are stale" not in plan
    assert output.read_bytes() == before


# --- Readers: stale rows are skipped until judged again ---


def test_show_skips_stale_rows_then_uses_the_new_ones(data, server):
    """The sequence of the issue: judge, change 5 answers, show, judge again, show."""
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    items = [(q, t) for q in QUESTIONS for t in (1, 2)]
    old_score = mean(old_rating(*item) for item in items)
    first = show(data)
    assert scores(first) == {model: old_score for model in PAIR_MODELS}
    assert (first["accounting"]["stale"], first["accounting"]["unchecked"]) == (0, 0)

    # Five answers: two turn-1 answers and two turn-2 answers of alpaca, one turn 1 of vicuna.
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1], 111: [1], 82: [2], 112: [2]})
    rewrite_turns(data.answer_file("vicuna-7b-v1.3"), {82: [1]})
    changed = {
        "alpaca-13b": {(81, 1), (81, 2), (111, 1), (111, 2), (82, 2), (112, 2)},
        "vicuna-7b-v1.3": {(82, 1), (82, 2)},
    }
    stale = sum(len(v) for v in changed.values())
    report = show(data)
    assert report["accounting"]["stale"] == stale
    assert report["accounting"]["used"] == 16 - stale
    assert scores(report) == {
        model: mean(old_rating(*item) for item in items if item not in changed[model])
        for model in PAIR_MODELS
    }
    assert report["coverage"]["alpaca-13b"]["judged"] == 2
    table = show_table(data)
    assert f"{stale} stale judgment row(s) skipped" in table
    assert "warning: vicuna-7b-v1.3 has 6 of 8 judgments (2 missing: q82 turns 1-2)" in table
    # --keep-stale reads the file as FastChat would: the old numbers.
    kept = show(data, "--keep-stale")
    assert scores(kept) == scores(first)
    assert kept["accounting"]["stale"] == 0 and kept["accounting"]["used"] == 16

    output = data.judgment_file("gpt-4", "single")
    lines = len(output.read_text().splitlines())
    status, plan, calls = run_judge(data, server, **options)
    assert (status, calls) == ("done", stale)
    assert f"16 ({16 - stale} already judged, {stale} to judge, {stale} of them stale)" in plan
    assert len(output.read_text().splitlines()) == lines + stale
    after = show(data)
    # Every changed item was judged again and rated 10 (its prompt holds a rewritten answer).
    assert scores(after) == {
        model: mean(10 if item in changed[model] else old_rating(*item) for item in items)
        for model in PAIR_MODELS
    }
    assert after["accounting"]["stale"] == stale and after["accounting"]["used"] == 16
    assert all(c["judged"] == c["expected"] == 8 for c in after["coverage"].values())
    assert "has 8 of 8" not in show_table(data) and "missing" not in show_table(data)
    assert run_judge(data, server, **options)[2] == 0


def test_show_does_not_ask_to_judge_again_what_was_judged_again(data, server):
    options = {"model_list": list(PAIR_MODELS)}
    assert run_judge(data, server, **options)[2] == 16
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1]})
    assert "rerun mtbench-judge to judge them again" in show_table(data)
    assert run_judge(data, server, **options)[2] == 2
    assert run_judge(data, server, **options)[0] == "nothing_to_do"
    table = show_table(data)
    assert "rerun mtbench-judge to judge them again" not in table
    assert "2 stale skipped (all judged again since)" in table  # still counted


def test_compare_skips_stale_rows(data, server):
    assert run_judge(data, server, model_list=list(PAIR_MODELS))[2] == 16
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1], 111: [1]})
    args = ("--compare", "alpaca-13b", "vicuna-7b-v1.3")
    report = show(data, *args)
    overall = next(g for g in report["groups"] if g["group"] == "all")
    assert overall["items"] == 4  # q82 and q112, both turns: alpaca's other rows are stale
    assert overall["diff"] == 0.0
    kept = show(data, *args, "--keep-stale")
    assert next(g for g in kept["groups"] if g["group"] == "all")["items"] == 8
    assert run_judge(data, server, model_list=list(PAIR_MODELS))[2] == 4
    after = show(data, *args)
    overall = next(g for g in after["groups"] if g["group"] == "all")
    # B - A: alpaca's four new rows are 10s where vicuna keeps its old ratings.
    moved = [old_rating(q, t) - 10 for q in (81, 111) for t in (1, 2)]
    assert overall["items"] == 8 and overall["diff"] == pytest.approx(sum(moved) / 8)


def offset_judges(body: dict[str, Any]) -> str:
    """Two scripted judges on one server: `judge-a` rates 1-8 by prompt, `judge-b` one more."""
    text = json.dumps(body["messages"])
    if "[[rating]]" not in text:
        return "[[C]]"
    rating = 1 + int(hashlib.sha256(text.encode()).hexdigest(), 16) % 8
    return f"Rating: [[{rating + (body['model'] == 'judge-b')}]]"


def test_pooled_judges_offset_by_one_and_stale_rows_left_out(data):
    models = [*PAIR_MODELS, BASELINE]  # three models, so that Spearman is defined
    with FakeOpenAIServer(reply=offset_judges) as server:
        for name in ("judge-a", "judge-b"):
            config = JudgeConfig(
                paths=data,
                judge_base_url=server.base_url,
                judge_model=name,
                preflight=False,
                model_list=models,
            )
            assert judge(config, err=io.StringIO()).status == "done"
        assert len(server.completions()) == 2 * 3 * 8
    args = ("--judge-model", "judge-a", "judge-b")
    report = show(data, *args)
    a_rows = list(load_single_judgments(data.judgment_file("judge-a", "single")))
    for entry in report["models"]:
        judged_a = [r.score for r in a_rows if r.model == entry["model"]]
        assert entry["judges"]["judge-a"] == pytest.approx(mean(judged_a))
        assert entry["judges"]["judge-b"] == pytest.approx(entry["judges"]["judge-a"] + 1)
        assert entry["pooled"] == pytest.approx(entry["judges"]["judge-a"] + 0.5)
    (agreement,) = report["agreement"]
    assert agreement["spearman"] == pytest.approx(1.0)
    assert (agreement["offset"], agreement["exact"]) == (pytest.approx(1.0), 0.0)
    assert report["pooled_items"] == 24
    assert [j["accounting"]["stale"] for j in report["judges"]] == [0, 0]

    # Both judges' rows of alpaca's q81 grade an answer that is no longer there.
    rewrite_turns(data.answer_file("alpaca-13b"), {81: [1]})
    stale = show(data, *args)
    assert stale["pooled_items"] == 22
    assert [j["accounting"]["stale"] for j in stale["judges"]] == [2, 2]
    coverage = {entry["model"]: entry for entry in stale["coverage"]}
    assert coverage["alpaca-13b"]["items"] == 6
    assert not [i for i in stale["items"] if (i["model"], i["question_id"]) == ("alpaca-13b", 81)]
    assert show(data, *args, "--keep-stale")["pooled_items"] == 24


# --- FastChat-written files: their prompts are rebuilt byte for byte ---


@pytest.fixture
def phi3(bench: BenchPaths) -> BenchPaths:
    """The bench with a third-party FastChat run: phi-3 answers, single and pair judgments."""
    bench.answer_dir.mkdir(parents=True)
    for model in ("phi-3", "phi-3-dpo"):
        shutil.copy(shared_file(f"{PHI3}/model_answer/{model}.jsonl"), bench.answer_file(model))
    bench.judgment_file("gpt-4", "single").parent.mkdir(parents=True)
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        shutil.copy(shared_file(f"{PHI3}/model_judgment/{name}"), bench.judgment_dir / name)
    return bench


def test_fastchat_single_file_is_current_until_an_answer_changes(phi3):
    first = show(phi3)
    assert first["accounting"]["rows"] == 160
    assert (first["accounting"]["stale"], first["accounting"]["unchecked"]) == (0, 0)
    assert show_table(phi3) == show_table(phi3, "--keep-stale")

    # The single file grades phi-3-dpo only; its q81 turn-1 answer is in both q81 prompts.
    rewrite_turns(phi3.answer_file("phi-3-dpo"), {81: [1]})
    changed = show(phi3)
    assert changed["accounting"]["stale"] == 2
    assert changed["coverage"]["phi-3-dpo"]["missing"] == [[81, 1], [81, 2]]
    assert scores(show(phi3, "--keep-stale")) == scores(first)

    dry = run_cli(
        "judge",
        "--data-dir",
        str(phi3.data_dir),
        "--model-list",
        "phi-3-dpo",
        "--judge-model",
        "gpt-4",
        "--dry-run",
    )
    assert dry.returncode == 0, dry.stderr
    assert "matches:     160 (158 already judged, 2 to judge, 2 of them stale)" in dry.stdout
    assert "question 81 (writing), phi-3-dpo, turn 1" in dry.stdout
    assert f"{REWRITTEN} (turn 1)" in dry.stdout


def test_fastchat_pair_file_is_current_until_an_answer_changes(phi3):
    args = ("--mode", "pairwise-all")
    first = show(phi3, *args)
    assert first["accounting"]["rows"] == 75
    assert (first["accounting"]["stale"], first["accounting"]["unchecked"]) == (0, 0)
    assert show_table(phi3, *args) == show_table(phi3, *args, "--keep-stale")

    unjudged = {m.key for m in make_plan(JudgeConfig(paths=phi3, mode="pairwise-all")).pending}
    rows = list(load_pair_judgments(phi3.judgment_dir / "gpt-4_pair.jsonl"))
    questions = [81, 111]  # a writing question and a math one (reference-based prompt)
    hit = [r for r in rows if r.question_id in questions]
    assert hit and all(r.turn == 1 for r in hit)  # the file judged turn 1 of these only
    rewrite_turns(phi3.answer_file("phi-3"), {q: [1] for q in questions})
    changed = show(phi3, *args)
    assert changed["accounting"]["stale"] == len(hit)

    # The plan asks exactly those rows' matches again, on top of what the file never judged.
    config = JudgeConfig(paths=phi3, judge_model="gpt-4", mode="pairwise-all")
    plan = make_plan(config)
    assert plan.stale == len(hit)
    assert {m.key for m in plan.pending} - unjudged == {row.key for row in hit}
    assert unjudged <= {m.key for m in plan.pending}
    assert f"{len(hit)} of them stale" in _dry_run_plan(phi3, "pairwise-all")


def _dry_run_plan(paths: BenchPaths, mode: str) -> str:
    result = run_cli(
        "judge",
        "--data-dir",
        str(paths.data_dir),
        "--mode",
        mode,
        "--judge-model",
        "gpt-4",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- Coverage: the handed case of a model judged on a part of the bench ---

CASE = SHARED.parent / "cases" / "08-show-partial-judgments-no-warning"
FIRST_TURN = (
    "########## First turn ##########\n"
    "              score\n"
    "model   turn       \n"
    "model-b 1       9.0\n"
    "model-a 1       6.0\n"
)


@pytest.fixture
def partial(tmp_path: Path) -> Path:
    """The case's data dir: 2 questions x 2 turns; model-a judged on all 4, model-b on one."""
    if not CASE.is_dir():
        pytest.skip(f"{CASE} is not here (the handed cases live beside the shared data)")
    shutil.copytree(CASE / "data", tmp_path / "data")
    return tmp_path / "data"


def test_show_warns_once_about_a_partly_judged_model(partial):
    args = ("show", "--data-dir", str(partial), "--bench-name", "tiny_bench")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: model-b has 1 of 4 judgments (3 missing: q1 turn 2, q2 turns 1-2); its score "
        "is not comparable with complete runs (rerun mtbench-judge for what was never judged or "
        "is stale; an unparsed verdict counts as judged until its row is deleted)."
    ]
    # The FastChat table is printed as FastChat prints it, model-b first.
    assert FIRST_TURN in result.stdout

    report = json.loads(run_cli(*args, "--format", "json").stdout)
    entries = {entry["model"]: entry for entry in report["models"]}
    assert entries["model-b"]["score"] == 9.0
    assert (entries["model-b"]["lower"], entries["model-b"]["upper"]) == (None, None)
    assert report["coverage"]["model-b"] == {
        "expected": 4,
        "judged": 1,
        "missing_share": 0.75,
        "missing": [[1, 2], [2, 1], [2, 2]],
    }
    assert report["coverage"]["model-a"]["judged"] == 4
    assert report["coverage"]["model-a"]["missing"] == []


# --- what the breaker found: readers follow the latest run; archives; vanished models ---


def test_show_follows_the_latest_run_when_answer_reasoning_changes(data, server):
    # A trace that only the `keep` prompt shows: stripped, the judge sees "Plain." (rated 3).
    path = data.answer_file("alpaca-13b")
    lines = []
    for _, row in read_jsonl(path):
        if row["question_id"] == 81:
            row["choices"][0]["turns"][0] = f"<think>{REWRITTEN}</think>Plain."
        lines.append(dumps(row))
    write_jsonl_atomic(path, lines)
    options = {"model_list": ["alpaca-13b"]}
    assert run_judge(data, server, answer_reasoning="strip", **options)[2] == 8
    stripped = scores(show(data))["alpaca-13b"]
    assert stripped == mean(old_rating(q, t) for q in QUESTIONS for t in (1, 2))
    # Judged again as they are: both q81 prompts now show the trace (rated 10).
    status, plan, calls = run_judge(data, server, **options)
    assert calls == 2 and "2 of them stale" in plan
    report = show(data)
    expected = mean([10, 10, *(old_rating(q, t) for q in QUESTIONS[1:] for t in (1, 2))])
    assert scores(report)["alpaca-13b"] == expected  # the latest run's rows, not the first
    assert report["accounting"]["used"] == 8 and report["accounting"]["duplicates"] == 2


def test_compare_reads_an_archived_run_of_a_regenerated_model_as_recorded(data, server):
    options = {"model_list": ["alpaca-13b"]}
    assert run_judge(data, server, **options)[2] == 8
    archive = data.judgment_file("release", "single")
    data.judgment_file("gpt-4", "single").rename(archive)
    rewrite_turns(data.answer_file("alpaca-13b"), {q: [1] for q in QUESTIONS})  # regenerated
    assert run_judge(data, server, **options)[2] == 8
    args = ("--compare", "release:alpaca-13b", "gpt-4:alpaca-13b", "--fail-if-worse")
    result = run_cli("show", "--data-dir", str(data.data_dir), *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "compared as recorded" in result.stderr
    report = json.loads(result.stdout)
    diffs = [10 - old_rating(q, t) for q in QUESTIONS for t in (1, 2)]
    assert report["compared"] == 8 and report["diff"] == pytest.approx(mean(diffs))
    assert report["gate"]["passed"] is True


def test_a_model_whose_every_row_is_stale_is_named(data, server):
    assert run_judge(data, server, model_list=list(PAIR_MODELS))[2] == 16
    rewrite_turns(data.answer_file("vicuna-7b-v1.3"), {q: [1] for q in QUESTIONS})
    table = show_table(data)
    assert "warning: vicuna-7b-v1.3 has 0 of 8 judgments (8 missing: q81-82 turns 1-2" in table
    gated = run_cli("show", "--data-dir", str(data.data_dir), "--fail-under", "1")
    assert gated.returncode == 3
    assert "vicuna-7b-v1.3 has no score (no judgment used)" in gated.stdout


def test_a_row_that_records_no_rendering_of_its_prompt_is_unchecked_not_stale(data, server):
    # Hand-written rows (as in cases/01) hold a placeholder where the graded prompt goes.
    assert run_judge(data, server, model_list=["alpaca-13b"])[2] == 8
    path = data.judgment_file("gpt-4", "single")
    lines = []
    for _, row in read_jsonl(path):
        row["user_prompt"] = "(prompt)" if row["question_id"] == 81 else row["user_prompt"]
        lines.append(dumps(row))
    write_jsonl_atomic(path, lines)
    status, plan, calls = run_judge(data, server, model_list=["alpaca-13b"])
    assert (status, calls) == ("nothing_to_do", 0)  # counted as judged, as before
    report = show(data)
    assert report["accounting"]["stale"] == 0 and report["accounting"]["unchecked"] == 2
    assert report["accounting"]["used"] == 8
    # A rendering of the judge prompt with other contents is still stale.
    rewrite_turns(data.answer_file("alpaca-13b"), {82: [1]})
    assert show(data)["accounting"]["stale"] == 2
