"""The API backends with their real SDKs, over HTTP, against the scripted server on 127.0.0.1."""

from __future__ import annotations

import pytest
from fake_openai_server import FakeOpenAIServer, Fault

from mtbench.backends.anthropic_api import AnthropicBackend
from mtbench.backends.base import Backend, GenerationParams
from mtbench.backends.openai_compat import OpenAICompatBackend
from mtbench.backends.retry import RetryPolicy
from mtbench.errors import AuthError, BackendError, ConfigError, RateLimitError, RequestError

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
JUDGE = GenerationParams(max_new_tokens=2048, temperature=0.0)
CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Rate this. [[rating]]"},
]
SECRET = "sk-test-SECRET1234567890"


_opened: list[Backend] = []


def opened(backend):
    """Close this backend (its HTTP connections) when the test ends."""
    _opened.append(backend)
    return backend


@pytest.fixture(autouse=True)
def _close_backends():
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def server():
    with FakeOpenAIServer() as server:
        yield server


def openai_backend(server: FakeOpenAIServer, **kwargs) -> OpenAICompatBackend:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 2.0)
    return opened(OpenAICompatBackend("gpt-4", base_url=server.base_url, **kwargs))


def test_sends_fastchats_request_and_returns_the_reply_verbatim(server):
    server.reply = lambda body: "  The answer is fine.\nRating: [[6]]\n"
    backend = openai_backend(server)
    assert isinstance(backend, Backend) and backend.concurrent
    assert backend.generate([CHAT, CHAT], JUDGE) == ["  The answer is fine.\nRating: [[6]]\n"] * 2
    request = server.completions()[0]
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "gpt-4",
        "messages": CHAT,
        "n": 1,
        "temperature": 0.0,
        "max_tokens": 2048,
    }
    assert request.headers["x-stainless-retry-count"] == "0"  # the SDK's own retries are off
    assert backend.usage.requests == 2 and backend.usage.reported
    assert backend.usage.prompt_tokens > 0 and backend.usage.completion_tokens > 0


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limit(retry_after=0.01),
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.timeout(delay=3.0),
        Fault.malformed(),
        Fault.malformed(b'{"id": "x", "object": "chat.completion"}'),
        Fault("empty"),
        Fault.drop(),
    ],
    ids=["429", "500", "503", "timeout", "not-json", "no-choices", "empty-choices", "dropped"],
)
def test_transient_faults_are_retried(server, fault):
    server.script(fault)
    retries = []
    backend = openai_backend(server, timeout=0.3, on_retry=lambda e, n, w: retries.append(str(e)))
    assert "[[" in backend.complete(CHAT, JUDGE)
    assert len(server.completions()) == 2
    assert backend.usage.retries == 1 and len(retries) == 1


def test_retry_after_is_honoured(server):
    server.script(Fault.rate_limit(retry_after=0.4))
    backend = openai_backend(server)
    backend.complete(CHAT, JUDGE)
    first, second = server.completions()
    assert second.time - first.time >= 0.4


def test_persistent_server_errors_give_up_after_max_attempts(server):
    server.script(*[Fault.server_error()] * 10)
    backend = openai_backend(server)
    with pytest.raises(BackendError, match="failed after 4 attempts: HTTP 500") as info:
        backend.complete(CHAT, JUDGE)
    assert not isinstance(info.value, (AuthError, RequestError))
    assert len(server.completions()) == 4


def test_persistent_throttling_is_a_rate_limit_error(server):
    server.script(*[Fault.rate_limit(retry_after=0.01)] * 10)
    with pytest.raises(RateLimitError):
        openai_backend(server).complete(CHAT, JUDGE)


