"""A question file without questions, or a selection of none, is an error, never a success."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from conftest import run_cli

import mtbench.judging.pipeline as judge_pipeline
from mtbench.data.questions import load_questions
from mtbench.errors import ConfigError, DataError
from mtbench.generation import GenConfig, generate_answers, show_prompt
from mtbench.judging import JudgeConfig, judge
from mtbench.judging.plan import make_plan

EMPTY_FILES = {
    "empty": "",
    "one blank line": "\n",
    "blank lines and spaces": "\n   \n\t\n\n",
}


@pytest.mark.parametrize("content", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
def test_a_question_file_without_questions_is_a_data_error_naming_it(bench, content):
    bench.question_file.write_text(content)
    with pytest.raises(DataError, match="no questions") as raised:
        load_questions(bench.question_file)
    assert raised.value.path == bench.question_file
    assert str(raised.value).startswith(f"{bench.question_file}: no questions")


def test_a_slice_of_a_real_file_may_select_nothing_at_load_time(bench):
    assert load_questions(bench.question_file, 90) == []
    assert len(load_questions(bench.question_file, 79)) == 1


def fake_config(bench, **changes) -> GenConfig:
    return GenConfig("fake", backend="fake", paths=bench, **changes)


@pytest.mark.parametrize(
    ("begin", "end", "flags"),
    [
        (90, None, "--question-begin 90"),  # a question id typed as an index
        (80, None, "--question-begin 80"),  # just past the end
        (None, 0, "--question-end 0"),
        (5, 5, "--question-begin 5 --question-end 5"),
        (10, 3, "--question-begin 10 --question-end 3"),
        (-200, -100, "--question-begin -200 --question-end -100"),
    ],
)
def test_an_empty_slice_is_a_config_error_for_gen_and_show_prompt(bench, begin, end, flags):
    config = fake_config(bench, question_begin=begin, question_end=end)
    expected = (
        f"--question-begin/--question-end select no question ({flags}): {bench.question_file} "
        "has 80 question(s), and the slice counts positions in it (0 to 79), not question ids "
        "(81 to 160)"
    )
    for run in (generate_answers, show_prompt):
        with pytest.raises(ConfigError) as raised:
            run(config)  # type: ignore[operator]
        assert str(raised.value) == expected
    assert not bench.answer_dir.exists()


def test_a_slice_that_selects_something_still_runs(bench):
    summary = generate_answers(fake_config(bench, question_begin=79))
    assert (summary.selected, summary.generated) == (1, 1)
    again = generate_answers(fake_config(bench, question_begin=79))
    assert (again.generated, again.already_done) == (0, 1)  # nothing to do, and truly done


def test_gen_cli_exits_1_and_writes_nothing(bench):
    data = ("--data-dir", str(bench.data_dir))
    late = run_cli("gen", "--backend", "fake", "--question-begin", "90", *data)
    assert late.returncode == 1 and late.stdout == ""
    assert late.stderr.startswith("Error: --question-begin/--question-end select no question")
    shown = run_cli("gen", "--backend", "fake", "--question-begin", "90", "--show-prompt", *data)
    assert (shown.returncode, shown.stderr) == (1, late.stderr)
    bench.question_file.write_text("\n\n")
    empty = run_cli("gen", "--backend", "fake", *data)
    assert empty.returncode == 1 and "question(s) generated" not in empty.stdout
    assert empty.stderr.startswith(f"Error: {bench.question_file}: no questions")
    assert not bench.answer_file("fake").exists()


def test_judge_on_an_empty_question_file_is_a_data_error(bench):
    generate_answers(fake_config(bench, model_id="m", question_end=2))
    bench.question_file.write_text("")
    config = JudgeConfig(paths=bench, judge_backend="fake", model_list=["m"])
    with pytest.raises(DataError, match="no questions"):
        judge(config, err=io.StringIO())
    result = run_cli(
        "judge", "--judge-backend", "fake", "--model-list", "m", "--yes",
        "--data-dir", str(bench.data_dir),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"Error: {bench.question_file}: no questions" in result.stderr
    assert "Nothing to do" not in result.stderr
    assert not bench.judgment_file("fake", "single").exists()


def test_judge_first_n_0_is_a_config_error(bench):
    with pytest.raises(ConfigError, match="--first-n must be at least 1, got 0"):
        judge(JudgeConfig(paths=bench, judge_backend="fake", first_n=0), err=io.StringIO())


def test_nothing_to_do_names_the_file_only_when_it_holds_the_matches(bench, monkeypatch):
    generate_answers(fake_config(bench, model_id="m", question_end=1))
    config = JudgeConfig(paths=bench, judge_backend="fake", model_list=["m"], first_n=1)
    err = io.StringIO()
    assert judge(config, err=err).status == "done"
    assert judge(config, err=err).status == "nothing_to_do"
    assert f"Nothing to do: all 2 match(es) are in {bench.judgment_file('fake', 'single')}." in (
        err.getvalue()
    )
    # A plan with no match at all (not reachable from the CLI today) claims nothing about files.
    empty = replace(make_plan(config), matches=[], pending=[])
    monkeypatch.setattr(judge_pipeline, "make_plan", lambda options, notices=(): empty)
    err = io.StringIO()
    assert judge(config, err=err).status == "nothing_to_do"
    assert "Nothing to do: no match to judge." in err.getvalue()
    assert "are in" not in err.getvalue()
