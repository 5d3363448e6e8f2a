"""One registry of backend kinds, used by `mtbench-gen`, `mtbench-judge` and Ray replicas alike.

A `BackendSpec` says which kind of backend to open, for which model, with which options; it is
a frozen, picklable value, so a Ray replica receives the same spec the driver built and opens
its own copy. `open_backend` imports a kind's SDK or engine only when that kind is opened, so
`import mtbench` never pulls in openai, anthropic, torch or vLLM.

    kind        what answers                                        model / model_path
    openai      an OpenAI-compatible API (OpenAI, vLLM's server...)  model: the served name
    anthropic   Anthropic's Messages API                             model: e.g. claude-3-5-...
    hf          a transformers model loaded here                     model_path: what to load
    vllm        vLLM's offline engine, loaded here                   model_path: what to load
    llamacpp    llama.cpp (llama-cpp-python) on a GGUF file, here    model_path: the .gguf file
    fake        scripted replies, no model (`mtbench.backends.fake`) model: the reported name
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mtbench.backends.base import Backend
from mtbench.backends.retry import RetryCallback, RetryPolicy
from mtbench.errors import ConfigError

KINDS = ("openai", "anthropic", "hf", "vllm", "llamacpp", "fake")
"""Every backend kind `open_backend` can open."""

API_KINDS = ("openai", "anthropic")
"""Kinds that send each conversation to a remote API (one request each, retried)."""

LOCAL_KINDS = ("hf", "vllm", "llamacpp")
"""Kinds that load a model in this process (or in each Ray replica)."""

OPENAI_APIS = ("chat", "responses")
"""The request shapes of the `openai` kind (its option `api`): chat completions (default),
or OpenAI's Responses API (`mtbench.backends.openai_responses`)."""

AUTO = "auto"
"""Not a kind: asks `resolve_kind` to choose one from the model name and path."""


@dataclass(frozen=True)
class BackendSpec:
    """Which backend to open, for which model, and how.

    Attributes:
        kind: One of `KINDS`.
        model: The model's name: what an API is asked for, and the `model_name` of every kind.
        model_path: What a local kind loads (a folder, hub id or `.gguf` file); None for the
            others.
        base_url: The API root, if not the provider's default (API kinds).
        api_key_env: The environment variable holding the API key (None: the provider's).
        timeout: Seconds one API request may take.
        max_attempts: Attempts per API call, retries included.
        options: Further keyword arguments of the backend class (the engine options of `hf`
            and `vllm`, e.g. `dtype`, `batch_size`; the `replies` of `fake`); for `openai`,
            also `api`, one of `OPENAI_APIS`, which picks the class.
        key_flag: The running command's flag that names the key variable, for messages.
        model_flag: The running command's flag that names the model, for messages.
        path_flag: The running command's flag for `model_path`, for messages.
        kind_flag: The running command's flag that chose the kind, for messages.
    """

    kind: str
    model: str
    model_path: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = 300.0
    max_attempts: int = 10
    options: Mapping[str, Any] = field(default_factory=dict)
    key_flag: str = "--api-key-env"
    model_flag: str = "--model"
    path_flag: str = "--model-path"
    kind_flag: str = "--backend"


def resolve_kind(kind: str, model: str, model_path: str | None, base_url: str | None) -> str:
    """The concrete kind for `auto`; any other kind is checked and returned as given.

    `auto` picks `local_kind(model_path)` when a model path is given, `anthropic` for
    `claude-*` names unless a base URL points elsewhere, and `openai` otherwise.

    Raises:
        ConfigError: for a kind that is neither `auto` nor one of `KINDS`.
    """
    if kind != AUTO and kind not in KINDS:
        raise ConfigError(f"unknown backend {kind!r}; choose one of: {', '.join(KINDS)}")
    if kind != AUTO:
        return kind
    if model_path:
        return local_kind(model_path)
    if model.startswith("claude") and not base_url:
        return "anthropic"
    return "openai"


def local_kind(model_path: str) -> str:
    """The engine that runs a local model by default: `llamacpp` for a `.gguf` file when
    llama-cpp-python is installed (natively, as the file's quantized weights), else `hf`
    (transformers, which de-quantizes a GGUF file)."""
    if model_path.lower().endswith(".gguf") and llama_cpp_installed():
        return "llamacpp"
    return "hf"


