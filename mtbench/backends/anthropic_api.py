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
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams
from mtbench.backends.remote import RemoteBackend
from mtbench.errors import MissingDependencyError, TransientError

logger = logging.getLogger(__name__)

ANTHROPIC_URL = "https://api.anthropic.com"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"


class AnthropicBackend(RemoteBackend):
    """Claude models through the Messages API.

    Args:
        model_name: e.g. `claude-3-5-sonnet-20240620`.
        base_url: API root; None: `$ANTHROPIC_BASE_URL`, else Anthropic's.
        api_key_env: The environment variable holding the key (None: `ANTHROPIC_API_KEY`).
        timeout, retry, on_retry, key_flag, model_flag: As for `RemoteBackend`.
    """

    provider = "the Anthropic API"
    default_url = ANTHROPIC_URL
    base_url_env = BASE_URL_ENV
    default_key_env = DEFAULT_KEY_ENV

    def _import_sdk(self) -> None:
        try:
            import anthropic
        except ImportError:
            raise MissingDependencyError("anthropic", "anthropic", "the Anthropic API") from None
        self._anthropic = anthropic

    def _open_client(self, key: str | None) -> Any:
        client = self._anthropic.Anthropic(
            base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout
        )
        # Recent SDKs dropped `temperature` from `messages.create`; send it where it exists.
        create = client.messages.create
        self._has_temperature = "temperature" in inspect.signature(create).parameters
        return client

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
            raise self._refusal(
                exc.status_code,
                str(text or exc.message),
                exc.response.headers,
                error.get("type") if isinstance(error, dict) else None,
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
