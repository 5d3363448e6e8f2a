"""What happens inside one batched `generate` call: how rows are sampled and where they end.

* Rows of one batch may differ in temperature and greedy-ness: `RowSampler` picks every row's
  next token itself (greedy rows their arg-max, sampled rows a seeded draw made the way
  transformers samples), so greedy rows decode exactly as alone and sampled rows do not depend
  on their batch.
* `ReplyEnds` ends each row where a one-prompt generation would end it (EOS, a template stop
  id, or the template's stop string after position 0) and records that length.

The refilled batches of `hf_refill` use the same rules, row by row: `draw_tokens` for sampled
rows, `find_stop_str` for the stop string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mtbench.backends.base import GenerationParams
from mtbench.backends.hf_loading import import_transformers

TRANSFORMERS_TOP_K = 50
"""transformers samples with top-k 50 unless the model's generation config says otherwise."""

_OTHER_WARPERS = ("min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "top_h")


def sampling_kwargs(params: Sequence[GenerationParams], generation_config: Any) -> dict[str, Any]:
    """`generate` keyword arguments for rows with these parameters (they share a token limit).

    All greedy: FastChat's greedy call. Otherwise `generate` runs greedy over scores from
    `RowSampler`, which samples each sampled row itself (see its docstring). A model whose
    generation config asks for warpers beyond temperature, top-k and top-p is sampled by
    transformers instead, with a per-row temperature processor, seeded once per batch.
    """
    torch, transformers = import_transformers()
    if all(p.greedy for p in params):
        return {"do_sample": False}
    if other_warpers(generation_config):
        seed = next(p.seed for p in params if not p.greedy)
        if seed is not None:
            torch.manual_seed(seed)
        processor = _row_temperatures(transformers.LogitsProcessor, params)
        return {
            "do_sample": True,
            "temperature": 1.0,
            "logits_processor": transformers.LogitsProcessorList([processor]),
        }
    top_k, top_p = sampler_settings(generation_config)
    sampler = row_sampler(params, top_k=top_k, top_p=top_p)
    return {"do_sample": False, "logits_processor": transformers.LogitsProcessorList([sampler])}


def _set(value: Any, name: str) -> bool:
    if value is None:
        return False
    if name == "typical_p":
        return bool(value < 1.0)
    if name in ("epsilon_cutoff", "eta_cutoff"):
        return bool(0.0 < value < 1.0)
    return True


def sampler_settings(generation_config: Any) -> tuple[int, float]:
    """The top-k and top-p a sampled row uses: the model's generation config, else transformers'
    defaults (top-k `TRANSFORMERS_TOP_K`, top-p 1.0)."""
    top_k = getattr(generation_config, "top_k", None)
    top_p = getattr(generation_config, "top_p", None)
    return (TRANSFORMERS_TOP_K if top_k is None else top_k), (1.0 if top_p is None else top_p)


def other_warpers(generation_config: Any) -> list[str]:
    """Sampling settings of the model's generation config beyond temperature, top-k and top-p
    (`min_p`, `typical_p`, ...), which only transformers' own sampler applies."""
    return [name for name in _OTHER_WARPERS if _set(getattr(generation_config, name, None), name)]


def draw_tokens(
    scores: Any, temperatures: Any, generators: Sequence[Any], top_k: int, top_p: float
) -> Any:
    """One sampled token per row, drawn the way transformers samples.

    Temperature, then top-k, then top-p, then a draw from the softmax, each row from its own
    `torch.Generator` (so a row's draws do not depend on the other rows).

    Args:
        scores: Logits, shape (rows, vocabulary).
        temperatures: Shape (rows, 1), each above 0.
        generators: One per row, on the scores' device.
        top_k: Tokens kept by top-k (0 or less: all).
        top_p: Probability mass kept by top-p (1.0: all).

    Returns:
        The drawn token ids, shape (rows,), on the scores' device.
    """
    torch, _ = import_transformers()
    sub = scores.float() / temperatures.to(scores.device)
    k = sub.shape[-1] if top_k <= 0 else min(top_k, sub.shape[-1])
    values, indices = sub.topk(k, dim=-1)  # descending
    if top_p < 1.0:
        values = _top_p(torch, values, top_p)
    probs = values.softmax(dim=-1)
    drawn = [
        indices[j, torch.multinomial(probs[j], 1, generator=generators[j])[0]]
        for j in range(len(generators))
    ]
    return torch.stack(drawn) if drawn else indices[:, 0]


def row_sampler(params: Sequence[GenerationParams], top_k: int, top_p: float) -> Any:
    """A logits processor that picks each row's next token and leaves only that one.

    Greedy rows take the arg-max. A sampled row is sampled the way transformers samples
    (`draw_tokens`), from its own random generator seeded with its seed (the choice index, as
    FastChat seeds): so a sampled answer does not depend on which other conversations share its
    batch, nor on the batch size or replica. The processor returns scores where only the picked
    token is finite, so `generate`'s greedy step takes exactly that token.
    """
    torch, transformers = import_transformers()
    rows = [i for i, p in enumerate(params) if not p.greedy]
    temperatures = torch.tensor([params[i].temperature for i in rows]).unsqueeze(1)
    seeds = [params[i].seed or 0 for i in rows]

    class RowSampler(transformers.LogitsProcessor):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.generators: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            picked = scores.argmax(dim=-1)
            if not self.generators:
                self.generators = [
                    torch.Generator(device=scores.device).manual_seed(seed) for seed in seeds
                ]
            picked[rows] = draw_tokens(scores[rows], temperatures, self.generators, top_k, top_p)
            only = torch.full_like(scores, float("-inf"))
            return only.scatter(1, picked.unsqueeze(1), 0.0)

    return RowSampler()


def _top_p(torch: Any, values: Any, top_p: float) -> Any:
    """transformers' top-p rule on descending scores: drop the low tail holding <= 1 - top_p."""
    ascending = values.flip(-1)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -1:] = False  # keep at least one token
    return ascending.masked_fill(remove, float("-inf")).flip(-1)


