"""String `question_id`s (Rakuda-style benches), which FastChat runs: every command takes them.

A bench here is FastChat's layout with ids such as `"wr-rain"`. Ids are integers or strings,
never both in one file (sorting them would fail, in FastChat too); other JSON values are refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import (
    CHROMEDRIVER,
    CHROMIUM,
    SHARED,
    require_files,
    require_modules,
    run_cli,
    shared_file,
)

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.compare import RunScores, RunSpec, compare_runs
from mtbench.backends.base import GenerationParams
from mtbench.backends.fake import FakeBackend
from mtbench.data.answers import load_answer_file, reorg_answer_file
from mtbench.data.jsonl import dumps
from mtbench.data.judge_prompts import load_judge_prompts
from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import id_order, load_questions
from mtbench.data.votes import VoteSource, load_votes
from mtbench.errors import BackendError, DataError
from mtbench.judging.matches import build_matches, make_judges
from mtbench.judging.runner import run_matches

BENCH = "str_bench"
QUESTIONS = [
    {
        "question_id": "wr-rain",
        "category": "writing",
        "turns": ["Describe a rainy street in one sentence.", "Now describe it at night."],
    },
    {
        "question_id": "ma-sum",
        "category": "math",
        "turns": ["What is 17 + 25?", "Multiply that by 2."],
    },
    {
        "question_id": "rp-guide",
        "category": "roleplay",
        "turns": ["You are a museum guide: greet a group.", "Point out the oldest painting."],
    },
]
IDS = [q["question_id"] for q in QUESTIONS]
# Single scores of the GPT-4 file: (model, question, turn) -> score.
SCORES = {
    ("model-x", "wr-rain", 1): 6,
    ("model-x", "ma-sum", 1): 9,
    ("model-x", "rp-guide", 1): 6,
    ("model-x", "wr-rain", 2): 5,
    ("model-x", "ma-sum", 2): 7,
    ("model-x", "rp-guide", 2): 6,
    ("model-y", "wr-rain", 1): 4,
    ("model-y", "ma-sum", 1): 10,
    ("model-y", "rp-guide", 1): 4,
    ("model-y", "wr-rain", 2): 4,
    ("model-y", "ma-sum", 2): 8,
    ("model-y", "rp-guide", 2): 3,
}
CASE = SHARED.parent / "cases" / "01-string-question-ids" / "data"


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(row) + "\n" for row in rows))
    return path


def _answer(qid: object, model: str, turns: list[str]) -> dict:
    return {
        "question_id": qid,
        "answer_id": f"{model}-{qid}",
        "model_id": model,
        "choices": [{"index": 0, "turns": turns}],
        "tstamp": 1.0,
    }


def _single(qid: str, model: str, turn: int, score: int, user_prompt: str) -> dict:
    prompt = "single-math-v1" if qid.startswith("ma-") else "single-v1"
    prompt += "-multi-turn" if turn == 2 else ""
    return {
        "question_id": qid,
        "model": model,
        "judge": ["gpt-4", prompt],
        "user_prompt": user_prompt,
        "judgment": f"Rating: [[{score}]]",
        "score": score,
        "turn": turn,
        "tstamp": 2.0,
    }


@pytest.fixture
def strbench(tmp_path: Path) -> BenchPaths:
    """A three-question bench keyed by string ids: two models' answers, references, judgments."""
    paths = BenchPaths(tmp_path / "data", BENCH)
    _write(paths.question_file, QUESTIONS)
    shutil.copy(shared_file("judge_prompts.jsonl"), paths.data_dir / "judge_prompts.jsonl")
    # Rows out of question order: readers must not rely on the file's order.
    for model in ("model-x", "model-y"):
        rows = [_answer(q, model, [f"{model} on {q}, turn 1", f"{model} again"]) for q in IDS]
        _write(paths.answer_file(model), rows[::-1])
    _write(paths.reference_file("gpt-4"), [_answer("ma-sum", "gpt-4", ["42", "84"])])
    # The prompts GPT-4 would have graded, so that the rows are current (not stale).
    matches = build_matches(
        load_questions(paths.question_file),
        {m: load_answer_file(paths.answer_file(m)) for m in ("model-x", "model-y")},
        make_judges(load_judge_prompts(paths.judge_prompts_file), "gpt-4", "single"),
        "single",
        ["model-x", "model-y"],
        references=load_answer_file(paths.reference_file("gpt-4")),
    )
    graded = {(m.models[0], m.question.question_id, m.turn): m.user_prompt() for m in matches}
    judged = [_single(q, m, t, s, graded[m, q, t]) for (m, q, t), s in SCORES.items()]
    _write(paths.judgment_file("gpt-4", "single"), judged)
    return paths


