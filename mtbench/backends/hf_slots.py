"""A key/value cache of rows that come and go: the memory behind continuous batching.

`KVSlots` keeps the attention keys and values of up to `size` rows (slots) in one buffer per
layer, shape (slots, kv heads, columns, head dim), and hands the model a transformers `Cache`
(`KVSlots.cache`) for one decoding step of all active rows at a time:

* the active rows are slots `0 .. active - 1`; every row's newest token is written at the same
  column (`end`), so one step writes one column and attends to the window `lo .. end`, where
  `lo` is the first column any active row uses. A row's earlier columns are padding, masked
  out by `step_mask` (a 4-D mask, which transformers uses as given);
* a new row is prefilled on its own (a plain `DynamicCache`) and its keys and values copied
  into a free slot, right-aligned at `end` (`place`); a finished row's slot is taken by the next
  row, or by the last active row (`move`), so the active rows stay at the front;
* when the columns run out, the window moves left over columns no row uses any more, or the
  buffers grow (`reserve`).

Nothing is concatenated per step (transformers' `DynamicCache` copies the whole cache at every
token), and a finished row costs nothing but the copy of one row.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from mtbench.backends.hf_loading import import_transformers

GROWTH = 256
"""Columns added at least when the buffers grow."""


class KVSlots:
    """Keys and values of up to `size` rows, each right-aligned at a shared column.

    The buffers start with room for the first row and its reply, and grow (in rows and in
    columns) as rows join and replies lengthen.

    Args:
        size: Slots (rows decoded together at most).
        layers: The model's decoder layers (`num_hidden_layers`).
        mask_dtype: None for a boolean mask (`sdpa`: True attends); a float dtype for an
            additive mask (`eager`: 0 attends, the dtype's minimum does not).

    Attributes:
        active: Rows in use, in slots `0 .. active - 1`.
        end: The column the next step writes.
        starts: Each slot's first column (its prompt's first token).
    """

    def __init__(self, size: int, layers: int, mask_dtype: Any = None):
        _, transformers = import_transformers()
        self.size = size
        self.mask_dtype = mask_dtype
        self.active = 0
        self.end = 0
        self.rows = 0  # slots the buffers hold
        self.capacity = 0  # columns the buffers hold
        self.starts = [0] * size
        self.keys: list[Any] = [None] * layers
        self.values: list[Any] = [None] * layers
        self.valid: Any = None  # (rows, columns) bool: the columns that hold a row's tokens
        layer = _slot_layer_class()
        self.cache = transformers.Cache(layers=[layer(self, i) for i in range(layers)])

    @property
    def lo(self) -> int:
        """The first column any active row uses (the window's left edge)."""
        return min(self.starts[: self.active], default=self.end)

    def place(self, slot: int, prefilled: Any, length: int, room: int = GROWTH) -> None:
        """Copy a row prefilled alone into `slot` (a free one, at most `active`).

        Args:
            slot: The slot; `active` adds a row at the end.
            prefilled: The transformers cache of the row's prompt, batch 1, `length` tokens.
            length: The prompt's tokens.
            room: Columns to allocate for its reply, when this is the first row.
        """
        layers = prefilled.layers
        if self.valid is None:
            self._allocate([layer.keys for layer in layers], length + room + 1)
        if slot >= self.rows:
            self._resize(min(self.size, max(2 * self.rows, slot + 1)), self.capacity, 0)
        if self.end < length:
            self.reserve(left=length)
        columns = slice(self.end - length, self.end)
        for index, layer in enumerate(layers):
            self.keys[index][slot, :, columns] = layer.keys[0]
            self.values[index][slot, :, columns] = layer.values[0]
        self.valid[slot] = False
        self.valid[slot, columns] = True
        self.starts[slot] = self.end - length
        if slot == self.active:
            self.active += 1

    def prefix(self, slot: int, tokens: int) -> list[tuple[Any, Any]]:
        """Copies of the keys and values of the first `tokens` tokens of the row in `slot`.

        Returns:
            Per layer, (keys, values), each of shape (1, kv heads, tokens, head dim).
        """
        columns = slice(self.starts[slot], self.starts[slot] + tokens)
        return [
            (keys[slot : slot + 1, :, columns].clone(), values[slot : slot + 1, :, columns].clone())
            for keys, values in zip(self.keys, self.values, strict=True)
        ]

    def move(self, source: int, target: int) -> None:
        """Copy the row in slot `source` into slot `target` (whose row is finished)."""
        window = slice(self.lo, self.end)
        for buffers in (self.keys, self.values):
            for buffer in buffers:
                buffer[target, :, window] = buffer[source, :, window]
        self.valid[target] = self.valid[source]
        self.starts[target] = self.starts[source]

    def reserve(self, left: int = 0) -> None:
        """Make room for the next step, and for a row of `left` columns ending at `end`.

        Moves the window right when a new row is longer than the columns left of `end`; when
        `end` would reach the last column, moves it left over the columns no row uses any
        more, or grows the buffers when that would leave less than a quarter of them free.
        """
        width = self.end - self.lo
        end = max(self.end, left)
        if end < self.capacity:
            if end != self.end:
                self._resize(self.rows, self.capacity, end - self.end)
            return
        end = max(width, left)  # the window against the first column
        capacity = self.capacity
        if capacity - end < max(1, capacity // 4):
            capacity = end + max(GROWTH, capacity // 4)
        self._resize(self.rows, capacity, end - self.end)

    def step_mask(self) -> Any:
        """The attention mask of the next step, shape (active, 1, 1, end + 1 - lo).

        Each row attends to its own columns and to the column the step writes.
        """
        self.valid[: self.active, self.end] = True
        allowed = self.valid[: self.active, self.lo : self.end + 1][:, None, None, :]
        if self.mask_dtype is None:
            return allowed
        torch, _ = import_transformers()
        additive = torch.zeros(allowed.shape, dtype=self.mask_dtype, device=allowed.device)
        return additive.masked_fill_(~allowed, torch.finfo(self.mask_dtype).min)

    def advance(self) -> None:
        """The step wrote column `end`: the next one writes the column after it."""
        self.end += 1

    def clear(self) -> None:
        """Forget every row and free the buffers (after running out of memory)."""
        self.keys = [None] * len(self.keys)
        self.values = [None] * len(self.values)
        self.valid = None
        self.active = self.end = self.rows = self.capacity = 0

    def _allocate(self, like: list[Any], capacity: int) -> None:
        """Buffers for one row: per layer like that layer's prefilled keys (dtype, device)."""
        torch, _ = import_transformers()
        for index, keys in enumerate(like):
            self.keys[index] = _zeros(keys, 1, capacity)
            self.values[index] = _zeros(keys, 1, capacity)
        self.valid = torch.zeros((1, capacity), dtype=torch.bool, device=like[0].device)
        self.rows, self.capacity = 1, capacity

    def _resize(self, rows: int, capacity: int, shift: int) -> None:
        """Buffers of `rows` slots and `capacity` columns, the window moved by `shift`."""
        lo, end, active = self.lo, self.end, self.active
        source, target = slice(lo, end), slice(lo + shift, end + shift)
        fresh = (rows, capacity) != (self.rows, self.capacity)
        for buffers in (self.keys, self.values):
            for index, buffer in enumerate(buffers):
                window = buffer[:active, :, source]
                if fresh:
                    buffers[index] = _zeros(buffer, rows, capacity)
                else:
                    window = window.clone()  # the target may overlap it
                buffers[index][:active, :, target] = window
        valid = self.valid[:active, source]
        if fresh:
            self.valid = _zeros(self.valid, rows, capacity, heads=False)
        else:
            valid = valid.clone()
            self.valid[:] = False
        self.valid[:active, target] = valid
        self.rows, self.capacity = rows, capacity
        self.end += shift
        for slot in range(active):
            self.starts[slot] += shift


def _zeros(like: Any, rows: int, capacity: int, heads: bool = True) -> Any:
    """Zeros like `like` (dtype, device, heads and head dim) with `rows` and `capacity`."""
    torch, _ = import_transformers()
    shape = (rows, like.shape[1], capacity, like.shape[3]) if heads else (rows, capacity)
    return torch.zeros(shape, dtype=like.dtype, device=like.device)


@functools.cache
def _slot_layer_class() -> type:
    """`KVSlots`' cache layer class (built on first use: transformers is imported lazily)."""
    import_transformers()
    base = importlib.import_module("transformers.cache_utils").CacheLayerMixin

    class SlotLayer(base):  # type: ignore[misc, valid-type]
        """One layer of `KVSlots` as transformers sees it: writes a step's column, returns the
        window."""

        is_sliding = False

        def __init__(self, slots: KVSlots, index: int):
            super().__init__()
            self.slots = slots
            self.index = index
            self.is_initialized = True

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            """Nothing to do: `KVSlots` allocates the buffers when the first row arrives."""

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            slots = self.slots
            if key_states.shape[-2] != 1:
                raise ValueError("KVSlots decodes one token per row at a time")
            keys, values = slots.keys[self.index], slots.values[self.index]
            rows, end = slots.active, slots.end
            keys[:rows, :, end] = key_states[:, :, 0]
            values[:rows, :, end] = value_states[:, :, 0]
            window = slice(slots.lo, end + 1)
            return keys[:rows, :, window], values[:rows, :, window]

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return self.slots.end + query_length - self.slots.lo, 0

        def get_seq_length(self) -> int:
            return self.slots.end - self.slots.lo

        def get_max_length(self) -> int:
            return -1

    return SlotLayer
