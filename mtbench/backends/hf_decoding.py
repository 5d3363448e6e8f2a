"""What happens inside one batched `generate` call: how rows are sampled and where they end.

* Rows of one batch may have different temperatures: a logits processor divides each row's
  scores by its own temperature (before top-k/top-p, where transformers puts temperature) and
  leaves only the arg-max of greedy rows, so greedy rows decode exactly as in greedy mode.
* `ReplyEnds` ends each row where a one-prompt generation would end it (EOS, a template stop
  id, or the template's stop string after position 0) and records that length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import GenerationParams
from mtbench.backends.hf_loading import import_transformers


def sampling_kwargs(params: Sequence[GenerationParams]) -> dict[str, Any]:
    """`generate` keyword arguments for rows with these parameters (one seed, one limit).

    All greedy: FastChat's greedy call. One temperature: FastChat's sampling call. Mixed: one
    sampling call whose logits processor gives every row its own temperature.
    """
    torch, transformers = import_transformers()
    sampled = [p for p in params if not p.greedy]
    if not sampled:
        return {"do_sample": False}
    if sampled[0].seed is not None:
        torch.manual_seed(sampled[0].seed)
    temperatures = {p.temperature for p in sampled}
    if len(sampled) == len(params) and len(temperatures) == 1:
        return {"do_sample": True, "temperature": sampled[0].temperature}
    processor = _row_temperatures(transformers.LogitsProcessor, params)
    return {
        "do_sample": True,
        "temperature": 1.0,
        "logits_processor": transformers.LogitsProcessorList([processor]),
    }


def _row_temperatures(base: type, params: Sequence[GenerationParams]) -> Any:
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
    """

    def __init__(
        self,
        *,
        prompt_width: int,
        batch: int,
        end_ids: set[int],
        stop_str: str | None,
        tokenizer: Any,
    ):
        self.prompt_width = prompt_width
        self.ends: list[int | None] = [None] * batch
        """Generated length of each reply (None: it ran to the token limit)."""
        self.end_ids = end_ids
        self.stop_str = stop_str
        self.str_settled = [stop_str is None] * batch
        self.tokenizer = tokenizer
        self.tail = 8 + (len(stop_str) if stop_str else 0)

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
        # Cheap look at the newest tokens first; decode the whole reply only on a hit.
        tail = self.tokenizer.decode(ids[-self.tail :], spaces_between_special_tokens=False)
        if self.stop_str not in tail:
            return
        text = self.tokenizer.decode(ids, spaces_between_special_tokens=False)
        first = text.find(self.stop_str)
        if first > 0:
            self.ends[row] = length
        elif first == 0:
            self.str_settled[row] = True
