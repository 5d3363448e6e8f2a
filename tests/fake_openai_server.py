"""A scripted OpenAI-compatible (and Anthropic Messages) HTTP server on 127.0.0.1, stdlib only.

Tests and `scripts/bench_judge.py` point the real `openai` / `anthropic` clients at it. It serves
`POST /v1/chat/completions`, `POST /v1/responses` (OpenAI's Responses API) and `POST /v1/messages`,
records every request (without credentials) so tests can assert the exact messages sent, and
misbehaves on demand:

* `script(...)`: a queue of faults applied to the next requests, in order;
* `rate_limit_rate` / `server_error_rate`: random 429s (with `Retry-After`) and 500s;
* `reply`: a function from the request body to the reply text, or to a `Fault` for that request;
* `require_key`: requests without that key get 401; `known_models`: other models get 404;
* `latency`: seconds each successful reply takes;
* `refuse`: a function from the request body to a parameter refusal (`Refusal`), as reasoning
  models refuse `temperature` or `max_tokens` (`Refusal.reasoning_model`);
* `models`: what `GET /v1/models` lists (default: `known_models`), with any extra fields, or
  a `Fault` to answer the listing with (a proxy without the route, a broken listing);
* `batches`: OpenAI's files and batches endpoints and Anthropic's message batches
  (`fake_batches`), whose requests are answered as live ones are (`batch_answer`) and whose
  behaviour is scripted by `batches.script` (a `BatchScript`).

A reply function may return a `Completion` instead of text: a reply with reasoning fields
(`reasoning_content`, `reasoning`, Anthropic thinking blocks), another finish reason, a dated
model snapshot, a `system_fingerprint`, reasoning-token usage. The Responses API gets the same
reply as output items: the content as a `message` item with one `output_text` part, reasoning as
a `reasoning` item with a summary, `finish_reason: length` as `status: incomplete` with
`incomplete_details.reason: max_output_tokens`.

Run it by hand: `python tests/fake_openai_server.py --port 8000 --latency 0.2`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fake_batches import DROP, Batches


@dataclass(frozen=True)
class Fault:
    """One way to answer a request badly.

    Attributes:
        kind: `status` (an HTTP error), `timeout` (answer only after `delay` seconds),
            `malformed` (200 with a body that is not a completion), `drop` (close the
            connection without answering), or `empty` (200 whose reply has no text).
        status: The HTTP status for `status`.
        retry_after: `Retry-After` header value in seconds (sent as given), if any.
        message: The error message in the body.
        code: The error code in the body (e.g. `model_not_found`).
        delay: Seconds to wait first (`timeout`).
        body: Raw body for `malformed` (default: not JSON at all).
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    message: str = "injected failure"
    code: str | None = None
    delay: float = 0.0
    body: bytes | None = None

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.05) -> Fault:
        header = None if retry_after is None else f"{retry_after:g}"
        return cls("status", 429, header, "Rate limit reached; slow down", "rate_limit_exceeded")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status, message="The server had an error processing your request")

    @classmethod
    def timeout(cls, delay: float = 5.0) -> Fault:
        return cls("timeout", delay=delay)

    @classmethod
    def malformed(cls, body: bytes | None = None) -> Fault:
        return cls("malformed", 200, body=body)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def http_error(
        cls, status: int, message: str = "bad request", code: str | None = None
    ) -> Fault:
        return cls("status", status, message=message, code=code)


