"""Legacy FastChat templates: renderings derived from the spec (§4.3), and FastChat itself."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from conftest import require_modules

from mtbench.backends.conv_templates import TEMPLATES, get_conv_template, template_names
from mtbench.errors import ConfigError

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions."
)


def conv(*texts: str, system: str | None = None) -> list[dict[str, str]]:
    """Q1, A1, Q2, ... as alternating user/assistant messages, optionally after a system one."""
    messages = [{"role": "system", "content": system}] if system is not None else []
    roles = ("user", "assistant")
    return messages + [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)]


def with_constants(name: str, system: str = "SYS", few_shot: tuple[str, ...] = ()):
    """A template with its unshipped constants filled by placeholders (structure tests)."""
    return dataclasses.replace(TEMPLATES[name], system_message=system, few_shot=few_shot)


# Each case: template, conversation, the prompt as the spec's §4.3 renders it.
SPEC_CASES = [
    (
        "vicuna_v1.1",
        conv("Q1"),
        VICUNA_SYSTEM + " USER: Q1 ASSISTANT:",
    ),
    (
        "vicuna_v1.1",
        conv("Q1", "A1", "Q2"),
        VICUNA_SYSTEM + " USER: Q1 ASSISTANT: A1</s>USER: Q2 ASSISTANT:",
    ),
    ("llama-2", conv("Q1"), "[INST] Q1 [/INST]"),
    ("llama-2", conv("Q1", "A1", "Q2"), "[INST] Q1 [/INST] A1 </s><s>[INST] Q2 [/INST]"),
    (
        "llama-3",
        conv("Q1"),
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        "zephyr",
        conv("Q1"),
        "<|system|>\n</s>\n<|user|>\nQ1</s>\n<|assistant|>\n",
    ),
]


@pytest.mark.parametrize(("name", "messages", "expected"), SPEC_CASES)
def test_rendering_matches_the_spec(name, messages, expected):
    assert get_conv_template(name).render(messages) == expected


def test_llama3_strips_message_text_as_the_spec_says():
    rendered = get_conv_template("llama-3").render(conv("  Q1 \n", "A1\n", "Q2"))
    assert rendered == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_one_shot_renders_system_then_example_then_question():
    template = with_constants("one_shot", "SYS", ("E1", "E2"))
    assert template.render(conv("Q1")) == (
        "SYS\n### Human: E1\n### Assistant: E2\n### Human: Q1\n### Assistant:"
    )
    assert template.stop_str == "###"


def test_alpaca_turns_as_in_the_spec():
    template = with_constants("alpaca", "SYS")
    assert template.render(conv("Q1")) == "SYS\n\n### Instruction: Q1\n\n### Response:"
    assert template.render(conv("Q1", "A1", "Q2")) == (
        "SYS\n\n### Instruction: Q1\n\n### Response: A1</s>### Instruction: Q2\n\n### Response:"
    )


def test_zero_shot_has_the_human_assistant_layout_without_examples():
    template = with_constants("zero_shot", "SYS")
    assert template.render(conv("Q1")) == "SYS\n### Human: Q1\n### Assistant:"
    assert template.stop_str == "###"


def test_chatml_system_block_only_when_there_is_a_system_message():
    template = get_conv_template("chatml")
    assert template.render(conv("Q1")) == "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n"
    assert template.render(conv("Q1", "A1", "Q2", system="S")) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
        "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_llama2_system_message_opens_a_sys_block():
    rendered = get_conv_template("llama-2", system_message="S").render(conv("Q1"))
    assert rendered == "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ1 [/INST]"


def test_system_message_in_the_conversation_replaces_the_default():
    rendered = get_conv_template("vicuna_v1.1").render(conv("Q1", system="Be brief."))
    assert rendered == "Be brief. USER: Q1 ASSISTANT:"


def test_an_empty_answer_renders_like_the_open_slot_as_in_fastchat():
    rendered = get_conv_template("vicuna_v1.1", system_message="S").render(conv("Q1", "", "Q2"))
    assert rendered == "S USER: Q1 ASSISTANT:USER: Q2 ASSISTANT:"


def test_braces_in_messages_are_left_alone():
    rendered = get_conv_template("llama-2").render(conv("print({x}) {0}"))
    assert rendered == "[INST] print({x}) {0} [/INST]"


def test_stop_strings_and_ids_from_the_spec():
    assert get_conv_template("zephyr").stop_str == "</s>"
    assert get_conv_template("zephyr").stop_token_ids == (2,)
    assert get_conv_template("llama-3").stop_str == "<|eot_id|>"
    assert get_conv_template("llama-3").stop_token_ids == (128001, 128009)
    assert get_conv_template("vicuna_v1.1").stop_str is None


def test_issue_templates_are_all_available():
    wanted = {"vicuna_v1.1", "one_shot", "zero_shot", "alpaca", "llama-2", "chatml", "zephyr"}
    assert wanted <= set(template_names())


def test_unknown_template_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown conversation template 'vicuna'.*vicuna_v1.1"):
        get_conv_template("vicuna")


@pytest.mark.parametrize("name", ["one_shot", "zero_shot", "alpaca"])
def test_unshipped_constants_without_fastchat_are_a_clear_error(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastchat", None)  # makes `import fastchat` fail
    with pytest.raises(ConfigError, match="pip install --no-deps fschat"):
        get_conv_template(name)


def test_a_system_message_is_enough_where_no_example_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastchat", None)
    template = get_conv_template("alpaca", system_message="S")
    assert template.render(conv("Q1")) == "S\n\n### Instruction: Q1\n\n### Response:"
    with pytest.raises(ConfigError, match="example exchange"):
        get_conv_template("one_shot", system_message="S")


def test_conversation_shape_is_checked():
    template = get_conv_template("vicuna_v1.1")
    with pytest.raises(ConfigError, match="end with a user message"):
        template.render(conv("Q1", "A1"))
    with pytest.raises(ConfigError, match="alternating"):
        template.render([{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}])


# --- Byte-identical to FastChat's own rendering (fschat, installed by the test setup) ---

CONVERSATIONS = [
    conv("Q1"),
    conv("Q1", "A1", "Q2"),
    conv("Compose {a} trip\nblog", " A1 with spaces ", "Now é ### x"),
    conv("Q1", "", "Q2"),
]


def fastchat_prompt(fc_conversation, name: str, messages: list[dict[str, str]]) -> str:
    reference = fc_conversation.get_conv_template(name)
    if messages and messages[0]["role"] == "system":
        reference.set_system_message(messages[0]["content"])
        messages = messages[1:]
    for message in messages:
        reference.append_message(
            reference.roles[message["role"] == "assistant"], message["content"]
        )
    reference.append_message(reference.roles[1], None)
    return reference.get_prompt()


# fschat 0.2.36 (what the test setup installs) has every template of ours but these two, which
# are checked against the spec and Meta's/ChatML's published formats above instead.
NOT_IN_FSCHAT = ("chatml", "llama-3")


def fastchat_conversation_module():
    """FastChat's own template code: the test setup installs `fschat` without dependencies."""
    require_modules("fastchat")
    import fastchat.conversation

    return fastchat.conversation


@pytest.mark.parametrize("name", [n for n in template_names() if n not in NOT_IN_FSCHAT])
@pytest.mark.parametrize("system", [None, "Be brief."])
@pytest.mark.parametrize("messages", CONVERSATIONS, ids=["turn1", "turn2", "odd-text", "empty-a1"])
@pytest.mark.extra("fastchat")
def test_byte_identical_to_fastchat(name, system, messages):
    fc_conversation = fastchat_conversation_module()
    full = ([{"role": "system", "content": system}] if system else []) + messages
    assert get_conv_template(name).render(full) == fastchat_prompt(fc_conversation, name, full)


@pytest.mark.extra("fastchat")
def test_constants_come_from_fastchat_when_it_is_installed():
    fc_conversation = fastchat_conversation_module()
    assert not set(NOT_IN_FSCHAT) & set(fc_conversation.conv_templates)
    reference = fc_conversation.get_conv_template("one_shot")
    template = get_conv_template("one_shot")
    assert template.system_message == reference.system_message
    assert len(template.few_shot) == reference.offset == 2
    assert template.stop_str == reference.stop_str
