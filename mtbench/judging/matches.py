"""What gets judged: FastChat's judges and matches, in FastChat's order.

The rules are those of `fastchat/llm_judge/gen_judgment.py` (`make_judge_single`,
`make_judge_pairwise`, `make_match_single`, `make_match`, `make_match_all_pairs`) and of the
prompts built in `fastchat/llm_judge/common.py` (`run_judge_single`, `run_judge_pair`).

Four judges per mode: a turn-1 judge and a multi-turn judge, each in a plain and a
reference-based ("math") version. Questions whose category is in `NEED_REF_CATS` go to the math
judges, with the judge's reference answer. Matches are built block by block (default turn 1,
math turn 1, default multi-turn, math multi-turn), each block question by question, then model
by model (single, pairwise-baseline) or pair by pair in model-list order (pairwise-all).

The messages sent to the judge are FastChat's: the prompt's system message, then the template
filled by `str.format` with the same keyword arguments FastChat passes. With
`answer_reasoning="strip"` the answers are put in without their `<think>` traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mtbench.backends.base import Message
from mtbench.backends.reasoning import split_reasoning
from mtbench.data.answers import Answer
from mtbench.data.judge_prompts import JudgePrompt
from mtbench.data.judgments import MODES, grading_kind
from mtbench.data.questions import Question, QuestionId
from mtbench.errors import ConfigError, DataError
from mtbench.judging.verdicts import OUTPUT_FORMATS

NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")
"""Categories graded against the judge's reference answers."""

JUDGE_PROMPT_NAMES = {
    "single": {
        "default": "single-v1",
        "math": "single-math-v1",
        "default-mt": "single-v1-multi-turn",
        "math-mt": "single-math-v1-multi-turn",
    },
    "pair": {
        "default": "pair-v2",
        "math": "pair-math-v1",
        "default-mt": "pair-v2-multi-turn",
        "math-mt": "pair-math-v1-multi-turn",
    },
}
"""FastChat's prompt for each judge role, by grading kind."""

ANSWER_REASONING = ("keep", "strip")
"""`--answer-reasoning` values: judge answers as they are (FastChat), or without their trace."""


@dataclass(frozen=True)
class Judge:
    """A judge model with one prompt (FastChat's `Judge`).

    Attributes:
        judge_model: The judge's name as recorded in the output (`judge[0]`, the file name).
        prompt: The judge prompt.
        ref_based: Whether the prompt shows the reference answer.
        multi_turn: Whether the prompt shows the whole two-turn conversation (turn 2).
    """

    judge_model: str
    prompt: JudgePrompt
    ref_based: bool = False
    multi_turn: bool = False

    @property
    def name(self) -> tuple[str, str]:
        """The stored `judge` field: `(judge_model, prompt_name)`."""
        return (self.judge_model, self.prompt.name)


def make_judges(
    prompts: Mapping[str, JudgePrompt], judge_model: str, mode: str, judge_file: str = ""
) -> dict[str, Judge]:
    """The four judges of a mode, keyed `default`, `math`, `default-mt`, `math-mt`.

    Raises:
        DataError: if the prompt file lacks a prompt the mode needs, or has the wrong kind.
    """
    kind = grading_kind(mode)
    expected_type = "single" if kind == "single" else "pairwise"
    judges = {}
    for role, prompt_name in JUDGE_PROMPT_NAMES[kind].items():
        prompt = prompts.get(prompt_name)
        if prompt is None:
            raise DataError(
                f"judge prompt '{prompt_name}' (needed by --mode {mode}) is missing; "
                "use FastChat's judge_prompts.jsonl",
                judge_file or None,
            )
        if prompt.type != expected_type or prompt.output_format not in OUTPUT_FORMATS:
            raise DataError(
                f"judge prompt '{prompt_name}' has type {prompt.type!r} and output format "
                f"{prompt.output_format!r}, which --mode {mode} cannot use",
                judge_file or None,
            )
        judges[role] = Judge(
            judge_model,
            prompt,
            ref_based=role.startswith("math"),
            multi_turn=role.endswith("-mt"),
        )
    return judges


