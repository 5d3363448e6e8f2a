"""The one interface every model backend implements, for answering and for judging alike.

A conversation is a list of chat messages, `{"role": "system"|"user"|"assistant", "content": ...}`,
ending with a user message; the backend returns the assistant's next reply for each.

Two kinds of backend exist, told apart by `Backend.concurrent`:

* local engines (transformers, vLLM) take whole batches: callers pass many conversations at once
  and the backend batches them as it sees fit;
* remote APIs (OpenAI-compatible servers, Anthropic) answer one conversation per request:
  callers fan single-conversation calls out over a thread pool (`--parallel`), so that one
  failed request does not cost the others. Retries live inside the backend's `generate`.

`Backend` is an abstract base class: a backend implements `generate` and inherits a default for
every optional capability the callers use (batch size, token counts, request limits, ...), so
the whole contract is written here. `mtbench.backends.registry` builds backends by kind.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mtbench.backends.batch_api import BatchAPI
    from mtbench.backends.prompting import PromptFormat
    from mtbench.backends.retry import RetryPolicy

Message = dict[str, str]
Conversation = Sequence[Message]


class Reply(str):
    """A reply that also says why it ended, what it thought, and who answered.

    It is a `str` (the reply's text, what the model said to the user), so callers that only
    want the text need nothing else. (Pickles with its attributes, so it crosses to and from
    Ray workers.)

    Attributes:
        finish_reason: `length` when the reply was cut at `max_new_tokens`, `stop` when the
            model ended it, None when unknown.
        reasoning: Thinking the backend returned apart from the text (OpenAI-compatible
            `reasoning_content` / `reasoning` fields, Anthropic thinking blocks); "" if none.
        meta: Provenance an API reported, JSON-ready (see `REPLY_META`); {} if none.
    """

    finish_reason: str | None
    reasoning: str
    meta: dict[str, Any]

    def __new__(
        cls,
        text: str,
        finish_reason: str | None = None,
        reasoning: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Reply:
        reply = super().__new__(cls, text)
        reply.finish_reason = finish_reason
        reply.reasoning = reasoning
        reply.meta = dict(meta or {})
        return reply

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reply, (str(self), self.finish_reason, self.reasoning, self.meta))


REPLY_META = ("model", "system_fingerprint", "usage", "params")
"""The keys of `Reply.meta`: `model` (the model the server says answered, e.g. a dated
snapshot), `system_fingerprint` (OpenAI's), `usage` (`input_tokens`, `output_tokens`,
`reasoning_tokens` where reported) and `params` (the sampling parameters actually sent)."""


def finish_reason(reply: str) -> str | None:
    """Why a reply ended (`length`, `stop`), if its backend said."""
    return getattr(reply, "finish_reason", None)


def reply_reasoning(reply: str) -> str:
    """The thinking a backend returned apart from the reply's text ("" if none)."""
    return getattr(reply, "reasoning", "") or ""


def reply_meta(reply: str) -> dict[str, Any]:
    """The provenance a backend reported with the reply ({} if none; see `REPLY_META`)."""
    return dict(getattr(reply, "meta", None) or {})


@dataclass(frozen=True)
class GenerationParams:
    """How to sample one reply.

    Attributes:
        max_new_tokens: Upper bound on generated tokens.
        temperature: Sampling temperature; below 1e-4 means greedy decoding (as FastChat).
            None: not sent, so an API uses the model's default (reasoning models accept no
            other); local engines then decode greedily.
        seed: Seed for sampling (FastChat seeds with the choice index); None leaves it unset.
    """

    max_new_tokens: int = 1024
    temperature: float | None = 0.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature is None or self.temperature < 1e-4


class TurnFeed(Protocol):
    """Conversations for a backend that refills its batch (`Backend.refills`), one at a time.

    The backend takes a conversation whenever it has room for one and reports each reply as
    soon as it ends, so a reply can make a new conversation pending (a question's next turn).
    """

    def take(self) -> tuple[Hashable, Conversation, GenerationParams] | None:
        """The next conversation to start, with a key for `done`; None: none pending now."""

    def done(self, key: Hashable, reply: Reply, tokens: int) -> None:
        """The reply to `key`'s conversation, which generated `tokens` tokens."""


DEFAULT_BATCH_SIZE = 16
"""Conversations per call for a batching backend that states no preference of its own."""


@dataclass
class Usage:
    """Counters of one API backend, safe to update from many threads.

    Attributes:
        requests: HTTP requests made (retries included).
        retries: Retries after transient failures.
        prompt_tokens: Input tokens the API reported.
        completion_tokens: Output tokens the API reported (reasoning tokens included, as
            OpenAI and Anthropic bill them).
        reasoning_tokens: Of those, the tokens spent thinking, where the API reported them.
        reported: Whether the API reported token usage at all.
    """

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    reported: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(
        self,
        requests: int = 0,
        retries: int = 0,
        prompt: int | None = None,
        completion: int | None = None,
        reasoning: int | None = None,
    ) -> None:
        """Add to the counters (token counts only when the API reported them)."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            if prompt is not None or completion is not None:
                self.reported = True
                self.prompt_tokens += prompt or 0
                self.completion_tokens += completion or 0
                self.reasoning_tokens += reasoning or 0


class Backend(ABC):
    """A model that replies to conversations; subclasses implement `generate`.

    The class attributes below are the defaults of the optional capabilities; a backend that
    has one overrides it (as an attribute or a method).

    Attributes:
        model_name: The model's name as the backend knows it (recorded in outputs); set by
            every subclass.
        concurrent: True for remote APIs that callers should call one conversation at a time
            from several threads; False for local engines that want whole batches.
        per_row_params: True when one `generate_each` call samples every conversation with its
            own parameters (the local engines); then callers may mix temperatures in a call.
        tokens_generated: Tokens generated so far, for backends that count them; None: not
            counted.
        usage: Request, retry and token counters of an API backend; None for the others.
        format: How the backend renders prompts (local models); None when a server does.
        num_threads: Torch CPU threads a local model generates with; None: not a CPU model.
        token_listener: Told during a call how many tokens were just generated (a local
            engine that can tell, once per decoding step), so progress moves within a long
            batch; None: nobody listens. The call's total still comes from `tokens_generated`.
        refills: True when the backend can decode from a `TurnFeed` (`generate_refilling`),
            starting each conversation as soon as a row of its batch is free.
    """

    model_name: str
    concurrent: bool = False
    per_row_params: bool = False
    tokens_generated: int | None = None
    usage: Usage | None = None
    format: PromptFormat | None = None
    num_threads: int | None = None
    token_listener: Callable[[int], None] | None = None
    refills: bool = False

    @abstractmethod
    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """Return one reply per conversation, in order (`Reply` where the reason is known).

        Raises:
            BackendError: (or a subclass) when a reply cannot be produced after retries.
        """

    def generate_each(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> list[str]:
        """One reply per conversation, each sampled with its own parameters.

        By default conversations with equal parameters go to `generate` together, one call per
        distinct setting (in order of first appearance); backends with `per_row_params`
        override this with a single call.

        Raises:
            ValueError: if `params` and `conversations` differ in length.
            BackendError: as `generate`.
        """
        if len(params) != len(conversations):
            raise ValueError(f"{len(conversations)} conversations but {len(params)} params")
        groups: dict[GenerationParams, list[int]] = {}
        for index, setting in enumerate(params):
            groups.setdefault(setting, []).append(index)
        replies: list[str] = [""] * len(conversations)
        for setting, indices in groups.items():
            answered = self.generate([conversations[i] for i in indices], setting)
            if len(answered) != len(indices):
                raise ValueError(
                    f"{type(self).__name__}.generate returned {len(answered)} replies "
                    f"for {len(indices)} conversations"
                )
            for index, reply in zip(indices, answered, strict=True):
                replies[index] = reply
        return replies

    def generate_refilling(self, feed: TurnFeed) -> None:
        """Reply to the feed's conversations until it has none pending and all have ended.

        Only for backends with `refills`. Each reply goes to `feed.done` as soon as it ends
        (from the calling thread), and a freed row takes the next `feed.take()` at once.

        Raises:
            NotImplementedError: for a backend without `refills`.
            BackendError: when generation fails; the conversations taken and not done got no
                reply.
        """
        raise NotImplementedError(f"{type(self).__name__} does not refill batches")

    def complete(
        self, conversation: Conversation, params: GenerationParams, retry: RetryPolicy | None = None
    ) -> str:
        """The reply to one conversation.

        Args:
            conversation: The messages.
            params: How to sample.
            retry: For backends that retry (the APIs): this call's policy instead of the
                backend's own; ignored by the others.
        """
        return self.generate([conversation], params)[0]

    def batch_size(self, max_new_tokens: int) -> int:
        """Conversations per call this backend prefers for replies of up to `max_new_tokens`."""
        return DEFAULT_BATCH_SIZE

    @property
    def adjustments(self) -> list[str]:
        """Request parameters the server refused and this backend stopped sending (APIs)."""
        return []

    def limit_in_flight(self, requests: int) -> bool:
        """Allow at most `requests` requests at once, across all calling threads.

        Returns:
            Whether the backend enforces the limit itself. Only then may callers run more
            threads than `requests` (see `mtbench.backends.calls.open_pool`); by default it
            does not, and callers run `requests` threads.
        """
        return False

    def batch_api(self) -> BatchAPI | None:
        """The provider's batch API for this backend's requests (`mtbench.backends.batch_api`).

        None by default: only the OpenAI-compatible and Anthropic backends have one.
        """
        return None

    def cancel(self) -> None:  # noqa: B027 - an optional hook; by default nothing to stop
        """Stop waiting between retries: the run is ending."""

    def close(self) -> None:  # noqa: B027 - an optional hook; by default nothing to free
        """Release the model or connections."""
