"""From conversations to prompt tokens, and from generated tokens back to FastChat's answer text.

Shared by the local engines (transformers, vLLM). A prompt is rendered either with the
tokenizer's own chat template (the default: the model's real format) or with a legacy FastChat
template (`mtbench.backends.conv_templates`). Generated tokens become answer text by FastChat's
post-processing (`fastchat/llm_judge/gen_model_answer.py`, `get_model_answers`), in its order:

    (a) cut the token ids at the first of the template's stop token ids;
    (b) decode without skipping special tokens;
    (c) cut at the template's stop string, only where it first occurs after position 0;
    (d) delete every special-token string of the tokenizer (bos, eos, unk, pad, ... and the
        additional special tokens) wherever it appears;
    (e) strip surrounding whitespace.

A chat template that opens the reasoning trace itself (DeepSeek-R1's ends the prompt with
`<think>`) leaves the model to write only the trace's end: `reply` puts the opening tag back in
front of such a reply, so that it reads as the model's whole output and a trace cut by the token
limit is still seen as a trace (`mtbench.backends.reasoning`), never as the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import Conversation
from mtbench.backends.conv_templates import ConvTemplate, get_conv_template, template_names
from mtbench.backends.hf_loading import load_tokenizer, resolve_model_path
from mtbench.backends.reasoning import TRACE_TAGS
from mtbench.errors import ConfigError


class PromptFormat:
    """How one model turns conversations into tokens and generated tokens into answers.

    Args:
        tokenizer: The model's Hugging Face tokenizer.
        conv_template: A legacy FastChat template (or its name); None uses the tokenizer's
            chat template.
        model_name: Used in error messages.

    Raises:
        ConfigError: if there is no template to render with.
    """

    def __init__(
        self,
        tokenizer: Any,
        conv_template: ConvTemplate | str | None = None,
        model_name: str = "the model",
    ):
        if isinstance(conv_template, str):
            conv_template = get_conv_template(conv_template)
        if conv_template is None and not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"{model_name} has no chat template in its tokenizer; choose its prompt format "
                f"with --conv-template NAME (one of: {', '.join(template_names())})"
            )
        self.tokenizer = tokenizer
        self.template = conv_template
        self.special_strings = _special_strings(tokenizer)

    @property
    def description(self) -> str:
        """`chat_template` or `conv_template:NAME`, as recorded in answer files."""
        return "chat_template" if self.template is None else f"conv_template:{self.template.name}"

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        return self.template.stop_token_ids if self.template else ()

    @property
    def stop_str(self) -> str | None:
        return self.template.stop_str if self.template else None

    def render(self, conversation: Conversation) -> str:
        """The prompt text for the assistant's next reply."""
        if self.template is not None:
            return self.template.render(conversation)
        try:
            return str(
                self.tokenizer.apply_chat_template(
                    [dict(m) for m in conversation], tokenize=False, add_generation_prompt=True
                )
            )
        except Exception as exc:  # jinja2 raises its own errors from inside the template
            raise ConfigError(
                f"the tokenizer's chat template cannot render this conversation ({exc}); "
                "choose a prompt format with --conv-template NAME"
            ) from None

    def encode(self, conversation: Conversation) -> list[int]:
        """The prompt's token ids.

        A legacy template is tokenized with the tokenizer's defaults, so BOS is added where the
        tokenizer adds it (as FastChat); a chat template already spells out its special tokens.
        """
        prompt = self.render(conversation)
        add_special = self.template is not None
        return list(self.tokenizer(prompt, add_special_tokens=add_special).input_ids)

    def opened_trace(self, conversation: Conversation) -> str:
        """The trace tag the rendered prompt leaves open for the reply (e.g. `<think>`), or ""."""
        tail = self.render(conversation).rstrip()
        for opening, _ in TRACE_TAGS:
            if tail.endswith(opening):
                return opening
        return ""

    def reply(self, conversation: Conversation, token_ids: Sequence[int]) -> str:
        """The reply text: `finish(token_ids)`, after the trace tag the prompt opened, if any."""
        text = self.finish(token_ids)
        opened = self.opened_trace(conversation)
        return f"{opened}\n{text}" if opened else text

    def finish(self, token_ids: Sequence[int]) -> str:
        """FastChat's post-processing of one reply's generated token ids (steps a-e above)."""
        ids = list(token_ids)
        stop_ids = self.stop_token_ids
        if stop_ids:
            for position, token in enumerate(ids):
                if token in stop_ids:
                    ids = ids[:position]
                    break
        text = self.tokenizer.decode(ids, spaces_between_special_tokens=False)
        text = cut_at_stop_str(text, self.stop_str)
        for special in self.special_strings:
            text = text.replace(special, "")
        return text.strip()


def load_prompt_format(
    model_path: str,
    conv_template: ConvTemplate | str | None = None,
    *,
    model_name: str,
    revision: str = "main",
    trust_remote_code: bool = False,
    cache_dir: str | None = None,
    convert: bool = True,
    path_flag: str = "--model-path",
) -> tuple[str, PromptFormat]:
    """Resolve `--model-path`, load its tokenizer and build its `PromptFormat`.

    Args:
        model_path: A model folder, a `.gguf` file or a Hugging Face hub id.
        conv_template: As for `PromptFormat`.
        model_name: The model's name, for error messages.
        revision: Hub revision of the tokenizer.
        trust_remote_code: Allow tokenizer code from the hub.
        cache_dir: Cache for converted GGUF files.
        convert: As for `resolve_model_path`: False leaves an unconverted GGUF file as it is.
        path_flag: The running command's flag for the path, named in errors.

    Returns:
        What `from_pretrained` loads (`resolve_model_path`), and the prompt format; the
        tokenizer is the format's `tokenizer`.

    Raises:
        ConfigError: for a bad path, a tokenizer that does not load, or no template.
    """
    source = resolve_model_path(
        model_path, cache_dir, convert=convert, path_flag=path_flag, revision=revision
    )
    tokenizer = load_tokenizer(source, revision, trust_remote_code, path_flag=path_flag)
    return source, PromptFormat(tokenizer, conv_template, model_name=model_name)


def cut_at_stop_str(text: str, stop_str: str | Sequence[str] | None) -> str:
    """Cut `text` at a stop string, FastChat's way.

    Each stop string counts only at its first occurrence and only if that is after position 0
    (a reply that opens with the stop string keeps it, and is not cut later either). With
    several stop strings the earliest such cut wins.
    """
    if not stop_str:
        return text
    candidates = [stop_str] if isinstance(stop_str, str) else list(stop_str)
    cuts = [pos for pos in (text.find(s) for s in candidates) if pos > 0]
    return text[: min(cuts)] if cuts else text


def _special_strings(tokenizer: Any) -> list[str]:
    """Every special-token string: bos/eos/unk/pad/sep/cls/mask and the additional ones."""
    found: list[str] = []
    for token in getattr(tokenizer, "all_special_tokens", []):
        if isinstance(token, str) and token and token not in found:
            found.append(token)
    return found
