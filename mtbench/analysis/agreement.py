"""Agreement between two judges on pairwise votes (FastChat's `compute_agreement.py`, and more).

FastChat's rules, kept: votes are grouped per turn and per match (question, unordered model
pair), the winner flipped when the pair is put in order; two votes agree when they are equal, any
two ties being equal (`tie` = `tie (bothbad)`); "without tie" leaves out every comparison in which
either vote is a tie. Between two different judges, every vote of one is compared with every vote
of the other on the same match (FastChat requires exactly one GPT-4 vote per match, so this gives
its numbers); a judge with itself (`human human`) compares every unordered pair of its votes on a
match. Results per turn, with and without ties: FastChat's four lines.

Beyond FastChat, which supports only `gpt4-pair human` and `human human`: any two judge names
(see `mtbench.data.votes.judge_name`), in either order, from FastChat vote files or from our own
`{judge}_pair.jsonl` files, and the same counts over all turns together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mtbench.data.questions import QuestionId
from mtbench.data.votes import TIE, Vote, VoteSource, load_all_votes
from mtbench.errors import ConfigError

FASTCHAT_JUDGES = ("gpt4-pair", "human")
"""FastChat's default `--judges`."""

Match = tuple[QuestionId, str, str]
"""(question_id, first model, second model) with the models in sorted order."""


@dataclass(frozen=True)
class AgreementCount:
    """How often two judges agree on one turn (or all turns), with or without ties.

    Attributes:
        turn: The turn, or None for all turns together.
        with_ties: False when comparisons involving a tie were left out.
        total: Comparisons made.
        agree: Comparisons in which the two votes agree.
    """

    turn: int | None
    with_ties: bool
    total: int
    agree: int

    @property
    def ratio(self) -> float:
        return self.agree / self.total if self.total else math.nan

    def fastchat_line(self) -> str:
        """The line FastChat prints (`n/a` for a ratio where FastChat divides by zero)."""
        turn = f"turn {self.turn}" if self.turn is not None else "all turns"
        kind = "with tie" if self.with_ties else "without tie"
        ratio = f"{self.ratio:.2f}" if self.total else "n/a"
        return f"{turn} {kind}. #total: {self.total}, #agree: {self.agree}, ratio: {ratio}"


@dataclass(frozen=True)
class JudgeAgreement:
    """Agreement of two judges.

    Attributes:
        judge_1: The first judge name.
        judge_2: The second judge name (the same name: agreement among that judge's votes).
        counts: FastChat's four results (turn 1, turn 2; each with and without tie), then any
            further turn, then all turns together.
        votes: Votes read per judge name (all judges found, not just the two compared).
        matches: Per turn, matches on which the two judges could be compared.
        sources: What was read from each file (see `mtbench.data.votes.load_votes`).
    """

    judge_1: str
    judge_2: str
    counts: list[AgreementCount]
    votes: dict[str, int]
    matches: dict[int, int]
    sources: dict[str, dict[str, int]] = field(default_factory=dict)


