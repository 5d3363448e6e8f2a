"""What is particular to the judge's backend: its flags, reply limits, fake verdicts, preflight.

The backend itself comes from the shared registry (`mtbench.backends.registry`), so any kind
can judge. `--judge-backend auto` picks Anthropic's API for `claude-*` names (unless a base
URL points elsewhere), a local model when `--judge-model-path` is given (llama.cpp for a
`.gguf` file when llama-cpp-python is installed, else transformers), and an
OpenAI-compatible API otherwise (OpenAI itself, or `--judge-base-url` / `$OPENAI_BASE_URL`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from mtbench.backends.base import Backend, GenerationParams
from mtbench.backends.model_catalog import lister, shutdown_warning
from mtbench.backends.registry import API_KINDS, AUTO, KINDS, LOCAL_KINDS, BackendSpec, resolve_kind
from mtbench.backends.retry import RetryPolicy
from mtbench.data.defaults import DEFAULT_JUDGE
from mtbench.errors import AuthError, BackendError, ConfigError, RequestError

if TYPE_CHECKING:
    from mtbench.judging.config import JudgeConfig

logger = logging.getLogger(__name__)

JUDGE_BACKENDS = (AUTO, *KINDS)
"""`--judge-backend` values."""

OPENAI_MAX_TOKENS = 2048
ANTHROPIC_MAX_TOKENS = 1024
"""FastChat's judge reply limits: 2048 tokens for OpenAI, 1024 for Claude."""

FAKE_JUDGE = "fake"
"""The judge's name with `--judge-backend fake` unless `--judge-name` gives one, so that fake
verdicts never land in a real judge's file."""

FAKE_VERDICTS = {"single": "Rating: [[5]]", "pair": "[[C]]"}
"""What the fake judge replies, by grading kind: a middle score, and a tie."""

LLAMACPP_JUDGE_CONTEXT = 8192
"""Tokens of prompt and reply per sequence of a llama.cpp judge, at most the model's own: a
pairwise prompt holds two models' answers to both turns, plus 2048 tokens of reply."""

PREFLIGHT_MESSAGES = [{"role": "user", "content": "Reply with the single word OK."}]


def judge_spec(options: JudgeConfig, judge_name: str, grading: str) -> BackendSpec:
    """The judge's backend spec, with error messages naming `mtbench-judge`'s flags.

    Args:
        options: The run's options (`judge_backend`, `judge_model`, ...).
        judge_name: The judge's label (a local or fake judge is known by it).
        grading: `single` or `pair` (picks the fake judge's verdict).

    Raises:
        ConfigError: for a kind that is unknown, or flags that make no sense for the kind.
    """
    kind = options.judge_backend
    if kind not in JUDGE_BACKENDS:
        raise ConfigError(
            f"unknown --judge-backend {kind!r}; choose one of: {', '.join(JUDGE_BACKENDS)}"
        )
    if kind in LOCAL_KINDS and not options.judge_model_path:
        raise ConfigError(
            f"--judge-backend {kind} needs --judge-model-path (a folder, hub id or .gguf)"
        )
    if options.judge_model_path and kind not in (AUTO, *LOCAL_KINDS):
        raise ConfigError(
            f"--judge-model-path is for a local judge; it cannot go with --judge-backend {kind}"
        )
    kind = resolve_kind(
        kind, options.requested_model, options.judge_model_path, options.judge_base_url
    )
    if options.judge_api != "chat" and kind != "openai":
        judges = {
            "anthropic": "a Claude judge (Anthropic's Messages API)",
            "fake": "the fake judge",
        }
        raise ConfigError(
            f"--judge-api {options.judge_api} is for an OpenAI-compatible judge; this is "
            f"{judges.get(kind, 'a local judge')} (--judge-backend {kind})"
        )
    if options.batch and kind not in API_KINDS:
        raise ConfigError(
            "--batch is for an API judge with a batch API (OpenAI's, or Anthropic's for "
            f"Claude); this judge {'is the fake backend' if kind == 'fake' else 'runs here'} "
            f"(--judge-backend {kind}): leave out --batch"
        )
    if kind not in API_KINDS:
        for flag, value in (
            ("--judge-base-url", options.judge_base_url),
            ("--judge-api-key-env", options.judge_api_key_env),
            ("--judge-reasoning-effort", options.judge_reasoning_effort),
            ("--judge-thinking-budget", options.judge_thinking_budget),
            ("--judge-extra-body", options.judge_extra_body),
        ):
            if value is not None:
                what = "runs here" if kind in LOCAL_KINDS else "is the fake backend"
                raise ConfigError(
                    f"{flag} is for an API judge; this judge {what} (--judge-backend {kind})"
                )
    return BackendSpec(
        kind=kind,
        # A local or fake judge has no API model name: it is known by its label.
        model=options.requested_model if kind in API_KINDS else judge_name,
        model_path=options.judge_model_path,
        base_url=options.judge_base_url,
        api_key_env=options.judge_api_key_env,
        timeout=options.timeout,
        max_attempts=options.max_attempts,
        options=_backend_options(options, kind, grading),
        key_flag="--judge-api-key-env",
        model_flag="--judge-model",
        path_flag="--judge-model-path",
        kind_flag="--judge-backend",
    )