def test_bad_key_stops_at_once_and_never_shows_the_key(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.script(Fault.http_error(401, f"Incorrect API key provided: {SECRET}", "invalid_api_key"))
    backend = openai_backend(server)
    with pytest.raises(AuthError) as info:
        backend.complete(CHAT, JUDGE)
    message = str(info.value)
    assert "SECRET" not in message and "OPENAI_API_KEY" in message and "401" in message
    assert len(server.completions()) == 1
    assert server.completions()[0].had_key


def test_key_comes_from_the_named_environment_variable(server, monkeypatch):
    server.require_key = SECRET
    monkeypatch.setenv("MY_JUDGE_KEY", SECRET)
    assert openai_backend(server, api_key_env="MY_JUDGE_KEY").complete(CHAT, JUDGE)
    with pytest.raises(AuthError, match=r"\$OPENAI_API_KEY"):
        openai_backend(server).complete(CHAT, JUDGE)  # no key: a placeholder is sent and refused


def test_unknown_model_is_a_request_error_at_once(server):
    server.known_models = {"gpt-4o"}
    with pytest.raises(RequestError, match="does not know model 'gpt-4'.*404"):
        openai_backend(server).complete(CHAT, JUDGE)
    assert len(server.completions()) == 1


def test_bad_request_stops_but_an_overlong_prompt_costs_only_its_call(server):
    server.script(Fault.http_error(400, "Invalid value for 'messages'"))
    with pytest.raises(RequestError, match="rejected the request.*Invalid value"):
        openai_backend(server).complete(CHAT, JUDGE)
    server.script(Fault.http_error(400, "This model's maximum context length is 8192 tokens"))
    with pytest.raises(BackendError, match="prompt too long") as info:
        openai_backend(server).complete(CHAT, JUDGE)
    assert not isinstance(info.value, RequestError)


def test_exhausted_quota_is_not_retried(server):
    server.script(Fault.http_error(429, "You exceeded your current quota", "insufficient_quota"))
    with pytest.raises(AuthError, match="quota"):
        openai_backend(server).complete(CHAT, JUDGE)
    assert len(server.completions()) == 1


def test_models_refusing_max_tokens_get_max_completion_tokens(server):
    server.script(
        Fault.http_error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
        )
    )
    backend = openai_backend(server)
    backend.complete(CHAT, JUDGE)
    backend.complete(CHAT, JUDGE)
    bodies = [r.body for r in server.completions()]
    assert "max_tokens" in bodies[0]
    assert bodies[1]["max_completion_tokens"] == 2048 and "max_tokens" not in bodies[1]
    assert bodies[2]["max_completion_tokens"] == 2048


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    backend = opened(OpenAICompatBackend("gpt-4", retry=FAST))
    assert backend.complete(CHAT, JUDGE)
    assert backend.endpoint == server.base_url


def test_openai_itself_needs_a_key():
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAICompatBackend("gpt-4")


def test_unreachable_server_is_a_transient_failure():
    backend = opened(OpenAICompatBackend("gpt-4", base_url="http://127.0.0.1:9/v1", retry=FAST))
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9/v1"):
        backend.complete(CHAT, JUDGE)


def anthropic_backend(server: FakeOpenAIServer, monkeypatch, **kwargs) -> AnthropicBackend:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    server.require_key = SECRET
    return opened(
        AnthropicBackend(
            "claude-3-5-sonnet-20240620", base_url=server.root_url, retry=FAST, **kwargs
        )
    )


@pytest.mark.extra("anthropic")
def test_anthropic_messages_api_gets_system_and_user(server, monkeypatch):
    server.reply = lambda body: "Verdict: [[A]]\n"
    backend = anthropic_backend(server, monkeypatch)
    reply = backend.complete(CHAT, GenerationParams(max_new_tokens=1024, temperature=0.0))
    assert reply == "Verdict: [[A]]"  # stripped, as FastChat strips Claude's replies
    request = server.completions()[0]
    assert request.path == "/v1/messages"
    assert request.body["system"] == CHAT[0]["content"]
    assert request.body["messages"] == [CHAT[1]]
    assert request.body["max_tokens"] == 1024
    assert backend.usage.reported


@pytest.mark.extra("anthropic")
def test_anthropic_retries_overload_and_stops_on_a_bad_key(server, monkeypatch):
    backend = anthropic_backend(server, monkeypatch)
    server.script(Fault.server_error(529), Fault.rate_limit(0.01))
    assert backend.complete(CHAT, JUDGE)
    assert backend.usage.retries == 2
    server.require_key = "another-key"
    with pytest.raises(AuthError) as info:
        backend.complete(CHAT, JUDGE)
    assert "SECRET" not in str(info.value) and "ANTHROPIC_API_KEY" in str(info.value)


@pytest.mark.extra("anthropic")
def test_anthropic_needs_a_key(monkeypatch):
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicBackend("claude-3-haiku-20240307")
