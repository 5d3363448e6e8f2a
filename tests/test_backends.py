"""The shared backend layer: the registry, the base class's defaults, the fake, the call pool."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest
from conftest import REPO
from fake_openai_server import FakeOpenAIServer

from mtbench.backends.base import Backend, GenerationParams
from mtbench.backends.calls import CallPool, FailureStreak, failure_streak, open_pool
from mtbench.backends.fake import FakeBackend, echo
from mtbench.backends.registry import KINDS, BackendSpec, open_backend, resolve_kind
from mtbench.errors import BackendError, ConfigError, MissingDependencyError

GREEDY = GenerationParams(max_new_tokens=8)
SAMPLED = GenerationParams(max_new_tokens=8, temperature=0.7, seed=1)


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_importing_the_registry_imports_no_sdk_or_engine():
    code = (
        "import sys, mtbench.backends.registry, mtbench.backends.calls, mtbench.backends.fake\n"
        "names = ('openai', 'anthropic', 'torch', 'transformers', 'vllm', 'ray', 'llama_cpp')\n"
        "print([m for m in names if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("kind", "model", "model_path", "base_url", "expected"),
    [
        ("auto", "gpt-4", None, None, "openai"),
        ("auto", "claude-3-5-sonnet-20240620", None, None, "anthropic"),
        ("auto", "claude-3-5-sonnet-20240620", None, "http://localhost:8000/v1", "openai"),
        ("auto", "claude-3-5-sonnet-20240620", "/models/judge", None, "hf"),
        ("llamacpp", "judge", "/models/judge.gguf", None, "llamacpp"),
        ("vllm", "judge", "/models/judge", None, "vllm"),
        ("fake", "anything", None, None, "fake"),
    ],
)
def test_auto_picks_a_kind_from_the_model(kind, model, model_path, base_url, expected):
    assert resolve_kind(kind, model, model_path, base_url) == expected


def test_unknown_kinds_list_the_known_ones():
    with pytest.raises(ConfigError, match="unknown backend 'gemini'; choose one of: openai, "):
        resolve_kind("gemini", "m", None, None)
    with pytest.raises(ConfigError, match="anthropic, hf, vllm, llamacpp, fake"):
        open_backend(BackendSpec(kind="gemini", model="m"))


def test_every_kind_is_registered_and_opens_lazily(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-123456")
    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed, whatever the machine has
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with FakeOpenAIServer() as server:
        opened = {
            "openai": open_backend(BackendSpec("openai", "gpt-4", base_url=server.base_url)),
            "anthropic": open_backend(BackendSpec("anthropic", "claude", base_url=server.root_url)),
            "fake": open_backend(BackendSpec("fake", "smoke", options={"replies": "hi"})),
        }
        assert opened["openai"].generate([chat("x")], GREEDY)[0]
        assert opened["anthropic"].generate([chat("x")], GREEDY)[0]
    assert opened["fake"].generate([chat("x")], GREEDY) == ["hi"]
    assert opened["fake"].model_name == "smoke"
    assert all(isinstance(b, Backend) for b in opened.values())
    assert set(opened) | {"hf", "vllm", "llamacpp"} == set(KINDS)
    with pytest.raises(ConfigError, match="a vllm backend needs a model path"):
        open_backend(BackendSpec("vllm", "judge"))
    with pytest.raises(MissingDependencyError, match="vllm"):
        open_backend(BackendSpec("vllm", "judge", model_path="/models/judge"))
    with pytest.raises(MissingDependencyError, match=r"mtbench-toolkit\[llamacpp\]"):
        open_backend(BackendSpec("llamacpp", "judge", model_path="/models/judge.gguf"))
    for backend in opened.values():
        backend.close()


def test_specs_cross_process_boundaries_unchanged():
    spec = BackendSpec("hf", "m", model_path="/p", options={"dtype": "float32", "batch_size": 4})
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_flag_names_travel_with_the_spec_into_messages():
    spec = BackendSpec("openai", "gpt-4", key_flag="--judge-api-key-env", model_flag="--x")
    with pytest.raises(ConfigError, match=r"another variable with --judge-api-key-env\)$"):
        open_backend(spec)
    with pytest.raises(ConfigError, match=r"another variable with --api-key-env\)$"):
        open_backend(BackendSpec("openai", "gpt-4"))


class OnlyGenerate(Backend):
    """A backend implementing only the required method, to see the defaults."""

    model_name = "minimal"

    def __init__(self):
        self.calls: list[tuple[int, GenerationParams]] = []

    def generate(self, conversations, params):
        self.calls.append((len(conversations), params))
        return [f"{params.temperature}:{c[-1]['content']}" for c in conversations]


def test_the_base_class_gives_every_optional_capability_a_default():
    backend = OnlyGenerate()
    assert not backend.concurrent and not backend.per_row_params
    assert backend.tokens_generated is None and backend.usage is None and backend.format is None
    assert backend.batch_size(1024) == 16
    assert backend.limit_in_flight(4) is False
    backend.cancel()
    backend.close()
    assert backend.complete(chat("a"), GREEDY) == "0.0:a"
    with pytest.raises(TypeError):
        Backend()  # type: ignore[abstract]


def test_generate_each_groups_conversations_by_their_settings():
    backend = OnlyGenerate()
    replies = backend.generate_each([chat("a"), chat("b"), chat("c")], [GREEDY, SAMPLED, GREEDY])
    assert replies == ["0.0:a", "0.7:b", "0.0:c"]  # in the order asked
    assert backend.calls == [(2, GREEDY), (1, SAMPLED)]


def test_fake_replies_from_a_string_a_list_or_a_function():
    assert FakeBackend("[[C]]").generate([chat("a"), chat("b")], GREEDY) == ["[[C]]"] * 2
    assert FakeBackend(lambda c: c[-1]["content"] * 2).generate([chat("ab")], GREEDY) == ["abab"]
    assert FakeBackend().generate([chat("Tell me  a\nstory")], GREEDY) == [
        "(fake reply to: Tell me a story)"
    ]
    assert echo(chat("x" * 100)) == f"(fake reply to: {'x' * 60})"
    scripted = FakeBackend(["one", BackendError("out of memory"), "two"])
    assert scripted.generate([chat("a")], GREEDY) == ["one"]
    with pytest.raises(BackendError, match="out of memory"):
        scripted.generate([chat("b"), chat("c")], GREEDY)
    assert scripted.generate([chat("d")], GREEDY) == ["two"]
    with pytest.raises(RuntimeError, match="its 3 scripted replies are used up"):
        scripted.generate([chat("e")], GREEDY)


def test_fake_records_every_call_even_failed_ones():
    backend = FakeBackend([BackendError("down")])
    with pytest.raises(BackendError):
        backend.generate([chat("a"), chat("b")], SAMPLED)
    [call] = backend.calls
    assert call.conversations == (chat("a"), chat("b")) and call.params == SAMPLED
    assert call.thread == threading.current_thread().name
    assert backend.conversations == [chat("a"), chat("b")]


def test_pool_threads_double_only_where_the_backend_bounds_requests():
    with FakeOpenAIServer() as server:
        api = open_backend(BackendSpec("openai", "gpt-4", base_url=server.base_url))
        assert open_pool(api, 3, "t").workers == 6
        assert open_pool(api, 3, "t", most=2).workers == 2
        api.close()
    assert open_pool(FakeBackend(concurrent=True), 3, "t").workers == 3


def test_pool_runs_calls_and_hands_back_errors():
    pool: CallPool[int] = CallPool(2, "test")
    ok = pool.submit(lambda: 41 + 1)
    bad = pool.submit(lambda: 1 // 0)
    assert ok.result(timeout=5) == 42
    assert isinstance(bad.exception(timeout=5), ZeroDivisionError)
    pool.shutdown()


def test_one_failure_streak_rule_for_both_stages():
    local, api = FakeBackend(), FakeBackend(concurrent=True)
    assert failure_streak(local, 16) == 3  # one batch at a time: three failed batches
    assert failure_streak(api, 1) == 8
    assert failure_streak(api, 16) == 32  # every call under way (2 x parallel) failed
    streak = FailureStreak(2)
    assert not streak.failed()
    streak.succeeded()
    assert not streak.failed() and streak.failed() and streak.count == 2
