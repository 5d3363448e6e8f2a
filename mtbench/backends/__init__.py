"""Model backends behind one interface (`Backend`), opened by kind for either stage.

`mtbench.backends.base` declares the interface, `registry` opens a `BackendSpec` of any kind
(`openai`, `anthropic`, `hf`, `vllm`, `fake`), `calls` runs calls on a thread pool and decides
when a failing backend stops a run, and `fake` is the scripted backend of tests and smoke runs.
"""

from mtbench.backends.base import (
    Backend,
    Conversation,
    GenerationParams,
    Message,
    Reply,
    Usage,
    finish_reason,
)
from mtbench.backends.fake import FakeBackend
from mtbench.backends.registry import KINDS, BackendSpec, open_backend

__all__ = [
    "KINDS",
    "Backend",
    "BackendSpec",
    "Conversation",
    "FakeBackend",
    "GenerationParams",
    "Message",
    "Reply",
    "Usage",
    "finish_reason",
    "open_backend",
]
