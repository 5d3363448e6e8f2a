"""Request parameters a server refuses, learned from its 400 once and not sent again.

OpenAI's reasoning models (o1, o3, o4-mini, the gpt-5 family) refuse FastChat's judge request:
`max_tokens` ("Use 'max_completion_tokens' instead") and any `temperature` but their default
("Only the default (1) value is supported"); other servers refuse `n`, `top_p` or `seed`, and
Anthropic refuses `temperature` next to extended thinking. Each names the parameter in its
error (`error.param`, or the name quoted in the message). `RequestAdjuster` reads that, drops
the parameter (or renames `max_tokens` where the server asks for `max_completion_tokens`),
says so once, and applies the change to every later request of the run, so each refusal costs
one request per run, not one per call.

What the user chose deliberately (a flag such as `--judge-temperature 0.7`) is never dropped:
its refusal stops the run with a message naming the flag. Nor is the token limit (`LIMITS`):
a server that refuses both of its names stops the run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

FIXED_FIELDS = frozenset({"model", "messages", "system", "input", "instructions"})
"""Request fields that are the request itself, never dropped."""

REFUSAL_WORDS = (
    "unsupported",
    "not supported",
    "does not support",
    "not allowed",
    "not permitted",
    "extra_forbidden",
    "extra inputs",
    "unrecognized",
    "unknown parameter",
    "unexpected keyword",
    "may only be set",
    "only the default",
)
"""Phrases of a 400 that refuses a parameter rather than the request's content."""

UNSUPPORTED_CODES = ("unsupported_parameter", "unsupported_value")
"""OpenAI's error codes for a parameter (or value) the model does not support."""

LIMITS = frozenset({"max_tokens", "max_completion_tokens", "max_output_tokens"})
"""The reply's token limit: renamed where the server says how, never dropped (a run without a
limit would cost without bound)."""

RENAMES = {"max_tokens": "max_completion_tokens"}
"""Refused parameters sent again under another name, when the server's message names it."""

_QUOTED = re.compile(r"""['"`‘“]([A-Za-z_][A-Za-z0-9_.]*)['"`’”]""")


class RequestAdjuster:
    """What this run no longer sends, learned from refusals; safe to share between threads.

    Args:
        deliberate: Parameters the user chose, mapped to the flag that set them (their
            refusal is not worked around).
    """

    def __init__(self, deliberate: Mapping[str, str] | None = None):
        self.deliberate = dict(deliberate or {})
        self.dropped: set[str] = set()
        self.renamed: dict[str, str] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()

    def apply(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters to send: `params` less what was refused, renamed where learned."""
        with self._lock:
            sent: dict[str, Any] = {}
            for name, value in params.items():
                name = self.renamed.get(name, name)
                if name not in self.dropped:
                    sent[name] = value
            return sent

    def refused(
        self,
        sent: Mapping[str, Any],
        message: str,
        param: str | None = None,
        code: str | None = None,
    ) -> str | None:
        """The parameter of `sent` that a 400 refuses as unsupported, or None.

        Only a refusal of the parameter itself counts (`REFUSAL_WORDS`, or OpenAI's codes
        `unsupported_parameter` / `unsupported_value`): a value out of range ("max_tokens is
        too large") is not worked around by dropping the parameter.

        Args:
            sent: The parameters of the refused request.
            message: The server's error message.
            param: The parameter the error names (OpenAI's `error.param`), if any.
            code: The error's code, if any.
        """
        lowered = message.lower()
        if code not in UNSUPPORTED_CODES and not any(word in lowered for word in REFUSAL_WORDS):
            return None
        if param:
            # A nested field (`reasoning.effort`) is refused with the field that holds it.
            for name in (param, param.split(".")[0]):
                if name in sent and name not in FIXED_FIELDS:
                    return name
        for name in _QUOTED.findall(message):
            name = name.split(".")[-1]
            if name in sent and name not in FIXED_FIELDS:
                return name
        return None

    def learn(
        self,
        sent: Mapping[str, Any],
        message: str,
        param: str | None = None,
        code: str | None = None,
    ) -> bool:
        """Learn from a 400; True when the request should be sent again, adjusted.

        Also True when another thread learned the same refusal meanwhile (`sent` holds a
        parameter that is no longer sent).

        Raises:
            ValueError: when the refused parameter is one the user chose and cannot be
                renamed (the message names its flag); the caller turns it into its error.
        """
        name = self.refused(sent, message, param, code)
        if name is None:
            return False
        with self._lock:
            if name in self.dropped or name in self.renamed:
                return True  # learned by another call meanwhile
            target = RENAMES.get(name)
            if target and target in message and target not in sent:
                self.renamed[name] = target
                note = f"the server refuses '{name}'; sending '{target}' instead"
            elif name in self.deliberate:
                raise ValueError(
                    f"the server refuses '{name}', set by {self.deliberate[name]}; "
                    "leave that flag out"
                )
            elif name in LIMITS:
                raise ValueError(
                    f"the server refuses '{name}', the reply's token limit, and names no "
                    "replacement; a judge without a limit is not run"
                )
            else:
                self.dropped.add(name)
                note = f"the server refuses '{name}' (it was {sent[name]!r}); no longer sending it"
            self.notes.append(note)
        logger.warning("%s", note)
        return True
