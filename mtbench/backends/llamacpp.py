"""The llama.cpp backend: GGUF files run natively by llama.cpp, in this process.

llama-cpp-python's low-level API drives one llama.cpp context whose `parallel` sequences are
decoded together, continuously (`mtbench.backends.llamacpp_slots`: llama-server's slots without
the server). The backend is `concurrent`: callers hand it conversations from several threads
(`mtbench-gen` one conversation per call from `--parallel` threads, so a question's second turn
takes a slot as soon as its first turn ends; the judge likewise), and a call with many
conversations queues them all. Why in process rather than llama-server: no llama-server binary
is installed with llama-cpp-python (its own server is single-slot Python), and the batched API is
what llama-server itself runs, without HTTP in between.

Prompts are rendered and post-processed exactly as by the transformers backend
(`PromptFormat` over `GGUFTokenizer`, which reads the file's vocabulary and chat template):
the same prompt text and token ids, FastChat's stop rules and post-processing. Sampling is
llama.cpp's, per request (see `llamacpp_slots`): greedy replies are llama.cpp's arg-max over its
(quantized) weights, so they need not equal transformers' on the de-quantized float32 weights.

Install with `pip install 'mtbench-toolkit[llamacpp]'` (llama-cpp-python builds llama.cpp from
source: several minutes on 2 cores).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import Backend, Conversation, GenerationParams, Reply
from mtbench.backends.conv_templates import ConvTemplate
from mtbench.backends.llamacpp_slots import Request, SlotServer
from mtbench.backends.llamacpp_vocab import GGUFModel, GGUFTokenizer
from mtbench.backends.prompting import PromptFormat
from mtbench.errors import BackendError, ConfigError, TooLongError

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT = 4096
"""Tokens of prompt and reply per sequence when not given, at most the model's own context:
MT-bench's longest second-turn prompt with a 1024-token first answer, plus a 1024-token reply.
(Each sequence's KV cache is allocated whole: 23 KB per token for SmolLM2-135M, 128 KB for an
8B Llama 3.)"""

N_BATCH = 512
"""Tokens per `llama_decode` at most (llama.cpp's default batch)."""

MAX_PARALLEL = 256
"""llama.cpp's limit on the sequences of one context (`LLAMA_MAX_SEQ`)."""


def prompt_format(
    model_path: str,
    conv_template: ConvTemplate | str | None = None,
    *,
    model_name: str | None = None,
    path_flag: str = "--model-path",
) -> PromptFormat:
    """The prompt format of a GGUF file, from its vocabulary alone (no weights are loaded).

    Raises:
        ConfigError, MissingDependencyError: as `LlamaCppBackend`.
    """
    gguf = GGUFModel(model_path, vocab_only=True, path_flag=path_flag)
    try:
        return PromptFormat(GGUFTokenizer(gguf), conv_template, model_name=model_name or model_path)
    except BaseException:
        gguf.close()
        raise


class LlamaCppBackend(Backend):
    """A GGUF model run by llama.cpp as a `Backend` (see the module docstring).

    Args:
        model_path: The `.gguf` file.
        model_name: Name reported as `model_name` (default: `model_path`).
        conv_template: A legacy FastChat template (or its name); None uses the file's chat
            template, and a file without one is a `ConfigError`.
        parallel: Sequences decoded together (llama.cpp's slots; llama-server's `--parallel`).
        max_model_len: Tokens of prompt and reply per sequence (llama.cpp's `n_ctx` per
            sequence); None: `default_context`, at most the model's training context.
        default_context: See `max_model_len` (the judge, whose prompts hold whole answers,
            asks for more).
        num_threads: CPU threads of llama.cpp (default: `hf_loading.default_cpu_threads`, the
            cores not kept busy by other work).
        path_flag: The running command's flag for `model_path`, named in errors.
        kind_flag: The running command's flag that chose llama.cpp, named when it is missing.
        len_flag: The flag that sets `max_model_len`, named when a prompt does not fit (None:
            there is none).

    Raises:
        MissingDependencyError: llama-cpp-python is not installed.
        ConfigError: not a `.gguf` file, a file llama.cpp cannot load, no chat template, or
            `parallel` beyond `MAX_PARALLEL`.
        BackendError: the context cannot be created (memory).
    """

    concurrent = True
    per_row_params = True
    format: PromptFormat
    tokens_generated: int
    """Generated tokens so far, over all callers (an ending token included)."""

    def __init__(
        self,
        model_path: str,
        *,
        model_name: str | None = None,
        conv_template: ConvTemplate | str | None = None,
        parallel: int = 8,
        max_model_len: int | None = None,
        default_context: int = DEFAULT_CONTEXT,
        num_threads: int | None = None,
        path_flag: str = "--model-path",
        kind_flag: str = "--backend",
        len_flag: str | None = "--max-model-len",
    ):
        if not 1 <= parallel <= MAX_PARALLEL:
            raise ConfigError(
                f"--parallel {parallel}: llama.cpp decodes 1 to {MAX_PARALLEL} sequences together"
            )
        self.model_name = model_name or model_path
        self.len_flag = len_flag
        self.gguf = GGUFModel(model_path, path_flag=path_flag, kind_flag=kind_flag)
        self.lib = self.gguf.lib
        try:
            self.tokenizer = GGUFTokenizer(self.gguf)
            self.format = PromptFormat(self.tokenizer, conv_template, model_name=self.model_name)
        except BaseException:
            self.gguf.close()
            raise
        self.dtype_name = self.gguf.weights_type
        trained = self.gguf.n_ctx_train
        self.n_ctx_seq = max_model_len or min(default_context, trained or default_context)
        if num_threads is None:
            from mtbench.backends.hf_loading import default_cpu_threads

            num_threads = default_cpu_threads()
        self.num_threads = num_threads or 1
        self.parallel = parallel
        self.ctx = self._new_context()
        # llama.cpp rounds the context up (to a multiple of 256) and caps the batch at it.
        self.n_ctx_seq = int(self.lib.llama_n_ctx_seq(self.ctx))
        self.server = SlotServer(
            self.lib,
            self.ctx,
            self.gguf.vocab,
            slots=parallel,
            n_batch=int(self.lib.llama_n_batch(self.ctx)),
            n_ctx_seq=self.n_ctx_seq,
            end_ids=self.format.stop_token_ids,
            stop_str=self.format.stop_str,
            tokenizer=self.tokenizer,
        )
        self.tokens_generated = 0
        self._count_lock = threading.Lock()
        self._warned_full = False
        logger.info("%s: %s", model_path, self.describe())

    def _new_context(self) -> Any:
        lib = self.lib
        params = lib.llama_context_default_params()
        params.n_ctx = self.n_ctx_seq * self.parallel
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_seq_max = self.parallel
        params.n_threads = self.num_threads
        params.n_threads_batch = self.num_threads
        params.kv_unified = False  # one KV stream per sequence, as llama-server's slots
        params.no_perf = True
        ctx = lib.llama_init_from_model(self.gguf.model, params)
        if not ctx:
            self.gguf.close()
            raise BackendError(
                f"llama.cpp cannot create a context of {self.parallel} sequence(s) x "
                f"{self.n_ctx_seq} tokens (not enough memory?); lower --parallel"
                + (f" or {self.len_flag}" if self.len_flag else "")
            )
        return ctx

    def describe(self) -> str:
        """What runs the model, in one line: engine, weight type, slots, context, threads."""
        return (
            f"llama.cpp (llama-cpp-python {getattr(self.lib, '__version__', '?')}), "
            f"{self.dtype_name} weights, {self.parallel} sequence(s) decoded together, "
            f"{self.n_ctx_seq} tokens of context each, {self.num_threads} thread(s)"
        )

    def batch_size(self, max_new_tokens: int) -> int:
        """Conversations per call for callers that batch: every slot busy."""
        return self.parallel

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """Reply to each conversation: `generate_each` with the same parameters for all."""
        return self.generate_each(conversations, [params] * len(conversations))

    def generate_each(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> list[str]:
        """Reply to each conversation with its own sampling parameters.

        The conversations join the sequences being decoded (alongside other callers' calls)
        and the call returns when all have their replies. Each `Reply` has `finish_reason` and
        `meta["usage"]` (`input_tokens`, `output_tokens`).

        Raises:
            ValueError: if `params` and `conversations` differ in length.
            TooLongError: a prompt longer than a sequence's context (naming `len_flag`).
            BackendError: llama.cpp failed, or the backend was closed or cancelled.
        """
        if len(params) != len(conversations):
            raise ValueError(f"{len(conversations)} conversations but {len(params)} params")
        requests = [
            Request(self.format.encode(c), p) for c, p in zip(conversations, params, strict=True)
        ]
        self.server.submit(requests)
        try:
            for request in requests:
                request.done.wait()
        finally:
            for request in requests:
                if not request.done.is_set():
                    request.cancelled = True  # interrupted: free its slot
        replies: list[str] = []
        for conversation, request in zip(conversations, requests, strict=True):
            if request.error is not None:
                raise self._explain(request)
            if request.context_full:
                self._warn_full()
            text = self.format.reply(conversation, request.tokens)
            usage = {"input_tokens": len(request.prompt), "output_tokens": len(request.tokens)}
            replies.append(Reply(text, request.finish_reason, meta={"usage": usage}))
            with self._count_lock:
                self.tokens_generated += len(request.tokens)
        return replies

    def _explain(self, request: Request) -> BackendError:
        error = request.error
        assert error is not None
        if len(request.prompt) >= self.n_ctx_seq:
            remedy = f"raise it with {self.len_flag}" if self.len_flag else "it is fixed here"
            return TooLongError(
                f"the prompt is {len(request.prompt)} tokens, more than the context of "
                f"{self.n_ctx_seq} tokens per sequence (n_ctx) leaves room for; {remedy} "
                f"(the model was trained with {self.gguf.n_ctx_train})"
            )
        return error

    def _warn_full(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "a reply reached the end of its context (%d tokens per sequence) before the "
                "token limit and was cut there (finish_reason length)%s",
                self.n_ctx_seq,
                f"; raise {self.len_flag}" if self.len_flag else "",
            )

    def cancel(self) -> None:
        """End every reply in progress with an error: the run is stopping."""
        self.server.fail_all(BackendError("generation cancelled"))

    def close(self) -> None:
        """Stop decoding and free the context and the model."""
        server = getattr(self, "server", None)
        if server is None:
            return
        self.server = None  # type: ignore[assignment]
        if not server.close():
            return  # still decoding: leave the memory to the process's end
        self.lib.llama_free(self.ctx)
        self.gguf.close()
