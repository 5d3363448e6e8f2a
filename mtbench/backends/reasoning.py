"""Reasoning traces in a model's reply text (`<think>...</think>` and the like).

Open thinking models (Qwen3, QwQ, DeepSeek-R1 and their kin) served without a reasoning parser
write their thinking into the reply itself, before the answer. `split_reasoning` separates the
two; `mtbench-gen --reasoning strip` uses it on answers and `mtbench-judge` on every judge reply,
so that a draft inside the trace is never read as the answer or the verdict.

Tags are matched in any case (`<THINK>`). A tag written as a mention, in backticks or quotes
(`` `</think>` ``, `"<think>"`), is text, not a delimiter: a judge that remarks on a stray tag
in an answer keeps its verdict.
"""

from __future__ import annotations

import re

OPEN = "<think>"
CLOSE = "</think>"

TRACE_TAGS = (
    (OPEN, CLOSE),
    ("<thinking>", "</thinking>"),
    ("<seed:think>", "</seed:think>"),
    ("<reasoning>", "</reasoning>"),
    ("◁think▷", "◁/think▷"),
)
"""The trace delimiters recognised: DeepSeek-R1 / Qwen3 / QwQ's `<think>`, the `<thinking>` and
`<reasoning>` of prompted judges, Seed-OSS's `<seed:think>` and Kimi's `◁think▷`."""

_QUOTES = "`'\"‘’“”"


def _delimiters(tag: str) -> re.Pattern[str]:
    """A tag, in any case, not inside quotes or backticks."""
    return re.compile(rf"(?<![{_QUOTES}]){re.escape(tag)}(?![{_QUOTES}])", re.IGNORECASE)


_CLOSING = [_delimiters(closing) for _, closing in TRACE_TAGS]
_OPENING = re.compile(
    r"\s*(?:"
    + "|".join(re.escape(opening) for opening, _ in TRACE_TAGS)
    + r")(?!["
    + _QUOTES
    + "])",
    re.IGNORECASE,
)


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a reply into `(answer, trace)`; the trace is "" when there is none.

    Handles a complete block (any of `TRACE_TAGS`, any case), a reply that only closes the block
    (chat templates that open `<think>` in the prompt), and a block never closed (the token limit
    cut it, or the model stopped while thinking: then all of it is trace and the answer is
    empty). The trace ends at the last closing tag. The answer is stripped when a trace was
    removed, and otherwise returned exactly as given.
    """
    end = -1
    for closing in _CLOSING:
        for found in closing.finditer(text):
            end = max(end, found.end())
    if end >= 0:
        return text[end:].strip(), text[:end].strip()
    if _OPENING.match(text):
        return "", text.strip()
    return text, ""
