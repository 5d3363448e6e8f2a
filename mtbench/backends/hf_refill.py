"""Continuous batching on the transformers path: a finished row's slot takes the next turn at once.

A static batch runs until its longest reply ends, so at 1024 new tokens about half of the rows it
computes are finished replies. `RefillDecoder` keeps up to `slots` rows decoding instead:

1. each new conversation (`take`) is prefilled on its own and its first token picked; it then
   joins the batch in a free slot (`mtbench.backends.hf_slots.KVSlots` holds every row's keys
   and values, right-aligned at a shared column, so one step decodes every row at once);
2. after every step each row is checked as a one-prompt generation would stop it (the model's
   EOS, a template stop id, the template's stop string after position 0, or its own
   `max_new_tokens`); a row that ended leaves at once and its reply goes out (`done`), which
   may make the conversation's next turn pending;
3. the freed slot is prefilled with the next pending conversation before the next step; with
   none pending, the last row moves into it, so the active rows stay together. A
   conversation's next turn takes the slot of the turn it continues and keeps the keys and
   values of the tokens the two share (its previous prompt and, as far as the text re-encodes
   to the same tokens, the reply): only the new user message is prefilled, not the whole
   conversation again.

Greedy rows take the arg-max and sampled rows draw from their own generator, seeded with their
seed when they start (`hf_decoding.draw_tokens`), so a reply does not depend on the rows beside
it: in float32, greedy replies equal one-at-a-time generation (up to float rounding, as batches
always were; keys and values kept from turn 1 were computed one token at a time rather than in
one pass, which differs as little). Running out of memory halves the slots and restarts the
rows under way.

Models it cannot run exactly (`refill_blockers`: attention other than full `sdpa`/`eager`,
generation-config rules such as a repetition penalty) keep transformers' `generate` in static
batches.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.hf_decoding import (
    draw_tokens,
    find_stop_str,
    other_warpers,
    out_of_memory,
    sampler_settings,
)
from mtbench.backends.hf_loading import import_transformers
from mtbench.backends.hf_slots import KVSlots
from mtbench.backends.prompting import PromptFormat
from mtbench.errors import BackendError, first_line

logger = logging.getLogger(__name__)

Take = Callable[[], "tuple[Hashable, Conversation, GenerationParams] | None"]
Done = Callable[[Hashable, Reply, int], None]

NEUTRAL_RULES: dict[str, Any] = {
    "num_beams": 1,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "min_length": 0,
    "min_new_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "sequence_bias": None,
    "exponential_decay_length_penalty": None,
    "guidance_scale": 1.0,
    "watermarking_config": None,
}
"""Generation-config fields that change which token `generate` picks, at their neutral values."""


def refill_blockers(model: Any) -> list[str]:
    """Why `RefillDecoder` cannot decode this model exactly as `generate` does ([] if it can).

    It needs full attention through `sdpa` or `eager` (it builds the attention mask itself),
    a forward that takes `position_ids` and a cache, and a generation config without rules
    beyond temperature, top-k and top-p (`NEUTRAL_RULES`, `hf_decoding.other_warpers`).
    """
    config = model.config
    reasons = []
    attention = getattr(config, "_attn_implementation", None)
    if attention not in ("sdpa", "eager"):
        reasons.append(f"attention implementation {attention!r}")
    if getattr(config, "text_config", None) is not None or config.is_encoder_decoder:
        reasons.append("not a plain decoder-only language model")
    layer_types = getattr(config, "layer_types", None)
    if layer_types and any(kind != "full_attention" for kind in layer_types):
        reasons.append("layers other than full attention")
    elif not layer_types and getattr(config, "sliding_window", None):
        if getattr(config, "use_sliding_window", True):
            reasons.append("sliding-window attention")
    parameters = inspect.signature(model.forward).parameters
    if "position_ids" not in parameters or not ({"cache", "past_key_values"} & set(parameters)):
        reasons.append("a forward without position_ids or a cache")
    generation = model.generation_config
    for name, neutral in NEUTRAL_RULES.items():
        value = getattr(generation, name, None)
        if value is not None and value != neutral and value not in ([], ()):
            reasons.append(f"generation config {name}={value!r}")
    reasons.extend(f"generation config {name}" for name in other_warpers(generation))
    return reasons


@dataclass(eq=False)
class _Row:
    key: Hashable
    conversation: Conversation
    params: GenerationParams
    prompt: list[int]
    ids: list[int] = field(default_factory=list)
    generator: Any = None
    settled: bool = False
    """The stop string appeared at position 0 (FastChat never cuts there): it stops nothing."""
    finished: bool = False


class RefillDecoder:
    """Decodes conversations of a feed in continuously refilled batches (module docstring).

    Args:
        model: A loaded transformers causal LM (`refill_blockers(model)` empty).
        fmt: Renders and tokenizes prompts, and post-processes replies.
        end_ids: Ids that end a reply (EOS and template stop ids).
        device: Where inputs go.
    """

    def __init__(self, model: Any, fmt: PromptFormat, end_ids: set[int], device: Any):
        self.model = model
        self.format = fmt
        self.end_ids = end_ids
        self.device = device
        self.top_k, self.top_p = sampler_settings(model.generation_config)
        parameters = inspect.signature(model.forward).parameters
        self.cache_arg = "cache" if "cache" in parameters else "past_key_values"
        self.keep_last = "logits_to_keep" in parameters
        eager = model.config._attn_implementation == "eager"
        self.mask_dtype = model.dtype if eager else None
        self.layers = model.config.num_hidden_layers
        self._starting: _Row | None = None  # prefilled, not yet in a slot
        self._unreported = 0  # first tokens of rows just started, not yet told to `on_step`

    def run(
        self,
        take: Take,
        done: Done,
        slots: int,
        on_step: Callable[[int], None] | None = None,
    ) -> int:
        """Decode until `take` has nothing more and every row has ended.

        Args:
            take: The next conversation to start, with its key and sampling parameters; None
                when none is pending now (a later `done` may make one pending).
            done: Called with a row's key, its `Reply` and the tokens it generated, as soon
                as it ends (from this thread).
            slots: Rows decoded together at most.
            on_step: Told how many tokens each decoding step generated (the first one: the
                first tokens of the rows that just started); after running out of memory,
                minus the tokens of the rows restarted.

        Returns:
            The slots in use at the end: fewer than `slots` after running out of memory.

        Raises:
            BackendError: the model failed, or ran out of memory with a single row.
        """
        torch, _ = import_transformers()
        notify = on_step or (lambda count: None)
        waiting: deque[_Row] = deque()
        while True:
            kv = KVSlots(slots, self.layers, self.mask_dtype)
            rows: list[_Row] = []
            self._starting, self._unreported = None, 0
            try:
                with torch.inference_mode():
                    self._decode(kv, rows, waiting, take, done, notify)
                return slots
            except RuntimeError as exc:
                restart = [row for row in rows if not row.finished]
                if self._starting is not None:
                    restart.append(self._starting)
                if not out_of_memory(exc) or len(restart) <= 1:
                    raise BackendError(f"generation failed: {first_line(exc)}") from exc
                kv.clear()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                notify(self._unreported - sum(len(row.ids) for row in restart))
                for row in reversed(restart):
                    row.ids, row.generator, row.settled = [], None, False
                    waiting.appendleft(row)
                logger.warning(
                    "out of memory with %d rows; going on with %d", len(restart), len(restart) // 2
                )
                slots = max(1, len(restart) // 2)

    def _decode(
        self,
        kv: KVSlots,
        rows: list[_Row],
        waiting: deque[_Row],
        take: Take,
        done: Done,
        notify: Callable[[int], None],
    ) -> None:
        free: list[int] = []  # slots whose rows ended (their keys and values kept till refilled)
        while True:
            while free or kv.active < kv.size:
                row = waiting.popleft() if waiting else self._row(take())
                if row is None:
                    break
                self._starting = row
                slot, shared = self._slot_for(row, rows, free, kv.active)
                prefilled = self._prefill(row, kv.prefix(slot, shared) if shared else None)
                self._unreported += 1  # its first token
                reason = self._ended(row)
                if reason is not None:  # ended at once: the slot stays free
                    notify(self._unreported)  # before `done` reports its tokens
                    self._unreported = 0
                    self._finish(row, reason, done)
                    self._starting = None
                    continue
                if slot in free:
                    free.remove(slot)
                kv.place(slot, prefilled, len(row.prompt), room=row.params.max_new_tokens)
                if slot == len(rows):
                    rows.append(row)
                else:
                    rows[slot] = row
                self._starting = None
            for slot in sorted(free, reverse=True):
                last = kv.active - 1
                if slot != last:
                    kv.move(last, slot)
                    rows[slot] = rows[last]
                rows.pop()
                kv.active -= 1
            if self._unreported:
                notify(self._unreported)  # the first tokens of the rows just started
                self._unreported = 0
            if not rows:
                return
            tokens = self._step(kv, rows)
            notify(len(rows))
            free = []
            for slot, (row, token) in enumerate(zip(rows, tokens, strict=True)):
                row.ids.append(token)
                reason = self._ended(row)
                if reason is not None:
                    self._finish(row, reason, done)
                    free.append(slot)

    @staticmethod
    def _slot_for(row: _Row, rows: list[_Row], free: list[int], active: int) -> tuple[int, int]:
        """The slot for a new row, and how many of its prompt's first tokens that slot holds.

        A conversation's next turn (its prompt continues the whole prompt of a row that just
        ended) goes to that row's slot and keeps the keys and values of the tokens they share:
        only the rest of its prompt is prefilled. Any other row: the first free slot, nothing
        shared.
        """
        for slot in free:
            ended = rows[slot]
            if row.prompt[: len(ended.prompt)] != ended.prompt:
                continue
            cached = ended.prompt + ended.ids[:-1]  # the last token was never fed
            shared = len(os.path.commonprefix([cached, row.prompt]))
            return slot, min(shared, len(row.prompt) - 1)  # prefill one token at least
        return (free[0] if free else active), 0

    def _row(self, taken: tuple[Hashable, Conversation, GenerationParams] | None) -> _Row | None:
        if taken is None:
            return None
        key, conversation, params = taken
        return _Row(key, conversation, params, self.format.encode(conversation))

    def _prefill(self, row: _Row, prefix: list[tuple[Any, Any]] | None = None) -> Any:
        """Run the row's prompt alone and pick its first token; returns the prompt's cache.

        Args:
            row: The new row.
            prefix: Keys and values of the prompt's first tokens, per layer, shape (1, kv heads,
                tokens, head dim) (`KVSlots.prefix`); only the rest of the prompt is run.
        """
        torch, transformers = import_transformers()
        cache = transformers.DynamicCache(config=self.model.config)
        shared = 0
        for index, (keys, values) in enumerate(prefix or ()):
            cache.update(keys, values, index)
            shared = keys.shape[-2]
        kwargs: dict[str, Any] = {self.cache_arg: cache, "use_cache": True}
        if self.keep_last:
            kwargs["logits_to_keep"] = 1
        output = self.model(
            input_ids=torch.tensor([row.prompt[shared:]], device=self.device),
            position_ids=torch.arange(shared, len(row.prompt), device=self.device).unsqueeze(0),
            **kwargs,
        )
        if not row.params.greedy:
            seed = row.params.seed or 0
            device = output.logits.device
            row.generator = torch.Generator(device=device).manual_seed(seed)
        row.ids.append(self._pick(output.logits[:, -1, :], [row])[0])
        return cache

    def _step(self, kv: KVSlots, rows: list[_Row]) -> list[int]:
        """One decoding step of every active row: the next token of each."""
        torch, _ = import_transformers()
        kv.reserve()
        mask = kv.step_mask()
        output = self.model(
            input_ids=torch.tensor([[row.ids[-1]] for row in rows], device=self.device),
            position_ids=torch.tensor(
                [[len(row.prompt) + len(row.ids) - 1] for row in rows], device=self.device
            ),
            attention_mask=mask,
            use_cache=True,
            **{self.cache_arg: kv.cache},
        )
        kv.advance()
        return self._pick(output.logits[:, -1, :], rows)

    def _pick(self, logits: Any, rows: list[_Row]) -> list[int]:
        torch, _ = import_transformers()
        picked = logits.argmax(dim=-1)
        sampled = [index for index, row in enumerate(rows) if not row.params.greedy]
        if sampled:
            temperatures = torch.tensor([[rows[i].params.temperature] for i in sampled])
            generators = [rows[i].generator for i in sampled]
            picked[sampled] = draw_tokens(
                logits[sampled], temperatures, generators, self.top_k, self.top_p
            )
        return [int(token) for token in picked.tolist()]

    def _ended(self, row: _Row) -> str | None:
        """Why the row's newest token ends it (`stop`, `length`), None if it does not."""
        reason = None
        stop_str = self.format.stop_str
        if row.ids[-1] in self.end_ids:
            reason = "stop"
        elif stop_str is not None and not row.settled:
            first = find_stop_str(self.format.tokenizer, stop_str, row.ids)
            if first > 0:
                reason = "stop"
            row.settled = first == 0
        if reason is None and len(row.ids) >= row.params.max_new_tokens:
            reason = "length"
        return reason

    def _finish(self, row: _Row, reason: str, done: Done) -> None:
        row.finished = True
        text = self.format.reply(row.conversation, row.ids)
        done(row.key, Reply(text, reason), len(row.ids))
