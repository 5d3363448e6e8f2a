"""Anthropic's Message Batches, through the `anthropic` SDK.

    submit   messages.batches.create(requests=[{"custom_id", "params": the live request}])
    state    messages.batches.retrieve(id): processing_status, request_counts
    results  messages.batches.results(id): one `succeeded` (the live `Message`), `errored`,
             `canceled` or `expired` result per request, in any order
    cancel   messages.batches.cancel(id)
    find     never: a batch takes no label, so none can be proven to be a submission's
    suspects messages.batches.list(): the batches created since the submission began with the
             same number of requests (named in a warning, never adopted: another run's batch
             may look the same)

A `custom_id` must match `^[a-zA-Z0-9_-]{1,64}$` (the judge's do: `mtbench.judging.batch`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mtbench.backends.batch_api import (
    BatchAPI,
    BatchLimits,
    BatchRequest,
    BatchResult,
    BatchState,
    orphan_warning,
    unknown_batch,
)
from mtbench.errors import BackendError, RequestError, TransientError

if TYPE_CHECKING:
    from mtbench.backends.anthropic_api import AnthropicBackend

T = TypeVar("T")

FIND_SLACK = 300.0
"""Seconds of clock difference allowed when `find` compares creation times."""


class AnthropicBatchAPI(BatchAPI):
    """Anthropic's Message Batches for an `AnthropicBackend`.

    Args:
        backend: The open live backend.
    """

    name = "Anthropic's Message Batches API"
    limits = BatchLimits(max_requests=100_000, max_bytes=256_000_000)
    console = "the Anthropic console (https://console.anthropic.com/settings/workspaces)"
    backend: AnthropicBackend

    def size(self, request: BatchRequest) -> int:
        return len(json.dumps({"custom_id": request[0], "params": request[1]}).encode()) + 2

    def submit(self, requests: Sequence[BatchRequest], tag: str) -> BatchState:
        import time

        client = self.backend._client
        since = time.time()
        payload = [{"custom_id": custom_id, "params": body} for custom_id, body in requests]
        tries = 0
        self.creates_sent = 0

        def create() -> BatchState:
            nonlocal tries
            tries += 1
            self.creates_sent += 1
            return _state(client.messages.batches.create(requests=payload))

        state = self._sdk("creating the batch", create)
        if tries > 1:  # a failed try may have created a batch after all: it cannot be proven
            others = [i for i in self.suspects(since, len(requests)) if i != state.id]
            if others:
                self.warnings.append(orphan_warning(others, self.console))
        return state

    def find(
        self, tag: str, since: float, requests: int, known: Collection[str] = ()
    ) -> BatchState | None:
        return None  # no label on a batch: nothing proves one is this submission's

    def suspects(self, since: float, requests: int, known: Collection[str] = ()) -> list[str]:
        client = self.backend._client

        def look() -> list[str]:
            found = []
            for batch in client.messages.batches.list(limit=100):
                created = batch.created_at.timestamp()
                if created < since - FIND_SLACK:
                    break  # newest first: nothing older can be ours
                state = _state(batch)
                if state.total == requests and state.id not in known:
                    found.append(state.id)
            return found

        return self._sdk("listing batches", look)

    def state(self, batch_id: str) -> BatchState:
        client = self.backend._client
        return self._sdk(
            f"reading batch {batch_id}",
            lambda: _state(client.messages.batches.retrieve(batch_id)),
            batch_id,
        )

    def results(
        self, batch_id: str, wanted: Collection[str], sent: Mapping[str, Any]
    ) -> Iterator[BatchResult]:
        client = self.backend._client
        items = self._sdk(
            f"downloading the results of batch {batch_id}",
            lambda: [
                item
                for item in client.messages.batches.results(batch_id)
                if item.custom_id in wanted
            ],
        )
        for item in items:
            result = item.result
            kind = getattr(result, "type", None)
            if kind == "succeeded":
                try:
                    yield BatchResult(item.custom_id, self.backend.reply_from(result.message, sent))
                except TransientError as exc:
                    yield BatchResult(item.custom_id, None, str(exc))
            elif kind == "errored":
                error = getattr(getattr(result, "error", None), "error", None)
                said = ": ".join(
                    str(part)
                    for part in (getattr(error, "type", ""), getattr(error, "message", ""))
                    if part
                )
                yield BatchResult(item.custom_id, None, said or "errored")
            else:
                said = "cancelled" if kind == "canceled" else str(kind)
                yield BatchResult(item.custom_id, None, said)

    def cancel(self, batch_id: str) -> BatchState:
        client = self.backend._client
        return self._sdk(
            f"cancelling batch {batch_id}",
            lambda: _state(client.messages.batches.cancel(batch_id)),
            batch_id,
        )

    def _sdk(self, what: str, call: Callable[[], T], batch_id: str | None = None) -> T:
        """`call` with the SDK's errors translated (`RemoteBackend` rules), retried; a 404
        about `batch_id` is `UnknownBatch`."""
        backend = self.backend
        anthropic = backend._anthropic

        def attempt() -> T:
            try:
                return call()
            except anthropic.APITimeoutError:
                raise TransientError(f"no reply within {backend.timeout:g}s") from None
            except anthropic.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                raise TransientError(
                    f"cannot reach {backend.base_url} ({type(cause).__name__})"
                ) from None
            except anthropic.APIResponseValidationError:
                raise TransientError("malformed reply") from None
            except anthropic.APIStatusError as exc:
                body = getattr(exc, "body", None)
                error = body.get("error") if isinstance(body, dict) else None
                text = str((error or {}).get("message") or exc.message)
                if exc.status_code == 404 and batch_id is not None:
                    raise unknown_batch(batch_id, backend.base_url, 404, text) from None
                if exc.status_code in (404, 405):
                    raise RequestError(
                        f"{backend.base_url}: {what} failed (HTTP {exc.status_code}: {text}); "
                        "--batch needs Anthropic's API or a server with /v1/messages/batches"
                    ) from None
                kind = error.get("type") if isinstance(error, dict) else None
                raise backend._refusal(exc.status_code, text, exc.response.headers, kind) from None
            except anthropic.AnthropicError as exc:  # e.g. results of a batch not yet ended
                raise BackendError(f"{what} failed: {exc}") from None
            except ValueError:
                raise TransientError("malformed reply (not JSON)") from None

        return self._call(what, attempt)


def _state(batch: Any) -> BatchState:
    """A `MessageBatch` of the SDK as a `BatchState`."""
    counts = batch.request_counts
    failed = int(counts.errored) + int(counts.canceled) + int(counts.expired)
    succeeded = int(counts.succeeded)
    total = succeeded + failed + int(counts.processing)
    parts = [
        f"{count} {word}"
        for count, word in (
            (counts.errored, "errored"),
            (counts.canceled, "cancelled"),
            (counts.expired, "expired"),
        )
        if count
    ]
    status = str(batch.processing_status)
    return BatchState(
        str(batch.id), status, status == "ended", succeeded, failed, total, ", ".join(parts)
    )
