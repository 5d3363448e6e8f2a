"""OpenAI's Batch API, through the `openai` SDK: a JSONL file of requests, one batch, results.

    submit   files.create(file=JSONL, purpose="batch") + batches.create(input_file_id,
             endpoint="/v1/chat/completions" or "/v1/responses", completion_window="24h",
             metadata={"mtbench_tag": TAG})
    state    batches.retrieve(id): status, request_counts
    results  files.content(output_file_id) (answered requests) and files.content(error_file_id)
             (failed ones: an HTTP error, or `batch_expired` / `batch_cancelled`)
    cancel   batches.cancel(id)
    find     batches.list(): the batch whose metadata holds the tag

Each input line is `{"custom_id", "method": "POST", "url": endpoint, "body": the live request's
body}`; each output line `{"custom_id", "response": {"status_code", "body": the live reply's
body}, "error"}`. Any OpenAI-compatible server that implements `/v1/files` and `/v1/batches`
works the same way; one without them fails on the upload with a message saying so.

Creating a batch is not idempotent: when a create request fails in a way that may have created
it anyway (a timeout, a dropped connection), the batch is looked for by its tag before trying
again, so a retry never pays twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from mtbench.backends.batch_api import (
    BatchAPI,
    BatchLimits,
    BatchRequest,
    BatchResult,
    BatchState,
    unknown_batch,
)
from mtbench.backends.openai_compat import _server_message
from mtbench.errors import RequestError, TransientError, first_line

if TYPE_CHECKING:
    from mtbench.backends.openai_compat import OpenAICompatBackend

T = TypeVar("T")

TAG_KEY = "mtbench_tag"
"""The batch metadata key that holds the submission's tag (`BatchAPI.find`)."""

COMPLETION_WINDOW = "24h"
"""The only completion window OpenAI offers."""

ENDED = ("completed", "failed", "expired", "cancelled")
"""Statuses after which a batch's results no longer change."""

FIND_HORIZON = 3600.0
"""How far back (seconds before the submission) `find` looks through the batch listing."""


