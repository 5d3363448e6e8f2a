"""Model backends behind one interface (`Backend`); see `mtbench.backends.base`."""

from mtbench.backends.base import (
    Backend,
    Conversation,
    GenerationParams,
    Message,
    Reply,
    finish_reason,
)

__all__ = ["Backend", "Conversation", "GenerationParams", "Message", "Reply", "finish_reason"]