def _flipped(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def group_votes(votes: Iterable[Vote]) -> dict[int, dict[Match, dict[str, list[str]]]]:
    """Votes by turn, match and judge name; winners relative to the sorted model pair."""
    grouped: dict[int, dict[Match, dict[str, list[str]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for vote in votes:
        if vote.model_a < vote.model_b:
            match, winner = (vote.question_id, vote.model_a, vote.model_b), vote.winner
        else:
            match, winner = (vote.question_id, vote.model_b, vote.model_a), _flipped(vote.winner)
        grouped[vote.turn][match][vote.judge].append(winner)
    return grouped


def votes_agree(first: str, second: str) -> bool:
    """Equal votes agree, and so do any two ties (`tie` and `tie (bothbad)`)."""
    return (TIE in first and TIE in second) or first == second


def _pairs(by_judge: dict[str, list[str]], judge_1: str, judge_2: str) -> list[tuple[str, str]]:
    if judge_1 == judge_2:
        own = by_judge.get(judge_1, [])
        return [(own[i], own[j]) for i in range(len(own)) for j in range(i + 1, len(own))]
    return [(v1, v2) for v1 in by_judge.get(judge_1, []) for v2 in by_judge.get(judge_2, [])]


def count_agreement(
    matches: dict[Match, dict[str, list[str]]], judge_1: str, judge_2: str, with_ties: bool
) -> tuple[int, int]:
    """`(agree, total)` over the matches of one turn."""
    agree = total = 0
    for by_judge in matches.values():
        for first, second in _pairs(by_judge, judge_1, judge_2):
            if not with_ties and (TIE in first or TIE in second):
                continue
            total += 1
            agree += votes_agree(first, second)
    return agree, total


def judge_agreement(votes: Sequence[Vote], judge_1: str, judge_2: str) -> JudgeAgreement:
    """Agreement of two judge names over a set of votes, per turn and over all turns."""
    grouped = group_votes(votes)
    counts: list[AgreementCount] = []
    turns = sorted({1, 2} | set(grouped))
    matches: dict[int, int] = {}
    for turn in turns:
        by_match = grouped.get(turn, {})
        matches[turn] = sum(1 for m in by_match.values() if _pairs(m, judge_1, judge_2))
        for with_ties in (True, False):
            agree, total = count_agreement(by_match, judge_1, judge_2, with_ties)
            counts.append(AgreementCount(turn, with_ties, total, agree))
    for with_ties in (True, False):
        per_turn = [c for c in counts if c.with_ties == with_ties]
        counts.append(
            AgreementCount(
                None, with_ties, sum(c.total for c in per_turn), sum(c.agree for c in per_turn)
            )
        )
    found: dict[str, int] = defaultdict(int)
    for vote in votes:
        found[vote.judge] += 1
    return JudgeAgreement(judge_1, judge_2, counts, dict(found), matches)


def choose_judges(votes: Sequence[Vote], judges: Sequence[str] | None) -> tuple[str, str]:
    """The two judge names to compare: as given, else FastChat's default when both are there,
    else the only two (or one) names found.

    Raises:
        ConfigError: when a named judge has no votes, or the choice is ambiguous.
    """
    names = sorted({v.judge for v in votes})
    listing = ", ".join(names) if names else "none"
    if judges is not None:
        if len(judges) != 2:
            raise ConfigError(f"--judges takes two judge names, got {len(judges)}")
        for judge in judges:
            if judge not in names:
                raise ConfigError(
                    f"judge {judge!r} has no votes in these files (judges found: {listing}); "
                    "check --judges and --votefiles"
                )
        return judges[0], judges[1]
    if all(j in names for j in FASTCHAT_JUDGES):
        return FASTCHAT_JUDGES
    if len(names) == 2:
        return names[0], names[1]
    if len(names) == 1:
        return names[0], names[0]
    raise ConfigError(f"judges found: {listing}; choose two with --judges J1 J2")


def run_agreement(
    sources: Sequence[VoteSource], judges: Sequence[str] | None = None, per_game: bool = False
) -> JudgeAgreement:
    """Read vote files (or pairwise judgment files) and compute the agreement of two judges.

    Args:
        sources: The files; all their votes are merged.
        judges: Two judge names; default FastChat's `gpt4-pair human`, or the two names found.
        per_game: Read pairwise judgment files as one vote per order instead of one per row.

    Raises:
        DataError: for a missing or malformed file.
        ConfigError: for judges that cannot be compared.
    """
    if not sources:
        raise ConfigError("no vote files: pass --votefiles FILE [FILE ...]")
    votes, counts = load_all_votes(sources, per_game)
    judge_1, judge_2 = choose_judges(votes, judges)
    result = judge_agreement(votes, judge_1, judge_2)
    return JudgeAgreement(
        result.judge_1, result.judge_2, result.counts, result.votes, result.matches, counts
    )
