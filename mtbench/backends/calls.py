"""Running backend calls, the same way for answering and for judging.

* `open_pool`: the thread pool for a concurrent backend (a remote API), sized by one rule;
* `CallPool`: daemon threads, so Ctrl-C or a fatal error never waits for calls in flight;
* `FailureStreak`: when a run of failed calls means the backend is down and the run stops.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from mtbench.backends.base import Backend

T = TypeVar("T")

LOCAL_FAILURE_STREAK = 3
"""Failed calls in a row that stop a run on a local engine (see `failure_streak`)."""

API_FAILURE_STREAK = 8
"""The least number of failed calls in a row that stop a run on an API (see `failure_streak`)."""


class CallPool(Generic[T]):
    """A fixed pool of daemon threads running submitted calls.

    Unlike `ThreadPoolExecutor`, whose threads the interpreter joins at exit, these never keep
    the process alive: after Ctrl-C or a fatal error, requests still in flight are abandoned
    (their results are lost, as promised) instead of being waited for up to their timeout.

    Args:
        workers: Threads (at least 1).
        name: Prefix of the threads' names.
    """

    def __init__(self, workers: int, name: str):
        self.workers = max(1, workers)
        self._queue: queue.SimpleQueue[tuple[Future[T], Callable[[], T]] | None]
        self._queue = queue.SimpleQueue()
        self._running = 0
        self._lock = threading.Lock()
        for n in range(self.workers):
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True).start()

    @property
    def running(self) -> int:
        """Calls being executed right now."""
        with self._lock:
            return self._running

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Queue a call; its future holds the result or the exception it raised."""
        future: Future[T] = Future()
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
        for _ in range(self.workers):
            self._queue.put(None)


def open_pool(backend: Backend, parallel: int, name: str, most: int | None = None) -> CallPool:
    """The pool that calls a concurrent backend with at most `parallel` requests in flight.

    A backend that enforces the bound itself (`limit_in_flight` returns True) gets twice as
    many threads as requests: a call waiting to retry gives its request slot away, so the
    extra threads keep the server busy while some calls back off. Otherwise the threads are
    the bound, `parallel` of them.

    Args:
        backend: The backend (its `limit_in_flight(parallel)` is called).
        parallel: Requests in flight at most (`--parallel`).
        name: Prefix of the threads' names.
        most: No more threads than this (e.g. the number of calls to make).
    """
    workers = 2 * parallel if backend.limit_in_flight(parallel) else parallel
    if most is not None:
        workers = min(workers, most)
    return CallPool(workers, name)


def failure_streak(backend: Backend, parallel: int) -> int:
    """Failed calls in a row after which a run stops: the backend is down, not one prompt bad.

    A failed call costs only its own questions or matches; a streak of them ends the run
    (what was written is kept, a rerun resumes). How long a streak must be depends on what
    can fail together:

    * a local engine runs one batch at a time, nothing else is in flight and nothing is
      retried, so `LOCAL_FAILURE_STREAK` (3) whole batches failing in a row means the model
      cannot generate, and every further batch would cost minutes;
    * an API call fails only after all its retries, and when a server goes down the calls
      under way fail together: up to `2 * parallel` of them (`open_pool`'s threads). A streak
      of that length means every call under way gave up, not just a few unlucky ones; and at
      least `API_FAILURE_STREAK` (8), because one call at a time can meet the same short
      outage several times in a row.

    Args:
        backend: The backend (its `concurrent` tells the two cases apart).
        parallel: Requests in flight at most (ignored for local engines).
    """
    if not backend.concurrent:
        return LOCAL_FAILURE_STREAK
    return max(API_FAILURE_STREAK, 2 * parallel)


class FailureStreak:
    """Counts failed calls in a row.

    Args:
        limit: The streak that ends the run (from `failure_streak`).
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.count = 0

    def succeeded(self) -> None:
        """A call succeeded: the streak is broken."""
        self.count = 0

    def failed(self) -> bool:
        """A call failed after retries; True when the streak has reached the limit."""
        self.count += 1
        return self.count >= self.limit
