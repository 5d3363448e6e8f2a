"""Scripted provider batch APIs for `fake_openai_server`: OpenAI's files and batches, Anthropic's
message batches, as the real SDKs call them.

OpenAI: `POST /v1/files` (multipart upload, purpose `batch`), `GET /v1/files/{id}`,
`GET /v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/batches`,
`POST /v1/batches/{id}/cancel`. Anthropic: `POST /v1/messages/batches`,
`GET /v1/messages/batches/{id}`, `GET /v1/messages/batches` , `GET .../{id}/results` (JSONL),
`POST .../{id}/cancel`.

Each request of a batch is answered as the server answers it live (`FakeOpenAIServer.batch_answer`:
the reply function, refusals, unknown models), when the batch ends. How batches behave is a
`BatchScript`: they end after a number of looks (`retrieve` calls) and seconds; requests can
fail inside a batch (`fail`); a batch can expire with part of it done (`expire`); a cancelled
batch keeps the same part; the answer to a create can be delayed or dropped after the batch
exists (a client killed or cut off at that moment). Counters (`creates`, `uploads`) and every
request submitted (`submitted`) let tests check that nothing is submitted twice.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Anthropic's rule for a `custom_id`."""

DROP = object()
"""`Batches.handle`'s answer for "close the connection without replying"."""

Answer = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass
class BatchScript:
    """How scripted batches behave.

    Attributes:
        polls: Looks at a batch (retrieve calls) before it ends; 0 ends it at the first look.
        seconds: And at least this many seconds after its creation.
        fail: Given a request's custom id and body, an error message if it is to fail inside
            the batch (OpenAI: a line of the error file; Anthropic: an `errored` result).
        expire: Batches expire instead of completing, with `finish_share` of their requests
            (in input order) answered.
        finish_share: The share of requests a batch answers before it expires or is cancelled.
        create_delay: Seconds between creating a batch and answering the create request.
        drop_creates: The next this many create requests create their batch, then drop the
            connection without answering.
        max_requests: Batches with more requests fail validation (OpenAI) or are refused (400).
    """

    polls: int = 1
    seconds: float = 0.0
    fail: Callable[[str, dict[str, Any]], str | None] | None = None
    expire: bool = False
    finish_share: float = 0.5
    create_delay: float = 0.0
    drop_creates: int = 0
    max_requests: int = 50_000


@dataclass
class _Batch:
    id: str
    provider: str
    endpoint: str
    requests: list[tuple[str, dict[str, Any]]]
    created: float
    metadata: dict[str, Any] = field(default_factory=dict)
    input_file_id: str = ""
    looks: int = 0
    status: str = "in_progress"
    cancel_asked: bool = False
    results: dict[str, Any] = field(default_factory=dict)  # custom id -> (kind, payload)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    ended_at: float | None = None


