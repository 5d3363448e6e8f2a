"""OpenAI's Responses API (`POST /v1/responses`), where OpenAI serves its newest models.

The same backend as `OpenAICompatBackend` (client, key, base URL, retries, refusals learned
once, error translation) with another request and reply shape:

    chat completions                    responses
    messages (system first)             instructions (the system message) + input (the rest)
    max_tokens                          max_output_tokens (reasoning tokens included)
    reasoning_effort                    reasoning: {"effort": ...}
    n, seed                             none (the Responses API has neither)
    choices[0].message.content          the output_text parts of the `message` output items
    reasoning_content / reasoning       the summaries of the `reasoning` output items
    finish_reason "length"              status "incomplete", incomplete_details.reason
                                        "max_output_tokens"
    usage.completion_tokens_details     usage.output_tokens_details.reasoning_tokens

Chosen with `mtbench-judge --judge-api responses` (`BackendSpec.options["api"]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.openai_compat import OpenAICompatBackend
from mtbench.errors import TransientError

CUT_REASON = "max_output_tokens"
"""The `incomplete_details.reason` of a reply cut at `max_output_tokens` (`length`)."""


class OpenAIResponsesBackend(OpenAICompatBackend):
    """Replies from OpenAI's Responses API (or a server that implements it).

    Args:
        model_name, base_url, api_key_env, reasoning_effort, timeout, retry, on_retry,
            key_flag, model_flag, extra_body, deliberate: As for `OpenAICompatBackend`;
            `reasoning_effort` is sent as `reasoning={"effort": ...}`.
    """

    provider = "the OpenAI Responses API"
    batch_endpoint = "/v1/responses"

    def _create(self, client: Any) -> Any:
        return client.responses.create

    def _reply_type(self) -> Any:
        return self._openai.types.responses.Response

    def _request(self, conversation: Conversation) -> dict[str, Any]:
        """`model`, `input` (the non-system messages) and `instructions` (the system ones)."""
        system = "\n\n".join(m["content"] for m in conversation if m["role"] == "system")
        request: dict[str, Any] = {
            "model": self.model_name,
            "input": [
                {"role": m["role"], "content": m["content"]}
                for m in conversation
                if m["role"] != "system"
            ],
        }
        if system:
            request["instructions"] = system
        return request

    def request_params(self, params: GenerationParams) -> dict[str, Any]:
        """The parameters a request carries besides `model`, `input` and `instructions`.

        `temperature` (unless None), `max_output_tokens`, `reasoning` where an effort is set,
        then the extra body fields. No `n` and no `seed`: the Responses API has neither.
        """
        wanted: dict[str, Any] = {}
        if params.temperature is not None:
            wanted["temperature"] = params.temperature
        wanted["max_output_tokens"] = params.max_new_tokens
        if self.reasoning_effort is not None:
            wanted["reasoning"] = {"effort": self.reasoning_effort}
        wanted.update(self.extra_body)
        return wanted

    def _reply(self, response: Any, sent: Mapping[str, Any]) -> Reply:
        output = getattr(response, "output", None)
        if not isinstance(output, list):
            raise TransientError("malformed reply (no output)")
        status = getattr(response, "status", None)
        if status == "failed":
            error = getattr(response, "error", None)
            said = getattr(error, "message", None) or "no reason given"
            raise TransientError(f"the response failed ({said})")
        texts: list[str] = []
        thoughts: list[str] = []
        for item in output:
            kind = getattr(item, "type", None)
            if kind == "message":
                for part in getattr(item, "content", None) or []:
                    text = getattr(part, "text", None)
                    if getattr(part, "type", None) == "output_text" and isinstance(text, str):
                        texts.append(text)
            elif kind == "reasoning":
                # OpenAI returns summaries; servers running open models (vLLM) the raw text.
                parts = getattr(item, "summary", None) or getattr(item, "content", None) or []
                thoughts += [p.text for p in parts if isinstance(getattr(p, "text", None), str)]
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        cut = status == "incomplete" and reason == CUT_REASON
        meta: dict[str, Any] = {"model": getattr(response, "model", None)}
        usage = getattr(response, "usage", None)
        if usage is not None:
            details = getattr(usage, "output_tokens_details", None)
            meta["usage"] = self._count_usage(
                getattr(usage, "input_tokens", None),
                getattr(usage, "output_tokens", None),
                getattr(details, "reasoning_tokens", None),
            )
        meta["params"] = dict(sent)
        # Kept as sent, as chat replies are; no text at all is an unparseable verdict.
        return Reply(
            "".join(texts),
            "length" if cut else "stop",
            reasoning="\n\n".join(t for t in thoughts if t),
            meta={k: v for k, v in meta.items() if v is not None},
        )
