"""Coverage: how much of the bench each model's score rests on.

A model's MT-bench score is a mean over the bench's items (question x turn). A model judged on
a part of them (a judge run cut short, calls that failed for context length, rows without a
verdict) is ranked on a subset that is rarely random: the long answers fail first. Every reader
knows the question file, so each model's judged items are counted against the expected ones and
the missing ones named; its interval is left out when it rests on fewer than
`MIN_INTERVAL_QUESTIONS` questions (a bootstrap over one question gives [9, 9], a certainty it
does not have).

Expected items are those `mtbench-judge` makes for the question file: turn 1 of every question
and turn 2 of every two-turn question (`judging.matches.build_matches`); in `pairwise-all` mode,
each of them against every other model shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mtbench.data.questions import Question, QuestionId, id_order

MIN_INTERVAL_QUESTIONS = 10
"""Fewest questions a model's bootstrap interval is shown for. With fewer, the percentile
bootstrap badly understates the spread (with one question it has none at all); 10 is an eighth
of MT-bench's 80 questions."""

Item = tuple[QuestionId, int]
"""(question_id, turn)."""

_SHOWN = 8
"""Missing-item groups a warning names before it says how many more there are."""


@dataclass(frozen=True)
class Coverage:
    """One model's judged items against the bench's.

    Attributes:
        model: The model.
        expected: Items the bench asks for (x opponents in `pairwise-all`).
        judged: Of those, items with a judgment used in the scores.
        missing: Items (question, turn) with at least one expected judgment missing, in
            question order.
    """

    model: str
    expected: int
    judged: int
    missing: tuple[Item, ...]

    @property
    def complete(self) -> bool:
        return self.judged >= self.expected

    @property
    def missing_share(self) -> float:
        """Share of the expected judgments that are missing (0 to 1; 0 when none expected)."""
        return (self.expected - self.judged) / self.expected if self.expected else 0.0


def expected_items(questions: Iterable[Question]) -> list[Item]:
    """Turn 1 of every question and turn 2 of every two-turn one, in file order."""
    items: list[Item] = []
    for question in questions:
        items.append((question.question_id, 1))
        if len(question.turns) == 2:
            items.append((question.question_id, 2))
    return items


def coverage(
    judged: Mapping[str, Iterable[tuple[object, ...]]],
    items: Sequence[Item],
    opponents: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Coverage]:
    """Each model's coverage.

    Args:
        judged: Per model, the judgments used: `(question_id, turn)` tuples, or in
            `pairwise-all` `(question_id, turn, opponent)`.
        items: The expected items (`expected_items`).
        opponents: `pairwise-all` only: per model, the other models it should meet.

    Returns:
        Coverage by model, in the order of `judged`.
    """
    wanted = set(items)
    result = {}
    for model, done in judged.items():
        done_set = set(done)
        rivals = list(opponents.get(model, ())) if opponents is not None else None
        if rivals is None:
            have = done_set & wanted
            missing = [item for item in items if item not in have]
            expected, count = len(items), len(have)
        else:
            units = {(q, t, rival) for (q, t) in items for rival in rivals}
            have = done_set & units
            missing = [i for i in items if any((*i, r) not in have for r in rivals)]
            expected, count = len(units), len(have)
        result[model] = Coverage(model, expected, count, tuple(missing))
    return result


def describe_missing(missing: Sequence[Item]) -> str:
    """Missing items as ranges: `q1 turn 2, q2 turns 1-2`, `q84-160 turns 1-2`.

    Consecutive questions (in id order) missing the same turns are one group; after `_SHOWN`
    groups the rest are counted (`... and 12 more questions`).
    """
    by_question: dict[QuestionId, list[int]] = {}
    for qid, turn in missing:
        by_question.setdefault(qid, []).append(turn)
    groups: list[tuple[list[QuestionId], tuple[int, ...]]] = []
    previous: QuestionId | None = None
    for qid in sorted(by_question, key=id_order):
        turns = tuple(sorted(by_question[qid]))
        follows = (
            previous is not None
            and isinstance(qid, int)
            and isinstance(previous, int)
            and qid == previous + 1
        )
        if groups and follows and groups[-1][1] == turns:
            groups[-1][0].append(qid)
        else:
            groups.append(([qid], turns))
        previous = qid
    parts = []
    for ids, turns in groups[:_SHOWN]:
        span = f"q{ids[0]}" if len(ids) == 1 else f"q{ids[0]}-{ids[-1]}"
        label = f"turn {turns[0]}" if len(turns) == 1 else f"turns {turns[0]}-{turns[-1]}"
        parts.append(f"{span} {label}")
    rest = sum(len(ids) for ids, _ in groups[_SHOWN:])
    if rest:
        parts.append(f"and {rest} more question(s)")
    return ", ".join(parts)


def coverage_warning(entry: Coverage, unit: str = "judgments") -> str | None:
    """The warning for an incomplete model, None for a complete one.

    E.g. `model-b has 1 of 4 judgments (3 missing: q1 turn 2, q2 turns 1-2); its score is not
    comparable with complete runs`.
    """
    if entry.complete:
        return None
    lacking = entry.expected - entry.judged
    return (
        f"{entry.model} has {entry.judged} of {entry.expected} {unit} ({lacking} missing: "
        f"{describe_missing(entry.missing)}); its score is not comparable with complete runs "
        "(rerun mtbench-judge for what was never judged or is stale; an unparsed verdict counts "
        "as judged until its row is deleted)"
    )
