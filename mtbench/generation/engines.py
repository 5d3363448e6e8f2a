"""Where the scheduler's calls run: in this process, on a thread pool, or (ray_engine) on replicas.

An engine runs backend calls, one sampling setting per conversation, and hands back futures of
`(replies, tokens)`, where `tokens` counts generated tokens when the backend knows it. `slots`
says how many calls may be in flight at once; `chunk_size` how many conversations one call
should carry; `mixes_temperatures` whether one call may mix temperatures (backends with a
`generate_each(conversations, params)` method) or must share one `GenerationParams`.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from mtbench.backends.base import Backend, Conversation, GenerationParams

Result = tuple[list[str], "int | None"]


class Engine(Protocol):
    slots: int
    mixes_temperatures: bool

    def chunk_size(self, max_new_tokens: int) -> int:
        """Conversations per call."""
        ...

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]: ...

    def close(self) -> None: ...


def mixes_temperatures(backend: Backend) -> bool:
    """Whether the backend takes one sampling setting per conversation (`generate_each`)."""
    return callable(getattr(backend, "generate_each", None))


def run_counted(
    backend: Backend, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
) -> Result:
    """Call the backend and count the tokens it generated, if it keeps count."""
    before = getattr(backend, "tokens_generated", None)
    if mixes_temperatures(backend):
        replies = backend.generate_each(conversations, params)  # type: ignore[attr-defined]
    else:
        if len(set(params)) > 1:
            raise ValueError("one call to Backend.generate takes one GenerationParams")
        replies = backend.generate(conversations, params[0])
    after = getattr(backend, "tokens_generated", None)
    if len(replies) != len(conversations):
        raise RuntimeError(
            f"backend returned {len(replies)} replies for {len(conversations)} conversations"
        )
    tokens = after - before if isinstance(before, int) and isinstance(after, int) else None
    return list(replies), tokens


def backend_chunk_size(backend: Backend, max_new_tokens: int) -> int:
    """The backend's preferred batch (`batch_size(max_new_tokens)` if it has one), else 16."""
    sizer = getattr(backend, "batch_size", None)
    if callable(sizer):
        return max(1, int(sizer(max_new_tokens)))
    return 16


class LocalEngine:
    """Runs each call in the calling thread (a local model: one batch at a time).

    Ctrl-C therefore stops generation at once instead of waiting for a worker thread.
    """

    slots = 1

    def __init__(self, backend: Backend, owns_backend: bool = True):
        self.backend = backend
        self.owns_backend = owns_backend
        self.mixes_temperatures = mixes_temperatures(backend)

    def chunk_size(self, max_new_tokens: int) -> int:
        return backend_chunk_size(self.backend, max_new_tokens)

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        future: Future[Result] = Future()
        try:
            future.set_result(run_counted(self.backend, conversations, params))
        except Exception as exc:  # handed to the scheduler like any failed call
            future.set_exception(exc)
        return future

    def close(self) -> None:
        if self.owns_backend:
            self.backend.close()


class ThreadEngine:
    """Calls a concurrent backend (a remote API) one conversation at a time from a thread pool."""

    def __init__(self, backend: Backend, parallel: int, owns_backend: bool = True):
        self.backend = backend
        self.owns_backend = owns_backend
        self.mixes_temperatures = False  # one conversation per call
        self.slots = max(1, parallel)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.slots, thread_name_prefix="mtbench-gen"
        )

    def chunk_size(self, max_new_tokens: int) -> int:
        return 1

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        return self._pool.submit(run_counted, self.backend, conversations, params)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.owns_backend:
            self.backend.close()