class Batches:
    """The batch state of one scripted server.

    Args:
        answer: Answers one request as the live endpoint at a path would: (HTTP status, body).
    """

    def __init__(self, answer: Answer):
        self.answer = answer
        self.script = BatchScript()
        self.enabled = True  # False: no batch routes, as on a server without a batch API
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, _Batch] = {}
        self.creates = 0
        self.uploads = 0
        self.cancels = 0
        self.http: dict[str, int] = {}  # "GET /v1/batches/{id}" -> requests seen
        self.submitted: list[tuple[str, str, dict[str, Any]]] = []  # (batch id, custom id, body)
        self._lock = threading.RLock()
        self._next = 0

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._next += 1
            return f"{prefix}{self._next:06d}"

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes, host: str
    ) -> tuple[int, Any] | object | None:
        """Answer a batch route: (status, JSON value or bytes), `DROP`, or None (not a route)."""
        if not self.enabled:
            return None
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "messages", "batches"]:
            head, rest = parts[:3], parts[3:]
        elif parts[:2] in (["v1", "files"], ["v1", "batches"]):
            head, rest = parts[:2], parts[2:]
        else:
            return None
        route = "/".join([*head, *(["{id}"] if rest else []), *rest[1:]])
        with self._lock:
            self.http[f"{method} /{route}"] = self.http.get(f"{method} /{route}", 0) + 1
        if head[1] == "messages":
            return self._anthropic(method, rest, host, raw)
        if head[1] == "files":
            return self._files(method, rest, headers, raw)
        return self._openai(method, rest, raw)

    # OpenAI ---------------------------------------------------------------------------------

    def _files(self, method: str, rest: list[str], headers: Any, raw: bytes) -> Any:
        if method == "POST" and not rest:
            form = _multipart(headers.get("Content-Type", ""), raw)
            if form.get("purpose") != b"batch" or "file" not in form:
                return 400, _error("expected a file with purpose 'batch'")
            file_id = self._id("file-")
            self.files[file_id] = ("batch", form["file"])
            self.uploads += 1
            return 200, self._file_row(file_id)
        if not rest or rest[0] not in self.files:
            return 404, _error(f"No such File object: {rest[0] if rest else ''}")
        if method == "GET" and len(rest) == 1:
            return 200, self._file_row(rest[0])
        if method == "GET" and rest[1:] == ["content"]:
            return 200, self.files[rest[0]][1]
        return 404, _error("no route")

    def _file_row(self, file_id: str) -> dict[str, Any]:
        purpose, data = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def _openai(self, method: str, rest: list[str], raw: bytes) -> Any:
        if method == "POST" and not rest:
            body = json.loads(raw)
            stored = self.files.get(body.get("input_file_id", ""))
            if stored is None:
                return 400, _error("input file not found")
            requests = []
            for line in stored[1].decode().splitlines():
                if line.strip():
                    row = json.loads(line)
                    requests.append((row["custom_id"], row["body"]))
            batch = _Batch(
                self._id("batch_"),
                "openai",
                body["endpoint"],
                requests,
                time.time(),
                dict(body.get("metadata") or {}),
                body["input_file_id"],
            )
            if len(requests) > self.script.max_requests:
                batch.errors = [{"code": "too_many_requests", "message": "too many requests"}]
            return self._created(batch, lambda: self._openai_row(batch))
        if method == "GET" and not rest:
            rows = [self._openai_row(b) for b in self._newest_first("openai")]
            return 200, {"object": "list", "data": rows, "has_more": False}
        known = self.batches.get(rest[0]) if rest else None
        if known is None or known.provider != "openai":
            return 404, _error(f"No batch found with id '{rest[0] if rest else ''}'")
        if method == "GET" and len(rest) == 1:
            self._look(known)
            return 200, self._openai_row(known)
        if method == "POST" and rest[1:] == ["cancel"]:
            self._cancel(known)
            return 200, self._openai_row(known)
        return 404, _error("no route")

    def _openai_row(self, batch: _Batch) -> dict[str, Any]:
        done = sum(1 for kind, _ in batch.results.values() if kind == "succeeded")
        failed = len(batch.results) - done
        if not batch.results and batch.status == "in_progress":  # moving towards the end
            done = len(batch.requests) * batch.looks // max(1, self.script.polls + 1)
        status = batch.status if batch.status != "canceling" else "cancelling"
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(batch.created),
            "request_counts": {"total": len(batch.requests), "completed": done, "failed": failed},
            "metadata": batch.metadata or None,
        }

    # Anthropic ------------------------------------------------------------------------------

    def _anthropic(self, method: str, rest: list[str], host: str, raw: bytes) -> Any:
        if method == "POST" and not rest:
            return self._anthropic_create(host, raw)
        if method == "GET" and not rest:
            rows = [self._anthropic_row(b, host) for b in self._newest_first("anthropic")]
            first = rows[0]["id"] if rows else None
            last = rows[-1]["id"] if rows else None
            return 200, {"data": rows, "has_more": False, "first_id": first, "last_id": last}
        batch = self.batches.get(rest[0]) if rest else None
        if batch is None or batch.provider != "anthropic":
            return 404, _anthropic_error("not_found_error", f"no batch {rest[0] if rest else ''}")
        if method == "GET" and len(rest) == 1:
            self._look(batch)
            return 200, self._anthropic_row(batch, host)
        if method == "POST" and rest[1:] == ["cancel"]:
            self._cancel(batch)
            return 200, self._anthropic_row(batch, host)
        if method == "GET" and rest[1:] == ["results"]:
            if batch.status != "ended":
                return 400, _anthropic_error("invalid_request_error", "batch still processing")
            lines = []
            for custom_id, _ in batch.requests:
                kind, payload = batch.results[custom_id]
                result: dict[str, Any] = {"type": kind}
                if kind == "succeeded":
                    result["message"] = payload
                elif kind == "errored":
                    result["error"] = {"type": "error", "error": payload}
                lines.append(json.dumps({"custom_id": custom_id, "result": result}))
            return 200, ("\n".join(lines) + "\n").encode()
        return 404, _anthropic_error("not_found_error", "no route")

    def _anthropic_create(self, host: str, raw: bytes) -> Any:
        body = json.loads(raw)
        requests = [(r["custom_id"], r["params"]) for r in body["requests"]]
        for custom_id, _ in requests:
            if not CUSTOM_ID.match(custom_id):
                said = f"custom_id {custom_id!r}: must match {CUSTOM_ID.pattern}"
                return 400, _anthropic_error("invalid_request_error", said)
        if len({c for c, _ in requests}) != len(requests):
            return 400, _anthropic_error("invalid_request_error", "custom_id must be unique")
        if len(requests) > self.script.max_requests:
            return 400, _anthropic_error("invalid_request_error", "too many requests")
        batch = _Batch(self._id("msgbatch_"), "anthropic", "/v1/messages", requests, time.time())
        return self._created(batch, lambda: self._anthropic_row(batch, host))

    def _anthropic_row(self, batch: _Batch, host: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.status != "ended":
            counts["processing"] = len(batch.requests)
        for kind, _ in batch.results.values():
            counts[kind] += 1
        url = f"http://{host}/v1/messages/batches/{batch.id}/results"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": _iso(batch.created),
            "expires_at": _iso(batch.created + 86400),
            "ended_at": _iso(batch.ended_at) if batch.ended_at else None,
            "cancel_initiated_at": _iso(batch.created) if batch.cancel_asked else None,
            "archived_at": None,
            "results_url": url if batch.status == "ended" else None,
        }

    # Both -----------------------------------------------------------------------------------

    def _created(self, batch: _Batch, row: Callable[[], dict[str, Any]]) -> Any:
        with self._lock:
            self.batches[batch.id] = batch
            self.creates += 1
            for custom_id, body in batch.requests:
                self.submitted.append((batch.id, custom_id, body))
            drop = self.script.drop_creates > 0
            if drop:
                self.script.drop_creates -= 1
        if batch.errors:
            self._end(batch, "failed")
        if self.script.create_delay:
            time.sleep(self.script.create_delay)
        return DROP if drop else (200, row())

    def _newest_first(self, provider: str) -> list[_Batch]:
        found = [b for b in self.batches.values() if b.provider == provider]
        return sorted(found, key=lambda b: b.id, reverse=True)

    def _look(self, batch: _Batch) -> None:
        """One retrieve: the batch moves on, and ends when the script says so."""
        with self._lock:
            if batch.ended_at is not None:
                return
            batch.looks += 1
            if batch.cancel_asked:
                self._end(batch, "cancelled")
            elif batch.looks > self.script.polls - 1 and (
                time.time() - batch.created >= self.script.seconds
            ):
                self._end(batch, "expired" if self.script.expire else "completed")

    def _cancel(self, batch: _Batch) -> None:
        with self._lock:
            self.cancels += 1
            if batch.ended_at is None:
                batch.cancel_asked = True
                batch.status = "canceling" if batch.provider == "anthropic" else "cancelling"

    def _end(self, batch: _Batch, how: str) -> None:
        """Answer the batch's requests (all, or the finished share) and end it."""
        share = len(batch.requests)
        if how in ("expired", "cancelled"):
            share = int(len(batch.requests) * self.script.finish_share)
        for index, (custom_id, body) in enumerate(batch.requests):
            batch.results[custom_id] = self._result(batch, custom_id, body, index < share, how)
        batch.ended_at = time.time()
        batch.status = "ended" if batch.provider == "anthropic" else how
        if batch.provider == "openai":
            self._write_files(batch)

    def _result(
        self, batch: _Batch, custom_id: str, body: dict[str, Any], run: bool, how: str
    ) -> tuple[str, Any]:
        if how == "failed":
            return "failed", None
        if not run:
            return ("expired" if how == "expired" else "canceled"), None
        message = self.script.fail(custom_id, body) if self.script.fail else None
        if message:
            return "errored", {"type": "api_error", "message": message, "status": 500}
        status, reply = self.answer(batch.endpoint, body)
        if status != 200:
            error = reply.get("error", reply)
            return "errored", {**error, "status": status}
        return "succeeded", reply

    def _write_files(self, batch: _Batch) -> None:
        output, errors = [], []
        for number, (custom_id, _) in enumerate(batch.requests):
            kind, payload = batch.results[custom_id]
            line: dict[str, Any] = {"id": f"batch_req_{number}", "custom_id": custom_id}
            if kind == "succeeded":
                line["response"] = {"status_code": 200, "request_id": "req", "body": payload}
                line["error"] = None
                output.append(json.dumps(line))
            elif kind == "errored":
                status = payload.pop("status")
                line["response"] = {"status_code": status, "body": {"error": payload}}
                line["error"] = None
                errors.append(json.dumps(line))
            elif kind in ("expired", "canceled"):
                code = "batch_expired" if kind == "expired" else "batch_cancelled"
                line["response"] = None
                line["error"] = {"code": code, "message": f"This request was not run ({kind})."}
                errors.append(json.dumps(line))
        for lines, attribute in ((output, "output_file_id"), (errors, "error_file_id")):
            if lines:
                file_id = self._id("file-")
                self.files[file_id] = ("batch_output", ("\n".join(lines) + "\n").encode())
                setattr(batch, attribute, file_id)


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload if isinstance(payload, bytes) else b""
    return fields


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")
