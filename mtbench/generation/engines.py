"""Where the scheduler's calls run: in this process, on a thread pool, or (ray_engine) on replicas.

An engine runs backend calls, one sampling setting per conversation, and hands back futures of
`(replies, tokens)`, where `tokens` counts generated tokens when the backend knows it. `slots`
says how many calls may be in flight at once; `chunk_size` how many conversations one call
should carry; `mixes_temperatures` whether one call may mix temperatures cheaply (backends with
`per_row_params`) or should keep to one `GenerationParams`. An engine that `refills` (a local
model decoding in refilled batches) also takes a whole `TurnFeed` (`refill`): the scheduler
then hands it turns one at a time as rows of its batch free up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

from mtbench.backends.base import (
    Backend,
    Conversation,
    GenerationParams,
    TurnFeed,
    reply_meta,
)
from mtbench.backends.calls import CallPool, failure_streak, open_pool

Result = tuple[list[str], "int | None"]


class Engine(Protocol):
    """Runs backend calls for the scheduler.

    Attributes:
        slots: Calls in flight at most.
        mixes_temperatures: Whether one call may mix sampling settings cheaply.
        failure_streak: Failed calls in a row that stop the run (`calls.failure_streak`).
        num_threads: Torch CPU threads of each model replica; None: no model on CPU here.
        refills: Whether `refill` works (then the scheduler uses it instead of `submit`).
    """

    slots: int
    mixes_temperatures: bool
    failure_streak: int
    num_threads: int | None
    refills: bool

    def chunk_size(self, max_new_tokens: int) -> int:
        """Conversations per call."""
        ...

    def listen(self, on_tokens: Callable[[int], None]) -> None:
        """Report tokens as they are generated inside a call, where the engine can
        (`Backend.token_listener`); the call's total is still part of its `Result`."""
        ...

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]: ...

    def refill(self, feed: TurnFeed) -> None:
        """Generate the feed's turns in this thread (`Backend.generate_refilling`)."""
        ...

    def close(self) -> None: ...


def run_counted(
    backend: Backend, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
) -> Result:
    """Call the backend (one sampling setting per conversation) and count the tokens it made.

    The count is the change in `backend.tokens_generated` over the call; for a `concurrent`
    backend, whose calls overlap, the sum of the replies' `meta["usage"]["output_tokens"]`
    (None unless every reply has one).

    Raises:
        RuntimeError: if the backend returns another number of replies than conversations.
    """
    before = backend.tokens_generated
    replies = backend.generate_each(conversations, params)
    after = backend.tokens_generated
    if len(replies) != len(conversations):
        raise RuntimeError(
            f"backend returned {len(replies)} replies for {len(conversations)} conversations"
        )
    tokens = after - before if before is not None and after is not None else None
    if tokens is not None and backend.concurrent:
        # Calls overlap, so the difference counts other calls' tokens too: each reply's own.
        counts = [reply_meta(r).get("usage", {}).get("output_tokens") for r in replies]
        tokens = sum(counts) if all(isinstance(n, int) for n in counts) else None
    return list(replies), tokens


class LocalEngine:
    """Runs each call in the calling thread (a local model: one batch at a time).

    Ctrl-C therefore stops generation at once instead of waiting for a worker thread.
    """

    slots = 1

    def __init__(self, backend: Backend, owns_backend: bool = True):
        self.backend = backend
        self.owns_backend = owns_backend
        self.mixes_temperatures = backend.per_row_params
        self.failure_streak = failure_streak(backend, 1)
        self.num_threads = backend.num_threads
        self.refills = backend.refills

    def chunk_size(self, max_new_tokens: int) -> int:
        return max(1, self.backend.batch_size(max_new_tokens))

    def listen(self, on_tokens: Callable[[int], None]) -> None:
        # Calls run in this thread, so the listener is called from it too.
        self.backend.token_listener = on_tokens

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        future: Future[Result] = Future()
        try:
            future.set_result(run_counted(self.backend, conversations, params))
        except Exception as exc:  # handed to the scheduler like any failed call
            future.set_exception(exc)
        return future

    def refill(self, feed: TurnFeed) -> None:
        self.backend.generate_refilling(feed)

    def close(self) -> None:
        self.backend.token_listener = None
        if self.owns_backend:
            self.backend.close()


class ThreadEngine:
    """Calls a concurrent backend (a remote API) one conversation at a time from a thread pool.

    Args:
        backend: The backend.
        parallel: Requests in flight at most (`open_pool` decides the threads).
        owns_backend: Close the backend with the engine.
    """

    def __init__(self, backend: Backend, parallel: int, owns_backend: bool = True):
        self.backend = backend
        self.owns_backend = owns_backend
        self.mixes_temperatures = False  # one conversation per call
        self.num_threads = backend.num_threads  # a local concurrent engine's (llama.cpp)
        self.refills = False
        self._pool: CallPool[Result] = open_pool(backend, max(1, parallel), "mtbench-gen")
        self.slots = self._pool.workers
        self.failure_streak = failure_streak(backend, parallel)

    def chunk_size(self, max_new_tokens: int) -> int:
        return 1

    def listen(self, on_tokens: Callable[[int], None]) -> None:
        """Nothing to do: a request's tokens arrive with its reply, which is soon enough."""

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        return self._pool.submit(lambda: run_counted(self.backend, conversations, params))

    def refill(self, feed: TurnFeed) -> None:
        raise NotImplementedError("a thread pool takes one conversation per call")

    def close(self) -> None:
        self._pool.shutdown()
        if not self.owns_backend:
            return
        if self._pool.running:
            # Closing a client under requests in flight can leave them hanging until their
            # timeout; stop retries instead and leave the connections to the process's end.
            self.backend.cancel()
        else:
            self.backend.close()
