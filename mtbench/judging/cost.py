"""What a run costs: an estimate before it starts, and the bill of the usage the API reported.

Before: input tokens are estimated at about four characters per token over the exact messages
that will be sent; output tokens at 200 per call (real GPT-4 judgments of MT-bench average about
750 characters; a reasoning judge thinks many more, billed as output). The estimate is rough by
design: it is there to tell $2 from $200. After: the tokens each reply's usage reported (reasoning
included), at the same price.

Prices: `--price-per-1k-input/--price-per-1k-output`, else a `--price-table` file, else the
built-in `KNOWN_PRICES`; a dated snapshot (`gpt-4o-2024-08-06`) falls back on its alias's price.
The built-in list prices are the providers' own: a judge served anywhere else (a local vLLM, a
proxy) has no price unless one is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mtbench.errors import DataError

BATCH_DISCOUNT = 0.5
"""What a batch API charges, as a share of the live price: half, at OpenAI (Batch API) and at
Anthropic (Message Batches) alike."""

CHARS_PER_TOKEN = 4.0
OUTPUT_TOKENS_PER_CALL = 200
MESSAGE_OVERHEAD_TOKENS = 4

KNOWN_PRICES: dict[str, tuple[float, float]] = {
    # USD per 1,000 (input, output) tokens: providers' list prices, mid 2025. Check yours.
    "gpt-4": (0.03, 0.06),
    "gpt-4-0314": (0.03, 0.06),
    "gpt-4-0613": (0.03, 0.06),
    "gpt-4-turbo": (0.01, 0.03),
    "gpt-4-turbo-2024-04-09": (0.01, 0.03),
    "gpt-4-1106-preview": (0.01, 0.03),
    "gpt-4-0125-preview": (0.01, 0.03),
    "gpt-4o": (0.0025, 0.01),
    "gpt-4o-2024-05-13": (0.005, 0.015),
    "gpt-4o-2024-08-06": (0.0025, 0.01),
    "gpt-4o-2024-11-20": (0.0025, 0.01),
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o-mini-2024-07-18": (0.00015, 0.0006),
    "gpt-4.1": (0.002, 0.008),
    "gpt-4.1-mini": (0.0004, 0.0016),
    "gpt-4.1-nano": (0.0001, 0.0004),
    "gpt-3.5-turbo": (0.0005, 0.0015),
    "o3": (0.002, 0.008),
    "o4-mini": (0.0011, 0.0044),
    "gpt-5": (0.00125, 0.01),
    "gpt-5-mini": (0.00025, 0.002),
    "gpt-5-nano": (0.00005, 0.0004),
    "gpt-3.5-turbo-0125": (0.0005, 0.0015),
    "claude-3-opus-20240229": (0.015, 0.075),
    "claude-3-5-sonnet-20240620": (0.003, 0.015),
    "claude-3-5-sonnet-20241022": (0.003, 0.015),
    "claude-3-5-haiku-20241022": (0.0008, 0.004),
    "claude-3-haiku-20240307": (0.00025, 0.00125),
    "claude-sonnet-4-20250514": (0.003, 0.015),
    "claude-sonnet-4-5": (0.003, 0.015),
    "claude-haiku-4-5": (0.001, 0.005),
    "gpt-5.1": (0.00125, 0.01),
    "claude-opus-4-20250514": (0.015, 0.075),
    "claude-opus-4-1-20250805": (0.015, 0.075),
}

_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def load_price_table(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read a `--price-table` file: `{"model": [usd_per_1k_input, usd_per_1k_output]}`.

    Raises:
        DataError: naming the file, for a file that is missing, not JSON, or not that shape.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read the price table ({exc.strerror or exc})", path) from None
    except ValueError as exc:
        raise DataError(f"the price table is not valid JSON ({exc})", path) from None
    if not isinstance(data, dict):
        raise DataError('expected {"model": [input, output]} (USD per 1k tokens)', path)
    table = {}
    for model, price in data.items():
        if (
            not isinstance(price, list)
            or len(price) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in price)
        ):
            raise DataError(
                f"price of {model!r} must be [input, output] in USD per 1k tokens, got {price!r}",
                path,
            )
        table[str(model)] = (float(price[0]), float(price[1]))
    return table


def list_price(
    model: str, table: Mapping[str, tuple[float, float]] | None = None, known: bool = True
) -> tuple[float, float] | None:
    """The price of `model` in `table` (then `KNOWN_PRICES`, unless not `known`), or of its
    undated alias."""
    prices = {**(KNOWN_PRICES if known else {}), **(table or {})}
    for name in (model, _SNAPSHOT.sub("", model)):
        if name in prices:
            return prices[name]
    return None


@dataclass(frozen=True)
class Estimate:
    """Token and cost estimate of a run.

    Attributes:
        calls: Judge calls.
        input_tokens: Estimated prompt tokens over all calls.
        output_tokens: Estimated reply tokens over all calls.
        price: (input, output) USD per 1k tokens, or None when unknown.
        price_source: Where the price came from (`flags`, `known list price`).
    """

    calls: int
    input_tokens: int
    output_tokens: int
    price: tuple[float, float] | None
    price_source: str = ""

    @property
    def dollars(self) -> float | None:
        if self.price is None:
            return None
        return (self.input_tokens * self.price[0] + self.output_tokens * self.price[1]) / 1000


def count_tokens(messages_chars: int, messages: int) -> int:
    """Estimated tokens of a request whose messages hold `messages_chars` characters."""
    return round(messages_chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * messages


def choose_price(
    model: str,
    input_price: float | None,
    output_price: float | None,
    table: Mapping[str, tuple[float, float]] | None = None,
    known: bool = True,
) -> tuple[tuple[float, float] | None, str]:
    """The price to use: the flags if both given, else the price table or (when `known`, the
    provider's own API) the known list price (`list_price`), else None; and where it came
    from."""
    if input_price is not None and output_price is not None:
        return (input_price, output_price), "--price-per-1k-input/--price-per-1k-output"
    listed = list_price(model, table, known)
    if input_price is not None or output_price is not None:
        other = listed or (None, None)
        chosen = (
            input_price if input_price is not None else other[0],
            output_price if output_price is not None else other[1],
        )
        if chosen[0] is None or chosen[1] is None:
            return None, ""
        return (float(chosen[0]), float(chosen[1])), "flags and list price"
    if listed is not None:
        from_table = bool(table) and (not known or list_price(model, table) != list_price(model))
        return listed, "--price-table" if from_table else f"list price of {model}"
    return None, ""


def reported_cost(
    input_tokens: int,
    output_tokens: int,
    price: tuple[float, float] | None,
    source: str,
) -> str:
    """One line: what the reported usage cost at `price` ("" when the price is unknown)."""
    if price is None:
        return ""
    if price == (0.0, 0.0):
        return f"none ({source})"
    dollars = (input_tokens * price[0] + output_tokens * price[1]) / 1000
    return (
        f"${dollars:,.2f} for the reported tokens (${price[0]:g} / ${price[1]:g} per 1k, {source})"
    )


def format_tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1000:
        return f"{count / 1000:.0f}k"
    return str(count)


def describe(estimate: Estimate) -> str:
    """One line: tokens and dollars (or how to get a dollar figure)."""
    tokens = (
        f"~{format_tokens(estimate.input_tokens)} input + "
        f"~{format_tokens(estimate.output_tokens)} output tokens"
    )
    if estimate.dollars is None:
        why = estimate.price_source or "give --price-per-1k-input and --price-per-1k-output"
        return f"{tokens}; cost unknown ({why})"
    price_in, price_out = estimate.price or (0, 0)
    if price_in == price_out == 0:
        return f"{tokens}; no API cost ({estimate.price_source})"
    return (
        f"{tokens}, about ${estimate.dollars:,.2f} "
        f"(${price_in:g} / ${price_out:g} per 1k tokens, {estimate.price_source})"
    )
