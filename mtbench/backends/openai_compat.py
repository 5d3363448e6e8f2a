"""OpenAI and every OpenAI-compatible server (vLLM, SGLang, Ollama, Azure's v1 API, LiteLLM).

One chat-completions request per conversation with the modern `openai` SDK:
`OpenAI(base_url=..., api_key=..., max_retries=0)`. The base URL comes from the caller
(`--openai-api-base`, `--judge-base-url`), else `OPENAI_BASE_URL`, else OpenAI's own. The key
comes from an environment variable only (`OPENAI_API_KEY` unless told otherwise); a server of
our own at a custom base URL may need none, and then gets a placeholder.

Requests carry exactly what FastChat sends: `model`, `messages`, `n=1`, `temperature`,
`max_tokens`. Models that refuse `max_tokens` (OpenAI's reasoning models) are asked again with
`max_completion_tokens`, once, and that choice is kept.
"""

from __future__ import annotations

import logging
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.model_catalog import fetch_listing
from mtbench.backends.remote import RemoteBackend
from mtbench.errors import MissingDependencyError, TransientError, first_line

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
        timeout, retry, on_retry, key_flag, model_flag: As for `RemoteBackend`.
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
        self._token_param = "max_tokens"

    def _key_required(self) -> bool:
        return self.base_url.startswith(OPENAI_URL)

    def _open_client(self, key: str | None) -> Any:
        if key is None:
            logger.info(
                "no key in $%s; sending a placeholder to %s", self.api_key_env, self.base_url
            )
        return self._openai.OpenAI(
            base_url=self.base_url,
            api_key=key or PLACEHOLDER_KEY,
            max_retries=0,
            timeout=self.timeout,
        )

    def _attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        openai = self._openai
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": [dict(message) for message in conversation],
            "n": 1,
            "temperature": params.temperature,
            self._token_param: params.max_new_tokens,
        }
        if params.seed is not None:
            request["seed"] = params.seed
        try:
            completion = self._client.chat.completions.create(**request)
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
            if self._switch_token_param(exc):
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
        return self._reply_text(completion)

    def _reply_text(self, completion: Any) -> str:
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise TransientError("malformed reply (no choices)")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise TransientError("malformed reply (content is not text)")
        usage = getattr(completion, "usage", None)
        if usage is not None:
            self.usage.add(
                prompt=getattr(usage, "prompt_tokens", None),
                completion=getattr(usage, "completion_tokens", None),
            )
        # FastChat keeps the reply as sent (no strip); no text at all is an unparseable verdict.
        return Reply(content or "", getattr(choices[0], "finish_reason", None))

    def _switch_token_param(self, exc: Any) -> bool:
        if self._token_param != "max_tokens" or exc.status_code != 400:
            return False
        text = _server_message(exc)
        if "max_completion_tokens" not in text or "max_tokens" not in text:
            return False
        logger.warning(
            "%s refuses max_tokens; sending max_completion_tokens instead", self.model_name
        )
        self._token_param = "max_completion_tokens"
        return True

    def served_models(self) -> list[dict[str, Any]]:
        """The server's model listing (`GET {base_url}/models`): one dict per row, [] on failure.

        Rows keep every field the server sends (`id`, `owned_by`, and where published
        `shutdown_date` / `deprecation_date`). Never raises; waits at most `LISTING_TIMEOUT`.
        """
        timeout = min(self.timeout, LISTING_TIMEOUT)
        return fetch_listing(lambda: self._client.with_options(timeout=timeout).models.list())


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", "") or exc)
