"""OpenAI and every OpenAI-compatible server (vLLM, SGLang, Ollama, Azure's v1 API, LiteLLM).

One chat-completions request per conversation with the modern `openai` SDK:
`OpenAI(base_url=..., api_key=..., max_retries=0)`. The base URL comes from the caller
(`--openai-api-base`, `--judge-base-url`), else `OPENAI_BASE_URL`, else OpenAI's own. The key
comes from an environment variable only (`OPENAI_API_KEY` unless told otherwise); a server of
our own at a custom base URL may need none, and then gets a placeholder.

Requests carry exactly what FastChat sends: `model`, `messages`, `n=1`, `temperature`,
`max_tokens`, plus what the user asks for (`reasoning_effort`, extra body fields). A parameter
the server refuses (OpenAI's reasoning models refuse `max_tokens` and `temperature`) is dropped,
or `max_tokens` renamed `max_completion_tokens`, once per run (`mtbench.backends.refusals`).

Replies: the message's text, its separate reasoning (`reasoning_content` from vLLM, SGLang and
DeepSeek; `reasoning` from OpenRouter and Ollama), the finish reason, and the provenance
(`Reply.meta`): the model the server says answered, `system_fingerprint`, token usage with
reasoning tokens, and the parameters sent.

OpenAI's Responses API (`POST /v1/responses`) is the subclass `OpenAIResponsesBackend`
(`mtbench.backends.openai_responses`): only the request and reply shapes differ.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.model_catalog import fetch_listing
from mtbench.backends.remote import RemoteBackend
from mtbench.errors import MissingDependencyError, TransientError, first_line

if TYPE_CHECKING:
    from mtbench.backends.openai_batches import OpenAIBatchAPI

logger = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
PLACEHOLDER_KEY = "EMPTY"
LISTING_TIMEOUT = 30.0
"""Seconds the model listing may take: it only adds detail to a message or a warning."""


class OpenAICompatBackend(RemoteBackend):
    """Chat completions from OpenAI or a compatible server.

    Args:
        model_name: The model to request (`--model`, `--judge-model`).
        base_url: The API root, e.g. `http://localhost:8000/v1`; None: `$OPENAI_BASE_URL`, else
            OpenAI.
        api_key_env: The environment variable holding the key (None: `OPENAI_API_KEY`); a
            server other than OpenAI's may need none, and then gets a placeholder.
        reasoning_effort: Sent as `reasoning_effort` (`low`, `medium`, `high`, ...); None: not
            sent.
        timeout, retry, on_retry, key_flag, model_flag, extra_body, deliberate: As for
            `RemoteBackend`.
    """

    provider = "the OpenAI API"
    default_url = OPENAI_URL
    base_url_env = BASE_URL_ENV
    default_key_env = DEFAULT_KEY_ENV

    def _import_sdk(self) -> None:
        try:
            import openai
        except ImportError:
            # A base dependency: reinstalling the package brings it back.
            raise MissingDependencyError("openai", None, "an OpenAI-compatible API") from None
        self._openai = openai

    def __init__(self, model_name: str, *args: Any, reasoning_effort: str | None = None, **kw: Any):
        self.reasoning_effort = reasoning_effort
        super().__init__(model_name, *args, **kw)

    def _key_required(self) -> bool:
        return self.base_url.startswith(OPENAI_URL)

    def _open_client(self, key: str | None) -> Any:
        if key is None:
            logger.info(
                "no key in $%s; sending a placeholder to %s", self.api_key_env, self.base_url
            )
        client = self._openai.OpenAI(
            base_url=self.base_url,
            api_key=key or PLACEHOLDER_KEY,
            max_retries=0,
            timeout=self.timeout,
        )
        self._named = set(inspect.signature(self._create(client)).parameters)
        return client

    batch_endpoint = "/v1/chat/completions"
    """The endpoint a batch of these requests names (`mtbench.backends.openai_batches`)."""

    def _create(self, client: Any) -> Any:
        """The SDK method that sends one request (here: chat completions)."""
        return client.chat.completions.create

    def _reply_type(self) -> Any:
        """The SDK type of a reply's body (here: `ChatCompletion`)."""
        return self._openai.types.chat.ChatCompletion

    def reply_from(self, body: Mapping[str, Any], sent: Mapping[str, Any]) -> Reply:
        """A reply's JSON body (a batch result's) read as a live reply is read.

        The body is built into the SDK's own reply type the way the SDK builds a live reply
        (`construct`: no validation, nested objects included), then read by `_reply`.

        Raises:
            TransientError: for a body that is not a reply (no choices, no output).
        """
        return self._reply(self._reply_type().construct(**body), sent)

    def batch_api(self) -> OpenAIBatchAPI:
        """OpenAI's Batch API (or a compatible server's `/v1/files` and `/v1/batches`)."""
        from mtbench.backends.openai_batches import OpenAIBatchAPI

        return OpenAIBatchAPI(self)

    def _request(self, conversation: Conversation) -> dict[str, Any]:
        """The fields that are the request itself: the model and the conversation."""
        return {"model": self.model_name, "messages": [dict(message) for message in conversation]}

    def request_params(self, params: GenerationParams) -> dict[str, Any]:
        """The parameters a request carries besides `model` and `messages`, before refusals.

        FastChat's `n`, `temperature` (unless None), `max_tokens`, in its order; then `seed`
        (only when the caller set one: `mtbench-gen --seed`, never by default, since FastChat
        sends none), `reasoning_effort` and the extra body fields where given.
        """
        wanted: dict[str, Any] = {"n": 1}
        if params.temperature is not None:
            wanted["temperature"] = params.temperature
        wanted["max_tokens"] = params.max_new_tokens
        if params.seed is not None:
            wanted["seed"] = params.seed
        if self.reasoning_effort is not None:
            wanted["reasoning_effort"] = self.reasoning_effort
        wanted.update(self.extra_body)
        return wanted

    def _attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        openai = self._openai
        sent = self.adjuster.apply(self.request_params(params))
        request = self._request(conversation)
        self._add_params(request, sent)
        try:
            completion = self._create(self._client)(**request)
        except openai.APITimeoutError:
            raise TransientError(f"no reply within {self.timeout:g}s") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise TransientError(
                f"cannot reach {self.base_url} ({first_line(cause, with_type=True)})"
            ) from None
        except openai.APIResponseValidationError as exc:
            raise TransientError(f"malformed reply ({first_line(exc, with_type=True)})") from None
        except openai.APIStatusError as exc:
            message, param = _server_message(exc), _error_param(exc)
            if self._adjusted(sent, exc.status_code, message, param, getattr(exc, "code", None)):
                return self._attempt(conversation, params)
            raise self._refusal(
                exc.status_code,
                _server_message(exc),
                exc.response.headers,
                getattr(exc, "code", None),
            ) from None
        except ValueError as exc:
            # A 200 reply whose body is not JSON (a proxy's error page, a cut connection).
            raise TransientError(f"malformed reply ({first_line(exc, with_type=True)})") from None
        return self._reply(completion, sent)

    def _reply(self, completion: Any, sent: Mapping[str, Any]) -> Reply:
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise TransientError("malformed reply (no choices)")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise TransientError("malformed reply (content is not text)")
        reasoning = ""
        for name in ("reasoning_content", "reasoning"):
            value = getattr(message, name, None)
            if isinstance(value, str) and value:
                reasoning = value
                break
        meta: dict[str, Any] = {"model": getattr(completion, "model", None)}
        fingerprint = getattr(completion, "system_fingerprint", None)
        if fingerprint:
            meta["system_fingerprint"] = fingerprint
        usage = getattr(completion, "usage", None)
        if usage is not None:
            details = getattr(usage, "completion_tokens_details", None)
            meta["usage"] = self._count_usage(
                getattr(usage, "prompt_tokens", None),
                getattr(usage, "completion_tokens", None),
                getattr(details, "reasoning_tokens", None),
            )
        meta["params"] = dict(sent)
        # FastChat keeps the reply as sent (no strip); no text at all is an unparseable verdict.
        return Reply(
            content or "",
            getattr(choices[0], "finish_reason", None),
            reasoning=reasoning,
            meta={k: v for k, v in meta.items() if v is not None},
        )

    def _count_usage(self, prompt: Any, completion: Any, reasoning: Any) -> dict[str, int]:
        """Add a reply's reported tokens to `usage`; its `Reply.meta["usage"]` (ints only)."""
        counts = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "reasoning_tokens": reasoning,
        }
        found = {k: v for k, v in counts.items() if isinstance(v, int)}
        self.usage.add(
            prompt=found.get("input_tokens"),
            completion=found.get("output_tokens"),
            reasoning=found.get("reasoning_tokens"),
        )
        return found

    def served_models(self) -> list[dict[str, Any]]:
        """The server's model listing (`GET {base_url}/models`): one dict per row, [] on failure.

        Rows keep every field the server sends (`id`, `owned_by`, and where published
        `shutdown_date` / `deprecation_date`). Never raises; waits at most `LISTING_TIMEOUT`.
        """
        timeout = min(self.timeout, LISTING_TIMEOUT)
        return fetch_listing(lambda: self._client.with_options(timeout=timeout).models.list())


def _error_param(exc: Any) -> str | None:
    """The parameter an OpenAI-style error names (`error.param`), if any."""
    param = getattr(exc, "param", None)
    if isinstance(param, str):
        return param
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    value = error.get("param") if isinstance(error, dict) else None
    return value if isinstance(value, str) else None


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", "") or exc)
