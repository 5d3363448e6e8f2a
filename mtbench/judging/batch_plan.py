"""What a `--batch` run will submit, for its plan: requests, batches, provider limits, price.

Nothing here calls the provider: the batches recorded beside the judgment file
(`batch_ledger`) say which pending calls earlier runs already submitted, and the provider's
limits (`BatchLimits`) how many batches the rest takes.
"""

from __future__ import annotations

import json
import math

from mtbench.backends.batch_api import BatchLimits
from mtbench.backends.registry import API_KINDS, api_url
from mtbench.judging.batch_ids import custom_id
from mtbench.judging.batch_ledger import BatchLedger
from mtbench.judging.plan import JudgePlan
from mtbench.judging.replies import ROOM_GROWTH

REQUEST_OVERHEAD = 300
"""Bytes a request line adds to its messages (ids, model, parameters), for the estimate."""


def provider_limits(kind: str) -> tuple[str, BatchLimits]:
    """The batch API's name and limits for an API judge kind (`openai`, `anthropic`)."""
    if kind == "anthropic":
        from mtbench.backends.anthropic_batches import AnthropicBatchAPI

        return AnthropicBatchAPI.name, AnthropicBatchAPI.limits
    from mtbench.backends.openai_batches import OpenAIBatchAPI

    return OpenAIBatchAPI.name, OpenAIBatchAPI.limits


def covered_calls(plan: JudgePlan) -> tuple[set[str], int]:
    """The custom ids of pending calls that recorded batches already hold, and those batches.

    Counts the batches sent to this judge (API root and model) with this run's sampling
    (temperature, token limit; the run checks every request parameter) that are not yet
    collected, including a submission whose run stopped before it recorded the batch's id.
    """
    temperature = plan.options.judge_temperature
    entries = [
        entry
        for entry in BatchLedger(plan.output).load()
        if entry.api.rstrip("/") == api_url(plan.backend).rstrip("/")
        and entry.model == plan.backend.model
        and (entry.open or entry.dangling)
        and entry.generation.temperature == temperature
        and entry.generation.max_new_tokens
        in [plan.max_tokens * ROOM_GROWTH**k for k in range(entry.round + 1)]
    ]
    pending = {
        custom_id(match, swapped)
        for match in plan.pending
        for swapped in (False, True)[: match.games]
    }
    held = {key for entry in entries for key in entry.custom_ids} & pending
    return held, len(entries)


def describe(plan: JudgePlan) -> str:
    """One line: requests to submit, in how many batches, the limits, the batches picked up."""
    name, limits = provider_limits(plan.backend.kind)
    held, earlier = covered_calls(plan)

    sizes = [
        len(json.dumps(match.messages(swapped))) + REQUEST_OVERHEAD
        for match in plan.pending
        for swapped in (False, True)[: match.games]
        if custom_id(match, swapped) not in held
    ]
    batches = (
        max(math.ceil(len(sizes) / limits.max_requests), math.ceil(sum(sizes) / limits.max_bytes))
        if sizes
        else 0
    )
    line = (
        f"{len(sizes)} request(s) to submit in {batches} batch(es) to {name} (at most "
        f"{limits.max_requests:,} requests and {limits.max_bytes // 1_000_000} MB per batch; "
        "half the live price, results within 24 hours)"
    )
    if earlier:
        line += (
            f"; {earlier} batch(es) of earlier runs picked up first, holding {len(held)} of "
            "the pending call(s)"
        )
    return line


def uncollected_notice(plan: JudgePlan) -> str | None:
    """For a live run (no `--batch`): the recorded batches of this judge not yet collected,
    whose calls the run would buy again (None when there are none)."""
    if plan.backend.kind not in API_KINDS or not BatchLedger(plan.output).path.is_file():
        return None
    held, batches = covered_calls(plan)
    if not batches:
        return None
    return (
        f"{batches} recorded batch(es) in {BatchLedger(plan.output).path.name} are not "
        f"collected (holding {len(held)} of the pending call(s)); this live run buys those "
        "calls again: rerun with --batch to collect them instead"
    )
