"""Where the scheduler's calls run: in this process, on a thread pool, or (ray_engine) on replicas.

An engine runs backend calls, one sampling setting per conversation, and hands back futures of
`(replies, tokens)`, where `tokens` counts generated tokens when the backend knows it. `slots`
says how many calls may be in flight at once; `chunk_size` how many conversations one call
should carry; `mixes_temperatures` whether one call may mix temperatures (backends with a
`generate_each(conversations, params)` method) or must share one `GenerationParams`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
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


class _DaemonPool:
    """A fixed pool of daemon threads running submitted calls.

    Unlike `ThreadPoolExecutor`, whose threads the interpreter joins at exit, these never keep
    the process alive: after Ctrl-C or a fatal error, requests still in flight are abandoned
    (their answers are lost, as promised) instead of being waited for up to their timeout.
    """

    def __init__(self, workers: int, name: str):
        self._queue: queue.SimpleQueue[tuple[Future[Result], Callable[[], Result]] | None]
        self._queue = queue.SimpleQueue()
        self._running = 0
        self._lock = threading.Lock()
        self._workers = workers
        for n in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True).start()

    @property
    def running(self) -> int:
        """Calls being executed right now."""
        with self._lock:
            return self._running

    def submit(self, call: Callable[[], Result]) -> Future[Result]:
        future: Future[Result] = Future()
        self._queue.put((future, call))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            with self._lock:
                self._running += 1
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(exc)
            finally:
                with self._lock:
                    self._running -= 1

    def shutdown(self) -> None:
        """Cancel calls not yet started and let the threads end after their current call."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in range(self._workers):
            self._queue.put(None)


class ThreadEngine:
    """Calls a concurrent backend (a remote API) one conversation at a time from a thread pool."""

    def __init__(self, backend: Backend, parallel: int, owns_backend: bool = True):
        self.backend = backend
        self.owns_backend = owns_backend
        self.mixes_temperatures = False  # one conversation per call
        self.slots = max(1, parallel)
        self._pool = _DaemonPool(self.slots, "mtbench-gen")

    def chunk_size(self, max_new_tokens: int) -> int:
        return 1

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        return self._pool.submit(lambda: run_counted(self.backend, conversations, params))

    def close(self) -> None:
        self._pool.shutdown()
        if not self.owns_backend:
            return
        if self._pool.running:
            # Closing a client under requests in flight can leave them hanging until their
            # timeout; stop retries instead and leave the connections to the process's end.
            cancel = getattr(self.backend, "cancel", None)
            if cancel is not None:
                cancel()
        else:
            self.backend.close()
