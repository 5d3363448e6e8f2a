"""Which judge snapshot a judgment file's numbers come from.

An alias such as `gpt-5` names different dated snapshots over time, and a file judged in two
sittings can hold verdicts of both; their scores are not comparable. Rows written by mtbench
record the snapshot the server said answered (`model` in `JUDGE_META`); rows from FastChat or
older mtbench runs record nothing and are counted as `NOT_RECORDED`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from mtbench.data.judgments import PairJudgment, SingleJudgment

NOT_RECORDED = "not recorded"
"""The key under which `judge_snapshots` counts judge calls whose row names no snapshot."""


def judge_snapshots(judgments: Iterable[SingleJudgment | PairJudgment]) -> dict[str, int]:
    """Judge calls per judge snapshot, most first, `NOT_RECORDED` last.

    A single row is one call; a pairwise row is two, one per game, since its two games may have
    been answered by different snapshots.

    Args:
        judgments: The rows to count (for a report, the rows it uses).

    Returns:
        Snapshot name to number of calls; recorded snapshots by count (then name), then
        `NOT_RECORDED` if any call records none. Empty only for no rows.
    """
    counts: Counter[str] = Counter()
    for judgment in judgments:
        for meta in judgment.metas:
            snapshot = meta.get("model")
            counts[str(snapshot) if snapshot else NOT_RECORDED] += 1
    missing = counts.pop(NOT_RECORDED, 0)
    ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    if missing:
        ordered[NOT_RECORDED] = missing
    return ordered


def recorded(snapshots: Mapping[str, int]) -> dict[str, int]:
    """The snapshots that are named, without the `NOT_RECORDED` count."""
    return {name: count for name, count in snapshots.items() if name != NOT_RECORDED}


def mixed_snapshots_warning(snapshots: Mapping[str, int]) -> str | None:
    """The warning for numbers that pool several judge snapshots, or a recorded snapshot with
    calls that record none (an older run's, whose judge cannot be told); None otherwise."""
    named = len(recorded(snapshots))
    if named >= 2:
        return (
            f"this file mixes {named} judge snapshots; scores from different snapshots may not "
            "be comparable (rejudge with one, or split the file)"
        )
    missing = snapshots.get(NOT_RECORDED, 0)
    if named == 1 and missing:
        return (
            f"{missing} judge call(s) in this file record no snapshot (FastChat's or an older "
            "run's): they may come from another judge version than the rest"
        )
    return None
