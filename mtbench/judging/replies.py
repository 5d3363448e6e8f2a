"""A judge's reply, read: the final answer apart from its thinking, and where it came from.

Judges that think (OpenAI's reasoning models, Claude with extended thinking, Qwen3 / QwQ /
DeepSeek-R1 served by vLLM, SGLang or Ollama) return their thinking in a separate field or in
the text itself (`<think>...</think>`). The verdict is read from the final answer only: a draft
`[[3]]` or `[[A]]` inside the trace never counts. The trace is kept in the row's `judge_meta`
(`mtbench.data.judgments.JUDGE_META`), never in the stored `judgment` text, and never parsed.

A reply that ends with no verdict because the judge ran out of room (the server says
`finish_reason: length`) or sent nothing at all is not a judgment: `out_of_room` tells the
runner to ask again, with more room where the limit was the cause, and to count it as a failed
call if it never fits. A complete reply that simply lacks a verdict keeps FastChat's rule
(score -1 / winner `error`, written and counted).
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
        """Whether the judge sent no text at all (thinking aside)."""
        return not self.raw.strip()


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


def out_of_room(reply: JudgeReply, parsed: bool) -> bool:
    """Whether a reply without a verdict is a failed call rather than a judgment.

    Args:
        reply: The reply.
        parsed: Whether a verdict was read from it.
    """
    return not parsed and (reply.cut or reply.empty)


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
    reply: JudgeReply, params: GenerationParams, first_limit: int
) -> NoVerdictError:
    """The failure of a call that never fitted, with what to do about it."""
    tries = REASKS + 1
    if reply.cut:
        return NoVerdictError(
            f"the judge's reply was cut at the token limit before a verdict, {tries} times "
            f"(last limit {params.max_new_tokens} tokens); raise --judge-max-tokens "
            f"(now {first_limit}) or lower the judge's reasoning effort",
            cut=True,
        )
    return NoVerdictError(
        f"the judge replied with no text, {tries} times; a thinking judge may have spent its "
        f"whole budget thinking: raise --judge-max-tokens (now {first_limit})",
        cut=False,
    )
