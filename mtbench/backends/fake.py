"""A backend with scripted replies and no model: for tests and no-cost smoke runs.

    backend = FakeBackend(["Rating: [[7]]", "Rating: [[3]]"])   # replies in this order
    backend = FakeBackend("[[C]]")                               # this reply to everything
    backend = FakeBackend(lambda conversation: conversation[-1]["content"].upper())

Every call is recorded (`calls`): its conversations, parameters and the thread that made it.
A scripted exception is raised by the call that reaches it, so a test can make one call fail
(`FakeBackend(["ok", BackendError("out of memory"), "ok"])`); so is an exception raised by a
reply function. It is registered as kind `fake` (`mtbench-gen --backend fake`,
`mtbench-judge --judge-backend fake`).

With `refill=True` it stands in for a local engine that refills its batch: it takes
conversations from a `TurnFeed` while it holds fewer than `batch_size`, and ends them in the
order they started, one at a time, each as a call of its own in `calls`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from mtbench.backends.base import (
    DEFAULT_BATCH_SIZE,
    Backend,
    Conversation,
    GenerationParams,
    Reply,
    TurnFeed,
)

Script = str | Iterable[str | BaseException] | Callable[[Conversation], str]


def echo(conversation: Conversation) -> str:
    """The default reply: says it is fake and quotes the start of the last user message."""
    last = conversation[-1]["content"] if conversation else ""
    words = " ".join(last.split())
    return f"(fake reply to: {words[:60]})"


@dataclass(frozen=True)
class FakeCall:
    """One call of `FakeBackend.generate`.

    Attributes:
        conversations: The conversations of the call, as passed.
        params: Its sampling parameters.
        thread: The name of the thread that made it.
    """

    conversations: tuple[Conversation, ...]
    params: GenerationParams
    thread: str


class FakeBackend(Backend):
    """Replies from a script instead of a model.

    Args:
        replies: One string (every reply), strings and exceptions in order (one per
            conversation; an exception fails the call that reaches it), or a function from a
            conversation to its reply (which may raise). None: `echo`.
        model_name: The name reported as `model_name`.
        concurrent: Behave as a remote API (callers use a thread pool, one conversation per
            call) instead of a local engine taking batches.
        batch_size: Conversations per call the fake asks for (as a local engine would), and
            the rows of its batch with `refill`.
        refill: Take conversations from a `TurnFeed` (`generate_refilling`, module docstring).

    Attributes:
        calls: Every call so far, in the order they were made.
    """

    def __init__(
        self,
        replies: Script | None = None,
        *,
        model_name: str = "fake",
        concurrent: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        refill: bool = False,
    ):
        self.model_name = model_name
        self.concurrent = concurrent
        self.refills = refill
        self._batch_size = batch_size
        self.calls: list[FakeCall] = []
        self._lock = threading.Lock()
        self._reply: Callable[[Conversation], str]
        if replies is None:
            self._reply = echo
        elif isinstance(replies, str):
            fixed = replies
            self._reply = lambda conversation: fixed
        elif callable(replies):
            self._reply = replies
        else:
            self._reply = self._next_from(iter(replies))

    def batch_size(self, max_new_tokens: int) -> int:
        """The `batch_size` given."""
        return self._batch_size

    @property
    def conversations(self) -> list[Conversation]:
        """Every conversation received, over all calls, in order."""
        return [c for call in self.calls for c in call.conversations]

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """One scripted reply per conversation (see the class docstring).

        Raises:
            BaseException: a scripted exception, or whatever the reply function raises.
            RuntimeError: when a list of replies is used up.
        """
        with self._lock:
            thread = threading.current_thread().name
            self.calls.append(FakeCall(tuple(conversations), params, thread))
        return [self._reply(conversation) for conversation in conversations]

    def generate_refilling(self, feed: TurnFeed) -> None:
        """Reply to the feed's conversations, `batch_size` rows at a time, oldest row first.

        A reply's tokens are counted as its words.

        Raises:
            BaseException: as `generate` (the rows in flight get no reply).
        """
        rows: deque[tuple[Hashable, Conversation, GenerationParams]] = deque()
        while True:
            while len(rows) < self._batch_size and (taken := feed.take()) is not None:
                rows.append(taken)
            if not rows:
                return
            key, conversation, params = rows.popleft()
            [text] = self.generate([conversation], params)
            feed.done(key, Reply(text, "stop"), len(text.split()))

    def _next_from(self, script: Iterator[str | BaseException]) -> Callable[[Conversation], str]:
        used = 0

        def reply(conversation: Conversation) -> str:
            nonlocal used
            with self._lock:
                item = next(script, None)
                if item is None:
                    raise RuntimeError(f"FakeBackend: its {used} scripted replies are used up")
                used += 1
            if isinstance(item, BaseException):
                raise item
            return item

        return reply
