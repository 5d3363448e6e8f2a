"""The vLLM backend: vLLM's offline engine (`vllm.LLM`) for fast generation on GPUs.

Prompts are rendered and tokenized by mtbench (`PromptFormat`, the same as the transformers
backend) and handed to vLLM as token ids, and replies go through the same FastChat
post-processing, so both backends write the same kind of answers. vLLM schedules all
conversations of a call itself (continuous batching), so the driver hands it large batches.

Sampling follows what FastChat gets from transformers: the given temperature (greedy below
1e-4), the model's `generation_config` values of `top_k` (transformers' default 50), `top_p` and
`repetition_penalty`, and a per-request seed (the choice index). The template's stop token ids
end a reply early; the stop string does not, because FastChat keeps a stop string found at
position 0, and vLLM would stop there.

vLLM is imported only when this backend is built; without it the error names the extra.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.conv_templates import ConvTemplate
from mtbench.backends.hf_decoding import TRANSFORMERS_TOP_K
from mtbench.backends.local import LocalBackend
from mtbench.errors import BackendError, MissingDependencyError, first_line

logger = logging.getLogger(__name__)

VLLM_BATCH_SIZE = 1024
"""Conversations per call: vLLM batches internally, so hand it (nearly) everything at once."""


def import_vllm(kind_flag: str = "--backend") -> Any:
    """Import vLLM, or say which extra provides it (naming `{kind_flag} vllm`)."""
    try:
        import vllm
    except ImportError:
        raise MissingDependencyError("vllm", "vllm", f"{kind_flag} vllm") from None
    return vllm


class VLLMBackend(LocalBackend):
    """A model on vLLM's offline engine as a `Backend`.

    Args:
        model_path: A model folder, a `.gguf` file (converted once, as for transformers) or a
            Hugging Face hub id.
        model_name: Name reported as `model_name` (default: `model_path`).
        conv_template: A legacy FastChat template (or its name); None uses the chat template.
        revision: Hub revision of weights and tokenizer.
        dtype: `float32`, `float16`, `bfloat16` or `auto` (vLLM's choice, the default).
        num_gpus: Tensor-parallel size (GPUs that hold one copy of the model).
        gpu_memory_utilization: Share of each GPU's memory vLLM may take.
        max_model_len: Context length cap (default: the model's).
        trust_remote_code: Allow model code from the hub.
        cache_dir: Cache for converted GGUF files.
        path_flag: The running command's flag for `model_path`, named in errors
            (`--judge-model-path` when judging).
        kind_flag: The running command's flag that chose vLLM, named when it is missing.
    """

    def __init__(
        self,
        model_path: str,
        *,
        model_name: str | None = None,
        conv_template: ConvTemplate | str | None = None,
        revision: str = "main",
        dtype: str | None = None,
        num_gpus: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        trust_remote_code: bool = False,
        cache_dir: str | None = None,
        path_flag: str = "--model-path",
        kind_flag: str = "--backend",
    ):
        vllm = import_vllm(kind_flag)
        source = self._open_format(
            model_path, model_name, conv_template, revision, trust_remote_code, cache_dir, path_flag
        )
        self.sampling_defaults = generation_defaults(source, revision, trust_remote_code)
        engine_args: dict[str, Any] = {
            "model": source,
            "tokenizer": source,
            "revision": revision,
            "tokenizer_revision": revision,
            "dtype": dtype or "auto",
            "tensor_parallel_size": num_gpus,
            "gpu_memory_utilization": gpu_memory_utilization,
            "trust_remote_code": trust_remote_code,
        }
        if max_model_len:
            engine_args["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**engine_args)
        except (RuntimeError, ValueError, OSError) as exc:
            raise BackendError(
                f"vLLM cannot load {model_path}: {first_line(exc)}{_memory_hint(exc)}"
            ) from exc
        self._sampling_class = vllm.SamplingParams

    def batch_size(self, max_new_tokens: int) -> int:
        return VLLM_BATCH_SIZE

    def generate_each(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> list[str]:
        """Reply to each conversation with its own sampling parameters (one vLLM call)."""
        prompts = [{"prompt_token_ids": self.format.encode(c)} for c in conversations]
        stop_ids = self.format.stop_token_ids
        sampling = [
            self._sampling_class(**sampling_kwargs(p, self.sampling_defaults, stop_ids))
            for p in params
        ]
        try:
            outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"vLLM generation failed: {first_line(exc)}") from exc
        replies: list[str] = []
        for conversation, output in zip(conversations, outputs, strict=True):
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            self.tokens_generated += len(ids)
            text = self.format.reply(conversation, ids)
            replies.append(Reply(text, getattr(completion, "finish_reason", None)))
        return replies

    def close(self) -> None:
        self.llm = None


def generation_defaults(source: str, revision: str, trust_remote_code: bool) -> dict[str, Any]:
    """The sampling knobs FastChat inherits from the model's generation config."""
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code
        )
    except OSError:
        config = GenerationConfig()
    return {
        "top_k": config.top_k if config.top_k is not None else TRANSFORMERS_TOP_K,
        "top_p": config.top_p if config.top_p is not None else 1.0,
        "repetition_penalty": config.repetition_penalty or 1.0,
    }


def sampling_kwargs(
    params: GenerationParams, defaults: dict[str, Any], stop_token_ids: Sequence[int]
) -> dict[str, Any]:
    """Keyword arguments of `vllm.SamplingParams` for one call (see the module docstring)."""
    kwargs: dict[str, Any] = {
        "n": 1,
        "max_tokens": params.max_new_tokens,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        # transformers applies a configured repetition penalty in greedy decoding too.
        "repetition_penalty": defaults["repetition_penalty"],
    }
    if stop_token_ids:
        kwargs["stop_token_ids"] = list(stop_token_ids)
    if params.greedy:
        kwargs["temperature"] = 0.0
    else:
        kwargs["temperature"] = params.temperature
        kwargs["seed"] = params.seed
        kwargs["top_k"] = defaults["top_k"] if defaults["top_k"] and defaults["top_k"] > 0 else -1
        kwargs["top_p"] = defaults["top_p"]
    return kwargs


def _memory_hint(exc: BaseException) -> str:
    """Point at mtbench's flags when vLLM's advice names its own engine arguments."""
    text = str(exc).lower()
    if any(word in text for word in ("memory", "kv cache", "max_model_len", "max seq len")):
        return " (mtbench-gen: --max-model-len, --gpu-memory-utilization)"
    return ""