@dataclass(frozen=True)
class Match:
    """One judgment to make: a question, one answer (single) or two (pairwise), a judge.

    Attributes:
        question: The question.
        judge: The judge (its prompt decides turn 1 or the whole conversation).
        models: One model (single) or `(model_1, model_2)` (pairwise).
        answers: The models' answers, in the same order.
        reference: The judge's reference answer, for reference-based judges.
        answer_reasoning: `keep` puts answers into the prompt as they are; `strip` removes a
            `<think>` trace from each turn first (`split_reasoning`, mtbench-gen's rule).
        sample: Which of `--samples K` judgments of the same prompt this is (1 to K); the
            row of a sample after the first records it (`data.judgments.SAMPLE`).
    """

    question: Question
    judge: Judge
    models: tuple[str, ...]
    answers: tuple[Answer, ...]
    reference: Answer | None = None
    answer_reasoning: str = "keep"
    sample: int = 1

    @property
    def pairwise(self) -> bool:
        return len(self.models) == 2

    @property
    def turn(self) -> int:
        return 2 if self.judge.multi_turn else 1

    @property
    def games(self) -> int:
        """Judge calls this match takes: two for pairwise (both answer orders), else one."""
        return 2 if self.pairwise else 1

    @property
    def key(self) -> tuple[Any, ...]:
        """The same key as the judgment row this match produces (`mtbench.data.judgments`)."""
        models = frozenset(self.models) if self.pairwise else self.models[0]
        return (self.question.question_id, models, self.judge.name, self.turn, self.sample)

    def template_values(self, swapped: bool = False) -> dict[str, str]:
        """The keyword arguments FastChat fills the template with.

        Args:
            swapped: For pairwise game 2, show model_2's answer as Assistant A.
        """
        q = self.question.turns
        values: dict[str, str] = {}
        if self.judge.multi_turn:
            values["question_1"], values["question_2"] = q[0], q[1]
        else:
            values["question"] = q[0]
        if self.judge.ref_based:
            assert self.reference is not None, "reference-based match without a reference"
            ref = self.reference.turns
            values["ref_answer_1"] = ref[0]
            if self.judge.multi_turn:
                values["ref_answer_2"] = ref[1]
        if self.pairwise:
            a, b = map(self._judged_turns, self.answers[::-1] if swapped else self.answers)
            if self.judge.multi_turn:
                values["answer_a_1"], values["answer_a_2"] = a[0], a[1]
                values["answer_b_1"], values["answer_b_2"] = b[0], b[1]
            else:
                values["answer_a"], values["answer_b"] = a[0], b[0]
        else:
            answer = self._judged_turns(self.answers[0])
            if self.judge.multi_turn:
                values["answer_1"], values["answer_2"] = answer[0], answer[1]
            else:
                values["answer"] = answer[0]
        return values

    def _judged_turns(self, answer: Answer) -> tuple[str, ...]:
        """The turns of `answer` as the judge sees them (every answer goes through here)."""
        if self.answer_reasoning == "strip":
            return tuple(split_reasoning(text)[0] for text in answer.turns)
        return answer.turns

    def user_prompt(self, swapped: bool = False) -> str:
        """The user message of this match (of game 2 when `swapped`), as recorded in the row."""
        return self.judge.prompt.render(**self.template_values(swapped))

    def messages(self, swapped: bool = False) -> list[Message]:
        """The chat sent to the judge: system prompt (when not empty), then the user message."""
        system = self.judge.prompt.system_prompt
        user = {"role": "user", "content": self.user_prompt(swapped)}
        return [{"role": "system", "content": system}, user] if system else [user]


def needs_reference(question: Question) -> bool:
    return question.category in NEED_REF_CATS


def build_matches(
    questions: Sequence[Question],
    answers: Mapping[str, Mapping[QuestionId, Answer]],
    judges: Mapping[str, Judge],
    mode: str,
    models: Sequence[str],
    baseline: str | None = None,
    references: Mapping[QuestionId, Answer] | None = None,
    answer_reasoning: str = "keep",
    samples: int = 1,
) -> list[Match]:
    """Every match of a run, in FastChat's order (with `samples`, each match's samples in a row).

    Data must have passed `mtbench.judging.checks` (every answer and reference present).

    Args:
        questions: The questions to judge (after `--first-n`).
        answers: Answers by model, then question id (the baseline's included).
        judges: From `make_judges`.
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        models: The models to judge, in order.
        baseline: The baseline model (`pairwise-baseline` only).
        references: The judge's reference answers by question id; needed when a question's
            category is in `NEED_REF_CATS`.
        answer_reasoning: `keep` or `strip` (`ANSWER_REASONING`), for every match.
        samples: Judgments of each match (`--samples`), numbered 1 to `samples`.

    Raises:
        ConfigError: Unknown mode or `answer_reasoning`, no baseline for `pairwise-baseline`,
            or no reference answer for a question that is judged against one.
    """
    grading_kind(mode)
    if answer_reasoning not in ANSWER_REASONING:
        raise ConfigError(
            f"answer_reasoning must be one of {', '.join(ANSWER_REASONING)}, "
            f"got {answer_reasoning!r}"
        )
    if mode == "pairwise-baseline" and not baseline:
        raise ConfigError("--mode pairwise-baseline needs --baseline-model")
    default = [q for q in questions if not needs_reference(q)]
    math = [q for q in questions if needs_reference(q)]
    blocks = (
        (default, judges["default"]),
        (math, judges["math"]),
        (default, judges["default-mt"]),
        (math, judges["math-mt"]),
    )
    matches = []
    for block_questions, judge in blocks:
        for question in block_questions:
            if judge.multi_turn and len(question.turns) != 2:
                continue
            reference = _reference(references, question) if judge.ref_based else None
            for pair in _model_tuples(mode, models, baseline):
                for sample in range(1, samples + 1):
                    matches.append(
                        Match(
                            question=question,
                            judge=judge,
                            models=pair,
                            answers=tuple(answers[m][question.question_id] for m in pair),
                            reference=reference,
                            answer_reasoning=answer_reasoning,
                            sample=sample,
                        )
                    )
    return matches


def _reference(references: Mapping[QuestionId, Answer] | None, question: Question) -> Answer:
    """The reference answer a math judge needs; a clear error instead of a TypeError/KeyError."""
    if references is None or question.question_id not in references:
        raise ConfigError(
            f"question {question.question_id} ({question.category}) is judged against a "
            "reference answer: pass `references` holding one for it"
        )
    return references[question.question_id]


def _model_tuples(mode: str, models: Sequence[str], baseline: str | None) -> list[tuple[str, ...]]:
    if mode == "single":
        return [(model,) for model in models]
    if mode == "pairwise-baseline":
        assert baseline is not None
        return [(model, baseline) for model in models if model != baseline]
    return [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]


__all__ = [
    "ANSWER_REASONING",
    "JUDGE_PROMPT_NAMES",
    "MODES",
    "NEED_REF_CATS",
    "Judge",
    "Match",
    "build_matches",
    "grading_kind",
    "make_judges",
    "needs_reference",
]
