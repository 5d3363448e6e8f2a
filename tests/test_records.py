"""Loading questions, answers, judge prompts and judgments, with validation."""

from __future__ import annotations

import pytest
from conftest import shared_file

from mtbench import (
    CATEGORIES,
    DataError,
    load_answer_file,
    load_judge_prompts,
    load_model_answers,
    load_pair_judgments,
    load_questions,
    load_single_judgments,
)
from mtbench.data.answers import reorg_answer_file


def test_official_questions():
    questions = load_questions(shared_file("question.jsonl"))
    assert [q.question_id for q in questions] == list(range(81, 161))
    for index, category in enumerate(CATEGORIES):
        assert {q.category for q in questions[index * 10 : index * 10 + 10]} == {category}
    assert all(len(q.turns) == 2 for q in questions)
    assert sum(q.reference is not None for q in questions) == 39


def test_question_slice_is_by_position():
    questions = load_questions(shared_file("question.jsonl"), 2, 5)
    assert [q.question_id for q in questions] == [83, 84, 85]


def test_official_answers_keyed_by_file_stem():
    answers = load_model_answers(shared_file("model_answer"))
    assert len(answers) == 31 and all(len(a) == 80 for a in answers.values())
    # The file says vicuna-13b-hao-0515 inside; FastChat (and we) go by the file name.
    assert answers["vicuna-13b-v1.3"][81].model_id == "vicuna-13b-hao-0515"


def test_official_judge_prompts():
    prompts = load_judge_prompts(shared_file("judge_prompts.jsonl"))
    assert list(prompts) == [
        "pair-v2",
        "pair-v2-multi-turn",
        "pair-math-v1",
        "pair-math-v1-multi-turn",
        "single-v1",
        "single-math-v1",
        "single-v1-multi-turn",
        "single-math-v1-multi-turn",
    ]
    assert prompts["single-math-v1"].placeholders == {"question", "answer", "ref_answer_1"}
    assert prompts["single-v1"].system_prompt == "You are a helpful assistant."


def test_third_party_judgments():
    folder = "third_party/Stefanstud-FastChat-phi3/model_judgment"
    single = list(load_single_judgments(shared_file(f"{folder}/gpt-4_single.jsonl")))
    pairs = list(load_pair_judgments(shared_file(f"{folder}/gpt-4_pair.jsonl")))
    assert len(single) == 160 and {j.turn for j in single} == {1, 2}
    assert len(pairs) == 75 and sum(not p.parsed for p in pairs) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"category": "math", "turns": ["q"]}', ":2: missing field 'question_id'"),
        (
            '{"question_id": 82.0, "category": "math", "turns": ["q"]}',
            ":2: field 'question_id' must be an integer or a string, got 82.0",
        ),
        (
            '{"question_id": "82", "category": "math", "turns": ["q"]}',
            ":2: question_id '82' is a string, but line 1's is an integer",
        ),
        (
            '{"question_id": 82, "category": "math", "turns": []}',
            ":2: field 'turns' must not be empty",
        ),
        (
            '{"question_id": 82, "category": "math", "turns": [1]}',
            ":2: field 'turns' must be a list of strings",
        ),
        (
            '{"question_id": 81, "category": "math", "turns": ["q"]}',
            ":2: question_id 81 repeats line 1",
        ),
    ],
)
def test_malformed_questions_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "question.jsonl"
    path.write_text('{"question_id": 81, "category": "math", "turns": ["q"]}\n' + line + "\n")
    with pytest.raises(DataError, match=message):
        load_questions(path)


def test_malformed_answer_names_the_choice(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"question_id": 81, "choices": [{"index": 0, "turns": "text"}]}\n')
    with pytest.raises(DataError, match=r"m.jsonl:1: choices\[0\]: field 'turns' must be a list"):
        load_answer_file(path)


def test_missing_question_file_points_at_the_download_command(tmp_path):
    with pytest.raises(DataError, match="question file not found; run `mtbench-download`"):
        load_questions(tmp_path / "question.jsonl")


def test_reorg_keeps_last_answer_per_question_sorted(tmp_path):
    path = tmp_path / "m.jsonl"
    rows = [
        '{"question_id": 83, "choices": [{"index": 0, "turns": ["c"]}]}',
        '{"question_id": 81,  "choices": [{"index": 0, "turns": ["old"]}]}',
        '{"question_id": 81, "choices": [{"index": 0, "turns": ["new"]}]}',
    ]
    path.write_text("\n".join(rows) + "\n")
    reorg_answer_file(path)
    assert path.read_text().splitlines() == [rows[2], rows[0]]
    assert load_answer_file(path)[81].turns == ("new",)


def test_fields_fastchat_never_reads_do_not_refuse_a_file(tmp_path):
    """FastChat runs files whatever these hold, so a value of another type is no error here."""
    questions = tmp_path / "question.jsonl"
    questions.write_text(
        '{"question_id": 81, "category": "math", "turns": ["q"], "reference": "one text"}\n'
        '{"question_id": 82, "category": "math", "turns": ["q"], "reference": {"a": 1}}\n'
    )
    assert [q.reference for q in load_questions(questions)] == [("one text",), None]
    answers = tmp_path / "m.jsonl"
    answers.write_text(
        '{"question_id": 81, "answer_id": 7, "model_id": ["x"], "tstamp": "yesterday",'
        ' "choices": [{"index": "first", "turns": ["a"]}]}\n'
    )
    answer = load_answer_file(answers)[81]
    assert (answer.answer_id, answer.model_id, answer.tstamp) == ("", "m", 0.0)
    assert answer.choices[0].index == 0 and answer.turns == ("a",)
    judged = tmp_path / "j_single.jsonl"
    judged.write_text(
        '{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": null,'
        ' "judgment": "[[5]]", "score": 5, "turn": 1, "tstamp": "now"}\n'
    )
    (row,) = load_single_judgments(judged)
    assert (row.score, row.user_prompt, row.tstamp) == (5, "", 0.0)
