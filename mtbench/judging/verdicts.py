"""Reading a verdict out of a judge's reply, by FastChat's rules (`fastchat/llm_judge/common.py`:
`run_judge_single` for scores, `run_judge_pair` for winners, `play_a_match_pair` for both games).

Single grading: the first `[[n]]` anywhere in the reply, else the first `[n]`; the number is
kept as written (`8` is an int, `8.5` and `8.` are floats); no match gives -1. FastChat crashes
on a leading zero (`[[08]]`, because `ast.literal_eval` rejects it); here it reads as 8.

Pairwise grading with the `[[A]]` output format: the reply *contains* `[[A]]` → A, else `[[B]]`
→ B, else `[[C]]` → tie, else error, checked in that order (so a reply that quotes the format
before its verdict counts as A, exactly as in FastChat). With the `[[rating_a,rating_b]]`
format (no shipped prompt uses it): two numbers, a tie within 0.1, else the higher wins.
"""

from __future__ import annotations

import re

from mtbench.data.judgments import NO_SCORE

RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
"""FastChat's `[[n]]` pattern; the leftmost match anywhere in the reply wins."""

RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
"""FastChat's fallback `[n]`, used only when no `[[n]]` is present."""

TWO_RATINGS = re.compile(r"\[\[(\d+\.?\d*),\s?(\d+\.?\d*)\]\]")
TWO_RATINGS_BACKUP = re.compile(r"\[(\d+\.?\d*),\s?(\d+\.?\d*)\]")

TIE_DELTA = 0.1
"""Two ratings this close (or closer) are a tie (the `[[rating_a,rating_b]]` format)."""

SINGLE_FORMAT = "[[rating]]"
PAIR_FORMAT = "[[A]]"
TWO_RATINGS_FORMAT = "[[rating_a,rating_b]]"
OUTPUT_FORMATS = (SINGLE_FORMAT, PAIR_FORMAT, TWO_RATINGS_FORMAT)

VERDICTS = ("A", "B", "tie", "error")


def to_number(text: str) -> int | float:
    """The value of a matched `\\d+\\.?\\d*`: an int without a dot, else a float (as written)."""
    return float(text) if "." in text else int(text)


def parse_rating(reply: str) -> int | float:
    """The rating in a single-grading reply, or -1 if there is none."""
    match = RATING.search(reply) or RATING_BACKUP.search(reply)
    return to_number(match.group(1)) if match else NO_SCORE


def parse_two_ratings(reply: str) -> tuple[int | float, int | float] | None:
    """The `[[a, b]]` ratings of a two-score pairwise reply, or None."""
    match = TWO_RATINGS.search(reply) or TWO_RATINGS_BACKUP.search(reply)
    if not match:
        return None
    return to_number(match.group(1)), to_number(match.group(2))


def parse_pair_verdict(reply: str, output_format: str = PAIR_FORMAT) -> str:
    """The verdict of one pairwise game: `A`, `B`, `tie` or `error`."""
    if output_format == PAIR_FORMAT:
        if "[[A]]" in reply:
            return "A"
        if "[[B]]" in reply:
            return "B"
        if "[[C]]" in reply:
            return "tie"
        return "error"
    if output_format == TWO_RATINGS_FORMAT:
        ratings = parse_two_ratings(reply)
        if ratings is None:
            return "error"
        a, b = ratings
        if abs(a - b) <= TIE_DELTA:
            return "tie"
        return "A" if a > b else "B"
    raise ValueError(f"unknown pairwise output format {output_format!r}")


def winner_label(verdict: str, swapped: bool) -> str:
    """Map a game's verdict to the stored `model_1`/`model_2`/`tie`/`error`.

    Game 1 shows model_1 as Assistant A; game 2 (`swapped`) shows model_2 as A.
    """
    if verdict == "A":
        return "model_2" if swapped else "model_1"
    if verdict == "B":
        return "model_1" if swapped else "model_2"
    return verdict