def llama_cpp_installed() -> bool:
    """Whether llama-cpp-python can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except ValueError:  # blocked in sys.modules (set to None)
        return False


def open_backend(spec: BackendSpec, on_retry: RetryCallback | None = None) -> Backend:
    """Create the backend a spec describes (a local kind loads its model now).

    Args:
        spec: What to open.
        on_retry: Told about every retry of an API backend (progress bars).

    Raises:
        ConfigError: for an unknown kind, a local kind without `model_path`, or a missing key.
        MissingDependencyError: when the kind's SDK or engine is not installed.
        BackendError: when a local engine cannot start.
    """
    factory = _FACTORIES.get(spec.kind)
    if factory is None:
        raise ConfigError(f"unknown backend {spec.kind!r}; choose one of: {', '.join(KINDS)}")
    return factory(spec, on_retry)


def describe_backend(spec: BackendSpec) -> str:
    """How a spec's backend is reached, in a few words (for plans and logs)."""
    if spec.kind in LOCAL_KINDS:
        engine = {"hf": "transformers", "vllm": "vLLM", "llamacpp": "llama.cpp"}[spec.kind]
        return f"local model {spec.model_path} ({engine})"
    if spec.kind == "fake":
        return "scripted replies (fake backend, no model)"
    if spec.kind == "anthropic":
        api = "Anthropic Messages API"
    elif spec.options.get("api") == "responses":
        api = "OpenAI Responses API"
    else:
        api = "OpenAI-compatible API"
    return f"'{spec.model}' via the {api} at {api_url(spec)}"


def api_url(spec: BackendSpec) -> str:
    """The API root an API kind's spec reaches: its `base_url`, else the provider's variable
    (`$OPENAI_BASE_URL`, `$ANTHROPIC_BASE_URL`), else the provider's own URL."""
    default_url, url_env = _provider_url(spec.kind)
    return spec.base_url or os.environ.get(url_env) or default_url


def provider_api(spec: BackendSpec) -> bool:
    """Whether an API kind's spec reaches the provider itself (OpenAI's or Anthropic's URL),
    whose list prices apply, rather than a server of someone else's (vLLM, a proxy)."""
    if spec.kind not in API_KINDS:
        return False
    default_url, _ = _provider_url(spec.kind)
    return api_url(spec).rstrip("/").startswith(default_url.rstrip("/"))


def _provider_url(kind: str) -> tuple[str, str]:
    """The provider's own API root and the variable that overrides it, for an API kind."""
    if kind == "anthropic":
        from mtbench.backends import anthropic_api

        return anthropic_api.ANTHROPIC_URL, anthropic_api.BASE_URL_ENV
    from mtbench.backends import openai_compat

    return openai_compat.OPENAI_URL, openai_compat.BASE_URL_ENV


def _open_openai(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    arguments = _api_arguments(spec)
    api = arguments.pop("api", "chat")
    if api not in OPENAI_APIS:
        raise ConfigError(f"unknown OpenAI API {api!r}; choose one of: {', '.join(OPENAI_APIS)}")
    if api == "responses":
        from mtbench.backends.openai_responses import OpenAIResponsesBackend

        return OpenAIResponsesBackend(spec.model, on_retry=on_retry, **arguments)
    from mtbench.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(spec.model, on_retry=on_retry, **arguments)


def _open_anthropic(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    from mtbench.backends.anthropic_api import AnthropicBackend

    return AnthropicBackend(spec.model, on_retry=on_retry, **_api_arguments(spec))


def _api_arguments(spec: BackendSpec) -> dict[str, Any]:
    return {
        "base_url": spec.base_url,
        "api_key_env": spec.api_key_env,
        "timeout": spec.timeout,
        "retry": RetryPolicy(max_attempts=spec.max_attempts),
        "key_flag": spec.key_flag,
        "model_flag": spec.model_flag,
        **spec.options,
    }


def _open_hf(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    from mtbench.backends.hf import HFBackend

    return HFBackend(
        _local_path(spec), model_name=spec.model, path_flag=spec.path_flag, **spec.options
    )


def _open_vllm(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    from mtbench.backends.vllm import VLLMBackend

    return VLLMBackend(
        _local_path(spec),
        model_name=spec.model,
        path_flag=spec.path_flag,
        kind_flag=spec.kind_flag,
        **spec.options,
    )


def _open_llamacpp(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    from mtbench.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(
        _local_path(spec),
        model_name=spec.model,
        path_flag=spec.path_flag,
        kind_flag=spec.kind_flag,
        **spec.options,
    )


def _local_path(spec: BackendSpec) -> str:
    if not spec.model_path:
        raise ConfigError(f"a {spec.kind} backend needs a model path (a folder, hub id or .gguf)")
    return spec.model_path


def _open_fake(spec: BackendSpec, on_retry: RetryCallback | None) -> Backend:
    from mtbench.backends.fake import FakeBackend

    return FakeBackend(model_name=spec.model, **spec.options)


_FACTORIES: dict[str, Callable[[BackendSpec, RetryCallback | None], Backend]] = {
    "openai": _open_openai,
    "anthropic": _open_anthropic,
    "hf": _open_hf,
    "vllm": _open_vllm,
    "llamacpp": _open_llamacpp,
    "fake": _open_fake,
}
