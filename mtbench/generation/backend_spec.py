"""A picklable recipe for a local backend, so that Ray replicas can each build their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mtbench.backends.base import Backend
from mtbench.errors import ConfigError

LOCAL_BACKENDS = ("hf", "vllm")
"""`--backend` values that run a model in this process (or its Ray replicas)."""

API_BACKENDS = ("openai",)
"""`--backend` values that send each conversation to an OpenAI-compatible server."""

BACKENDS = LOCAL_BACKENDS + API_BACKENDS


@dataclass(frozen=True)
class BackendSpec:
    """Which backend class to build, for which model, with which keyword options.

    Attributes:
        kind: `hf` (transformers) or `vllm`.
        model_path: What the backend loads (a folder, hub id or `.gguf` file).
        options: Keyword arguments of the backend's constructor.
    """

    kind: str
    model_path: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Backend:
        """Create the backend (this loads the model)."""
        if self.kind == "hf":
            from mtbench.backends.hf import HFBackend

            return HFBackend(self.model_path, **self.options)
        if self.kind == "vllm":
            from mtbench.backends.vllm import VLLMBackend

            return VLLMBackend(self.model_path, **self.options)
        raise ConfigError(f"--backend {self.kind}: choose one of {', '.join(LOCAL_BACKENDS)}")
