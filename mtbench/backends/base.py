"""The one interface every model backend implements, for answering and for judging alike.

A conversation is a list of chat messages, `{"role": "system"|"user"|"assistant", "content": ...}`,
ending with a user message; the backend returns the assistant's next reply for each.

Two kinds of backend exist, told apart by `Backend.concurrent`:

* local engines (transformers, vLLM) take whole batches: callers pass many conversations at once
  and the backend batches them as it sees fit;
* remote APIs (OpenAI-compatible servers, Anthropic) answer one conversation per request:
  callers fan single-conversation calls out over a thread pool (`--parallel`), so that one
  failed request does not cost the others. Retries live inside the backend's `generate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]
Conversation = Sequence[Message]


class Reply(str):
    """A reply that also says why it ended, for backends that know.

    It is a `str`, so callers that only want the text need nothing else; `finish_reason` is
    `length` when the reply was cut at `max_new_tokens`, `stop` when the model ended it, None
    when unknown. (Pickles with its reason, so it crosses to and from Ray workers.)
    """

    finish_reason: str | None

    def __new__(cls, text: str, finish_reason: str | None = None) -> Reply:
        reply = super().__new__(cls, text)
        reply.finish_reason = finish_reason
        return reply


def finish_reason(reply: str) -> str | None:
    """Why a reply ended (`length`, `stop`), if its backend said."""
    return getattr(reply, "finish_reason", None)


@dataclass(frozen=True)
class GenerationParams:
    """How to sample one reply.

    Attributes:
        max_new_tokens: Upper bound on generated tokens.
        temperature: Sampling temperature; below 1e-4 means greedy decoding (as FastChat).
        seed: Seed for sampling (FastChat seeds with the choice index); None leaves it unset.
    """

    max_new_tokens: int = 1024
    temperature: float = 0.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature < 1e-4


@runtime_checkable
class Backend(Protocol):
    """A model that replies to conversations.

    Attributes:
        model_name: The model's name as the backend knows it (recorded in outputs).
        concurrent: True for remote APIs that callers should call one conversation at a time
            from several threads; False for local engines that want whole batches.
    """

    model_name: str
    concurrent: bool

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """Return one reply per conversation, in order (`Reply` where the reason is known).

        Raises:
            BackendError: (or a subclass) when a reply cannot be produced after retries.
        """
        ...

    def close(self) -> None:
        """Release the model or connections."""
        ...
