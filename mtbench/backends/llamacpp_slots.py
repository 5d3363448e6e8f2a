"""Continuous batching on llama.cpp: several sequences decoded together, as llama-server's slots.

One thread owns the llama.cpp context and runs the decoding loop. Callers from any thread submit
`Request`s (a prompt's token ids and how to sample) and wait for them. Each of the context's
`slots` sequences holds one request at a time; every step is one `llama_decode` over one batch
that carries the next token of every sequence that is generating, plus pieces of the prompts of
sequences that are starting (prompt processing), up to `n_batch` tokens. A sequence that ends
frees its slot at once and the next waiting request takes it, so no sequence waits for the
longest one of a batch. This is what llama-server does with `--parallel N`, without HTTP.

Each sequence has its own KV stream (`kv_unified` off): its attention sees only its own cells,
and `n_ctx_seq` tokens of prompt and reply fit in it. A slot keeps its cells after its request
ends, and a request takes the free slot whose cells share the longest prefix with its prompt
(least recently used among equals), keeping those cells and processing only the rest: so a
question's second turn, whose prompt starts with its first turn's prompt and answer, costs only
its new tokens (llama-server's prompt cache). On CPU, processing a prompt token costs about as
much as generating one, so without this a second turn would pay for its first answer twice.

Each request has its own sampler chain (llama.cpp's samplers): greedy (arg-max) below
temperature 1e-4, else temperature, top-k, top-p and a draw from a generator seeded with the
request's seed, in transformers' order, so a sampled reply depends on its seed only, not on what
else is decoded alongside it.

A reply ends at an end-of-generation token of the model (llama.cpp's `llama_vocab_is_eog`: EOS,
EOT, ...), a template stop id, once the template's stop string first appears after position 0
of its text (FastChat cuts there; a stop string at position 0 stops nothing), at
`max_new_tokens`, or where the sequence's context is full.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mtbench.backends.base import GenerationParams
from mtbench.backends.hf_decoding import TRANSFORMERS_TOP_K, find_stop_str
from mtbench.errors import BackendError

logger = logging.getLogger(__name__)


@dataclass
class Request:
    """One prompt to reply to, and, once `done` is set, its reply.

    Attributes:
        prompt: The prompt's token ids.
        params: How to sample (`max_new_tokens`, temperature, seed).
        tokens: The reply's token ids (an ending token included, as transformers returns it).
        finish_reason: `stop` (the model or a stop rule ended it) or `length` (the token limit
            or the end of the context cut it).
        error: Why it failed, if it did.
        done: Set when the reply is complete or failed.
        cancelled: Set by the caller that stopped waiting: the slot is freed.
    """

    prompt: list[int]
    params: GenerationParams
    tokens: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    error: BackendError | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    context_full: bool = False
    """Whether the end of the sequence's context cut the reply (before `max_new_tokens`)."""


@dataclass
class _Slot:
    seq: int
    request: Request | None = None
    sampler: Any = None
    fed: int = 0
    """Tokens of this sequence in the KV cache (prompt and reply)."""
    cached: list[int] = field(default_factory=list)
    """The tokens in the KV cache, positions 0 to `fed - 1` (kept for the next request)."""
    used: int = 0
    """When the slot last took a request (a counter), to pick the least recently used."""
    output: int = -1
    """Index in the current batch of the token whose logits sample the next token; -1: none."""
    stop_settled: bool = False


