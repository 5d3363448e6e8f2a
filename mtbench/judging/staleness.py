"""Stale judgments: rows whose graded prompt is not the prompt the judge would be sent now.

Every judgment row records the exact user message its judge graded: `user_prompt` in single
rows, `g1_user_prompt` and `g2_user_prompt` in pairwise rows (FastChat writes them too). That
message holds the question, the answer(s) (both turns for the multi-turn prompts), the reference
answer for math, reasoning and coding, and the judge prompt's template. When any of them changes
(a model regenerated under the same name, references regenerated into the same file, an edited
judge prompt), the row grades something that is no longer there: it is *stale*.

Two users of the rule:

* `mtbench-judge` knows the exact prompt of every match it would send (`Match.user_prompt`):
  a match whose rows are all stale is judged again (`stale_status` against the plan's matches).
* Every reader (`mtbench-show`, `--compare`, `-browse`, `-agreement`) rebuilds the prompt of
  each row from the bench's current files (`PromptCheck`) and leaves stale rows out. A reader
  does not know the options of the run that wrote the row, so it accepts any reference file of
  the bench and either `--answer-reasoning` setting; a row it cannot rebuild (no answer file,
  a question or judge prompt the bench no longer has) is *unchecked* and used, as before.

A row whose recorded prompt is no rendering of its judge prompt at all (empty, or a placeholder
in a hand-written file: `records_prompt`) says nothing about what was graded: unchecked for
both, never judged again for it.

What the rows do not record cannot be checked: the judge prompt's system message (FastChat's
rows keep only the user message) and the judge's sampling settings.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from mtbench.backends.reasoning import split_reasoning
from mtbench.data.answers import Answer, load_answer_file
from mtbench.data.judge_prompts import JudgePrompt, load_judge_prompts
from mtbench.data.judgments import PairJudgment, SingleJudgment
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import Question, QuestionId, load_questions
from mtbench.errors import DataError
from mtbench.judging.matches import ANSWER_REASONING, JUDGE_PROMPT_NAMES, Judge, Match

logger = logging.getLogger(__name__)

Status = Literal["current", "stale", "unchecked"]
"""`current`: the row graded what the bench holds now; `stale`: it graded something that has
changed since; `unchecked`: its prompt cannot be rebuilt from the bench's files, or the row
records no rendering of its judge prompt (`records_prompt`)."""

Row = TypeVar("Row", SingleJudgment, PairJudgment)

_ROLES = {
    (kind, name): role for kind, names in JUDGE_PROMPT_NAMES.items() for role, name in names.items()
}


def graded_prompts(row: SingleJudgment | PairJudgment) -> tuple[str, ...]:
    """The user message(s) a row's judge graded: one for single rows, games 1 and 2 for pairs."""
    if isinstance(row, PairJudgment):
        return (row.g1_user_prompt, row.g2_user_prompt)
    return (row.user_prompt,)


def sent_prompts(match: Match, row: SingleJudgment | PairJudgment) -> tuple[str, ...]:
    """The user message(s) `match` sends now, in the order `row` stores them.

    A pairwise row may list the two models in the other order than the match (a baseline run's
    row read by an all-pairs run): its game 1 is then the match's game 2.
    """
    if not match.pairwise:
        return (match.user_prompt(),)
    first, second = match.user_prompt(swapped=False), match.user_prompt(swapped=True)
    if isinstance(row, PairJudgment) and row.model_1 != match.models[0]:
        return (second, first)
    return (first, second)


def stale_status(row: SingleJudgment | PairJudgment, match: Match) -> Status:
    """`current` if `row` graded exactly what `match` sends now, `stale` if it graded another
    rendering of the judge prompt, `unchecked` if its recorded prompt is no rendering of it
    (`records_prompt`)."""
    graded = graded_prompts(row)
    if graded == sent_prompts(match, row):
        return "current"
    return "stale" if records_prompt(graded, match.judge.prompt) else "unchecked"


MIN_FIXED_TEXT = 8
"""Characters a piece of a judge prompt's fixed text needs to count in `records_prompt`."""


def records_prompt(graded: tuple[str, ...], prompt: JudgePrompt) -> bool:
    """Whether recorded user messages are renderings of `prompt`, old or new: each holds a
    piece of its template's fixed text (`[Question]`, `[The Start of Assistant's Answer]`, ...).

    A row whose recorded prompt holds none (empty, a placeholder such as `(prompt)` in a
    hand-written file, another tool's field) does not say what its judge graded, so it can be
    neither current nor stale: it is unchecked and counts as it is. An edited template keeps
    most of its fixed text, so rows rendered from the old one are still recognised (as stale).
    """
    pieces = [
        literal.strip()
        for literal, _, _, _ in string.Formatter().parse(prompt.prompt_template)
        if len(literal.strip()) >= MIN_FIXED_TEXT
    ]
    return all(any(piece in text for piece in pieces) for text in graded)


@dataclass
class PromptCheck:
    """Tells, for rows read from any judgment file of a bench, whether each is still current.

    Rebuilds the prompt a row graded from the bench's files as they are now: the question file,
    the judge prompt file, the model answer files, and every reference answer file of the bench
    (a row is current if any of them, with `--answer-reasoning` keep or strip, gives its exact
    prompt). Files are read once, when a row first needs them; an answer file that cannot be
    read leaves its model's rows unchecked (with a warning), never stops the reader.

    Attributes:
        paths: The bench.
        judge_file: The judge prompt file (default: the bench's, as `mtbench-judge` uses).

    Raises:
        DataError: from `status`, when `judge_file` is given and cannot be read; a missing
            bench prompt file only leaves rows unchecked.
    """

    paths: BenchPaths
    judge_file: Path | None = None
    _questions: dict[QuestionId, Question] | None = field(default=None, init=False, repr=False)
    _prompts: dict[str, JudgePrompt] | None = field(default=None, init=False, repr=False)
    _answers: dict[str, dict[QuestionId, Answer]] = field(default_factory=dict, init=False)
    _references: list[dict[QuestionId, Answer]] | None = field(default=None, init=False)

    def status(self, row: SingleJudgment | PairJudgment) -> Status:
        """Whether `row` is `current`, `stale` or `unchecked` (see `Status`)."""
        question = self._question_map().get(row.question_id)
        prompt = self._prompt_map().get(row.judge[1])
        pairwise = isinstance(row, PairJudgment)
        role = _ROLES.get(("pair" if pairwise else "single", row.judge[1]))
        if question is None or prompt is None or role is None:
            return "unchecked"
        judge = Judge(row.judge[0], prompt, role.startswith("math"), role.endswith("-mt"))
        if judge.multi_turn != (row.turn == 2) or (judge.multi_turn and len(question.turns) != 2):
            return "unchecked"
        models = (row.model_1, row.model_2) if isinstance(row, PairJudgment) else (row.model,)
        answers = tuple(self._answer(model, row.question_id) for model in models)
        if any(answer is None for answer in answers):
            return "unchecked"
        references: list[Answer | None] = [None]
        if judge.ref_based:
            qid = row.question_id
            references = [ref[qid] for ref in self._reference_maps() if qid in ref]
            if not references:
                return "unchecked"
        graded = graded_prompts(row)
        if not records_prompt(graded, prompt):
            return "unchecked"
        reasoning = ANSWER_REASONING if _has_trace(answers) else ("keep",)
        for reference in references:
            for answer_reasoning in reasoning:
                match = Match(question, judge, models, answers, reference, answer_reasoning)  # type: ignore[arg-type]
                if sent_prompts(match, row) == graded:
                    return "current"
        return "stale"

    def _question_map(self) -> dict[QuestionId, Question]:
        if self._questions is None:
            try:
                questions = load_questions(self.paths.question_file)
            except DataError:
                questions = []  # the readers report a missing question file themselves
            self._questions = {q.question_id: q for q in questions}
        return self._questions

    def _prompt_map(self) -> dict[str, JudgePrompt]:
        if self._prompts is None:
            path = self.judge_file or self.paths.judge_prompts_file
            # Without the bench's prompt file every row is unchecked (and counted as such); a
            # prompt file named on purpose must be there (`load_judge_prompts` raises).
            exists = self.judge_file is not None or path.is_file()
            self._prompts = load_judge_prompts(path) if exists else {}
        return self._prompts

    def _answer(self, model: str, question_id: QuestionId) -> Answer | None:
        if model not in self._answers:
            path = self.paths.answer_file(model)
            answers: dict[QuestionId, Answer] = {}
            if path.is_file():
                try:
                    answers = load_answer_file(path)
                except DataError as exc:
                    logger.warning("%s's judgments cannot be checked: %s", model, exc)
            self._answers[model] = answers
        return self._answers[model].get(question_id)

    def _reference_maps(self) -> list[dict[QuestionId, Answer]]:
        if self._references is None:
            self._references = []
            for path in sorted(self.paths.reference_dir.glob("*.jsonl")):
                try:
                    self._references.append(load_answer_file(path))
                except DataError as exc:
                    logger.warning("reference answers left out of the checks: %s", exc)
        return self._references


def _has_trace(answers: tuple[Answer | None, ...]) -> bool:
    """Whether stripping reasoning traces (`--answer-reasoning strip`) changes any answer."""
    return any(
        split_reasoning(text)[0] != text for answer in answers if answer for text in answer.turns
    )


def stale_note(stale: int, pending: int) -> str | None:
    """The warning every reader gives for stale rows, None when every stale item has been
    judged again since (the accounting line still counts the skipped rows).

    Args:
        stale: Stale rows skipped.
        pending: Of their items, those with no current row: not judged again yet.
    """
    if not stale or not pending:
        return None
    return (
        f"{stale} stale judgment row(s) skipped, {pending} item(s) not judged again since: they "
        "graded a question, answer, reference or judge prompt that has changed (rerun "
        "mtbench-judge to judge them again; --keep-stale uses the old rows; judged with "
        "another --judge-file? pass it here too)"
    )


def split_stale(rows: Iterable[Row], check: PromptCheck | None) -> tuple[list[Row], list[Row]]:
    """The rows `check` does not find stale, and the stale ones, each in order (no check: all
    rows are kept)."""
    kept: list[Row] = []
    stale: list[Row] = []
    for row in rows:
        (stale if check is not None and check.status(row) == "stale" else kept).append(row)
    return kept, stale


def pending_items(
    stale: Iterable[SingleJudgment | PairJudgment], current: Iterable[SingleJudgment | PairJudgment]
) -> int:
    """Items (row keys) with a stale row and no current one: not judged again yet."""
    return len({row.key for row in stale} - {row.key for row in current})


def drop_stale(rows: Iterable[Row], check: PromptCheck | None, where: str = "") -> list[Row]:
    """The rows `check` does not find stale, in order (every row when `check` is None), with
    `stale_note`'s warning logged (prefixed by `where`, e.g. the file) when it applies."""
    kept, stale = split_stale(rows, check)
    note = stale_note(len(stale), pending_items(stale, kept))
    if note:
        logger.warning("%s%s", f"{where}: " if where else "", note)
    return kept
