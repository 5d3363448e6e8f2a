"""Anthropic's Messages API (Claude), through the `anthropic` package (extra `anthropic`).

FastChat judged with Claude through the legacy text-completions API, which current models no
longer accept. Here the judge prompt's system message goes in the request's `system` field and
the filled template is the one user message, exactly the two texts an OpenAI judge receives.
The key comes from `ANTHROPIC_API_KEY` (or the variable named by the caller); the base URL from
the caller, else `ANTHROPIC_BASE_URL`, else Anthropic's.

Extended thinking (`thinking_budget`): the request asks for `{"type": "enabled",
"budget_tokens": N}` and `max_tokens` grows by N, since Anthropic counts the thinking within
`max_tokens` and requires it above the budget; `temperature` is then not sent (Anthropic allows
only its default with thinking). Thinking blocks come back as the reply's `reasoning`, never as
its text. A parameter the server refuses is dropped once per run, as for OpenAI.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.remote import RemoteBackend
from mtbench.errors import MissingDependencyError, TransientError

if TYPE_CHECKING:
    from mtbench.backends.anthropic_batches import AnthropicBatchAPI

logger = logging.getLogger(__name__)

ANTHROPIC_URL = "https://api.anthropic.com"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"

STOP_REASONS = {
    "max_tokens": "length",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "refusal": "content_filter",
}
"""Anthropic's `stop_reason`s in OpenAI's `finish_reason` words (`Reply.finish_reason`)."""


class AnthropicBackend(RemoteBackend):
    """Claude models through the Messages API.

    Args:
        model_name: e.g. `claude-3-5-sonnet-20240620`.
        base_url: API root; None: `$ANTHROPIC_BASE_URL`, else Anthropic's.
        api_key_env: The environment variable holding the key (None: `ANTHROPIC_API_KEY`).
        thinking_budget: Tokens of extended thinking (None: thinking off, as FastChat).
        timeout, retry, on_retry, key_flag, model_flag, extra_body, deliberate: As for
            `RemoteBackend`.
    """

    provider = "the Anthropic API"
    default_url = ANTHROPIC_URL
    base_url_env = BASE_URL_ENV
    default_key_env = DEFAULT_KEY_ENV

    def __init__(self, model_name: str, *args: Any, thinking_budget: int | None = None, **kw: Any):
        self.thinking_budget = thinking_budget
        super().__init__(model_name, *args, **kw)

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
        self._named = set(inspect.signature(client.messages.create).parameters)
        return client

    def request_params(self, params: GenerationParams) -> dict[str, Any]:
        """The parameters a request carries besides `model`, `messages` and `system`."""
        wanted: dict[str, Any] = {"max_tokens": params.max_new_tokens}
        if self.thinking_budget:
            wanted["max_tokens"] = params.max_new_tokens + self.thinking_budget
            wanted["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        elif params.temperature is not None:
            wanted["temperature"] = params.temperature
        wanted.update(self.extra_body)
        return wanted

    def _request(self, conversation: Conversation) -> dict[str, Any]:
        """`model`, `messages` (the non-system messages) and `system` (the system ones)."""
        system = "\n\n".join(m["content"] for m in conversation if m["role"] == "system")
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": [dict(m) for m in conversation if m["role"] != "system"],
        }
        if system:
            request["system"] = system
        return request

    def batch_api(self) -> AnthropicBatchAPI:
        """Anthropic's Message Batches for this judge's requests."""
        from mtbench.backends.anthropic_batches import AnthropicBatchAPI

        return AnthropicBatchAPI(self)

    def _attempt(self, conversation: Conversation, params: GenerationParams) -> str:
        anthropic = self._anthropic
        sent = self.adjuster.apply(self.request_params(params))
        request = self._request(conversation)
        # Recent SDKs dropped `temperature` from `messages.create`: it then goes as an extra.
        self._add_params(request, sent)
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
            if self._adjusted(sent, exc.status_code, str(text or exc.message), None):
                return self._attempt(conversation, params)
            raise self._refusal(
                exc.status_code,
                str(text or exc.message),
                exc.response.headers,
                error.get("type") if isinstance(error, dict) else None,
            ) from None
        except ValueError:
            raise TransientError("malformed reply (not JSON)") from None
        return self._reply(message, sent)

    def reply_from(self, message: Any, sent: Mapping[str, Any]) -> Reply:
        """A `Message` (live, or a batch result's) read as a live reply is read."""
        return self._reply(message, sent)

    def _reply(self, message: Any, sent: Mapping[str, Any]) -> Reply:
        blocks = getattr(message, "content", None)
        if not isinstance(blocks, list):
            raise TransientError("malformed reply (no content)")
        meta: dict[str, Any] = {"model": getattr(message, "model", None)}
        usage = getattr(message, "usage", None)
        if usage is not None:
            counts = {
                "input_tokens": getattr(usage, "input_tokens", None),
                "output_tokens": getattr(usage, "output_tokens", None),
            }
            meta["usage"] = {k: v for k, v in counts.items() if isinstance(v, int)}
            self.usage.add(prompt=counts["input_tokens"], completion=counts["output_tokens"])
        meta["params"] = dict(sent)
        thinking = "\n\n".join(
            getattr(b, "thinking", "") or "" for b in blocks if getattr(b, "type", "") == "thinking"
        )
        stop = getattr(message, "stop_reason", None)
        # FastChat strips Claude's replies.
        return Reply(
            "".join(
                getattr(b, "text", "") or "" for b in blocks if getattr(b, "type", "") == "text"
            ).strip(),
            STOP_REASONS.get(stop, stop) if isinstance(stop, str) else None,
            reasoning=thinking,
            meta={k: v for k, v in meta.items() if v is not None},
        )
