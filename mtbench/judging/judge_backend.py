"""Choosing and opening the judge's backend, and checking that it answers before the run.

Any judge name works: `--judge-backend auto` picks Anthropic's API for `claude-*` names (unless a
base URL points elsewhere), a local model when `--judge-model-path` is given, and an
OpenAI-compatible API otherwise (OpenAI itself, or `--judge-base-url` / `$OPENAI_BASE_URL`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from mtbench.backends.base import Backend, GenerationParams
from mtbench.backends.retry import RetryCallback, RetryPolicy
from mtbench.errors import AuthError, BackendError, ConfigError, RequestError

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "openai", "anthropic", "hf")

OPENAI_MAX_TOKENS = 2048
ANTHROPIC_MAX_TOKENS = 1024
"""FastChat's judge reply limits: 2048 tokens for OpenAI, 1024 for Claude."""

PREFLIGHT_MESSAGES = [{"role": "user", "content": "Reply with the single word OK."}]


@dataclass(frozen=True)
class BackendSpec:
    """Which judge backend to open, and how.

    Attributes:
        kind: `openai`, `anthropic` or `hf` (after `resolve_kind`).
        model: The model name requested from the API.
        model_path: A local model (folder, hub id or .gguf) for `hf`.
        base_url: The API root, if not the provider's default.
        api_key_env: The environment variable holding the key (None: the provider's default).
        timeout: Seconds per request.
        max_attempts: Attempts per call, retries included.
    """

    kind: str
    model: str
    model_path: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = 300.0
    max_attempts: int = 10


def resolve_kind(kind: str, model: str, model_path: str | None, base_url: str | None) -> str:
    """The concrete backend for `--judge-backend auto` (others are returned as given)."""
    if kind not in BACKENDS:
        raise ConfigError(f"unknown --judge-backend {kind!r}; choose one of: {', '.join(BACKENDS)}")
    if kind == "hf" and not model_path:
        raise ConfigError("--judge-backend hf needs --judge-model-path (a folder, hub id or .gguf)")
    if model_path and kind not in ("auto", "hf"):
        raise ConfigError(
            f"--judge-model-path is for a local judge; it cannot go with --judge-backend {kind}"
        )
    if kind != "auto":
        return kind
    if model_path:
        return "hf"
    if model.startswith("claude") and not base_url:
        return "anthropic"
    return "openai"


def default_max_tokens(kind: str) -> int:
    return ANTHROPIC_MAX_TOKENS if kind == "anthropic" else OPENAI_MAX_TOKENS


def open_backend(spec: BackendSpec, on_retry: RetryCallback | None = None) -> Backend:
    """Create the judge backend (imports its SDK or engine only now)."""
    retry = RetryPolicy(max_attempts=spec.max_attempts)
    if spec.kind == "openai":
        from mtbench.backends.openai_compat import DEFAULT_KEY_ENV, OpenAICompatBackend

        return OpenAICompatBackend(
            spec.model,
            base_url=spec.base_url,
            api_key_env=spec.api_key_env or DEFAULT_KEY_ENV,
            timeout=spec.timeout,
            retry=retry,
            on_retry=on_retry,
        )
    if spec.kind == "anthropic":
        from mtbench.backends.anthropic_api import DEFAULT_KEY_ENV as ANTHROPIC_KEY_ENV
        from mtbench.backends.anthropic_api import AnthropicBackend

        return AnthropicBackend(
            spec.model,
            base_url=spec.base_url,
            api_key_env=spec.api_key_env or ANTHROPIC_KEY_ENV,
            timeout=spec.timeout,
            retry=retry,
            on_retry=on_retry,
        )
    if spec.kind == "hf":
        return _open_hf(spec)
    raise ConfigError(f"unknown judge backend {spec.kind!r}")


def _open_hf(spec: BackendSpec) -> Backend:
    from mtbench.backends.hf import HFBackend

    assert spec.model_path is not None
    return HFBackend(spec.model_path, model_name=spec.model)


def describe_backend(spec: BackendSpec) -> str:
    """How the judge is reached, for the plan."""
    if spec.kind == "hf":
        return f"local model {spec.model_path}"
    if spec.kind == "anthropic":
        from mtbench.backends import anthropic_api as provider

        api, default_url = "Anthropic Messages API", provider.ANTHROPIC_URL
    else:
        from mtbench.backends import openai_compat as provider  # type: ignore[no-redef]

        api, default_url = "OpenAI-compatible API", provider.OPENAI_URL
    url = spec.base_url or os.environ.get(provider.BASE_URL_ENV) or default_url
    return f"'{spec.model}' via the {api} at {url}"


def preflight(backend: Backend) -> None:
    """One tiny request, so a wrong key, URL or model fails now rather than mid-run.

    Local backends are skipped (loading the model already proved it works).

    Raises:
        AuthError, RequestError: as the backend reports them.
        BackendError: if the judge cannot be reached after a few tries.
    """
    if not backend.concurrent:
        return
    complete = getattr(backend, "complete", None)
    params = GenerationParams(max_new_tokens=16, temperature=0.0)
    try:
        if complete is not None:
            complete(PREFLIGHT_MESSAGES, params, retry=RetryPolicy(max_attempts=3))
        else:
            backend.generate([PREFLIGHT_MESSAGES], params)
    except (AuthError, RequestError):
        raise
    except BackendError as error:
        raise BackendError(f"the judge did not answer a test request: {error}") from None
