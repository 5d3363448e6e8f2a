"""A judge's reply, read: the final answer apart from its thinking, and where it came from.

Judges that think (OpenAI's reasoning models, Claude with extended thinking, Qwen3 / QwQ /
DeepSeek-R1 served by vLLM, SGLang or Ollama) return their thinking in a separate field or in
the text itself (`<think>...</think>`). The verdict is read from the final answer only: a draft
`[[3]]` or `[[A]]` inside the trace never counts. The trace is kept in the row's `judge_meta`
(`mtbench.data.judgments.JUDGE_META`), never in the stored `judgment` text, and never parsed.

A reply that ends with no verdict because the judge ran out of room (the server says
`finish_reason: length`) or gave no final answer at all (nothing, or only thinking) is not a
judgment: `out_of_room` tells the runner to ask again, with more room where the limit was the
cause, and to count it as a failed call if it never fits. A complete reply that simply lacks a
verdict keeps FastChat's rule (score -1 / winner `error`, written and counted), and so does a
reply the provider withheld (`content_filter`, a refusal): more room cannot change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mtbench.backends.base import GenerationParams, finish_reason, reply_meta, reply_reasoning
from mtbench.backends.reasoning import split_reasoning
from mtbench.errors import BackendError

ROOM_GROWTH = 2
"""How much the token limit grows each time a reply is cut before its verdict."""

REASKS = 2
"""How many more times a call that ran out of room is asked before it counts as failed."""


class NoVerdictError(BackendError):
    """A judge call that ended without a verdict for lack of room, even after re-asking.

    Args:
        message: What happened and what to do.
        cut: True when the token limit cut the reply (else the reply was empty).
    """

    def __init__(self, message: str, cut: bool):
        super().__init__(message)
        self.cut = cut


@dataclass(frozen=True)
class JudgeReply:
    """One judge call's reply, read.

    Attributes:
        judgment: The final answer: what is stored as `judgment` and parsed for the verdict.
        raw: The reply text as the backend returned it (trace included, if it was inline).
        meta: The provenance for the row's `judge_meta`: the backend's (`model`,
            `system_fingerprint`, `usage`, `params`), plus `finish_reason` and `reasoning`.
    """

    judgment: str
    raw: str
    meta: dict[str, Any]

    @property
    def cut(self) -> bool:
        """Whether the token limit cut the reply."""
        return self.meta.get("finish_reason") == "length"

    @property
    def empty(self) -> bool:
        """Whether the reply has no final answer (no text at all, or only thinking)."""
        return not self.judgment.strip()


def read_reply(reply: str, params: GenerationParams) -> JudgeReply:
    """Split a backend's reply into the final answer and the rest.

    Args:
        reply: What the backend returned (a `Reply` where it knows more than the text).
        params: The sampling the call used (recorded when the backend reports none).
    """
    raw = str(reply)
    judgment, trace = split_reasoning(raw)
    reasoning = "\n\n".join(part for part in (reply_reasoning(reply), trace) if part)
    meta = reply_meta(reply)
    if "params" not in meta:
        meta["params"] = {
            "temperature": params.temperature,
            "max_new_tokens": params.max_new_tokens,
        }
    reason = finish_reason(reply)
    if reason:
        meta["finish_reason"] = reason
    if reasoning:
        meta["reasoning"] = reasoning
    return JudgeReply(judgment, raw, meta)


WITHHELD = ("content_filter", "refusal")
"""Finish reasons of a reply the provider withheld: no more room would change it."""


def ran_out_of_room(judgment: str, finish_reason: str | None, parsed: bool) -> bool:
    """Whether a reply (or a stored row's) without a verdict is a failed call, not a judgment.

    The one rule for new replies (`out_of_room`) and for rows older runs wrote (the plan asks
    those again): no verdict, and cut at the token limit or with an empty final answer (unless
    the provider withheld it).

    Args:
        judgment: The final answer (a row's `judgment`).
        finish_reason: Why the reply ended, if known.
        parsed: Whether a verdict was read from it.
    """
    if parsed:
        return False
    if finish_reason == "length":
        return True
    return not judgment.strip() and finish_reason not in WITHHELD


def out_of_room(reply: JudgeReply, parsed: bool) -> bool:
    """`ran_out_of_room` for a reply just received."""
    return ran_out_of_room(reply.judgment, reply.meta.get("finish_reason"), parsed)


def more_room(params: GenerationParams, reply: JudgeReply) -> GenerationParams:
    """The sampling for asking again: a larger limit when the last reply was cut."""
    if not reply.cut:
        return params
    return GenerationParams(
        max_new_tokens=params.max_new_tokens * ROOM_GROWTH,
        temperature=params.temperature,
        seed=params.seed,
    )


def no_verdict_error(
    reply: JudgeReply, params: GenerationParams, first_limit: int, refused: str = ""
) -> NoVerdictError:
    """The failure of a call that never fitted, with what to do about it.

    Args:
        reply: The last reply.
        params: The sampling of the last request.
        first_limit: The run's `--judge-max-tokens`.
        refused: Why the server refused a request with more room, if it did.
    """
    think_less = "or let the judge think less (--judge-reasoning-effort, --judge-thinking-budget)"
    if refused:
        return NoVerdictError(
            f"the judge's reply ran out of room before a verdict, and a larger limit "
            f"({params.max_new_tokens} tokens) was refused: {refused}; {think_less}",
            cut=reply.cut,
        )
    tries = f"{REASKS + 1} times" if REASKS else "once"
    if reply.cut:
        return NoVerdictError(
            f"the judge's reply was cut at the token limit before a verdict, {tries} "
            f"(last limit {params.max_new_tokens} tokens); raise --judge-max-tokens "
            f"(now {first_limit}) {think_less}",
            cut=True,
        )
    return NoVerdictError(
        f"the judge's reply had no final answer (empty, or only thinking), {tries}; a thinking "
        f"judge may have spent its budget: raise --judge-max-tokens (now {first_limit}) "
        f"{think_less}",
        cut=False,
    )
