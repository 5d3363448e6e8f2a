"""Provider batch APIs: many independent requests, answered within 24 hours at half the price.

OpenAI's Batch API (`mtbench.backends.openai_batches`: a JSONL file uploaded with
`files.create(purpose="batch")`, then `batches.create`) and Anthropic's Message Batches
(`mtbench.backends.anthropic_batches`: `messages.batches.create`) take the same requests as the
live API, each tagged with a `custom_id`, and return one result per request: the live reply's
body, or why that request failed. A `BatchAPI` wraps an open API backend, so that

* a batch request's body is exactly what the live path would send (`RemoteBackend.request_body`:
  the same request shape, parameters and learned refusals), and
* a batch result is read into a `Reply` by the same code as a live reply (the backend's
  `_reply`: text, reasoning, finish reason, provenance, token usage),

and the judge treats the two alike. Every call to the batch endpoints is retried like a live
request (`mtbench.backends.retry`), and its HTTP errors are translated the same way.

Provider limits, honoured by `split` (a batch never exceeds them; more requests make more
batches): OpenAI 50,000 requests and 200 MB per input file; Anthropic 100,000 requests and
256 MB per batch (`BatchLimits`; both providers' batch documentation).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mtbench.backends.base import Conversation, GenerationParams, Reply
from mtbench.backends.retry import call_with_retry
from mtbench.errors import RequestError

if TYPE_CHECKING:
    from mtbench.backends.remote import RemoteBackend

T = TypeVar("T")

BatchRequest = tuple[str, dict[str, Any]]
"""One request of a batch: its `custom_id` and its JSON body (`BatchAPI.body`)."""


class UnknownBatch(RequestError):
    """The provider answers 404 for a batch id it was given (made with another key or project,
    or deleted): that batch is left alone, the others go on.

    Args:
        batch_id: The batch.
        message: One line naming the batch, the API root and what to do.
    """

    def __init__(self, batch_id: str, message: str):
        super().__init__(message)
        self.batch_id = batch_id


def unknown_batch(batch_id: str, where: str, status: int, said: str) -> UnknownBatch:
    """The `UnknownBatch` for a 404 about `batch_id` at the API root `where`."""
    return UnknownBatch(
        batch_id,
        f"batch {batch_id}: unknown at {where} (HTTP {status}: {said}); made with another API "
        "key or project? Left alone (the key that created it can still collect it)",
    )


@dataclass(frozen=True)
class BatchLimits:
    """How much one batch may hold.

    Attributes:
        max_requests: Requests per batch.
        max_bytes: Bytes of the serialised requests per batch (OpenAI: the input file;
            Anthropic: the create request's body).
    """

    max_requests: int
    max_bytes: int


@dataclass(frozen=True)
class BatchState:
    """A batch as the provider reports it.

    Attributes:
        id: The provider's batch id (`batch_...`, `msgbatch_...`).
        status: The provider's own word (`validating`, `in_progress`, `completed`, `expired`,
            `cancelled`, `failed`; Anthropic: `in_progress`, `canceling`, `ended`).
        ended: No request of it will change any more: its results can be read.
        succeeded: Requests answered.
        failed: Requests that failed, expired or were cancelled.
        total: Requests in the batch.
        detail: Why a batch failed as a whole, or how it ended ("" if nothing to say).
    """

    id: str
    status: str
    ended: bool
    succeeded: int
    failed: int
    total: int
    detail: str = ""

    @property
    def finished(self) -> int:
        """Requests that have a result (answered or failed)."""
        return self.succeeded + self.failed


@dataclass(frozen=True)
class BatchResult:
    """The result of one request of an ended batch.

    Attributes:
        custom_id: The request's `custom_id`.
        reply: The reply, read as a live reply is (None when the request failed).
        error: Why the request failed ("" when it has a reply): the provider's error, or
            `expired` / `cancelled` for a request the batch never ran.
    """

    custom_id: str
    reply: Reply | None
    error: str = ""


class BatchAPI(ABC):
    """One provider's batch endpoints, used through an open API backend.

    Args:
        backend: The live backend (client, key, retries, request and reply shapes).

    Attributes:
        name: The API's name, for messages (`the OpenAI Batch API`).
        limits: What one batch may hold (`split` keeps to it).
    """

    name = "a batch API"
    limits = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
    console = "the provider's console"
    """Where a user sees and cancels batches by hand (named in warnings about orphans)."""

    def __init__(self, backend: RemoteBackend):
        self.backend = backend
        self.warnings: list[str] = []  # lines for the user, taken by the run (`BatchRun`)
        self.creates_sent = 0  # create requests the last `submit` sent (or began to send)

    labelled = False
    """A batch carries the submission's tag: `find` proves a batch is, or is not, ours."""

    @property
    def endpoint(self) -> str:
        """The API root the batches live at (recorded with each batch)."""
        return self.backend.base_url

    def request(
        self, conversation: Conversation, params: GenerationParams
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One request's JSON body, exactly what the live path sends, and its parameters
        (`RemoteBackend.request_body`)."""
        return self.backend.request_body(conversation, params)

    def params(self, params: GenerationParams) -> dict[str, Any]:
        """The request parameters a request sampled with `params` carries (`request`'s second
        value, without a conversation)."""
        return self.backend.adjuster.apply(self.backend.request_params(params))

    def size(self, request: BatchRequest) -> int:
        """Bytes one request adds to a batch (its serialised line)."""
        return len(json.dumps({"custom_id": request[0], "body": request[1]}).encode()) + 1

    def created_nothing(self, error: BaseException) -> bool:
        """Whether the `submit` that raised `error` certainly created no batch: it failed before
        its create request, or its only create request was refused (a 4xx: no retry)."""
        from mtbench.errors import AuthError, RequestError

        refused = isinstance(error, (AuthError, RequestError))
        return self.creates_sent == 0 or (self.creates_sent == 1 and refused)

    @abstractmethod
    def submit(self, requests: Sequence[BatchRequest], tag: str) -> BatchState:
        """Create one batch of these requests (within `limits`), labelled with `tag`.

        Counts in `creates_sent` the create requests it sends (`created_nothing`).

        Raises:
            AuthError, RequestError: when the provider refuses (no retry can help).
            BackendError: when the provider cannot be reached after retries.
        """

    @abstractmethod
    def find(
        self, tag: str, since: float, requests: int, known: Collection[str] = ()
    ) -> BatchState | None:
        """The batch `submit(..., tag)` created, if the provider has it (None if not).

        For a run killed between creating a batch and recording its id: the rerun looks for
        it instead of paying for the requests twice.

        Args:
            tag: The label given to `submit`.
            since: When the submission started (seconds since the epoch).
            requests: How many requests it held.
            known: Batch ids already accounted for (never the one looked for).

        Only a batch proven to be this submission's (OpenAI: the tag in its metadata) is
        returned; a provider whose batches carry no label returns None (see `suspects`).
        """

    def suspects(self, since: float, requests: int, known: Collection[str] = ()) -> list[str]:
        """Batches that may be an unproven submission's orphan (created since, same size).

        For a provider whose batches carry no label (`find` cannot prove one is ours): the
        ids to name in a warning, never to adopt. Default: none (`find` is proof).
        """
        return []

    @abstractmethod
    def state(self, batch_id: str) -> BatchState:
        """The batch's status and counts now."""

    @abstractmethod
    def results(
        self, batch_id: str, wanted: Collection[str], sent: Mapping[str, Any]
    ) -> Iterator[BatchResult]:
        """The results of an ended batch's requests whose `custom_id` is in `wanted`.

        A request without a result (a batch that failed validation, or ended before running
        it, may leave none) is simply not yielded.

        Args:
            batch_id: The batch.
            wanted: The custom ids to read (results of others are skipped unread).
            sent: The request parameters the batch's requests carried (`Reply.meta["params"]`).
        """

    @abstractmethod
    def cancel(self, batch_id: str) -> BatchState:
        """Ask the provider to stop the batch; requests already answered keep their results."""

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """`call`, retried as a live request is (`call` raises our errors, not the SDK's)."""
        backend = self.backend
        return call_with_retry(
            call,
            backend.retry,
            on_retry=backend._retried,
            stop=backend._stop,
            what=f"{what} at {backend.base_url}",
        )


def orphan_warning(suspects: Sequence[str], console: str) -> str:
    """The warning for a submission that may have created a batch nobody can prove is its."""
    return (
        f"warning: one of {', '.join(suspects)} (created since, with the same number of "
        "requests) may be this run's orphan: a batch whose id was never recorded, still running "
        "and billed, which mtbench will not collect (nothing proves which batch is whose); if "
        f"it is, cancel it in {console}"
    )


def split(
    requests: Sequence[BatchRequest], limits: BatchLimits, size: Callable[[BatchRequest], int]
) -> list[list[BatchRequest]]:
    """Cut requests into batches that keep within `limits`, in order.

    A request larger than `limits.max_bytes` on its own goes alone into a batch (the provider
    then refuses that batch, and says why).
    """
    batches: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    used = 0
    for request in requests:
        bytes_ = size(request)
        if current and (len(current) >= limits.max_requests or used + bytes_ > limits.max_bytes):
            batches.append(current)
            current, used = [], 0
        current.append(request)
        used += bytes_
    if current:
        batches.append(current)
    return batches