class SlotServer:
    """The decoding loop over a llama.cpp context with `slots` sequences (see module docstring).

    Args:
        lib: The `llama_cpp` module.
        ctx: The context (created with `n_seq_max >= slots`, one KV stream per sequence).
        vocab: The model's vocabulary.
        slots: Sequences decoded together.
        n_batch: Tokens per `llama_decode` at most (the context's `n_batch`).
        n_ctx_seq: Tokens of prompt and reply one sequence holds.
        end_ids: Template stop ids, ending a reply as the model's end-of-generation tokens do.
        stop_str: The template's stop string, if any.
        tokenizer: Decodes replies to look for the stop string (`decode(ids,
            spaces_between_special_tokens=False)`, as `llamacpp_vocab.GGUFTokenizer`); needed
            only with `stop_str`.
    """

    def __init__(
        self,
        lib: Any,
        ctx: Any,
        vocab: Any,
        *,
        slots: int,
        n_batch: int,
        n_ctx_seq: int,
        end_ids: Sequence[int] = (),
        stop_str: str | None = None,
        tokenizer: Any = None,
    ):
        self.lib = lib
        self.ctx = ctx
        self.vocab = vocab
        self.n_batch = n_batch
        self.n_ctx_seq = n_ctx_seq
        self.end_ids = frozenset(end_ids)
        self.stop_str = stop_str
        self.tokenizer = tokenizer
        self.memory = lib.llama_get_memory(ctx)
        self.batch = lib.llama_batch_init(n_batch, 0, 1)
        self.slots = [_Slot(seq) for seq in range(slots)]
        self.waiting: deque[Request] = deque()
        self.reused = 0
        """Prompt tokens found in a slot's cache instead of being processed."""
        self.broken: BackendError | None = None
        self._admitted = 0
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mtbench-llamacpp", daemon=True)
        self._thread.start()

    def submit(self, requests: Sequence[Request]) -> None:
        """Queue requests; each one's `done` is set when its reply is complete or failed."""
        with self._wake:
            for request in requests:
                if self.broken is not None or self._closed:
                    request.error = self.broken or BackendError("the llama.cpp model was closed")
                    request.done.set()
                else:
                    self.waiting.append(request)
            self._wake.notify()

    @property
    def busy(self) -> int:
        """Requests waiting for a slot or being decoded."""
        with self._wake:
            return len(self.waiting) + sum(s.request is not None for s in self.slots)

    def fail_all(self, error: BackendError) -> None:
        """End every waiting and running request with `error` (the run is stopping)."""
        with self._wake:
            pending = list(self.waiting) + [s.request for s in self.slots if s.request]
            self.waiting.clear()
            for request in pending:
                request.cancelled = True
                if not request.done.is_set():
                    request.error = error
                    request.done.set()
            self._wake.notify()

    def close(self) -> bool:
        """Stop the loop (failing what is left) and free the batch and samplers.

        Returns:
            Whether the loop stopped (False: stuck in a decode after 60 s; its memory is left
            to the process's end, and the context must not be freed either).
        """
        self.fail_all(BackendError("the llama.cpp model was closed"))
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            return False
        for slot in self.slots:
            self._free_sampler(slot)
        self.lib.llama_batch_free(self.batch)
        return True

    # --- the loop (its own thread) ---

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._closed and not self._has_work():
                        self._wake.wait()
                    if self._closed:
                        return
                    self._admit()
                self._step()
        except Exception as exc:  # noqa: BLE001 - every waiting caller must hear of it
            error = BackendError(f"llama.cpp generation failed: {exc}")
            with self._wake:
                self.broken = error
            self.fail_all(error)

    def _has_work(self) -> bool:
        return bool(self.waiting) or any(s.request for s in self.slots)

    def _admit(self) -> None:
        """Move waiting requests into free slots (holding the lock)."""
        for slot in self.slots:
            if slot.request is not None and slot.request.cancelled:
                self._release(slot, keep_cache=False)
        free = [slot for slot in self.slots if slot.request is None]
        while free and self.waiting:
            request = self.waiting.popleft()
            if request.cancelled:
                continue
            if len(request.prompt) >= self.n_ctx_seq or not request.prompt:
                request.error = BackendError(
                    f"the prompt has {len(request.prompt)} tokens, the context only "
                    f"{self.n_ctx_seq} per sequence (n_ctx)"
                )
                request.done.set()
                continue
            shared = {
                id(slot): len(os.path.commonprefix([slot.cached, request.prompt])) for slot in free
            }
            slot = max(free, key=lambda s: (shared[id(s)], -s.used))
            free.remove(slot)
            # Keep the shared cells; at least the prompt's last token is processed (its logits).
            keep = min(shared[id(slot)], len(request.prompt) - 1)
            if not self.lib.llama_memory_seq_rm(self.memory, slot.seq, keep, -1):
                self.lib.llama_memory_seq_rm(self.memory, slot.seq, -1, -1)
                keep = 0  # a cache that cannot drop a tail (recurrent models): start over
            self.reused += keep
            self._admitted += 1
            slot.request = request
            slot.sampler = self._sampler(request.params)
            slot.fed = keep
            slot.cached = slot.cached[:keep]
            slot.used = self._admitted
            slot.stop_settled = self.stop_str is None

    def _step(self) -> None:
        """One `llama_decode`: a token of every generating sequence, then prompt pieces."""
        batch = self.batch
        count = 0
        active = [s for s in self.slots if s.request is not None]
        for slot in active:
            slot.output = -1
            request = slot.request
            assert request is not None
            if slot.fed >= len(request.prompt):  # generating: feed the last sampled token
                self._add(count, request.tokens[-1], slot.fed, slot.seq, True)
                slot.cached.append(request.tokens[-1])
                slot.output = count
                slot.fed += 1
                count += 1
        for slot in active:
            request = slot.request
            assert request is not None
            left = len(request.prompt) - slot.fed
            if left <= 0 or count >= self.n_batch:
                continue
            take = min(left, self.n_batch - count)
            for offset in range(take):
                last = offset == left - 1
                self._add(
                    count, request.prompt[slot.fed + offset], slot.fed + offset, slot.seq, last
                )
                if last:
                    slot.output = count
                count += 1
            slot.cached.extend(request.prompt[slot.fed : slot.fed + take])
            slot.fed += take
        if count == 0:
            return
        batch.n_tokens = count
        status = self.lib.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} for a batch of {count} token(s)")
        for slot in active:
            if slot.output >= 0:
                self._sample(slot)

    def _add(self, index: int, token: int, position: int, seq: int, logits: bool) -> None:
        batch = self.batch
        batch.token[index] = token
        batch.pos[index] = position
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = seq
        batch.logits[index] = logits

    def _sample(self, slot: _Slot) -> None:
        request = slot.request
        assert request is not None
        token = int(self.lib.llama_sampler_sample(slot.sampler, self.ctx, slot.output))
        request.tokens.append(token)
        if token in self.end_ids or self.lib.llama_vocab_is_eog(self.vocab, token):
            self._finish(slot, "stop")
        elif not slot.stop_settled and self._stop_str_ends(slot):
            self._finish(slot, "stop")
        elif len(request.tokens) >= request.params.max_new_tokens:
            self._finish(slot, "length")
        elif slot.fed >= self.n_ctx_seq:  # no room to feed this token: the context is full
            request.context_full = True
            self._finish(slot, "length")

    def _stop_str_ends(self, slot: _Slot) -> bool:
        """Whether the stop string now ends the reply (settling the slot once it never can)."""
        assert self.stop_str is not None and slot.request is not None
        first = find_stop_str(self.tokenizer, self.stop_str, slot.request.tokens)
        if first == 0:
            slot.stop_settled = True
        return first > 0

    def _finish(self, slot: _Slot, reason: str) -> None:
        request = slot.request
        assert request is not None
        request.finish_reason = reason
        with self._wake:
            self._release(slot, keep_cache=True)
        request.done.set()

    def _release(self, slot: _Slot, keep_cache: bool) -> None:
        """Free a slot (holding the lock): its sampler, and its cells unless `keep_cache`."""
        self._free_sampler(slot)
        if not keep_cache:
            self.lib.llama_memory_seq_rm(self.memory, slot.seq, -1, -1)
            slot.cached = []
            slot.fed = 0
        slot.request = None
        slot.output = -1

    def _free_sampler(self, slot: _Slot) -> None:
        if slot.sampler is not None:
            self.lib.llama_sampler_free(slot.sampler)
            slot.sampler = None

    def _sampler(self, params: GenerationParams) -> Any:
        """A sampler chain for one request (see the module docstring)."""
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if params.greedy:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        seed = params.seed if params.seed is not None else 0
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(TRANSFORMERS_TOP_K))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(1.0, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain
