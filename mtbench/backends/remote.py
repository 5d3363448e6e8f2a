"""What the API backends share: one attempt per request, our retries around it, usage, keys.

An API backend implements `_attempt(conversation, params) -> str`, which makes one request and
translates the SDK's exceptions at this boundary (`classify_status` for HTTP errors):

    429, 408, 409, 5xx, timeouts, dropped connections, garbled replies
                                          -> TransientError (retried)
    401, 403, exhausted quota             -> AuthError (stops the run)
    400, 404 (unknown model, wrong URL), other 4xx
                                          -> RequestError (stops the run)
    a prompt longer than the model's context
                                          -> BackendError (costs this call only)

The SDKs' own retries are switched off, so `mtbench.backends.retry` is the only retry loop. Messages
never contain API keys: they are scrubbed of the key and of anything that looks like one.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mtbench.backends.base import Conversation, GenerationParams
from mtbench.backends.retry import (
    RetryCallback,
    RetryPolicy,
    TransientError,
    call_with_retry,
    parse_retry_after,
)
from mtbench.errors import AuthError, BackendError, ConfigError, RequestError

logger = logging.getLogger(__name__)

_KEY_LIKE = re.compile(r"\b(sk|sk-ant|sk-proj)-[A-Za-z0-9_\-*]{4,}")
_CONTEXT_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
)


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove secrets (and anything shaped like an API key) from a message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub(r"\1-***", text)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut a server message to fit an error line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_api_key(env_name: str, required: bool, what: str) -> str | None:
    """The API key from environment variable `env_name` (keys never come from flags).

    Raises:
        ConfigError: if `required` and the variable is unset or empty.
    """
    key = os.environ.get(env_name, "").strip()
    if key:
        return key
    if required:
        raise ConfigError(
            f"{what} needs an API key: set the environment variable {env_name} "
            "(or name another variable with --judge-api-key-env)"
        )
    return None


def classify_status(
    status: int,
    message: str,
    *,
    where: str,
    model: str,
    key_env: str,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> BackendError:
    """Translate an HTTP error reply into the error the retry loop and the runner act on.

    Args:
        status: The HTTP status.
        message: The server's error message (already scrubbed).
        where: The endpoint, for messages (e.g. `http://localhost:8000/v1`).
        model: The model requested.
        key_env: The environment variable the key came from.
        headers: Response headers (for `Retry-After`).
        code: The API's error code, if any (e.g. `insufficient_quota`).
    """
    said = f"HTTP {status}: {one_line(message)}" if message else f"HTTP {status}"
    lowered = f"{message} {code or ''}".lower()
    if status == 429 and (
        "insufficient_quota" in lowered or "exceeded your current quota" in lowered
    ):
        return AuthError(
            f"{where} refused the key in ${key_env}: quota exhausted ({said}); check billing"
        )
    if status in (408, 409, 429) or status >= 500:
        return TransientError(
            said, retry_after=parse_retry_after(headers), rate_limited=status == 429
        )
    if status in (401, 403):
        return AuthError(
            f"{where} rejected the API key in ${key_env} ({said}); set a valid key in ${key_env}"
        )
    if status in (400, 413, 422) and any(hint in lowered for hint in _CONTEXT_HINTS):
        return BackendError(f"prompt too long for judge model '{model}' ({said})")
    if status == 404:
        return RequestError(
            f"{where} does not know model '{model}' ({said}); check --judge-model and that the "
            "base URL is the API root (usually ending in /v1)"
        )
    return RequestError(f"{where} rejected the request for model '{model}' ({said})")


@dataclass
class Usage:
    """Counters of one backend, safe to update from many threads.

    Attributes:
        requests: HTTP requests made (retries included).
        retries: Retries after transient failures.
        prompt_tokens: Input tokens the API reported.
        completion_tokens: Output tokens the API reported.
        reported: Whether the API reported token usage at all.
    """

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(
        self,
        requests: int = 0,
        retries: int = 0,
        prompt: int | None = None,
        completion: int | None = None,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            if prompt is not None or completion is not None:
                self.reported = True
                self.prompt_tokens += prompt or 0
                self.completion_tokens += completion or 0


class RemoteBackend:
    """Base of the API backends: `generate` = one request per conversation, each retried.

    Args:
        model_name: The model to request.
        retry: The retry policy.
        on_retry: Also told about every retry (progress bars).
    """

    concurrent = True
    label = "API"

    def __init__(
        self,
        model_name: str,
        retry: RetryPolicy | None = None,
        on_retry: RetryCallback | None = None,
    ):
        self.model_name = model_name
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.usage = Usage()
        self._stop = threading.Event()
        self._gate: threading.BoundedSemaphore | None = None
        self._refused: AuthError | RequestError | None = None

    def limit_in_flight(self, requests: int) -> None:
        """Allow at most this many requests at once, across all calling threads.

        A call waiting to retry holds no slot, so callers may use more threads than slots and
        keep the API busy while some calls back off.
        """
        self._gate = threading.BoundedSemaphore(requests)

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages."""
        return self.label

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """One reply per conversation, each from its own (retried) request."""
        return [self.complete(conversation, params) for conversation in conversations]

    def complete(
        self, conversation: Conversation, params: GenerationParams, retry: RetryPolicy | None = None
    ) -> str:
        """The reply to one conversation, retrying transient failures (`retry` overrides)."""
        return call_with_retry(
            lambda: self._counted_attempt(conversation, params),
            retry or self.retry,
            on_retry=self._retried,
            stop=self._stop,
            what=f"request to {self.endpoint}",
        )

    def cancel(self) -> None:
        """Stop waiting between retries (the run is ending); calls in flight then fail."""
        self._stop.set()

    def close(self) -> None:
        self.cancel()

    def _counted_attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        gate = self._gate
        if gate is None:
            return self._refusable_attempt(conversation, params)
        with gate:
            return self._refusable_attempt(conversation, params)

    def _refusable_attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        """One request, unless the server already refused the key or request for every call.

        The refusal is remembered before the caller's slot is released, so calls waiting for
        a slot fail without sending anything (a bad key is not tried `parallel` more times).
        """
        if self._refused is not None:
            raise self._refused
        self.usage.add(requests=1)
        try:
            return self._attempt(conversation, params)
        except (AuthError, RequestError) as exc:
            self._refused = exc
            raise

    def _retried(self, error: TransientError, retry: int, wait: float) -> None:
        self.usage.add(retries=1)
        if self.on_retry is not None:
            self.on_retry(error, retry, wait)

    def _attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        raise NotImplementedError
