"""Reasoning traces (`<think>...</think>`) of reasoning models.

With `--reasoning strip` (the default) a trace is kept in the answer file, in the row's
`reasoning` field, but removed from the answer that is judged and from the context of the next
turn. With `--reasoning keep` answers are left as the model wrote them (as FastChat does).
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"
REASONING_MODES = ("strip", "keep")
"""`--reasoning` values (not the grading modes of `mtbench-judge --mode`)."""


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a reply into `(answer, trace)`; the trace is "" when there is none.

    Handles a complete `<think>...</think>` block, a reply that only closes the block (chat
    templates that open `<think>` in the prompt), and a block never closed because the token
    limit cut it (then all of it is trace and the answer is empty).
    """
    close = text.rfind(CLOSE)
    if close >= 0:
        return text[close + len(CLOSE) :].strip(), text[: close + len(CLOSE)].strip()
    stripped = text.lstrip()
    if stripped.startswith(OPEN):
        return "", stripped.strip()
    return text, ""
