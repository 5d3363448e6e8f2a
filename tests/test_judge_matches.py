"""Matches and judge prompts: FastChat's order, references, and byte-identical prompts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import shared_file

from mtbench.data.answers import Answer, Choice, load_answer_file
from mtbench.data.judge_prompts import load_judge_prompts
from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.questions import load_questions
from mtbench.errors import ConfigError, DataError
from mtbench.judging.matches import NEED_REF_CATS, build_matches, make_judges

PHI3 = "third_party/Stefanstud-FastChat-phi3"


@pytest.fixture(scope="module")
def questions():
    return load_questions(shared_file("question.jsonl"))


@pytest.fixture(scope="module")
def prompts():
    return load_judge_prompts(shared_file("judge_prompts.jsonl"))


@pytest.fixture(scope="module")
def references():
    return load_answer_file(shared_file("reference_answer/gpt-4.jsonl"))


@pytest.fixture(scope="module")
def phi3_answers():
    return {
        model: load_answer_file(shared_file(f"{PHI3}/model_answer/{model}.jsonl"))
        for model in ("phi-3", "phi-3-dpo")
    }


def test_single_prompts_are_byte_identical_to_fastchats(
    questions, prompts, references, phi3_answers
):
    """All 160 user prompts FastChat sent to GPT-4 for phi-3-dpo, rebuilt from the same inputs."""
    judges = make_judges(prompts, "gpt-4", "single")
    matches = build_matches(
        questions, phi3_answers, judges, "single", ["phi-3-dpo"], references=references
    )
    by_key = {match.key: match for match in matches}
    rows = list(load_single_judgments(shared_file(f"{PHI3}/model_judgment/gpt-4_single.jsonl")))
    assert len(rows) == len(matches) == 160
    for row in rows:
        match = by_key[row.key]
        assert match.user_prompt() == row.user_prompt, row.key
        assert match.messages() == [
            {"role": "system", "content": prompts[row.judge[1]].system_prompt},
            {"role": "user", "content": row.user_prompt},
        ]
    assert {row.judge[1] for row in rows} == {
        "single-v1",
        "single-math-v1",
        "single-v1-multi-turn",
        "single-math-v1-multi-turn",
    }


def test_pair_prompts_of_both_games_are_byte_identical(
    questions, prompts, references, phi3_answers
):
    judges = make_judges(prompts, "gpt-4", "pairwise-all")
    matches = build_matches(
        questions,
        phi3_answers,
        judges,
        "pairwise-all",
        ["phi-3", "phi-3-dpo"],
        references=references,
    )
    by_key = {match.key: match for match in matches}
    rows = list(load_pair_judgments(shared_file(f"{PHI3}/model_judgment/gpt-4_pair.jsonl")))
    assert len(rows) == 75
    for row in rows:
        match = by_key[row.key]
        assert match.models == (row.model_1, row.model_2)
        assert match.user_prompt() == row.g1_user_prompt
        assert match.user_prompt(swapped=True) == row.g2_user_prompt
    assert {row.judge[1] for row in rows} == {"pair-v2", "pair-math-v1"}


def test_single_match_order_and_count(questions, prompts, references, phi3_answers):
    judges = make_judges(prompts, "gpt-4", "single")
    models = ["phi-3-dpo", "phi-3"]
    matches = build_matches(
        questions, phi3_answers, judges, "single", models, references=references
    )
    assert len(matches) == 320
    default = [q.question_id for q in questions if q.category not in NEED_REF_CATS]
    math = [q.question_id for q in questions if q.category in NEED_REF_CATS]
    expected = []
    for qids, prompt in (
        (default, "single-v1"),
        (math, "single-math-v1"),
        (default, "single-v1-multi-turn"),
        (math, "single-math-v1-multi-turn"),
    ):
        expected += [(qid, model, prompt) for qid in qids for model in models]
    assert [(m.question.question_id, m.models[0], m.judge.prompt.name) for m in matches] == expected
    for match in matches:
        assert (match.reference is not None) == (match.question.category in NEED_REF_CATS)
        assert match.turn == (2 if match.judge.multi_turn else 1)
        assert match.games == 1


def test_reference_answers_fill_the_math_templates(questions, prompts, references, phi3_answers):
    judges = make_judges(prompts, "gpt-4", "single")
    matches = build_matches(
        questions, phi3_answers, judges, "single", ["phi-3"], references=references
    )
    math_mt = next(m for m in matches if m.judge.prompt.name == "single-math-v1-multi-turn")
    ref = references[math_mt.question.question_id].turns
    values = math_mt.template_values()
    assert values["ref_answer_1"] == ref[0] and values["ref_answer_2"] == ref[1]
    assert ref[0] in math_mt.user_prompt() and ref[1] in math_mt.user_prompt()
    plain = matches[0]
    assert "ref_answer_1" not in plain.template_values()


def test_pairwise_baseline_skips_the_baseline_and_puts_it_second(questions, prompts, references):
    answers = {
        name: load_answer_file(shared_file(f"model_answer/{name}.jsonl"))
        for name in ("alpaca-13b", "gpt-3.5-turbo", "vicuna-7b-v1.3")
    }
    judges = make_judges(prompts, "gpt-4", "pairwise-baseline")
    matches = build_matches(
        questions[:3],
        answers,
        judges,
        "pairwise-baseline",
        ["alpaca-13b", "gpt-3.5-turbo", "vicuna-7b-v1.3"],
        baseline="gpt-3.5-turbo",
        references=references,
    )
    # 3 writing questions x 2 judged models x 2 turns.
    assert len(matches) == 12
    assert {m.models for m in matches} == {
        ("alpaca-13b", "gpt-3.5-turbo"),
        ("vicuna-7b-v1.3", "gpt-3.5-turbo"),
    }
    match = matches[0]
    assert match.games == 2
    a, b = match.answers
    assert match.template_values()["answer_a"] == a.turns[0]
    assert match.template_values(swapped=True)["answer_a"] == b.turns[0]
    assert match.messages(swapped=True)[1]["content"] == match.user_prompt(swapped=True)


def test_pairwise_all_takes_each_unordered_pair_in_list_order(questions, prompts, references):
    names = ["vicuna-7b-v1.3", "alpaca-13b", "gpt-4"]
    answers = {n: load_answer_file(shared_file(f"model_answer/{n}.jsonl")) for n in names}
    judges = make_judges(prompts, "gpt-4", "pairwise-all")
    matches = build_matches(
        questions[:1], answers, judges, "pairwise-all", names, references=references
    )
    assert [m.models for m in matches] == [
        ("vicuna-7b-v1.3", "alpaca-13b"),
        ("vicuna-7b-v1.3", "gpt-4"),
        ("alpaca-13b", "gpt-4"),
    ] * 2
    assert [m.turn for m in matches] == [1, 1, 1, 2, 2, 2]


def test_multi_turn_matches_skip_single_turn_questions(questions, prompts, references):
    one_turn = replace(questions[0], turns=questions[0].turns[:1])
    answer = Answer(question_id=one_turn.question_id, model_id="m", choices=(Choice(0, ("x",)),))
    judges = make_judges(prompts, "gpt-4", "single")
    matches = build_matches(
        [one_turn], {"m": {one_turn.question_id: answer}}, judges, "single", ["m"]
    )
    assert [m.turn for m in matches] == [1]


def test_missing_or_wrong_prompt_is_a_data_error(prompts):
    partial = {name: p for name, p in prompts.items() if name != "pair-math-v1"}
    with pytest.raises(DataError, match="'pair-math-v1'"):
        make_judges(partial, "gpt-4", "pairwise-all", "judge_prompts.jsonl")
    swapped = dict(prompts, **{"single-v1": prompts["pair-v2"]})
    with pytest.raises(DataError, match="cannot use"):
        make_judges(swapped, "gpt-4", "single")


def test_unknown_mode_and_missing_baseline_are_config_errors(questions, prompts):
    with pytest.raises(ConfigError, match="unknown mode"):
        make_judges(prompts, "gpt-4", "pairwise")
    judges = make_judges(prompts, "gpt-4", "pairwise-baseline")
    with pytest.raises(ConfigError, match="--baseline-model"):
        build_matches(questions, {}, judges, "pairwise-baseline", ["a"], baseline=None)


def test_a_math_question_without_its_reference_is_a_config_error(questions, prompts, references):
    math = [q for q in questions if q.question_id == 111]
    answers = {"m": {111: references[111]}}
    judges = make_judges(prompts, "gpt-4", "single")
    for given in (None, {}):
        with pytest.raises(ConfigError, match=r"question 111 \(math\) .*pass `references`"):
            build_matches(math, answers, judges, "single", ["m"], references=given)
    matches = build_matches(math, answers, judges, "single", ["m"], references=references)
    assert [m.reference for m in matches] == [references[111], references[111]]
