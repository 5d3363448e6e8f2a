"""Checks before any judge call: is everything there, and does anything look broken?

FastChat stops at the first missing answer with a bare `AssertionError` (or a `KeyError` for a
missing reference file). Here every problem is collected and reported in one error that names
the files and question ids and says what to do. Answers that exist but look broken (empty, the
`ERROR` / `$ERROR$` that FastChat's generators write on failure, or cut off at the token limit)
do not stop the run: they are judged as they are, like FastChat does, and listed as warnings.
So are answers that still hold a reasoning model's `<think>` trace, which the judge would grade
as part of the answer unless `--answer-reasoning strip` removes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mtbench.backends.reasoning import split_reasoning
from mtbench.data.answers import Answer
from mtbench.data.questions import Question, QuestionId, id_kind
from mtbench.errors import DataError

GENERATION_ERRORS = ("ERROR", "$ERROR$")
"""What FastChat's local and API generators write in place of an answer that failed."""

REASONING_TRACE = "contain a <think> reasoning trace"
"""The problem of a turn that `split_reasoning` finds a trace in (mtbench-gen's strip rule)."""

_SHOW = 8


@dataclass(frozen=True)
class AnswerFlag:
    """An answer that will be judged but probably should not be.

    Attributes:
        model: The model.
        question_id: The question.
        turn: The turn (1-based).
        problem: `empty`, `generation error (ERROR)`, `cut at the token limit`, or
            `REASONING_TRACE`.
    """

    model: str
    question_id: QuestionId
    turn: int
    problem: str


def _ids(ids: Sequence[QuestionId]) -> str:
    shown = ", ".join(str(i) for i in ids[:_SHOW])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > _SHOW else "")


def _kind_hint(have: Mapping[QuestionId, Answer], missing: Sequence[QuestionId]) -> str:
    """Why an id looks missing when a file keys its answers by ids of the other kind."""
    if not have or not missing:
        return ""
    theirs = next(iter(have))
    if id_kind(theirs) == id_kind(missing[0]):
        return ""
    asked = missing[0]
    return (
        f" (its ids are of the other kind: {theirs!r:.40} is {id_kind(theirs)}, "
        f"{asked!r:.40} {id_kind(asked)})"
    )


def check_answers(
    questions: Sequence[Question],
    answers: Mapping[str, Mapping[QuestionId, Answer]],
    models: Iterable[str],
    answer_file: Mapping[str, Path],
) -> None:
    """Require an answer with enough turns from every model to every question.

    Args:
        questions: The questions to judge.
        answers: Loaded answers by model (a model without a file is absent).
        models: The models needed (judged models and the baseline).
        answer_file: Each model's answer file, for messages.

    Raises:
        DataError: listing every model with a missing file, answer or turn.
    """
    problems = []
    for model in models:
        if model not in answers:
            problems.append(f"'{model}' has no answer file ({answer_file[model]})")
            continue
        have = answers[model]
        missing = [q.question_id for q in questions if q.question_id not in have]
        short = [
            q.question_id
            for q in questions
            if q.question_id in have and len(have[q.question_id].turns) < len(q.turns)
        ]
        if missing:
            problems.append(
                f"'{model}' has no answer to question(s) {_ids(missing)}{_kind_hint(have, missing)}"
            )
        if short:
            problems.append(
                f"'{model}' answers fewer turns than asked in question(s) {_ids(short)}"
            )
    if problems:
        raise DataError(
            "missing model answers: "
            + "; ".join(problems)
            + ". Generate them with mtbench-gen, or judge fewer models/questions "
            "(--model-list, --first-n)"
        )


def check_references(
    questions: Sequence[Question], references: Mapping[QuestionId, Answer], path: Path
) -> None:
    """Require a two-turn reference answer for every question that needs one.

    Raises:
        DataError: naming the reference file and the question ids it lacks.
    """
    missing = [
        q.question_id
        for q in questions
        if q.question_id not in references or len(references[q.question_id].turns) < len(q.turns)
    ]
    if missing:
        raise DataError(
            f"no reference answer to question(s) {_ids(missing)}{_kind_hint(references, missing)}; "
            "choose another reference set with --ref-answer-model",
            path,
        )


def _capped(answer: Answer, turn: int) -> bool:
    """Whether the generator recorded that this turn stopped at the token limit.

    FastChat's answer files do not say; mtbench-gen and other tools write a `finish_reason`
    style field (one value, or one per turn) whose value is `length` for a capped turn.
    """
    for key, value in answer.extra.items():
        lowered = key.lower()
        if "finish" not in lowered and "stop_reason" not in lowered:
            continue
        if isinstance(value, list):
            if value and isinstance(value[0], list):
                value = value[0]  # one list per choice: the judged choice is the first
            value = value[turn - 1] if turn - 1 < len(value) else None
        if value == "length":
            return True
    return False


def flag_answers(
    questions: Sequence[Question],
    answers: Mapping[str, Mapping[QuestionId, Answer]],
    models: Iterable[str],
) -> list[AnswerFlag]:
    """List answer turns that are empty, generation errors, cut at the token limit, or hold a trace.

    A trace is flagged besides any other problem of the turn: a capped turn may well be a trace
    the token limit cut short.
    """
    flags = []
    for model in models:
        for question in questions:
            answer = answers.get(model, {}).get(question.question_id)
            if answer is None:
                continue
            for turn, text in enumerate(answer.turns[: len(question.turns)], start=1):
                problem = None
                if text.strip() in GENERATION_ERRORS:
                    problem = f"generation error ({text.strip()})"
                elif not text.strip():
                    problem = "empty"
                elif _capped(answer, turn):
                    problem = "cut at the token limit"
                if problem:
                    flags.append(AnswerFlag(model, question.question_id, turn, problem))
                if split_reasoning(text)[1]:
                    flags.append(AnswerFlag(model, question.question_id, turn, REASONING_TRACE))
    return flags


def describe_flags(flags: Sequence[AnswerFlag], answer_reasoning: str = "keep") -> list[str]:
    """Warning lines, one per model and problem, each saying how those turns are judged.

    Args:
        flags: From `flag_answers`.
        answer_reasoning: `--answer-reasoning`; with `strip`, turns with a trace are judged
            without it.
    """
    grouped: dict[tuple[str, str], list[QuestionId]] = {}
    for flag in flags:
        grouped.setdefault((flag.model, flag.problem), []).append(flag.question_id)
    lines = []
    for (model, problem), ids in grouped.items():
        stripped = problem == REASONING_TRACE and answer_reasoning == "strip"
        treatment = "with the trace removed" if stripped else "as they are"
        lines.append(
            f"'{model}': {len(ids)} answer turn(s) {problem}, question(s) "
            f"{_ids(sorted(set(ids)))} (judged {treatment})"
        )
    return lines
