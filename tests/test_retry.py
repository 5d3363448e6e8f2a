"""The retry policy: backoff with jitter, Retry-After, giving up, and errors that stop at once."""

from __future__ import annotations

import email.utils
import random
import threading
import time

import pytest

from mtbench.backends.retry import RetryPolicy, TransientError, call_with_retry, parse_retry_after
from mtbench.errors import AuthError, BackendError, RateLimitError


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"RETRY-AFTER": " 7 "}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after": "nan"}, None),
        ({"x-other": "1"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0.0


def test_backoff_grows_exponentially_with_equal_jitter_and_a_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (12, 8)]:
        draws = [policy.backoff(retry, rng) for _ in range(200)]
        assert min(draws) >= ceiling / 2
        assert max(draws) <= ceiling
        assert max(draws) - min(draws) > ceiling / 4  # really jittered


def test_retry_after_is_a_floor_capped_by_the_policy():
    policy = RetryPolicy(base_delay=1.0, max_retry_after=30.0)
    rng = random.Random(0)
    waits = [policy.delay(1, TransientError("429", retry_after=5.0), rng) for _ in range(50)]
    assert all(5.0 <= w <= 5.1 for w in waits)
    assert policy.delay(1, TransientError("429", retry_after=3600), rng) <= 30.0 * 1.01
    # Without Retry-After the exponential backoff applies.
    assert 0.5 <= policy.delay(1, TransientError("500"), rng) <= 1.0


class Flaky:
    """Fails with the given errors, then returns 'ok'."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_transient_failures_are_retried_until_success():
    sleeps: list[float] = []
    seen: list[tuple[int, float]] = []
    attempt = Flaky(TransientError("HTTP 500"), TransientError("HTTP 429", retry_after=2.0))
    result = call_with_retry(
        attempt,
        RetryPolicy(max_attempts=5, base_delay=0.5),
        on_retry=lambda error, retry, wait: seen.append((retry, wait)),
        sleep=sleeps.append,
    )
    assert result == "ok"
    assert attempt.calls == 3
    assert [retry for retry, _ in seen] == [1, 2]
    assert sleeps == [wait for _, wait in seen]
    assert 0.25 <= sleeps[0] <= 0.5
    assert sleeps[1] >= 2.0


def test_gives_up_after_max_attempts_with_a_clear_error():
    attempt = Flaky(*[TransientError("HTTP 503: overloaded")] * 10)
    with pytest.raises(BackendError) as info:
        call_with_retry(
            attempt, RetryPolicy(max_attempts=4), sleep=lambda s: None, what="judge call"
        )
    assert attempt.calls == 4
    assert not isinstance(info.value, RateLimitError)
    assert str(info.value) == "judge call failed after 4 attempts: HTTP 503: overloaded"


def test_persistent_throttling_ends_in_rate_limit_error():
    attempt = Flaky(*[TransientError("HTTP 429", rate_limited=True)] * 3)
    with pytest.raises(RateLimitError, match="lower --parallel"):
        call_with_retry(attempt, RetryPolicy(max_attempts=3), sleep=lambda s: None)


def test_errors_that_cannot_succeed_are_raised_at_once():
    attempt = Flaky(AuthError("bad key"), TransientError("never reached"))
    sleeps: list[float] = []
    with pytest.raises(AuthError, match="bad key"):
        call_with_retry(attempt, RetryPolicy(max_attempts=5), sleep=sleeps.append)
    assert attempt.calls == 1
    assert sleeps == []


def test_one_attempt_policy_never_retries():
    attempt = Flaky(TransientError("HTTP 500"))
    with pytest.raises(BackendError, match="after 1 attempt:"):
        call_with_retry(attempt, RetryPolicy(max_attempts=1), sleep=lambda s: None)
    assert attempt.calls == 1


def test_stop_event_ends_a_long_wait_early():
    stop = threading.Event()
    attempt = Flaky(*[TransientError("HTTP 429", retry_after=60)] * 3)
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    with pytest.raises(BackendError):
        call_with_retry(attempt, RetryPolicy(max_attempts=3), stop=stop)
    assert time.monotonic() - started < 5
    assert attempt.calls == 1


def test_policy_rejects_zero_attempts():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
