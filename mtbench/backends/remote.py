"""What the API backends share: one attempt per request, our retries around it, usage, keys.

An API backend implements `_attempt(conversation, params) -> str`, which makes one request and
translates the SDK's exceptions at this boundary (`classify_status` for HTTP errors):

    429, 408, 409, 5xx, timeouts, dropped connections, garbled replies
                                          -> TransientError (retried)
    401, 403, exhausted quota             -> AuthError (stops the run)
    400, 404 (unknown model, wrong URL), other 4xx
                                          -> RequestError (stops the run); an unknown model's
                                             message names the closest models the server
                                             lists (`model_catalog`)
    a prompt longer than the model's context, a token limit above the model's
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
from typing import Any

from mtbench.backends.base import Backend, Conversation, GenerationParams, Usage
from mtbench.backends.model_catalog import is_model_not_found, model_ids, unknown_model_message
from mtbench.backends.refusals import RequestAdjuster
from mtbench.backends.retry import (
    RetryCallback,
    RetryPolicy,
    TransientError,
    call_with_retry,
    parse_retry_after,
)
from mtbench.errors import AuthError, BackendError, ConfigError, RequestError, TooLongError

logger = logging.getLogger(__name__)

_KEY_LIKE = re.compile(r"\b(sk|sk-ant|sk-proj)-[A-Za-z0-9_\-*]{4,}")
_LIMIT_TOO_LARGE = re.compile(
    r"max_(completion_|output_)?tokens.{0,40}(too large|at most|maximum|exceed)"
)
"""A 400 saying the reply token limit is more than the model allows (it costs one call)."""
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


def read_api_key(
    env_name: str, required: bool, what: str, flag: str = "--api-key-env"
) -> str | None:
    """The API key from environment variable `env_name` (keys never come from flags).

    Args:
        env_name: The variable to read.
        required: Whether a missing key is an error.
        what: Who needs the key, for the message (`the OpenAI API (URL)`).
        flag: The command's flag that names another variable, for the message.

    Raises:
        ConfigError: if `required` and the variable is unset or empty.
    """
    key = os.environ.get(env_name, "").strip()
    if key:
        return key
    if required:
        raise ConfigError(
            f"{what} needs an API key: set the environment variable {env_name} "
            f"(or name another variable with {flag})"
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
    model_flag: str = "--model",
    served: Sequence[str] = (),
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
        model_flag: The command's flag that names the model, for the unknown-model message.
        served: The models the server lists, for the unknown-model message ([]: unknown).
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
        return TooLongError(f"prompt too long for model '{model}' ({said})")
    if status in (400, 422) and _LIMIT_TOO_LARGE.search(lowered):
        # A larger limit asked for a reply that ran out of room: this call only.
        return TooLongError(f"model '{model}' allows no reply this long ({said})")
    if is_model_not_found(status, code):
        return RequestError(unknown_model_message(model, where, said, served, model_flag))
    return RequestError(f"{where} rejected the request for model '{model}' ({said})")


class RemoteBackend(Backend):
    """Base of the API backends: `generate` = one request per conversation, each retried.

    The constructor does what every API shares: the base URL (argument, else the
    provider's environment variable, else its public URL), the key from an environment
    variable, and the SDK client (`_open_client`, with the SDK's own retries off). A
    subclass sets the class attributes below and implements `_import_sdk`, `_open_client`
    and `_attempt`.

    Args:
        model_name: The model to request.
        base_url: The API root; None: `$BASE_URL_ENV`, else `default_url`.
        api_key_env: The environment variable holding the key; None: `default_key_env`.
        timeout: Seconds one request may take.
        retry: The retry policy.
        on_retry: Also told about every retry (progress bars).
        key_flag: The command's flag that names the key variable, for error messages.
        model_flag: The command's flag that names the model, for error messages.
        extra_body: Further fields of every request's JSON body (e.g. vLLM's
            `chat_template_kwargs`), sent as given.
        deliberate: Request parameters the user chose, mapped to the flag that set them:
            a refusal of these stops the run instead of being worked around
            (`mtbench.backends.refusals`).
    """

    concurrent = True
    usage: Usage
    """Every API backend counts its requests, retries and tokens (never None here)."""
    provider = "the API"
    """Who needs the key, for the missing-key message (`the OpenAI API`)."""
    default_url = ""
    base_url_env = ""
    default_key_env = ""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        on_retry: RetryCallback | None = None,
        *,
        key_flag: str = "--api-key-env",
        model_flag: str = "--model",
        extra_body: Mapping[str, Any] | None = None,
        deliberate: Mapping[str, str] | None = None,
    ):
        self.model_name = model_name
        self.extra_body = dict(extra_body or {})
        self.adjuster = RequestAdjuster(deliberate)
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.usage = Usage()
        self.timeout = timeout
        self.key_flag = key_flag
        self.model_flag = model_flag
        self._stop = threading.Event()
        self._gate: threading.BoundedSemaphore | None = None
        self._refused: AuthError | RequestError | None = None
        self._import_sdk()
        self.base_url = (base_url or os.environ.get(self.base_url_env) or self.default_url).rstrip(
            "/"
        )
        self.api_key_env = api_key_env or self.default_key_env
        key = read_api_key(
            self.api_key_env,
            required=self._key_required(),
            what=f"{self.provider} ({self.base_url})",
            flag=key_flag,
        )
        self._secrets = [key] if key else []
        self._client = self._open_client(key)

    def _import_sdk(self) -> None:
        """Import the provider's SDK and keep it on `self` (or raise `MissingDependencyError`)."""
        raise NotImplementedError

    def _key_required(self) -> bool:
        """Whether a missing key is an error (servers of one's own may need none)."""
        return True

    def _open_client(self, key: str | None) -> Any:
        """The SDK client for `self.base_url`, with the SDK's own retries off."""
        raise NotImplementedError

    def _request(self, conversation: Conversation) -> dict[str, Any]:
        """The fields that are the request itself: the model and the conversation."""
        raise NotImplementedError

    def request_params(self, params: GenerationParams) -> dict[str, Any]:
        """The parameters a request carries besides `_request`'s, before refusals."""
        raise NotImplementedError

    def request_body(
        self, conversation: Conversation, params: GenerationParams
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON body a live request for `conversation` carries, and its parameters.

        The request (`_request`) with the parameters (`request_params`, less what the server
        refused so far in this run): the body a batch request carries, so that it asks exactly
        what the live path asks. The parameters alone are what a reply records as
        `Reply.meta["params"]`.
        """
        sent = self.adjuster.apply(self.request_params(params))
        return {**self._request(conversation), **sent}, sent

    def _refusal(self, status: int, message: str, headers: Any, code: str | None) -> BackendError:
        """`classify_status` for this backend's endpoint, model, key variable and flags.

        An unknown model costs one more request: the server's model listing, for the closest
        names (only backends with a `served_models()` method have one).
        """
        served: list[str] = []
        list_models = getattr(self, "served_models", None)
        if callable(list_models) and is_model_not_found(status, code):
            served = model_ids(list_models())
        return classify_status(
            status,
            scrub(message, self._secrets),
            where=self.base_url,
            model=self.model_name,
            key_env=self.api_key_env,
            headers=headers,
            code=code,
            model_flag=self.model_flag,
            served=served,
        )

    def limit_in_flight(self, requests: int) -> bool:
        """Allow at most this many requests at once, across all calling threads.

        A call waiting to retry holds no slot, so callers may use more threads than slots and
        keep the API busy while some calls back off.

        Returns:
            True: the limit is enforced here.
        """
        self._gate = threading.BoundedSemaphore(requests)
        return True

    _named: set[str] = set()
    """The keyword arguments the SDK's create method names (set by `_open_client`)."""

    def _add_params(self, request: dict[str, Any], sent: Mapping[str, Any]) -> None:
        """Put the parameters `sent` into the SDK call's `request`: those the create method
        names as keyword arguments, the rest (a server's own fields) as its `extra_body`."""
        extra = {}
        for name, value in sent.items():
            if name in self._named and name not in ("extra_body", "extra_headers"):
                request[name] = value
            else:
                extra[name] = value
        if extra:
            request["extra_body"] = extra

    @property
    def adjustments(self) -> list[str]:
        """What this run stopped sending or renamed because the server refused it."""
        return list(self.adjuster.notes)

    def _adjusted(
        self,
        sent: Mapping[str, Any],
        exc_status: int,
        message: str,
        param: Any,
        code: Any = None,
    ) -> bool:
        """Whether a refused request should be sent again without (or renaming) a parameter.

        Raises:
            RequestError: when the server refuses a parameter the user chose.
        """
        if exc_status not in (400, 422):
            return False
        try:
            return self.adjuster.learn(
                sent,
                message,
                param if isinstance(param, str) else None,
                code if isinstance(code, str) else None,
            )
        except ValueError as exc:
            raise RequestError(
                f"{self.base_url} rejected the request for model '{self.model_name}': {exc}"
            ) from None

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages."""
        return self.base_url

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
        """Stop retries and close the client's connections."""
        self.cancel()
        self._client.close()

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