def _data(paths: BenchPaths) -> tuple[str, ...]:
    return ("--data-dir", str(paths.data_dir), "--bench-name", paths.bench_name)


def _table_row(stdout: str, *first: str) -> list[str]:
    """The words of the first output line that starts with these words."""
    for line in stdout.splitlines():
        words = line.split()
        if words[: len(first)] == list(first):
            return words
    raise AssertionError(f"no line starting with {first!r} in:\n{stdout}")


# --- loading and validation ---


def test_loaders_keep_string_ids_and_sort_them_as_given(strbench):
    assert [q.question_id for q in load_questions(strbench.question_file)] == IDS
    answers = load_answer_file(strbench.answer_file("model-x"))
    assert set(answers) == set(IDS) and answers["ma-sum"].turns[0] == "model-x on ma-sum, turn 1"
    judged = list(load_single_judgments(strbench.judgment_file("gpt-4", "single")))
    assert {j.question_id for j in judged} == set(IDS)
    reorg_answer_file(strbench.answer_file("model-x"))
    rows = strbench.answer_file("model-x").read_text().splitlines()
    assert [json.loads(line)["question_id"] for line in rows] == sorted(IDS)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("true", "True"), ("81.0", "81.0"), ("null", "None"), ('["wr"]', "['wr']"), ("{}", "{}")],
)
def test_ids_that_are_neither_integer_nor_string_are_refused(tmp_path, value, shown):
    expected = f":2: field 'question_id' must be an integer or a string, got {shown}"
    questions = tmp_path / "question.jsonl"
    questions.write_text(
        '{"question_id": "a", "category": "writing", "turns": ["q"]}\n'
        f'{{"question_id": {value}, "category": "writing", "turns": ["q"]}}\n'
    )
    with pytest.raises(DataError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        load_questions(questions)
    answers = _write(tmp_path / "m.jsonl", [_answer("a", "m", ["x"])])
    with answers.open("a") as out:
        out.write(f'{{"question_id": {value}, "choices": [{{"index": 0, "turns": ["x"]}}]}}\n')
    with pytest.raises(DataError, match="m.jsonl:2: field 'question_id' must be an integer or"):
        load_answer_file(answers)
    judged = _write(
        tmp_path / "j_single.jsonl", [_single("a", "m", 1, 5, "p"), _single("b", "m", 1, 5, "p")]
    )
    judged.write_text(judged.read_text().replace('"question_id": "b"', f'"question_id": {value}'))
    with pytest.raises(DataError, match="j_single.jsonl:2: field 'question_id' must be an"):
        list(load_single_judgments(judged))


def test_votes_take_string_ids_and_refuse_bool_ones(tmp_path):
    vote = {"question_id": "wr-rain", "model_a": "x", "model_b": "y", "winner": "model_a"}
    vote |= {"judge": "expert_1", "turn": 1}
    path = tmp_path / "votes.json"
    path.write_text(json.dumps([vote]))
    votes, _ = load_votes(VoteSource(path))
    assert votes[0].question_id == "wr-rain"
    path.write_text(json.dumps([{**vote, "question_id": False}]))
    with pytest.raises(DataError, match="vote #1: field 'question_id' must be an integer or a"):
        load_votes(VoteSource(path))


def test_a_file_mixing_integer_and_string_ids_is_refused_at_the_first_other_kind(tmp_path):
    rows = [{**QUESTIONS[0], "question_id": 81}, QUESTIONS[1], QUESTIONS[2]]
    questions = _write(tmp_path / "question.jsonl", rows)
    message = (
        r"question.jsonl:2: question_id 'ma-sum' is a string, but line 1's is an integer: "
        "a file must not mix integer and string question ids"
    )
    with pytest.raises(DataError, match=message):
        load_questions(questions)
    answers = _write(tmp_path / "m.jsonl", [_answer("a", "m", ["x"]), _answer("b", "m", ["x"])])
    answers.write_text(answers.read_text().replace('"question_id": "b"', '"question_id": 7'))
    with pytest.raises(DataError, match="m.jsonl:2: question_id 7 is an integer, but line 1's"):
        load_answer_file(answers)
    with pytest.raises(DataError, match="m.jsonl:2: question_id 7 is an integer"):
        reorg_answer_file(answers)
    judged = _write(
        tmp_path / "j_single.jsonl", [_single("a", "m", 1, 5, "p"), _single("b", "m", 1, 5, "p")]
    )
    judged.write_text(judged.read_text().replace('"question_id": "a"', '"question_id": 1'))
    with pytest.raises(DataError, match="j_single.jsonl:2: question_id 'b' is a string"):
        list(load_single_judgments(judged))


def test_the_mixed_kinds_error_is_one_line_from_every_command(strbench):
    rows = [{**QUESTIONS[0], "question_id": 81}, *QUESTIONS[1:]]
    _write(strbench.question_file, rows)
    for command in (("show",), ("judge", "--judge-backend", "fake", "--dry-run")):
        result = run_cli(*command, *_data(strbench))
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(f"Error: {strbench.question_file}:2: question_id 'ma-sum'")
        assert result.stderr.strip().count("\n") == 0, result.stderr


# --- the commands ---


def test_show_prints_fastchats_first_turn_table(strbench):
    result = run_cli("show", *_data(strbench))
    assert result.returncode == 0, result.stderr
    assert "########## First turn ##########" in result.stdout
    assert _table_row(result.stdout, "model-x") == ["model-x", "1", "7.0"]
    assert _table_row(result.stdout, "model-y") == ["model-y", "1", "6.0"]
    # Categories come from the question file, looked up by the string ids.
    assert _table_row(result.stdout, "math") == ["math", "8.0000", "9.0000"]


def test_compare_two_models_and_two_files_of_different_id_kinds(strbench, tmp_path):
    result = run_cli(
        "show", *_data(strbench), "--compare", "model-x", "model-y", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["compared"] == 6 and {row["question_id"] for row in out["items"]} == set(IDS)
    # Integer ids in one file, string ids in the other: nothing in common, said as such.
    a = RunScores(RunSpec(tmp_path / "a.jsonl", "m"), {(81, 1): 5.0}, frozenset())
    b = RunScores(RunSpec(tmp_path / "b.jsonl", "m"), {("81", 1): 5.0}, frozenset())
    with pytest.raises(DataError, match="no item was scored by both runs"):
        compare_runs(a, b, bootstrap=BootstrapSpec(resamples=10))
    assert sorted(["b", 2, "a", 1], key=id_order) == [1, 2, "a", "b"]


def test_judge_dry_run_then_fake_judge_single_and_pairwise(strbench):
    data = _data(strbench)
    dry = run_cli("judge", *data, "--judge-base-url", "http://127.0.0.1:9/v1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # 3 questions x 2 models x 2 turns, all already in the GPT-4 file.
    assert "matches:     12 (12 already judged, 0 to judge)" in dry.stdout
    assert "===== judge request: question wr-rain (writing), model-x, turn 1" in dry.stdout

    single = run_cli("judge", *data, "--judge-backend", "fake")
    assert single.returncode == 0, single.stderr
    rows = list(load_single_judgments(strbench.judgment_file("fake", "single")))
    assert len(rows) == 12 and {r.question_id for r in rows} == set(IDS)
    math_rows = [r for r in rows if r.question_id == "ma-sum"]
    # The math question is judged against the reference keyed by the same string id.
    assert all("42" in r.user_prompt for r in math_rows if r.turn == 1)

    pair = run_cli("judge", *data, "--judge-backend", "fake", "--mode", "pairwise-all")
    assert pair.returncode == 0, pair.stderr
    pairs = list(load_pair_judgments(strbench.judgment_file("fake", "pairwise-all")))
    assert len(pairs) == 6 and {p.question_id for p in pairs} == set(IDS)

    again = run_cli("judge", *data, "--judge-backend", "fake")
    assert again.returncode == 0 and "Nothing to do: all 12 match(es)" in again.stderr
    shown = run_cli("show", *data, "--judge-model", "fake")
    assert _table_row(shown.stdout, "model-x") == ["model-x", "1", "5.0"]

    votes = strbench.judgment_file("fake", "pairwise-all")
    agreement = run_cli("agreement", "--votefiles", f"one={votes}", f"two={votes}")
    assert agreement.returncode == 0, agreement.stderr
    assert agreement.stdout.splitlines()[0] == "turn 1 with tie. #total: 3, #agree: 3, ratio: 1.00"


def test_a_failed_judge_call_is_logged_with_its_string_id(strbench, tmp_path, caplog):
    questions = load_questions(strbench.question_file)[:1]
    answers = {"model-x": load_answer_file(strbench.answer_file("model-x"))}
    prompts = load_judge_prompts(strbench.data_dir / "judge_prompts.jsonl")
    judges = make_judges(prompts, "fake", "single")
    matches = build_matches(questions, answers, judges, "single", ["model-x"])
    backend = FakeBackend(["Rating: [[4]]", BackendError("out of memory")])
    params = GenerationParams(max_new_tokens=2048, temperature=0.0)
    stats = run_matches(matches, backend, tmp_path / "s.jsonl", params, batch_size=1)
    assert (stats.judged, stats.failed) == (1, 1)
    assert "question wr-rain, model-x, turn 2: out of memory (left for the next run)" in (
        caplog.messages
    )


def test_answers_keyed_by_the_other_kind_are_reported_as_such(strbench):
    rows = [_answer(81 + i, "model-x", ["a", "b"]) for i in range(3)]
    _write(strbench.answer_file("model-x"), rows)
    result = run_cli(
        "judge", *_data(strbench), "--judge-backend", "fake", "--model-list", "model-x"
    )
    assert result.returncode == 1
    assert "'model-x' has no answer to question(s) wr-rain, ma-sum, rp-guide" in result.stderr
    assert "(its ids are of the other kind: 81 is an integer, 'wr-rain' a string)" in result.stderr


def test_gen_with_the_fake_backend_writes_string_ids_and_resumes_by_them(strbench):
    data = _data(strbench)
    result = run_cli("gen", *data, "--backend", "fake", "--model-id", "smoke")
    assert result.returncode == 0, result.stderr
    assert "3 question(s) generated" in result.stdout
    rows = [json.loads(line) for line in strbench.answer_file("smoke").read_text().splitlines()]
    assert [row["question_id"] for row in rows] == sorted(IDS)
    by_id = {row["question_id"]: row for row in rows}
    turn_1 = QUESTIONS[0]["turns"][0]
    assert by_id["wr-rain"]["choices"][0]["turns"][0] == f"(fake reply to: {turn_1[:60]})"

    again = run_cli("gen", *data, "--backend", "fake", "--model-id", "smoke")
    assert again.returncode == 0, again.stderr
    assert "0 question(s) generated, 3 already done" in again.stdout

    # Appending string ids to an answer file keyed by integers would leave it unsortable.
    _write(strbench.answer_file("old"), [_answer(81, "old", ["x"])])
    mixed = run_cli("gen", *data, "--backend", "fake", "--model-id", "old")
    assert mixed.returncode == 1
    assert "question_id 81 is an integer but the question file's 'wr-rain' is a string" in (
        mixed.stderr
    )
    assert mixed.stderr.strip().count("\n") == 0, mixed.stderr


def test_browse_writes_the_string_ids_into_the_page(strbench, tmp_path):
    output = tmp_path / "report.html"
    result = run_cli("browse", *_data(strbench), "--output", str(output), "--bootstrap", "0")
    assert result.returncode == 0, result.stderr
    assert "2 models, 3 questions" in result.stderr
    page = output.read_text()
    for qid in IDS:
        assert f'"id":"{qid}"' in page
    assert '"ma-sum":["model-x on ma-sum, turn 1","model-x again"]' in page


@pytest.mark.browser
def test_browse_opens_a_string_id_question_by_its_link(strbench, tmp_path):
    require_files(CHROMIUM, CHROMEDRIVER)
    require_modules("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from test_browse import CHROMIUM_FLAGS

    output = tmp_path / "report.html"
    result = run_cli("browse", *_data(strbench), "--output", str(output), "--bootstrap", "0")
    assert result.returncode == 0, result.stderr
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(output.as_uri() + "#q=ma-sum")
        view = driver.find_element("css selector", "#question-view")
        assert view.get_attribute("data-qid") == "ma-sum"
        assert "model-x on ma-sum, turn 1" in view.get_attribute("textContent")
        driver.find_element("css selector", '#question-list a[data-qid="rp-guide"]').click()
        view = driver.find_element("css selector", "#question-view")
        assert view.get_attribute("data-qid") == "rp-guide"
    finally:
        driver.quit()


# --- the case this was reported with (its files, read where they are) ---


def test_the_reported_case_shows_and_plans(tmp_path):
    if not CASE.is_dir():
        pytest.skip(f"{CASE} is not here")
    shutil.copytree(CASE, tmp_path / "data")
    shutil.copy(shared_file("judge_prompts.jsonl"), tmp_path / "data" / "judge_prompts.jsonl")
    data = ("--data-dir", str(tmp_path / "data"), "--bench-name", "tiny_bench")
    # The case's rows hold a placeholder, not a rendering of their judge prompt: they say
    # nothing about what was graded, so they are read as they are (unchecked, not stale).
    shown = run_cli("show", *data)
    assert shown.returncode == 0, shown.stderr
    assert _table_row(shown.stdout, "model-a") == ["model-a", "1", "7.0"]
    assert "2 not checked for staleness" in shown.stdout
    dry = run_cli("judge", *data, "--judge-base-url", "http://127.0.0.1:9/v1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "matches:     2 " in dry.stdout