def _backend_options(options: JudgeConfig, kind: str, grading: str) -> dict[str, object]:
    """The backend's own arguments: the fake judge's verdicts; an API judge's request options.

    Raises:
        ConfigError: for a request option the kind has no use for.
    """
    if options.num_threads is not None and kind not in ("hf", "llamacpp"):
        raise ConfigError(
            "--num-threads is for a local judge run with transformers or llama.cpp "
            f"(--judge-model-path); this judge is --judge-backend {kind}"
        )
    if kind == "fake":
        return {"replies": FAKE_VERDICTS[grading]}
    if kind == "hf":
        return {"num_threads": options.num_threads}
    if kind == "llamacpp":
        return {
            "num_threads": options.num_threads,
            "parallel": options.parallel,
            "default_context": LLAMACPP_JUDGE_CONTEXT,
            "len_flag": None,
        }
    if kind not in API_KINDS:
        return {}
    if kind == "anthropic" and options.judge_reasoning_effort is not None:
        raise ConfigError(
            "--judge-reasoning-effort is for OpenAI-compatible judges; a Claude judge thinks "
            "with --judge-thinking-budget"
        )
    if kind == "openai" and options.judge_thinking_budget is not None:
        raise ConfigError(
            "--judge-thinking-budget is for Claude judges; an OpenAI-compatible judge takes "
            "--judge-reasoning-effort (or --judge-extra-body for a server's own switch)"
        )
    extra = dict(options.judge_extra_body or {})
    # What the user chose is never dropped when refused (FastChat's defaults are).
    deliberate = {name: "--judge-extra-body" for name in extra}
    if options.judge_temperature not in (None, 0.0):
        deliberate["temperature"] = "--judge-temperature"
    found: dict[str, object] = {"extra_body": extra, "deliberate": deliberate}
    if options.judge_api != "chat":
        found["api"] = options.judge_api
    if options.judge_reasoning_effort is not None:
        found["reasoning_effort"] = options.judge_reasoning_effort
        # The request field that carries it: `reasoning: {"effort": ...}` in the Responses API.
        field = "reasoning" if options.judge_api == "responses" else "reasoning_effort"
        deliberate[field] = "--judge-reasoning-effort"
    if options.judge_thinking_budget is not None:
        found["thinking_budget"] = options.judge_thinking_budget
        deliberate["thinking"] = "--judge-thinking-budget"
    return found


SERVED_LISTING_TIMEOUT = 5.0
"""Seconds to wait for a judge server's model listing when no `--judge-model` names one."""


def name_served_judge(options: JudgeConfig) -> tuple[JudgeConfig, str]:
    """Fill in `--judge-model` for a judge at `--judge-base-url` from the server's listing.

    A server of one's own (vLLM, SGLang, llama.cpp) usually serves one model: the judge is then
    that model, requested and filed under its name, not under FastChat's default `gpt-4`. One
    `GET {base_url}/models`, waited for at most `SERVED_LISTING_TIMEOUT` seconds.

    Returns:
        The options (with `judge_model` set when the server lists exactly one model) and a
        notice saying what was chosen ("" when nothing had to be).

    Raises:
        ConfigError: when the server lists several models (the user must choose one).
    """
    if not options.unnamed_served_judge or options.judge_backend == "anthropic":
        return options, ""
    from dataclasses import replace

    from mtbench.backends.model_catalog import model_ids
    from mtbench.backends.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend(
        DEFAULT_JUDGE,
        base_url=options.judge_base_url,
        api_key_env=options.judge_api_key_env,
        timeout=SERVED_LISTING_TIMEOUT,
        key_flag="--judge-api-key-env",
        model_flag="--judge-model",
    )
    try:
        served = model_ids(backend.served_models())
    finally:
        backend.close()
    url = options.judge_base_url
    if len(served) == 1:
        return replace(options, judge_model=served[0]), (
            f"{url} serves one model, {served[0]}: it is the judge (named and filed as such; "
            "--judge-model chooses)"
        )
    if len(served) > 1:
        shown = ", ".join(served[:8]) + (", ..." if len(served) > 8 else "")
        raise ConfigError(
            f"{url} serves {len(served)} models ({shown}); choose the judge with --judge-model"
        )
    return options, (
        f"{url} did not list the model it serves; judging as {DEFAULT_JUDGE}, FastChat's "
        "default name (give --judge-model to request and file the judge by its own name)"
    )


def default_max_tokens(kind: str) -> int:
    """FastChat's reply limit for a judge of this kind."""
    return ANTHROPIC_MAX_TOKENS if kind == "anthropic" else OPENAI_MAX_TOKENS


def preflight(
    backend: Backend, today: date | None = None, temperature: float | None = 0.0
) -> list[str]:
    """One tiny request, so a wrong key, URL or model fails now rather than mid-run.

    Local backends are skipped (loading the model already proved it works). A backend with a
    model listing (`served_models()`, the OpenAI-compatible one) is also asked whether the
    judge model's shutdown date has passed or is near; that only warns.

    Args:
        backend: The judge's backend, open.
        today: The date shutdown dates are counted from (default: today, UTC).
        temperature: The run's judge temperature, so the test request is shaped like the
            run's (and a refused parameter is learned here, once).

    Returns:
        Warning lines for the caller to show (`warning: ...`), usually none.

    Raises:
        AuthError, RequestError: as the backend reports them.
        BackendError: if the judge cannot be reached after a few tries.
    """
    if not backend.concurrent:
        return []
    params = GenerationParams(max_new_tokens=16, temperature=temperature)
    try:
        backend.complete(PREFLIGHT_MESSAGES, params, retry=RetryPolicy(max_attempts=3))
    except (AuthError, RequestError):
        raise
    except BackendError as error:
        raise BackendError(f"the judge did not answer a test request: {error}") from None
    list_models = getattr(backend, "served_models", None)
    if not callable(list_models):
        return []
    warning = shutdown_warning(
        str(getattr(backend, "model_name", "")),
        list_models(),
        today=today or datetime.now(timezone.utc).date(),
        where=lister(str(getattr(backend, "endpoint", ""))),
    )
    return [warning] if warning else []
