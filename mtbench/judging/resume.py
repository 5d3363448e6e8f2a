"""Resume: which matches a judgment file already holds, so that a rerun judges only the rest.

A match counts as judged when the file has a row of it (same question, model(s) in either
order, judge prompt, turn and sample) that graded exactly the prompt the match sends now and
whose verdict did not run out of room. Everything else is judged again: a match never judged, a
row whose prompt is stale (`judging.staleness`), a row left without a verdict by a reply cut at
the token limit. FastChat's own rows count like ours (its `$ERROR$` rows count as judged, with a
notice).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.judging.matches import Match, grading_kind
from mtbench.judging.replies import ran_out_of_room
from mtbench.judging.staleness import stale_status


def judged_keys(
    output: Path, mode: str, matches: Sequence[Match], keep_stale: bool, notices: list[str]
) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    """The keys of the matches already judged in `output`, and those of the stale ones.

    Args:
        output: The judgment file (absent: nothing is judged).
        mode: The grading mode (which kind of rows the file holds).
        matches: The run's matches: a row is checked for staleness against its match.
        keep_stale: Count stale rows as judged (`--keep-stale`).
        notices: Lines for the plan are appended here (FastChat `$ERROR$` rows, re-asks).

    A row counts for its match when it graded exactly the prompt the match sends now
    (`staleness.stale_status`); a match whose rows are all stale (its answer, reference or
    judge prompt changed since) is judged again, unless `keep_stale`. A row without a verdict
    whose reply ran out of room (empty, or cut at the token limit: `replies.ran_out_of_room`),
    which runs before that rule wrote, does not count either: the match is asked again.

    Returns:
        The keys judged and current, and the keys of the matches judged again as stale.
    """
    if not output.is_file():
        return set(), set()
    loader = load_single_judgments if grading_kind(mode) == "single" else load_pair_judgments
    planned = {match.key: match for match in matches}
    keys = set()
    api_errors = 0
    reasked: set[tuple[object, ...]] = set()
    stale: set[tuple[object, ...]] = set()
    for row in loader(output):
        replies = [row.judgment] if hasattr(row, "judgment") else [row.g1_judgment, row.g2_judgment]  # type: ignore[attr-defined]
        if any(
            ran_out_of_room(reply, meta.get("finish_reason"), row.parsed)
            for reply, meta in zip(replies, row.metas, strict=False)
        ):
            reasked.add(row.key)
            continue
        match = planned.get(row.key)
        if match is not None and not keep_stale and stale_status(row, match) == "stale":
            stale.add(row.key)
            continue
        keys.add(row.key)
        api_errors += "$ERROR$" in replies
    if api_errors:
        notices.append(
            f"{api_errors} row(s) of {output.name} hold FastChat's $ERROR$ (a failed API call) and "
            "count as judged; delete those lines to judge them again"
        )
    reasked -= keys  # a later row of the same match has its verdict
    if reasked:
        notices.append(
            f"{len(reasked)} row(s) of {output.name} have no verdict because the judge's reply was "
            "empty or cut at the token limit; they are judged again"
        )
    stale -= keys | reasked  # judged again since, or counted above
    return keys, stale