@dataclass(frozen=True)
class Completion:
    """A whole reply, for judges that say more than text.

    Attributes:
        content: The message text (None: JSON null, as reasoning models send when cut).
        reasoning_content: vLLM's / DeepSeek's separate reasoning field.
        reasoning: The same under the name OpenRouter and Ollama use.
        thinking: An Anthropic `thinking` block before the text block.
        finish_reason: `stop`, `length` (Anthropic: `end_turn`, `max_tokens` are mapped).
        model: The model the server says answered (default: the name requested).
        system_fingerprint: OpenAI's backend configuration id.
        reasoning_tokens: Reported in `usage.completion_tokens_details` (Responses API:
            `usage.output_tokens_details`).
    """

    content: str | None = ""
    reasoning_content: str | None = None
    reasoning: str | None = None
    thinking: str | None = None
    finish_reason: str = "stop"
    model: str | None = None
    system_fingerprint: str | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class Refusal:
    """A 400 refusing one request parameter, in OpenAI's error shape.

    Attributes:
        param: The parameter refused (the body's `error.param`).
        message: The error message.
        code: `unsupported_parameter` or `unsupported_value`.
    """

    param: str
    message: str
    code: str = "unsupported_parameter"

    @staticmethod
    def reasoning_model(body: dict[str, Any]) -> Refusal | None:
        """What OpenAI's reasoning models (o1, o3, o4-mini, gpt-5) refuse, with their words."""
        if "max_tokens" in body:
            return Refusal(
                "max_tokens",
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        if "temperature" in body and body["temperature"] != 1:
            return Refusal(
                "temperature",
                f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                "this model. Only the default (1) value is supported.",
                "unsupported_value",
            )
        return None


@dataclass
class RecordedRequest:
    """A request as the server saw it (the `Authorization`/`x-api-key` values are not kept)."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    had_key: bool
    time: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages, or a Responses API request's `input` messages."""
        if "messages" in self.body:
            return list(self.body["messages"])
        given = self.body.get("input", [])
        return [{"role": "user", "content": given}] if isinstance(given, str) else list(given)


Reply = Callable[[dict[str, Any]], "str | Completion | Fault"]


def judge_reply(body: dict[str, Any]) -> str:
    """A deterministic stand-in judge: a rating or an A/B/C verdict derived from the prompt."""
    conversation = body.get("messages", body.get("input", []))
    system = body.get("system", body.get("instructions", ""))
    text = json.dumps(conversation, sort_keys=True) + str(system)
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    if "[[rating]]" in text:
        return f"The answer is adequate in places.\n\nRating: [[{digest % 10 + 1}]]"
    if "[[A]]" in text:
        verdict = ("[[A]]", "[[B]]", "[[C]]")[digest % 3]
        return f"Both assistants tried.\n\n{verdict}"
    return "OK"


class FakeOpenAIServer:
    """The server; use it as a context manager or call `start()` / `stop()`.

    Args:
        reply: Reply text (or a `Fault`) for a request body; default `judge_reply`.
        latency: Seconds before each successful reply.
        rate_limit_rate: Share of requests answered 429 at random.
        server_error_rate: Share of requests answered 500 at random.
        retry_after: `Retry-After` seconds of random 429s (None: no header).
        fault_latency: Seconds before a random fault is sent.
        require_key: If set, the only API key accepted.
        known_models: If set, other model names get 404 `model_not_found`.
        refuse: Refuses a parameter of a request body (see `Refusal`), or None.
        models: The rows `GET /v1/models` lists (default: one per `known_models` name), or a
            `Fault` that answers every listing request.
        seed: Seed of the random faults.
        port: 0 picks a free port.
    """

    def __init__(
        self,
        reply: Reply | None = None,
        latency: float = 0.0,
        rate_limit_rate: float = 0.0,
        server_error_rate: float = 0.0,
        retry_after: float | None = 0.05,
        fault_latency: float = 0.0,
        require_key: str | None = None,
        known_models: Iterable[str] | None = None,
        refuse: Callable[[dict[str, Any]], Refusal | None] | None = None,
        models: list[dict[str, Any]] | Fault | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.reply = reply or judge_reply
        self.latency = latency
        self.rate_limit_rate = rate_limit_rate
        self.server_error_rate = server_error_rate
        self.retry_after = retry_after
        self.fault_latency = fault_latency
        self.require_key = require_key
        self.known_models = set(known_models) if known_models is not None else None
        self.refuse = refuse
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.faults_sent: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._closing = threading.Event()
        self.batches = Batches(self.batch_answer)
        self._httpd = _Server((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (`.../v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The Anthropic base URL (the client adds `/v1/messages`)."""
        return f"http://127.0.0.1:{self.port}"

    def script(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, in order, before anything else."""
        with self._lock:
            self._script.extend(faults)

    def batch_answer(self, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One request of a batch sent to `endpoint`, answered as the live endpoint answers it:
        (HTTP status, body). The live checks apply (unknown model, refused parameter, a `Fault`
        from the reply function); faults of the transport (timeouts, drops) become a 500."""
        anthropic = endpoint.endswith("/messages")

        def error(status: int, message: str, code: str | None = None) -> tuple[int, dict[str, Any]]:
            if anthropic:
                kind = {404: "not_found_error", 400: "invalid_request_error"}.get(
                    status, "api_error"
                )
                return status, {"type": "error", "error": {"type": kind, "message": message}}
            return status, {
                "error": {"message": message, "type": "invalid_request_error", "code": code}
            }

        model = body.get("model")
        if self.known_models is not None and model not in self.known_models:
            return error(404, f"The model `{model}` does not exist", "model_not_found")
        refusal = self.refuse(body) if self.refuse is not None else None
        if refusal is not None:
            return error(400, refusal.message, refusal.code)
        reply = self.reply(body)
        if isinstance(reply, Fault):
            status = reply.status if reply.kind == "status" else 500
            return error(status, reply.message, reply.code)
        if anthropic:
            return 200, _anthropic_reply(body, reply)
        if endpoint.endswith("/responses"):
            return 200, _responses_reply(body, reply)
        return 200, _openai_reply(body, reply)

    def completions(self) -> list[RecordedRequest]:
        """The recorded chat/responses/messages requests, in arrival order."""
        with self._lock:
            return list(self.requests)

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Called from handler threads.
    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            draw = self._rng.random()
        if draw < self.rate_limit_rate:
            return Fault.rate_limit(self.retry_after)
        if draw < self.rate_limit_rate + self.server_error_rate:
            return Fault.server_error()
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _count(self, fault: Fault) -> None:
        name = f"{fault.kind}:{fault.status}" if fault.kind == "status" else fault.kind
        with self._lock:
            self.faults_sent[name] = self.faults_sent.get(name, 0) + 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open many connections at once


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One buffered write per response and no Nagle delay: otherwise every reply waits
        # ~40 ms for a delayed ACK, which would swamp the latencies we script.
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            """`GET /v1/models[/id]`; `GET /stats`: requests seen and faults sent (benchmark);
            the batch routes (`fake_batches`)."""
            if self._batch_route("GET", b""):
                return
            path = self.path.rstrip("/")
            if path.endswith("/models") or "/models/" in path:
                listed = server.models
                if isinstance(listed, Fault):
                    self._fault(listed, False)
                    return
                if listed is None:
                    names = sorted(server.known_models or ())
                    listed = [{"id": n, "object": "model", "owned_by": "fake"} for n in names]
                if path.endswith("/models"):
                    self._send_json(200, {"object": "list", "data": listed})
                    return
                wanted = path.split("/models/", 1)[1]
                for row in listed:
                    if row.get("id") == wanted:
                        self._send_json(200, row)
                        return
                self._error(False, 404, f"The model `{wanted}` does not exist", "model_not_found")
                return
            if path != "/stats":
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            with server._lock:
                stats = {
                    "requests": len(server.requests),
                    "faults": dict(server.faults_sent),
                    "max_in_flight": server.max_in_flight,
                }
            self._send_json(200, stats)

        def do_POST(self) -> None:  # noqa: N802
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._post()
            finally:
                with server._lock:
                    server.in_flight -= 1

        def _batch_route(self, method: str, raw: bytes) -> bool:
            """Answer a batch route (`fake_batches`); False when the path is not one."""
            split = urlsplit(self.path)
            answer = server.batches.handle(
                method,
                split.path.rstrip("/"),
                dict(parse_qsl(split.query)),
                self.headers,
                raw,
                self.headers.get("Host", f"127.0.0.1:{server.port}"),
            )
            if answer is None:
                return False
            anthropic = "/messages/" in split.path
            key = self._key(anthropic)
            if server.require_key is not None and key != server.require_key:
                self._error(anthropic, 401, "Incorrect API key provided", "invalid_api_key")
            elif answer is DROP:
                self.close_connection = True
                self.connection.close()
            else:
                assert isinstance(answer, tuple)
                status, value = answer
                if isinstance(value, bytes):
                    self._send(status, value)
                else:
                    self._send_json(status, value)
            return True

        def _post(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self._batch_route("POST", raw):
                return
            path = self.path.rstrip("/")
            anthropic = path.endswith("/messages")
            responses = path.endswith("/responses")
            if not (anthropic or responses or path.endswith("/chat/completions")):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send_json(400, {"error": {"message": "body is not JSON"}})
                return
            key = self._key(anthropic)
            headers = {
                k.lower(): v
                for k, v in self.headers.items()
                if k.lower() not in ("authorization", "x-api-key")
            }
            server._record(RecordedRequest(self.path, body, headers, had_key=bool(key)))
            if server.require_key is not None and key != server.require_key:
                self._error(anthropic, 401, "Incorrect API key provided", "invalid_api_key")
                return
            model = body.get("model")
            if server.known_models is not None and model not in server.known_models:
                message = f"The model `{model}` does not exist or you do not have access to it."
                self._error(anthropic, 404, message, "model_not_found")
                return
            refusal = server.refuse(body) if server.refuse is not None else None
            if refusal is not None:
                self._send_json(
                    400,
                    {
                        "error": {
                            "message": refusal.message,
                            "type": "invalid_request_error",
                            "param": refusal.param,
                            "code": refusal.code,
                        }
                    },
                )
                return
            fault = server._next_fault()
            if fault is None:
                reply = server.reply(body)
                if isinstance(reply, Fault):
                    fault = reply
            if fault is not None:
                server._count(fault)
                self._fault(fault, anthropic, responses)
                return
            server._sleep(server.latency)
            assert isinstance(reply, (str, Completion))
            if anthropic:
                self._send_json(200, _anthropic_reply(body, reply))
            elif responses:
                self._send_json(200, _responses_reply(body, reply))
            else:
                self._send_json(200, _openai_reply(body, reply))

        def _key(self, anthropic: bool) -> str | None:
            if anthropic and self.headers.get("x-api-key"):
                return self.headers.get("x-api-key")
            auth = self.headers.get("Authorization") or ""
            return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

        def _fault(self, fault: Fault, anthropic: bool, responses: bool = False) -> None:
            if fault.kind == "timeout":
                server._sleep(fault.delay)
                self._send_json(200, _openai_reply({}, "too late"))
            elif fault.kind == "drop":
                self.close_connection = True
                self.connection.close()
            elif fault.kind == "malformed":
                self._send(200, fault.body or b"<html>502 Bad Gateway</html>")
            elif fault.kind == "empty" and responses:
                self._send_json(200, {"id": "x", "object": "response", "output": []})
            elif fault.kind == "empty":
                self._send_json(200, {"id": "x", "object": "chat.completion", "choices": []})
            else:
                server._sleep(server.fault_latency)
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._error(anthropic, fault.status, fault.message, fault.code, extra)

        def _error(
            self,
            anthropic: bool,
            status: int,
            message: str,
            code: str | None,
            headers: dict[str, str] | None = None,
        ) -> None:
            if anthropic:
                kind = {
                    401: "authentication_error",
                    404: "not_found_error",
                    429: "rate_limit_error",
                }
                body = {
                    "type": "error",
                    "error": {"type": kind.get(status, "api_error"), "message": message},
                }
            else:
                body = {
                    "error": {"message": message, "type": "invalid_request_error", "code": code}
                }
            self._send_json(status, body, headers)

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), headers)

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to do.

    return Handler


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _openai_reply(body: dict[str, Any], reply: str | Completion) -> dict[str, Any]:
    done = reply if isinstance(reply, Completion) else Completion(reply)
    prompt = sum(_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": done.content}
    if done.reasoning_content is not None:
        message["reasoning_content"] = done.reasoning_content
    if done.reasoning is not None:
        message["reasoning"] = done.reasoning
    thought = done.reasoning_tokens or 0
    completion = _tokens(done.content or "") + thought
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if done.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": done.reasoning_tokens}
    row: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": done.model or body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": done.finish_reason}],
        "usage": usage,
    }
    if done.system_fingerprint is not None:
        row["system_fingerprint"] = done.system_fingerprint
    return row


def _responses_reply(body: dict[str, Any], reply: str | Completion) -> dict[str, Any]:
    """A Responses API reply: reasoning and message output items, status, usage."""
    done = reply if isinstance(reply, Completion) else Completion(reply)
    given = body.get("input", [])
    turns = [{"content": given}] if isinstance(given, str) else given
    prompt = _tokens(str(body.get("instructions") or "")) + sum(
        _tokens(str(m.get("content", ""))) for m in turns
    )
    output: list[dict[str, Any]] = []
    thought_text = done.reasoning_content if done.reasoning_content is not None else done.reasoning
    if thought_text is not None:
        summary = [{"type": "summary_text", "text": thought_text}]
        output.append({"id": "rs_fake", "type": "reasoning", "summary": summary})
    if done.content is not None:
        part = {"type": "output_text", "text": done.content, "annotations": []}
        output.append(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "status": "incomplete" if done.finish_reason == "length" else "completed",
                "content": [part],
            }
        )
    thought = done.reasoning_tokens or 0
    completion = _tokens(done.content or "") + thought
    cut = done.finish_reason == "length"
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "error": None,
        "model": done.model or body.get("model", "fake"),
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "temperature": body.get("temperature"),
        "reasoning": body.get("reasoning"),
        "output": output,
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": thought},
            "total_tokens": prompt + completion,
        },
    }


def _anthropic_reply(body: dict[str, Any], reply: str | Completion) -> dict[str, Any]:
    done = reply if isinstance(reply, Completion) else Completion(reply)
    prompt = _tokens(str(body.get("system", ""))) + sum(
        _tokens(str(m.get("content", ""))) for m in body.get("messages", [])
    )
    blocks: list[dict[str, Any]] = []
    if done.thinking is not None:
        blocks.append({"type": "thinking", "thinking": done.thinking, "signature": "c2lnbmVk"})
    if done.content:
        blocks.append({"type": "text", "text": done.content})
    stop = {"stop": "end_turn", "length": "max_tokens"}.get(done.finish_reason, done.finish_reason)
    output = _tokens(done.content or "") + _tokens(done.thinking or "")
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": done.model or body.get("model", "fake"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": output},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit-rate", type=float, default=0.0)
    parser.add_argument("--server-error-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=0.05)
    parser.add_argument("--fault-latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = FakeOpenAIServer(
        latency=args.latency,
        rate_limit_rate=args.rate_limit_rate,
        server_error_rate=args.server_error_rate,
        retry_after=args.retry_after,
        fault_latency=args.fault_latency,
        seed=args.seed,
        port=args.port,
    ).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