class OpenAIBatchAPI(BatchAPI):
    """OpenAI's Batch API for an `OpenAICompatBackend` (chat completions or responses).

    Args:
        backend: The open live backend.
    """

    name = "the OpenAI Batch API"
    limits = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
    labelled = True
    backend: OpenAICompatBackend

    def line(self, request: BatchRequest) -> bytes:
        """One line of the input file."""
        custom_id, body = request
        row = {
            "custom_id": custom_id,
            "method": "POST",
            "url": self.backend.batch_endpoint,
            "body": body,
        }
        return (json.dumps(row) + "\n").encode()

    def size(self, request: BatchRequest) -> int:
        return len(self.line(request))

    def submit(self, requests: Sequence[BatchRequest], tag: str) -> BatchState:
        client = self.backend._client
        since = time.time()
        self.creates_sent = 0
        data = b"".join(self.line(request) for request in requests)
        uploaded = self._sdk(
            "uploading the batch input file",
            lambda: client.files.create(
                file=(f"mtbench-{tag}.jsonl", data, "application/jsonl"), purpose="batch"
            ),
        )
        tries = 0

        def create() -> Any:
            nonlocal tries
            tries += 1
            if tries > 1:  # the failed try may have created it after all
                found = self.find(tag, since, len(requests))
                if found is not None:
                    return found
            self.creates_sent += 1
            return _state(
                client.batches.create(
                    input_file_id=uploaded.id,
                    endpoint=self.backend.batch_endpoint,
                    completion_window=COMPLETION_WINDOW,
                    metadata={TAG_KEY: tag},
                )
            )

        state = self._sdk("creating the batch", create)
        return state if isinstance(state, BatchState) else _state(state)

    def find(
        self, tag: str, since: float, requests: int, known: Collection[str] = ()
    ) -> BatchState | None:
        client = self.backend._client

        def look() -> BatchState | None:
            for batch in client.batches.list(limit=100):
                metadata = getattr(batch, "metadata", None) or {}
                if metadata.get(TAG_KEY) == tag:
                    return _state(batch)
                if (getattr(batch, "created_at", None) or 0) < since - FIND_HORIZON:
                    break  # newest first: nothing older can be ours
            return None

        return self._sdk("listing batches", look)

    def state(self, batch_id: str) -> BatchState:
        client = self.backend._client
        batch = self._sdk(
            f"reading batch {batch_id}", lambda: client.batches.retrieve(batch_id), batch_id
        )
        return _state(batch)

    def results(
        self, batch_id: str, wanted: Collection[str], sent: Mapping[str, Any]
    ) -> Iterator[BatchResult]:
        client = self.backend._client
        batch = self._sdk(f"reading batch {batch_id}", lambda: client.batches.retrieve(batch_id))
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text: str = self._sdk(
                f"downloading the results of batch {batch_id}",
                partial(_download, client, file_id),
            )
            for line in text.splitlines():
                if not line.strip():
                    continue
                result = self._read_line(line, wanted, sent)
                if result is not None:
                    yield result

    def _read_line(
        self, line: str, wanted: Collection[str], sent: Mapping[str, Any]
    ) -> BatchResult | None:
        """One output or error file line as a result (None: not wanted, or not a result)."""
        try:
            row = json.loads(line)
        except ValueError:
            return None
        custom_id = row.get("custom_id") if isinstance(row, dict) else None
        if not isinstance(custom_id, str) or custom_id not in wanted:
            return None
        error = row.get("error")
        response = row.get("response") or {}
        status = response.get("status_code")
        body = response.get("body")
        if error:
            if isinstance(error, dict):
                said = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
            else:
                said = str(error)
            return BatchResult(custom_id, None, said or "failed")
        if status == 200 and isinstance(body, dict):
            try:
                return BatchResult(custom_id, self.backend.reply_from(body, sent))
            except TransientError as exc:
                return BatchResult(custom_id, None, str(exc))
        message = ""
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = str(inner.get("message", "")) if isinstance(inner, dict) else str(inner)
        return BatchResult(custom_id, None, f"HTTP {status}: {message}".rstrip(": "))

    def cancel(self, batch_id: str) -> BatchState:
        client = self.backend._client
        batch = self._sdk(
            f"cancelling batch {batch_id}", lambda: client.batches.cancel(batch_id), batch_id
        )
        return _state(batch)

    def _sdk(self, what: str, call: Callable[[], T], batch_id: str | None = None) -> T:
        """`call` with the SDK's errors translated (`RemoteBackend` rules), retried; a 404
        about `batch_id` is `UnknownBatch`."""
        backend = self.backend
        openai = backend._openai

        def attempt() -> T:
            try:
                return call()
            except openai.APITimeoutError:
                raise TransientError(f"no reply within {backend.timeout:g}s") from None
            except openai.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                raise TransientError(
                    f"cannot reach {backend.base_url} ({first_line(cause, with_type=True)})"
                ) from None
            except openai.APIResponseValidationError as exc:
                raise TransientError(f"malformed reply ({first_line(exc)})") from None
            except openai.APIStatusError as exc:
                message = _server_message(exc)
                if exc.status_code == 404 and batch_id is not None:
                    raise unknown_batch(batch_id, backend.base_url, 404, message) from None
                if exc.status_code in (404, 405):
                    raise RequestError(
                        f"{backend.base_url}: {what} failed (HTTP {exc.status_code}: {message}); "
                        "--batch needs OpenAI's API or a server with /v1/files and /v1/batches"
                    ) from None
                raise backend._refusal(
                    exc.status_code, message, exc.response.headers, getattr(exc, "code", None)
                ) from None
            except ValueError as exc:
                raise TransientError(f"malformed reply ({first_line(exc)})") from None

        return self._call(what, attempt)


def _download(client: Any, file_id: str) -> str:
    """A file's content as text."""
    return str(client.files.content(file_id).text)


def _state(batch: Any) -> BatchState:
    """A `Batch` of the SDK as a `BatchState`."""
    counts = getattr(batch, "request_counts", None)
    total = int(getattr(counts, "total", 0) or 0)
    succeeded = int(getattr(counts, "completed", 0) or 0)
    failed = int(getattr(counts, "failed", 0) or 0)
    status = str(batch.status)
    ended = status in ENDED
    if ended:
        failed = max(failed, total - succeeded)  # never run: expired or cancelled
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    detail = "; ".join(str(getattr(e, "message", "") or getattr(e, "code", "")) for e in errors)
    return BatchState(str(batch.id), status, ended, succeeded, failed, total, detail)
