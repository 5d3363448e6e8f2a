"""Reasoning traces in a model's reply text (`<think>...</think>` and the like).

Open thinking models (Qwen3, QwQ, DeepSeek-R1 and their kin) served without a reasoning parser
write their thinking into the reply itself, before the answer. `split_reasoning` separates the
two; `mtbench-gen --reasoning strip` uses it on answers and `mtbench-judge` on every judge reply,
so that a draft inside the trace is never read as the answer or the verdict.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"

TRACE_TAGS = ((OPEN, CLOSE), ("<thinking>", "</thinking>"), ("◁think▷", "◁/think▷"))
"""The trace delimiters recognised: DeepSeek-R1 / Qwen3 / QwQ's `<think>`, the `<thinking>` of
prompted judges, and Kimi's `◁think▷`."""


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a reply into `(answer, trace)`; the trace is "" when there is none.

    Handles a complete block (any of `TRACE_TAGS`), a reply that only closes the block (chat
    templates that open `<think>` in the prompt), and a block never closed (the token limit cut
    it, or the model stopped while thinking: then all of it is trace and the answer is empty).
    The answer is stripped when a trace was removed, and otherwise returned exactly as given.
    """
    for _opening, closing in TRACE_TAGS:
        close = text.rfind(closing)
        if close >= 0:
            return text[close + len(closing) :].strip(), text[: close + len(closing)].strip()
    stripped = text.lstrip()
    for opening, _ in TRACE_TAGS:
        if stripped.startswith(opening):
            return "", stripped.strip()
    return text, ""
