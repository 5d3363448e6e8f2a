"""`RequestAdjuster`: which 400s refuse a parameter, and what is sent after one."""

from __future__ import annotations

import pytest

from mtbench.backends.refusals import RequestAdjuster

FASTCHAT = {"n": 1, "temperature": 0.0, "max_tokens": 2048}


@pytest.mark.parametrize(
    ("message", "param", "code", "refused"),
    [
        # OpenAI's reasoning models, with error.param and code set.
        (
            "Unsupported value: 'temperature' does not support 0 with this model.",
            "temperature",
            "unsupported_value",
            "temperature",
        ),
        # Anthropic with extended thinking (backticks, no param field).
        ("`temperature` may only be set to 1 when thinking is enabled.", None, None, "temperature"),
        # vLLM's pydantic validation of a field it does not know.
        (
            "[{'type': 'extra_forbidden', 'loc': ('body', 'n'), 'msg': 'Extra inputs are not "
            "permitted'}]",
            None,
            None,
            "n",
        ),
        ("Unrecognized request argument supplied: 'top_p'", None, None, None),  # not sent
        # Values out of range, or the request's content: not a refusal of the parameter.
        (
            "Invalid value for 'temperature': 3 is greater than the maximum of 2.",
            "temperature",
            "invalid_value",
            None,
        ),
        (
            "max_tokens is too large: 8192. This model supports at most 4096 completion tokens.",
            "max_tokens",
            "invalid_value",
            None,
        ),
        ("'messages' is not supported in this format", "messages", None, None),
    ],
)
def test_which_400s_refuse_a_parameter(message, param, code, refused):
    assert RequestAdjuster().refused(FASTCHAT, message, param, code) == refused


def test_a_refusal_is_learned_once_and_applied_to_every_later_request():
    adjuster = RequestAdjuster()
    message = "Unsupported parameter: 'max_tokens' is not supported. Use 'max_completion_tokens'."
    assert adjuster.learn(FASTCHAT, message, "max_tokens")
    assert adjuster.apply(FASTCHAT) == {"n": 1, "temperature": 0.0, "max_completion_tokens": 2048}
    # A request built before the lesson, refused again by another thread: resend, note once.
    assert adjuster.learn(FASTCHAT, message, "max_tokens")
    assert adjuster.learn(FASTCHAT, "Unsupported value: 'temperature'", "temperature")
    assert adjuster.apply(FASTCHAT) == {"n": 1, "max_completion_tokens": 2048}
    assert len(adjuster.notes) == 2


def test_what_the_user_chose_is_not_dropped_but_may_be_renamed():
    adjuster = RequestAdjuster({"temperature": "--judge-temperature", "max_tokens": "--x"})
    with pytest.raises(ValueError, match="'temperature', set by --judge-temperature"):
        adjuster.learn(FASTCHAT, "Unsupported value: 'temperature'", "temperature")
    message = "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."
    assert adjuster.learn(FASTCHAT, message, "max_tokens")
    assert adjuster.apply(FASTCHAT)["max_completion_tokens"] == 2048


def test_the_token_limit_is_renamed_but_never_dropped():
    adjuster = RequestAdjuster()
    rename = "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."
    assert adjuster.learn(FASTCHAT, rename, "max_tokens", "unsupported_parameter")
    sent = adjuster.apply(FASTCHAT)
    # A server that then refuses the new name too (or asks for the old one back) stops the run.
    back = "Unrecognized request argument supplied: 'max_completion_tokens'. Use 'max_tokens'."
    with pytest.raises(ValueError, match="'max_completion_tokens', the reply's token limit"):
        adjuster.learn(sent, back, "max_completion_tokens", "unsupported_parameter")
    assert adjuster.apply(FASTCHAT) == sent