def _row_temperatures(base: type, params: Sequence[GenerationParams]) -> Any:
    """Per-row temperatures for transformers' own sampler; greedy rows keep only their arg-max."""
    torch, _ = import_transformers()
    greedy = torch.tensor([p.greedy for p in params])
    scale = torch.tensor([1.0 if p.greedy else p.temperature for p in params]).unsqueeze(1)

    class RowTemperatures(base):  # type: ignore[misc, valid-type]
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            scores = scores / scale.to(device=scores.device, dtype=scores.dtype)
            best = scores.argmax(dim=-1, keepdim=True)
            only_best = torch.full_like(scores, float("-inf")).scatter(
                1, best, scores.gather(1, best)
            )
            return torch.where(greedy.to(scores.device).unsqueeze(1), only_best, scores)

    return RowTemperatures()


class ReplyEnds:
    """Records where each reply of a batch ends and stops it there.

    A reply ends at the model's EOS (kept, as a one-prompt run returns it), at a template stop
    id, or once the template's stop string first appears after position 0 of the reply's text
    (FastChat cuts there afterwards, so nothing after it can matter). A stop string that first
    appears at position 0 is never cut by FastChat, so it stops nothing.

    Args:
        prompt_width: Width of the (left-padded) prompts: generated ids start there.
        batch: Rows in the batch.
        end_ids: EOS ids and template stop ids.
        stop_str: The template's stop string, if any.
        tokenizer: Decodes the generated ids to look for the stop string.
        on_step: Told after each decoding step how many rows got a token in it (the rows
            still running), for live progress.
    """

    def __init__(
        self,
        *,
        prompt_width: int,
        batch: int,
        end_ids: set[int],
        stop_str: str | None,
        tokenizer: Any,
        on_step: Callable[[int], None] | None = None,
    ):
        self.prompt_width = prompt_width
        self.on_step = on_step
        self.ends: list[int | None] = [None] * batch
        """Generated length of each reply (None: it ran to the token limit)."""
        self.end_ids = end_ids
        self.stop_str = stop_str
        self.str_settled = [stop_str is None] * batch
        self.tokenizer = tokenizer

    def criterion(self) -> Any:
        """A transformers `StoppingCriteria` that feeds `check`."""
        _, transformers = import_transformers()
        outer = self

        class Criterion(transformers.StoppingCriteria):  # type: ignore[misc, name-defined]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return outer.check(input_ids)

        return Criterion()

    def check(self, input_ids: Any) -> Any:
        torch, _ = import_transformers()
        generated = input_ids[:, self.prompt_width :]
        length = generated.shape[1]
        if self.on_step is not None:
            self.on_step(sum(end is None for end in self.ends))
        last = generated[:, -1].tolist()
        for row, token in enumerate(last):
            if self.ends[row] is not None:
                continue
            if token in self.end_ids:
                self.ends[row] = length
            elif not self.str_settled[row]:
                self._check_stop_str(row, generated[row].tolist(), length)
        done = [end is not None for end in self.ends]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _check_stop_str(self, row: int, ids: list[int], length: int) -> None:
        assert self.stop_str is not None
        first = find_stop_str(self.tokenizer, self.stop_str, ids)
        if first > 0:
            self.ends[row] = length
        elif first == 0:
            self.str_settled[row] = True


def find_stop_str(tokenizer: Any, stop_str: str, ids: Sequence[int]) -> int:
    """Where `stop_str` first appears in the decoded reply `ids`, or -1.

    Only a reply whose newest tokens hold the stop string is decoded whole, so calling this
    after every token costs a short decode. -1 also when it appears but not in the newest
    tokens (it was then found, and acted on, when those tokens were new).
    """
    tail = 8 + len(stop_str)
    newest = tokenizer.decode(list(ids[-tail:]), spaces_between_special_tokens=False)
    if stop_str not in newest:
        return -1
    text = tokenizer.decode(list(ids), spaces_between_special_tokens=False)
    return int(text.find(stop_str))


def out_of_memory(exc: BaseException) -> bool:
    """Whether a torch error says the device (or the host) ran out of memory."""
    text = str(exc).lower()
    return (
        "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
    )
