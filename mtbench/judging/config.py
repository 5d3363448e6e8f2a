"""The settings of one `mtbench-judge` run, checked before any file is read or call made."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtbench.backends.registry import OPENAI_APIS
from mtbench.data.defaults import DEFAULT_BASELINE, DEFAULT_JUDGE
from mtbench.data.paths import BenchPaths, file_stem
from mtbench.errors import ConfigError
from mtbench.judging.matches import ANSWER_REASONING

RESERVED_BODY_FIELDS = {
    "model": "the judge is --judge-model (its name files the results)",
    "messages": "the judge prompt is FastChat's",
    "input": "the judge prompt is FastChat's",
    "instructions": "the judge prompt is FastChat's",
    "system": "the judge prompt is FastChat's",
    "stream": "mtbench reads whole replies",
    "n": "one verdict per call, as FastChat",
    "temperature": "use --judge-temperature",
    "max_tokens": "use --judge-max-tokens",
    "max_completion_tokens": "use --judge-max-tokens",
    "max_output_tokens": "use --judge-max-tokens",
    "reasoning_effort": "use --judge-reasoning-effort",
    "reasoning": "use --judge-reasoning-effort",
    "thinking": "use --judge-thinking-budget",
}
"""Request fields `--judge-extra-body` may not set, and why: what the run is (model, prompt,
one whole reply) and what a flag sets, so that the plan and the rows say what was sent."""


@dataclass(frozen=True)
class JudgeConfig:
    """Everything `mtbench-judge` can be told (FastChat's gen_judgment flags and more).

    `mtbench-judge`'s flags set the fields of the same name (`-` for `_`; `--judge-max-tokens`
    sets `max_tokens`, `--judge-timeout` sets `timeout`, `--data-dir` and `--bench-name` make
    `paths`) and take their defaults from here. `judge()` calls `validate()`.

    Attributes:
        paths: The data directory and bench (default: `$MTBENCH_DATA_DIR`, else `./data`;
            `mt_bench`).
        judge_file: The judge prompt file (None: the data directory's `judge_prompts.jsonl`).
        judge_model: The judge model requested from the API; None: FastChat's `gpt-4`
            (`requested_model`), except with a `judge_base_url`, where it is the one model the
            server lists (`judge_backend.name_served_judge`; a server of one's own rarely
            serves `gpt-4`, and its results would be filed as GPT-4's).
        judge_name: The judge's name in the output (`judge[0]`, the file name); None: derived
            from the model name or path.
        mode: `single`, `pairwise-baseline` or `pairwise-all`.
        baseline_model: The baseline for `pairwise-baseline`.
        model_list: Models to judge (None: every answer file, sorted).
        first_n: Judge only the first n questions.
        parallel: Concurrent API calls.
        batch_size: Prompts per batch for a local judge.
        num_threads: Torch CPU threads of a local transformers judge on CPU; None: the cores
            not kept busy by other work, or `OMP_NUM_THREADS` when set (as `mtbench-gen`).
        judge_backend: `auto`, `openai`, `anthropic`, `hf`, `vllm` or `fake` (a fixed verdict,
            for smoke runs; the judge is then named `fake` unless `judge_name` says otherwise).
        judge_base_url: The API root of an OpenAI-compatible server (or Anthropic's).
        judge_api_key_env: The environment variable holding the API key.
        judge_model_path: A local judge model (with `hf` or `vllm`).
        ref_answer_model: Whose reference answers to use (`reference_answer/{this}.jsonl`).
        max_tokens: Reply token limit (None: FastChat's, 2048; 1024 for Claude).
        judge_temperature: The judge's sampling temperature (FastChat's 0); None: not sent,
            the model's default (OpenAI's reasoning models accept no other).
        judge_reasoning_effort: `reasoning_effort` sent to an OpenAI-compatible judge
            (`minimal`, `low`, `medium`, `high`, ...); None: not sent.
        judge_api: How an OpenAI-compatible judge is asked: `chat` (chat completions, as
            FastChat) or `responses` (OpenAI's Responses API, `POST /v1/responses`).
        judge_thinking_budget: Tokens of extended thinking for an Anthropic judge; None: off.
        judge_extra_body: Further fields of every judge request's JSON body, e.g. vLLM's
            `{"chat_template_kwargs": {"enable_thinking": false}}`.
        price_table: A JSON file of prices, `{"model": [usd_per_1k_input, usd_per_1k_output]}`,
            over the built-in list prices (matched by the served snapshot, then the name).
        timeout: Seconds per request.
        max_attempts: Attempts per call, retries included.
        price_per_1k_input: USD per 1k input tokens, for the estimate.
        price_per_1k_output: USD per 1k output tokens, for the estimate.
        dry_run: Plan and show one prompt; call nothing.
        preflight: Make one tiny test call before the run.
        answer_reasoning: `keep`: judge answers as they are, `<think>` traces included
            (FastChat); `strip`: judge them with the trace removed, as mtbench-gen's
            `--reasoning strip` would have.
        samples: Judgments of each match (`--samples K`, at least 1): each its own row,
            numbered (`data.judgments.SAMPLE`); readers take an item's median.
        keep_stale: Count a match as judged even when its rows graded an answer, reference or
            judge prompt that has changed since (`judging.staleness`); by default those
            matches are judged again.
        batch: Judge through the provider's batch API (OpenAI's Batch API, Anthropic's Message
            Batches) at half the price, within 24 hours, resumable across processes
            (`judging.batch`); an API judge only.
        poll_interval: Seconds between two looks at the batches being waited for.
    """

    paths: BenchPaths = field(default_factory=BenchPaths.resolve)
    judge_file: str | None = None
    judge_model: str | None = None
    judge_name: str | None = None
    mode: str = "single"
    baseline_model: str = DEFAULT_BASELINE
    model_list: Sequence[str] | None = None
    first_n: int | None = None
    parallel: int = 8
    batch_size: int = 8
    num_threads: int | None = None
    judge_backend: str = "auto"
    judge_base_url: str | None = None
    judge_api_key_env: str | None = None
    judge_model_path: str | None = None
    ref_answer_model: str | None = None
    max_tokens: int | None = None
    judge_temperature: float | None = 0.0
    judge_reasoning_effort: str | None = None
    judge_api: str = "chat"
    judge_thinking_budget: int | None = None
    judge_extra_body: Mapping[str, Any] | None = None
    price_table: str | None = None
    timeout: float = 300.0
    max_attempts: int = 10
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None
    dry_run: bool = False
    preflight: bool = True
    answer_reasoning: str = "keep"
    samples: int = 1
    keep_stale: bool = False
    batch: bool = False
    poll_interval: float = 30.0

    @property
    def requested_model(self) -> str:
        """The judge model asked for: `judge_model`, else FastChat's default (`gpt-4`)."""
        return self.judge_model or DEFAULT_JUDGE

    @property
    def unnamed_served_judge(self) -> bool:
        """A judge at `--judge-base-url` with no `--judge-model`: its name is asked of the
        server (`judge_backend.name_served_judge`)."""
        return bool(
            self.judge_base_url
            and not self.judge_model
            and not self.judge_model_path
            and self.judge_backend in ("auto", "openai", "anthropic")
        )

    def validate(self) -> None:
        """Reject impossible values, naming the flag.

        Raises:
            ConfigError: the first problem found.
        """
        if self.unnamed_served_judge and self.judge_backend == "anthropic":
            raise ConfigError(
                f"--judge-base-url {self.judge_base_url} needs --judge-model NAME, the model "
                "that server serves (its /models lists them): judgments are filed and priced "
                f"under that name, not as the default {DEFAULT_JUDGE}'s"
            )
        if self.parallel < 1:
            raise ConfigError(f"--parallel must be at least 1, got {self.parallel}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"--num-threads must be at least 1, got {self.num_threads}")
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1, got {self.samples}")
        if self.first_n is not None and self.first_n < 1:
            raise ConfigError(f"--first-n must be at least 1, got {self.first_n}")
        if not (math.isfinite(self.poll_interval) and self.poll_interval > 0):
            raise ConfigError(f"--poll-interval must be positive, got {self.poll_interval}")
        if self.max_attempts < 1:
            raise ConfigError(f"--max-attempts must be at least 1, got {self.max_attempts}")
        if self.timeout <= 0:
            raise ConfigError(f"--judge-timeout must be positive, got {self.timeout}")
        if self.judge_temperature is not None and not 0 <= self.judge_temperature <= 2:
            raise ConfigError(
                f"--judge-temperature must be between 0 and 2 (or 'omit'), "
                f"got {self.judge_temperature}"
            )
        if self.judge_api not in OPENAI_APIS:
            raise ConfigError(
                f"--judge-api must be one of {', '.join(OPENAI_APIS)}, got {self.judge_api!r}"
            )
        if self.judge_thinking_budget is not None and self.judge_thinking_budget < 1024:
            raise ConfigError(
                "--judge-thinking-budget must be at least 1024 tokens (Anthropic's minimum), "
                f"got {self.judge_thinking_budget}"
            )
        if self.judge_extra_body is not None:
            if not isinstance(self.judge_extra_body, Mapping):
                raise ConfigError("--judge-extra-body must be a JSON object")
            for key in self.judge_extra_body:
                if key in RESERVED_BODY_FIELDS:
                    raise ConfigError(
                        f"--judge-extra-body cannot set '{key}': {RESERVED_BODY_FIELDS[key]}"
                    )
        if self.judge_thinking_budget is not None and self.judge_temperature not in (None, 0.0):
            raise ConfigError(
                "--judge-temperature cannot go with --judge-thinking-budget: Anthropic allows "
                "only its default temperature with extended thinking (none is sent)"
            )
        for flag, price in (
            ("--price-per-1k-input", self.price_per_1k_input),
            ("--price-per-1k-output", self.price_per_1k_output),
        ):
            if price is not None and not (math.isfinite(price) and price >= 0):
                raise ConfigError(f"{flag} must be a price of 0 or more, got {price}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"--judge-max-tokens must be at least 1, got {self.max_tokens}")
        if self.answer_reasoning not in ANSWER_REASONING:
            raise ConfigError(
                f"--answer-reasoning must be one of {', '.join(ANSWER_REASONING)}, "
                f"got {self.answer_reasoning!r}"
            )
        if isinstance(self.model_list, str):
            raise ConfigError(
                f"model_list must be a list of names, got the string {self.model_list!r}"
            )
        if self.model_list is not None:
            seen: dict[str, str] = {}
            for model in self.model_list:
                stem = file_stem(model, "--model-list")
                if stem in seen:
                    raise ConfigError(
                        f"--model-list names the model {stem} twice ({seen[stem]!r} and "
                        f"{model!r}: a name is known by its last '/' part)"
                    )
                seen[stem] = model


JudgeOptions = JudgeConfig
"""The earlier name of `JudgeConfig`, kept for existing callers."""
