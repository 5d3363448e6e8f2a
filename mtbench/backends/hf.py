"""The local Hugging Face transformers backend: batched generation on CPU or GPU.

Conversations are rendered (`PromptFormat`), sorted by prompt length, cut into batches,
left-padded and generated together. Each reply is then truncated exactly where a one-prompt
generation would have stopped (the model's EOS, or the template's stop ids / stop string, which
end a reply early instead of running on to `max_new_tokens` as FastChat does), and post-processed
as FastChat does. In float32, batched greedy replies equal one-at-a-time replies.

Usable on its own, e.g. to run a local model as a judge:

    backend = HFBackend("path/or/hub-id", dtype="bfloat16")
    backend.generate([[{"role": "user", "content": "Hi"}]], GenerationParams(max_new_tokens=64))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.conv_templates import ConvTemplate
from mtbench.backends.hf_decoding import ReplyEnds, sampling_kwargs
from mtbench.backends.hf_loading import (
    default_cpu_threads,
    dtype_note,
    import_transformers,
    load_model,
)
from mtbench.backends.local import LocalBackend
from mtbench.errors import BackendError, first_line

logger = logging.getLogger(__name__)

CPU_BATCH_SIZE = 16
MAX_GPU_BATCH_SIZE = 64


class HFBackend(LocalBackend):
    """A transformers causal LM as a `Backend`.

    Args:
        model_path: A model folder, a `.gguf` file or a Hugging Face hub id.
        model_name: Name reported as `model_name` (default: `model_path`).
        conv_template: A legacy FastChat template (or its name); None uses the tokenizer's chat
            template, and a model without one is a `ConfigError`.
        revision: Hub revision of weights and tokenizer.
        dtype: `float32`, `float16`, `bfloat16` or `auto`; default float16 on GPU, float32 on CPU.
        device: `cuda` or `cpu`; default `cuda` when a GPU is visible.
        num_gpus: GPUs to split the model over (FastChat's `--num-gpus-per-model`).
        max_gpu_memory: Per-GPU memory cap such as `40GiB` when splitting over several GPUs.
        batch_size: Conversations per forward batch; None picks one from the device's memory.
        num_threads: Torch CPU threads on CPU (default: `hf_loading.default_cpu_threads`, the
            cores not kept busy by other work; `OMP_NUM_THREADS`, when set, wins). The count
            in use is `self.num_threads` (None on GPU).
        trust_remote_code: Allow model code from the hub.
        cache_dir: Cache for converted GGUF files.
        path_flag: The running command's flag for `model_path`, named in errors
            (`--judge-model-path` when judging).
    """

    def __init__(
        self,
        model_path: str,
        *,
        model_name: str | None = None,
        conv_template: ConvTemplate | str | None = None,
        revision: str = "main",
        dtype: str | None = None,
        device: str | None = None,
        num_gpus: int = 1,
        max_gpu_memory: str | None = None,
        batch_size: int | None = None,
        num_threads: int | None = None,
        trust_remote_code: bool = False,
        cache_dir: str | None = None,
        path_flag: str = "--model-path",
    ):
        # Bad paths, tokenizers and templates fail before the model loads.
        source = self._open_format(
            model_path, model_name, conv_template, revision, trust_remote_code, cache_dir, path_flag
        )
        torch, _transformers = import_transformers()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.num_threads: int | None = None
        if self.device == "cpu":
            threads = num_threads or default_cpu_threads()
            if threads:
                torch.set_num_threads(threads)
            self.num_threads = int(torch.get_num_threads())
            logger.info("generating on CPU with %d torch thread(s)", self.num_threads)
        elif num_threads:
            torch.set_num_threads(num_threads)
        self.model = load_model(
            source,
            device=self.device,
            dtype=dtype,
            revision=revision,
            num_gpus=num_gpus,
            max_gpu_memory=max_gpu_memory,
            trust_remote_code=trust_remote_code,
            path_flag=path_flag,
        )
        self.dtype_name = str(self.model.dtype).removeprefix("torch.")
        self.dtype_note = dtype_note(dtype, self.device, self.dtype_name)
        generation_config = self.model.generation_config
        self.eos_ids = _id_set(generation_config.eos_token_id)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = generation_config.pad_token_id
        if pad is None:
            pad = min(self.eos_ids) if self.eos_ids else 0
        self.pad_id = int(pad)
        self._batch_size = batch_size

    @property
    def input_device(self) -> Any:
        return self.model.device if self.model.device.type != "meta" else self.device

    def batch_size(self, max_new_tokens: int, prompt_tokens: int = 1024) -> int:
        """The batch size in use: the one given, else one sized to the device's free memory."""
        if self._batch_size:
            return self._batch_size
        if self.device != "cuda":
            return CPU_BATCH_SIZE
        torch, _ = import_transformers()
        free, _total = torch.cuda.mem_get_info()
        per_token = _kv_bytes_per_token(self.model)
        fit = int(free * 0.8 // max(1, per_token * (prompt_tokens + max_new_tokens)))
        return max(1, min(MAX_GPU_BATCH_SIZE, fit))

    def generate_each(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> list[str]:
        """Reply to each conversation with its own sampling parameters.

        Conversations that differ only in temperature share batches: each row is sampled at
        its own temperature, and greedy rows stay exactly greedy. Rows with a different token
        limit or seed go into separate batches.
        """
        encoded = [self.format.encode(c) for c in conversations]
        replies: list[str] = [""] * len(encoded)
        kinds: dict[tuple[int, int | None], list[int]] = {}
        for index, p in enumerate(params):
            kinds.setdefault((p.max_new_tokens, p.seed), []).append(index)
        for indices in kinds.values():
            # Longest first: similar lengths share a batch, and memory trouble shows at once.
            order = sorted(indices, key=lambda i: -len(encoded[i]))
            start = 0
            while start < len(order):
                longest = len(encoded[order[start]])
                size = self.batch_size(params[order[start]].max_new_tokens, longest)
                chunk = order[start : start + size]
                try:
                    outputs = self._generate_batch(
                        [encoded[i] for i in chunk], [params[i] for i in chunk]
                    )
                except RuntimeError as exc:
                    if not _out_of_memory(exc) or len(chunk) == 1:
                        raise BackendError(f"generation failed: {first_line(exc)}") from exc
                    self._shrink_after_oom(len(chunk))
                    continue
                for index, (ids, reason) in zip(chunk, outputs, strict=True):
                    text = self.format.reply(conversations[index], ids)
                    replies[index] = Reply(text, reason)
                start += len(chunk)
        return replies

    def _shrink_after_oom(self, size: int) -> None:
        torch, _ = import_transformers()
        if self.device == "cuda":
            torch.cuda.empty_cache()
        self._batch_size = max(1, size // 2)
        logger.warning("out of memory at batch size %d; retrying with %d", size, self._batch_size)

    def _generate_batch(
        self, prompts: list[list[int]], params: list[GenerationParams]
    ) -> list[tuple[list[int], str]]:
        """Generated ids of each prompt, cut where the reply ended, and why it ended."""
        torch, transformers = import_transformers()
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts])
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        ends = ReplyEnds(
            prompt_width=width,
            batch=len(prompts),
            end_ids=self.eos_ids | set(self.format.stop_token_ids),
            stop_str=self.format.stop_str,
            tokenizer=self.tokenizer,
            on_step=self.token_listener,
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": params[0].max_new_tokens,
            "pad_token_id": self.pad_id,
            "stopping_criteria": transformers.StoppingCriteriaList([ends.criterion()]),
            **sampling_kwargs(params, self.model.generation_config),
        }
        device = self.input_device
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
            )
        generated = output[:, width:].tolist()
        replies = []
        for row, ids in enumerate(generated):
            end = ends.ends[row]
            # Generation stops when every row has ended or at max_new_tokens: no end = capped.
            reason = "stop" if end is not None else "length"
            end = end if end is not None else len(ids)
            replies.append((ids[:end], reason))
            self.tokens_generated += end
        return replies

    def close(self) -> None:
        """Free the model (and GPU memory)."""
        self.model = None
        torch, _ = import_transformers()
        if self.device == "cuda":
            torch.cuda.empty_cache()


def _id_set(value: Any) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return {int(v) for v in value}


def _kv_bytes_per_token(model: Any) -> int:
    config = model.config
    config = getattr(config, "text_config", None) or config
    layers = getattr(config, "num_hidden_layers", 32)
    heads = getattr(config, "num_attention_heads", 32)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or getattr(config, "hidden_size", 4096) // heads
    element = model.dtype.itemsize if hasattr(model.dtype, "itemsize") else 2
    return int(2 * layers * kv_heads * head_dim * element)


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
    )
