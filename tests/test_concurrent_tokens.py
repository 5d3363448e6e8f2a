"""Token counts of a concurrent local backend (llama.cpp's kind): each call counts its own.

The backend's running total moves while other calls are under way, so `run_counted` takes a
concurrent backend's count from each reply's `meta["usage"]["output_tokens"]`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from mtbench.backends.base import Backend, Conversation, GenerationParams, Reply
from mtbench.generation.engines import ThreadEngine, run_counted


class Overlapping(Backend):
    """Replies with as many tokens as the prompt has characters, all calls in flight at once."""

    concurrent = True

    def __init__(self, calls: int):
        self.model_name = "overlapping"
        self.tokens_generated = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(calls)

    def generate(self, conversations: Sequence[Conversation], params: GenerationParams):
        replies = []
        for conversation in conversations:
            count = len(conversation[-1]["content"])
            with self.lock:
                self.tokens_generated = (self.tokens_generated or 0) + count
            replies.append(Reply("x" * count, "stop", meta={"usage": {"output_tokens": count}}))
        self.barrier.wait(timeout=10)  # every call has added its tokens before any returns
        return replies


def test_each_overlapping_call_counts_only_its_own_tokens():
    backend = Overlapping(calls=3)
    engine = ThreadEngine(backend, parallel=3)
    params = GenerationParams(max_new_tokens=8)
    futures = [engine.submit([[{"role": "user", "content": "a" * n}]], [params]) for n in (2, 3, 5)]
    results = [future.result(timeout=10) for future in futures]
    engine.close()
    assert [tokens for _, tokens in results] == [2, 3, 5]
    assert backend.tokens_generated == 10


def test_a_reply_without_usage_leaves_the_count_unknown():
    backend = Overlapping(calls=1)
    backend.generate = lambda conversations, params: [Reply("x")]  # type: ignore[method-assign]
    params = GenerationParams(max_new_tokens=8)
    assert run_counted(backend, [[{"role": "user", "content": "a"}]], [params]) == (["x"], None)
