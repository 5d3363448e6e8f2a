"""Model backends behind one interface (`Backend`); see `mtbench.backends.base`."""

from mtbench.backends.base import Backend, Conversation, GenerationParams, Message

__all__ = ["Backend", "Conversation", "GenerationParams", "Message"]
