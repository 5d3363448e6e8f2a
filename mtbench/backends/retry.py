"""Retrying remote calls: one policy, written once, used by every API backend.

A backend makes one attempt per call and reports how it failed:

* `TransientError` (HTTP 429, 5xx, timeouts, dropped connections, a garbled reply): worth
  another try. It carries the server's `Retry-After` delay when there was one;
* any other `MTBenchError` (`AuthError`, `RequestError`, ...): retrying cannot help, so it is
  raised at once.

`call_with_retry` repeats transient failures with exponential backoff and jitter, waits at
least as long as the server asked, and after the last attempt raises a `RateLimitError` (if the
server was throttling) or a `BackendError` that says how often it tried and why it gave up.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from mtbench.errors import BackendError, RateLimitError, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures.

    The n-th retry waits `min(max_delay, base_delay * 2**(n-1))`, of which a random half is
    dropped ("equal jitter") so that many threads throttled together do not retry together.
    A server's `Retry-After` is a floor for the wait, capped at `max_retry_after`.

    Attributes:
        max_attempts: Attempts in all, the first included (1 disables retrying).
        base_delay: Seconds before the first retry (before jitter).
        max_delay: Upper bound of the exponential backoff, in seconds.
        max_retry_after: Longest server-requested wait we honour, in seconds.
    """

    max_attempts: int = 10
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the given retry (1 = the first) when the server said nothing."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2

    def delay(self, retry: int, error: TransientError, rng: random.Random | None = None) -> float:
        """Seconds to wait before the given retry after `error`."""
        wait = self.backoff(retry, rng)
        if error.retry_after is not None:
            # Honour the server's wish, plus a little jitter so that throttled threads spread out.
            asked = min(error.retry_after, self.max_retry_after)
            wait = asked + (rng or random).random() * min(asked, self.base_delay) * 0.1
        return wait


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Read a wait in seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date).

    Header names are matched case-insensitively; unusable values give None.
    """
    if not headers:
        return None
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    millis = _number(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


RetryCallback = Callable[[TransientError, int, float], None]
"""Called before each retry with the error, the retry number (1 = first) and the wait."""


def call_with_retry(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: RetryCallback | None = None,
    sleep: Callable[[float], object] | None = None,
    stop: threading.Event | None = None,
    what: str = "request",
) -> T:
    """Run `attempt` until it succeeds, retrying `TransientError`s as `policy` says.

    Args:
        attempt: Makes one attempt; raises `TransientError` when another might succeed.
        policy: Attempts and delays.
        on_retry: Told about each retry (for counters and progress bars).
        sleep: Replaces `time.sleep` (tests).
        stop: When set, waiting stops early and the last error is raised (shutdown).
        what: Names the call in the final error message.

    Raises:
        RateLimitError: if the last attempt was throttled (HTTP 429).
        BackendError: if the last attempt failed otherwise, or at once for errors that
            retrying cannot fix (their own subclasses, e.g. `AuthError`, unchanged).
    """
    retry = 0
    while True:
        try:
            return attempt()
        except TransientError as error:
            retry += 1
            if retry >= policy.max_attempts or (stop is not None and stop.is_set()):
                raise _give_up(error, retry, what) from None
            wait = policy.delay(retry, error)
            logger.info("%s failed (%s); retry %d in %.1fs", what, error, retry, wait)
            if on_retry is not None:
                on_retry(error, retry, wait)
            if stop is not None:
                if stop.wait(wait):
                    raise _give_up(error, retry, what) from None
            else:
                (sleep or time.sleep)(wait)


def _give_up(error: TransientError, attempts: int, what: str) -> BackendError:
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    message = f"{what} failed after {tries}: {error}"
    if error.rate_limited:
        return RateLimitError(
            message + " (the API kept throttling; lower --parallel or retry later)"
        )
    return BackendError(message)
