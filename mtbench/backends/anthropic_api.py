"""Anthropic's Messages API (Claude), through the `anthropic` package (extra `anthropic`).

FastChat judged with Claude through the legacy text-completions API, which current models no
longer accept. Here the judge prompt's system message goes in the request's `system` field and
the filled template is the one user message, exactly the two texts an OpenAI judge receives.
The key comes from `ANTHROPIC_API_KEY` (or the variable named by the caller); the base URL from
the caller, else `ANTHROPIC_BASE_URL`, else Anthropic's.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams
from mtbench.backends.remote import RemoteBackend, classify_status, read_api_key, scrub
from mtbench.backends.retry import RetryCallback, RetryPolicy, TransientError
from mtbench.errors import MissingDependencyError

logger = logging.getLogger(__name__)

ANTHROPIC_URL = "https://api.anthropic.com"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"


class AnthropicBackend(RemoteBackend):
    """Claude models through the Messages API.

    Args:
        model_name: e.g. `claude-3-5-sonnet-20240620`.
        base_url: API root; None: `$ANTHROPIC_BASE_URL`, else Anthropic's.
        api_key_env: The environment variable holding the key.
        timeout: Seconds one request may take.
        retry: The retry policy.
        on_retry: Told about each retry.
    """

    label = "Anthropic API"

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key_env: str = DEFAULT_KEY_ENV,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        on_retry: RetryCallback | None = None,
    ):
        super().__init__(model_name, retry, on_retry)
        try:
            import anthropic
        except ImportError:
            raise MissingDependencyError("anthropic", "anthropic", "an Anthropic judge") from None
        self._anthropic = anthropic
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or ANTHROPIC_URL).rstrip("/")
        self.api_key_env = api_key_env
        key = read_api_key(api_key_env, required=True, what=f"the Anthropic API ({self.base_url})")
        assert key is not None
        self._secrets = [key]
        self._client = anthropic.Anthropic(
            base_url=self.base_url, api_key=key, max_retries=0, timeout=timeout
        )
        # Recent SDKs dropped `temperature` from `messages.create`; send it where it exists.
        create = self._client.messages.create
        self._has_temperature = "temperature" in inspect.signature(create).parameters
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        return self.base_url

    def close(self) -> None:
        super().close()
        self._client.close()

    def _attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        anthropic = self._anthropic
        system = "\n\n".join(m["content"] for m in conversation if m["role"] == "system")
        request: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": params.max_new_tokens,
            "messages": [dict(m) for m in conversation if m["role"] != "system"],
        }
        if system:
            request["system"] = system
        if self._has_temperature:
            request["temperature"] = params.temperature
        try:
            message = self._client.messages.create(**request)
        except anthropic.APITimeoutError:
            raise TransientError(f"no reply within {self.timeout:g}s") from None
        except anthropic.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise TransientError(f"cannot reach {self.base_url} ({type(cause).__name__})") from None
        except anthropic.APIResponseValidationError:
            raise TransientError("malformed reply") from None
        except anthropic.APIStatusError as exc:
            body = getattr(exc, "body", None)
            error = body.get("error") if isinstance(body, dict) else None
            text = error.get("message") if isinstance(error, dict) else None
            raise classify_status(
                exc.status_code,
                scrub(str(text or exc.message), self._secrets),
                where=self.base_url,
                model=self.model_name,
                key_env=self.api_key_env,
                headers=exc.response.headers,
                code=error.get("type") if isinstance(error, dict) else None,
            ) from None
        except ValueError:
            raise TransientError("malformed reply (not JSON)") from None
        return self._reply_text(message)

    def _reply_text(self, message: Any) -> str:
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise TransientError("malformed reply (no content)")
        usage = getattr(message, "usage", None)
        if usage is not None:
            self.usage.add(
                prompt=getattr(usage, "input_tokens", None),
                completion=getattr(usage, "output_tokens", None),
            )
        # FastChat strips Claude's replies.
        return "".join(
            getattr(b, "text", "") or "" for b in blocks if getattr(b, "type", "") == "text"
        ).strip()
