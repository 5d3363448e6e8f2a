"""FastChat's legacy conversation templates, for models that have no chat template of their own.

`mtbench-gen` renders prompts with the tokenizer's own chat template by default. `--conv-template
NAME` instead renders one of the templates below, the way FastChat's `Conversation.get_prompt()`
does (`fastchat/conversation.py`): the system message through `system_template`, then every
message laid out by the template's separator style, then the empty assistant slot as the bare
role tag. The stop strings and stop token ids are applied after generation, as FastChat does.

Some templates carry constant text that mtbench does not ship (the long system sentences of
`one_shot`, `zero_shot` and `alpaca`, and the built-in example exchange of `one_shot`). Those
constants are read at run time from FastChat itself when it is installed
(`pip install --no-deps fschat`, which only adds pure-Python files); a system message can also be
given with `--system-message`. A template that still lacks a constant is a `ConfigError` that says
so, never a silent substitute.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from mtbench.errors import ConfigError

logger = logging.getLogger(__name__)

FASTCHAT_HINT = "pip install --no-deps fschat (mtbench reads the template's constants from it)"


class SepStyle(Enum):
    """How a template lays out its messages."""

    ADD_COLON_SINGLE = "add_colon_single"
    """`{system}{sep}` then `{role}: {text}{sep}` per message."""
    ADD_COLON_TWO = "add_colon_two"
    """`{system}{sep}` then `{role}: {text}`, then `sep` after user and `sep2` after assistant."""
    LLAMA2 = "llama2"
    """`[INST] ... [/INST]` turns; the first user text joins the system block."""
    LLAMA3 = "llama3"
    """`<|start_header_id|>role<|end_header_id|>` headers, stripped texts, `<|eot_id|>` ends."""
    CHATML = "chatml"
    """`{role}\\n{text}{sep}\\n` per message, after the system block."""


NOT_SHIPPED = None
"""Marks a constant mtbench does not ship: it is read from FastChat at run time."""


@dataclass(frozen=True)
class ConvTemplate:
    """One legacy prompt format.

    Attributes:
        name: FastChat's name for it (`--conv-template NAME`).
        sep_style: The layout of the messages.
        roles: The user and assistant role tags.
        sep: The first separator.
        sep2: The second separator (after assistant messages), where the style uses one.
        system_template: Format string around the system message.
        system_message: The default system message; `None` when it is not shipped.
        few_shot: Built-in example exchange (user, assistant, ...) rendered before the
            conversation; `None` when it is not shipped.
        stop_str: Text that ends the answer when found after its first character.
        stop_token_ids: Token ids that end the answer.
        skip_empty_system: Leave the system block out when the system message is empty
            (otherwise an empty block is rendered, as FastChat's `zephyr` does).
    """

    name: str
    sep_style: SepStyle
    roles: tuple[str, str]
    sep: str
    sep2: str | None = None
    system_template: str = "{system_message}"
    system_message: str | None = ""
    few_shot: tuple[str, ...] | None = ()
    stop_str: str | None = None
    stop_token_ids: tuple[int, ...] = ()
    skip_empty_system: bool = False

    @property
    def complete(self) -> bool:
        """True when every constant the template needs is present."""
        return self.system_message is not None and self.few_shot is not None

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt for the assistant's next reply.

        Args:
            messages: `{"role", "content"}` dicts: an optional `system` message, then user and
                assistant messages alternating, ending with a user message.

        Raises:
            ConfigError: if the conversation has the wrong shape or a constant is missing.
        """
        system, turns = _split_system(messages, self.name)
        if system is None:
            system = self.system_message
        if system is None or self.few_shot is None:
            raise ConfigError(
                f"conversation template '{self.name}' needs constants that mtbench does not ship: "
                f"{FASTCHAT_HINT}"
            )
        texts: list[str | None] = [*self.few_shot, *turns, None]
        pairs = [(self.roles[i % 2], text) for i, text in enumerate(texts)]
        return _LAYOUTS[self.sep_style](self, system, pairs)


def _split_system(messages: Sequence[dict[str, str]], name: str) -> tuple[str | None, list[str]]:
    system = None
    rest = list(messages)
    if rest and rest[0].get("role") == "system":
        system = rest.pop(0)["content"]
    expected = ("user", "assistant")
    for position, message in enumerate(rest):
        if message.get("role") != expected[position % 2]:
            raise ConfigError(
                f"conversation template '{name}' needs user and assistant messages alternating, "
                f"starting with user; message {position + 1} has role {message.get('role')!r}"
            )
    if not rest or rest[-1]["role"] != "user":
        raise ConfigError(
            f"conversation template '{name}': the conversation must end with a user message"
        )
    return system, [m["content"] for m in rest]


Pairs = list[tuple[str, "str | None"]]

# Each layout gets the template, the system message and the (role tag, text) pairs, where a None
# text is the empty slot to generate. Empty texts render like the slot, as in FastChat.


def _add_colon_single(t: ConvTemplate, system: str, pairs: Pairs) -> str:
    out = t.system_template.format(system_message=system) + t.sep
    for role, text in pairs:
        out += f"{role}: {text}{t.sep}" if text else f"{role}:"
    return out


def _add_colon_two(t: ConvTemplate, system: str, pairs: Pairs) -> str:
    seps = (t.sep, t.sep2 or "")
    out = t.system_template.format(system_message=system) + seps[0]
    for i, (role, text) in enumerate(pairs):
        out += f"{role}: {text}{seps[i % 2]}" if text else f"{role}:"
    return out


def _llama2(t: ConvTemplate, system: str, pairs: Pairs) -> str:
    seps = (t.sep, t.sep2 or "")
    # Without a system message there is no <<SYS>> block: the prompt opens with the user tag,
    # and the first user text follows whichever opening there is.
    out = t.system_template.format(system_message=system) if system else f"{t.roles[0]} "
    for i, (role, text) in enumerate(pairs):
        if text:
            out += f"{text} " if i == 0 else f"{role} {text}{seps[i % 2]}"
        else:
            out += role
    return out


def _llama3(t: ConvTemplate, system: str, pairs: Pairs) -> str:
    out = "<|begin_of_text|>"
    if system:
        out += t.system_template.format(system_message=system)
    for role, text in pairs:
        out += f"<|start_header_id|>{role}<|end_header_id|>\n\n"
        if text:
            out += f"{text.strip()}<|eot_id|>"
    return out


def _chatml(t: ConvTemplate, system: str, pairs: Pairs) -> str:
    block = t.system_template.format(system_message=system)
    out = f"{block}{t.sep}\n" if system or not t.skip_empty_system else ""
    for role, text in pairs:
        out += f"{role}\n{text}{t.sep}\n" if text else f"{role}\n"
    return out


_LAYOUTS = {
    SepStyle.ADD_COLON_SINGLE: _add_colon_single,
    SepStyle.ADD_COLON_TWO: _add_colon_two,
    SepStyle.LLAMA2: _llama2,
    SepStyle.LLAMA3: _llama3,
    SepStyle.CHATML: _chatml,
}

# The templates, written from what FastChat's `Conversation.get_prompt()` renders for each
# (`fastchat/conversation.py`, user turns Q1, Q2 and answer A1); tests/test_conv_templates.py
# compares them with FastChat's own code for every template fschat 0.2.36 has.
TEMPLATES: dict[str, ConvTemplate] = {
    t.name: t
    for t in (
        ConvTemplate(
            name="vicuna_v1.1",
            sep_style=SepStyle.ADD_COLON_TWO,
            roles=("USER", "ASSISTANT"),
            sep=" ",
            sep2="</s>",
            system_message=(
                "A chat between a curious user and an artificial intelligence assistant. "
                "The assistant gives helpful, detailed, and polite answers to the user's questions."
            ),
        ),
        ConvTemplate(
            name="one_shot",
            sep_style=SepStyle.ADD_COLON_SINGLE,
            roles=("Human", "Assistant"),
            sep="\n### ",
            system_message=NOT_SHIPPED,
            few_shot=NOT_SHIPPED,
            stop_str="###",
        ),
        ConvTemplate(
            name="zero_shot",
            sep_style=SepStyle.ADD_COLON_SINGLE,
            roles=("Human", "Assistant"),
            sep="\n### ",
            system_message=NOT_SHIPPED,
            stop_str="###",
        ),
        ConvTemplate(
            name="alpaca",
            sep_style=SepStyle.ADD_COLON_TWO,
            roles=("### Instruction", "### Response"),
            sep="\n\n",
            sep2="</s>",
            system_message=NOT_SHIPPED,
        ),
        ConvTemplate(
            name="llama-2",
            sep_style=SepStyle.LLAMA2,
            roles=("[INST]", "[/INST]"),
            sep=" ",
            sep2=" </s><s>",
            system_template="[INST] <<SYS>>\n{system_message}\n<</SYS>>\n\n",
        ),
        ConvTemplate(
            name="llama-3",
            sep_style=SepStyle.LLAMA3,
            roles=("user", "assistant"),
            sep="",
            system_template="<|start_header_id|>system<|end_header_id|>\n\n{system_message}<|eot_id|>",
            stop_str="<|eot_id|>",
            stop_token_ids=(128001, 128009),
        ),
        ConvTemplate(
            name="chatml",
            sep_style=SepStyle.CHATML,
            roles=("<|im_start|>user", "<|im_start|>assistant"),
            sep="<|im_end|>",
            system_template="<|im_start|>system\n{system_message}",
            stop_str="<|im_end|>",
            skip_empty_system=True,
        ),
        ConvTemplate(
            name="zephyr",
            sep_style=SepStyle.CHATML,
            roles=("<|user|>", "<|assistant|>"),
            sep="</s>",
            system_template="<|system|>\n{system_message}",
            stop_str="</s>",
            stop_token_ids=(2,),
        ),
    )
}


def template_names() -> list[str]:
    """The names `--conv-template` accepts."""
    return sorted(TEMPLATES)


def get_conv_template(name: str, system_message: str | None = None) -> ConvTemplate:
    """Return a template with every constant it needs, ready to render.

    Args:
        name: A name from `template_names()`.
        system_message: Replaces the template's default system message when given.

    Raises:
        ConfigError: for an unknown name, or when a constant that mtbench does not ship is
            needed and FastChat is not installed to provide it.
    """
    if name not in TEMPLATES:
        raise ConfigError(
            f"unknown conversation template '{name}'; choose one of: {', '.join(template_names())} "
            "(or leave --conv-template out to use the tokenizer's own chat template)"
        )
    template = TEMPLATES[name]
    if system_message is not None:
        template = dataclasses.replace(template, system_message=system_message)
    if template.complete:
        return template
    return _fill_from_fastchat(template)


def _fill_from_fastchat(template: ConvTemplate) -> ConvTemplate:
    try:
        from fastchat import conversation as fastchat_conversation
    except ImportError:
        missing = "system message" if template.few_shot is not None else "example exchange"
        advice = FASTCHAT_HINT
        if template.few_shot is not None:
            advice += ", or give the system message with --system-message"
        raise ConfigError(
            f"conversation template '{template.name}' uses FastChat's built-in {missing}, which "
            f"mtbench does not ship: {advice}"
        ) from None
    try:
        source = fastchat_conversation.get_conv_template(template.name)
    except KeyError:
        raise ConfigError(
            f"the installed FastChat has no template '{template.name}'; upgrade fschat"
        ) from None
    system = template.system_message
    if system is None:
        system = source.system_message
    few_shot = template.few_shot
    if few_shot is None:
        few_shot = tuple(text for _role, text in source.messages[: source.offset])
    filled = dataclasses.replace(template, system_message=system, few_shot=few_shot)
    if template.system_message is None:  # FastChat's own defaults: the renderings must agree
        _warn_if_rendering_differs(filled, source)
    return filled


def _warn_if_rendering_differs(template: ConvTemplate, source: object) -> None:
    """Render a probe conversation with FastChat's own code and ours; say so if they differ."""
    probe = ["Q1 {x}", "A1", "Q2"]
    try:
        conv = source.copy()  # type: ignore[attr-defined]
        for i, text in enumerate(probe):
            conv.append_message(conv.roles[i % 2], text)
        conv.append_message(conv.roles[1], None)
        theirs = conv.get_prompt()
    except Exception as exc:  # noqa: BLE001 - a check only; FastChat's internals may change
        logger.debug("could not render FastChat's '%s' for comparison: %s", template.name, exc)
        return
    messages = [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(probe)]
    ours = template.render(messages)
    if ours != theirs:
        logger.warning(
            "the installed FastChat renders template '%s' differently from mtbench "
            "(FastChat %r, mtbench %r); mtbench uses its own rendering",
            template.name,
            theirs,
            ours,
        )
