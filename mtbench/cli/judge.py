"""`mtbench-judge`: grade model answers with an LLM judge, as FastChat's `gen_judgment.py`.

mtbench-judge --mode single --model-list my-model --parallel 8
mtbench-judge --judge-model gpt-4o --ref-answer-model gpt-4 --dry-run
mtbench-judge --judge-model Qwen/Qwen2.5-72B-Instruct --judge-base-url http://localhost:8000/v1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from mtbench.backends.registry import OPENAI_APIS
from mtbench.cli.common import (
    add_bench_options,
    add_logging_options,
    add_request_options,
    bench_paths,
    config_from_args,
    run_command,
)
from mtbench.data.defaults import DEFAULT_JUDGE, FALLBACK_REFERENCES
from mtbench.data.judgments import MODES
from mtbench.errors import ConfigError
from mtbench.judging.config import JudgeConfig
from mtbench.judging.judge_backend import JUDGE_BACKENDS
from mtbench.judging.matches import ANSWER_REASONING

RENAMED = {"max_tokens": "judge_max_tokens", "timeout": "judge_timeout"}
"""`JudgeConfig` fields whose flag has another name (field → argparse dest)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-judge",
        description="Judge model answers with an LLM (FastChat's gen_judgment.py, resumable and "
        "parallel). Appends to {data-dir}/{bench}/model_judgment/{judge}_single.jsonl or "
        "{judge}_pair.jsonl; judgments already there are skipped.",
    )
    add_bench_options(parser)
    add_judging_options(parser)
    add_logging_options(parser)
    return parser


def add_judging_options(parser: argparse.ArgumentParser, modes: bool = True) -> None:
    """Every flag of a judge run: FastChat's, the judge's, and the ones before spending money.

    `modes=False` leaves out `--mode` and `--baseline-model` (for `mtbench-calibrate`, which
    judges in single mode only); the namespace then lacks them and `JudgeConfig` keeps its
    defaults.
    """
    fastchat = parser.add_argument_group("FastChat's options")
    fastchat.add_argument(
        "--judge-file",
        default=JudgeConfig.judge_file,
        help="judge prompt file (default: {data-dir}/judge_prompts.jsonl)",
    )
    fastchat.add_argument(
        "--judge-model",
        default=JudgeConfig.judge_model,
        help=f"the judge model requested from the API; any name works (default: "
        f"{DEFAULT_JUDGE}; with --judge-base-url, the one model that server lists at /models)",
    )
    if modes:
        _add_mode_options(fastchat)
    _add_run_options(parser, fastchat)


def _add_mode_options(fastchat: argparse._ArgumentGroup) -> None:
    fastchat.add_argument(
        "--baseline-model",
        default=JudgeConfig.baseline_model,
        help="the baseline of --mode pairwise-baseline (default: %(default)s)",
    )
    fastchat.add_argument(
        "--mode",
        default=JudgeConfig.mode,
        choices=MODES,
        help="single: a 1-10 score per answer; pairwise-baseline: each model against the "
        "baseline; pairwise-all: every pair of models (default: %(default)s)",
    )


def _add_run_options(parser: argparse.ArgumentParser, fastchat: argparse._ArgumentGroup) -> None:
    fastchat.add_argument(
        "--model-list",
        nargs="+",
        default=JudgeConfig.model_list,
        metavar="MODEL",
        help="models to judge, by answer-file name or the name given to mtbench-gen (its last "
        "path part is the file name) (default: every file in model_answer/)",
    )
    fastchat.add_argument(
        "--parallel",
        type=int,
        default=JudgeConfig.parallel,
        help="concurrent judge calls (default: %(default)s; FastChat's is 1)",
    )
    fastchat.add_argument(
        "--first-n",
        type=int,
        default=JudgeConfig.first_n,
        metavar="N",
        help="judge only the first N questions (for a quick check)",
    )
    fastchat.add_argument(
        "--samples",
        type=int,
        default=JudgeConfig.samples,
        metavar="K",
        help="judge every match K times, each its own row, to measure and reduce the judge's "
        "run-to-run noise; mtbench-show takes each item's median and reports the spread; "
        "rerun with a larger K to add samples (default: %(default)s)",
    )
    fastchat.add_argument(
        "--keep-stale",
        action="store_true",
        help="count a match as judged even if the answer, reference or judge prompt it graded "
        "has changed since (by default such stale judgments are made again)",
    )
    judge = parser.add_argument_group("judge")
    judge.add_argument(
        "--judge-backend",
        default=JudgeConfig.judge_backend,
        choices=JUDGE_BACKENDS,
        help="auto: Anthropic for claude-* names, a local model with --judge-model-path "
        "(llamacpp for a .gguf file when llama-cpp-python is installed, else hf), otherwise an "
        "OpenAI-compatible API; vllm: --judge-model-path on vLLM's offline engine; llamacpp: "
        "a .gguf --judge-model-path on llama.cpp, --parallel judge prompts decoded together; "
        "fake: no model, every verdict 'Rating: [[5]]' or '[[C]]' (tie), filed under the "
        "judge name 'fake', for a smoke run (default: %(default)s)",
    )
    judge.add_argument(
        "--judge-base-url",
        default=JudgeConfig.judge_base_url,
        metavar="URL",
        help="API root of an OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM, "
        "SGLang, Ollama, Azure); default: $OPENAI_BASE_URL, else OpenAI",
    )
    judge.add_argument(
        "--judge-api-key-env",
        default=JudgeConfig.judge_api_key_env,
        metavar="VAR",
        help="environment variable holding the API key (default: OPENAI_API_KEY, or "
        "ANTHROPIC_API_KEY for Claude); keys are never taken from the command line",
    )
    judge.add_argument(
        "--judge-model-path",
        default=JudgeConfig.judge_model_path,
        metavar="PATH",
        help="a local judge model (folder, hub id or .gguf), run with transformers, llama.cpp "
        "(a .gguf file, when installed) or vLLM (--judge-backend vllm)",
    )
    judge.add_argument(
        "--judge-name",
        default=JudgeConfig.judge_name,
        help="the judge's name in the output file name and rows, and the --judge-model the "
        "other commands then take (default: the model name's last path part, as they map it)",
    )
    judge.add_argument(
        "--ref-answer-model",
        default=JudgeConfig.ref_answer_model,
        metavar="NAME",
        help="use reference_answer/NAME.jsonl (default: the judge's own, else "
        f"{FALLBACK_REFERENCES}'s)",
    )
    judge.add_argument(
        "--answer-reasoning",
        default=JudgeConfig.answer_reasoning,
        choices=ANSWER_REASONING,
        help="keep: judge answers as they are, <think>...</think> reasoning traces included "
        "(FastChat); strip: judge them with the trace removed, as mtbench-gen's --reasoning "
        "strip does (default: %(default)s)",
    )
    judge.add_argument(
        "--judge-max-tokens",
        type=int,
        default=JudgeConfig.max_tokens,
        metavar="N",
        help="judge reply limit (default: 2048, 1024 for Claude, as FastChat)",
    )
    judge.add_argument(
        "--judge-temperature",
        type=_temperature,
        default=JudgeConfig.judge_temperature,
        metavar="T|omit",
        help="the judge's temperature (default: 0, as FastChat); 'omit' sends none, so the "
        "model's default applies (OpenAI's reasoning models refuse any other; a refused "
        "default is dropped by itself, once, and said)",
    )
    judge.add_argument(
        "--judge-reasoning-effort",
        default=JudgeConfig.judge_reasoning_effort,
        metavar="EFFORT",
        help="reasoning_effort for an OpenAI-compatible reasoning judge: minimal, low, medium, "
        "high, ... (default: not sent, the model's own)",
    )
    judge.add_argument(
        "--judge-api",
        default=JudgeConfig.judge_api,
        choices=OPENAI_APIS,
        help="how an OpenAI-compatible judge is asked: chat (chat completions, as FastChat) or "
        "responses (OpenAI's Responses API, where its newest models are served) "
        "(default: %(default)s)",
    )
    judge.add_argument(
        "--judge-thinking-budget",
        type=int,
        default=JudgeConfig.judge_thinking_budget,
        metavar="TOKENS",
        help="extended thinking for a Claude judge, in tokens (at least 1024), on top of "
        "--judge-max-tokens (default: no thinking, as FastChat)",
    )
    judge.add_argument(
        "--judge-extra-body",
        type=_json_object,
        default=JudgeConfig.judge_extra_body,
        metavar="JSON",
        help="extra fields for every judge request, as a JSON object, e.g. "
        '\'{"chat_template_kwargs": {"enable_thinking": false}}\' for a Qwen3 judge on vLLM',
    )
    add_request_options(judge, JudgeConfig, "--judge-timeout", "judge request")
    judge.add_argument(
        "--batch-size",
        type=int,
        default=JudgeConfig.batch_size,
        metavar="N",
        help="prompts per batch for a local judge (default: %(default)s)",
    )
    judge.add_argument(
        "--num-threads",
        type=int,
        default=JudgeConfig.num_threads,
        metavar="N",
        help="torch (or llama.cpp) CPU threads of a local judge (--judge-model-path) on CPU "
        "(default: the "
        "cores not busy with other work, by the load average; OMP_NUM_THREADS when set)",
    )
    batch = parser.add_argument_group("batch judging (half price, results within 24 hours)")
    batch.add_argument(
        "--batch",
        action="store_true",
        help="submit the pending judge calls through the provider's batch API (OpenAI's Batch "
        "API, Anthropic's Message Batches) at half the price, and wait for them; the batches "
        "are recorded in {judgment file}.batches.jsonl, so rerunning the same command after "
        "Ctrl-C, a crash or a reboot picks them up instead of paying twice",
    )
    batch.add_argument(
        "--batch-status",
        action="store_true",
        help="show the batches recorded for this command's judgment file and what the "
        "provider says of them, then stop",
    )
    batch.add_argument(
        "--batch-cancel",
        action="store_true",
        help="ask the provider to stop this command's batches that have not ended; rerun with "
        "--batch to write what they finished",
    )
    batch.add_argument(
        "--poll-interval",
        type=float,
        default=JudgeConfig.poll_interval,
        metavar="SECONDS",
        help="seconds between two looks at the batches being waited for, with --batch "
        "(default: %(default)s)",
    )
    run = parser.add_argument_group("before spending money")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and one fully rendered judge prompt, then stop",
    )
    run.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    run.add_argument(
        "--price-per-1k-input",
        type=float,
        default=JudgeConfig.price_per_1k_input,
        metavar="USD",
        help="price of 1k input tokens, for the cost estimate (default: known list prices; "
        "live prices, halved by --batch)",
    )
    run.add_argument(
        "--price-per-1k-output",
        type=float,
        default=JudgeConfig.price_per_1k_output,
        metavar="USD",
        help="price of 1k output tokens, for the cost estimate",
    )
    run.add_argument(
        "--price-table",
        default=JudgeConfig.price_table,
        metavar="FILE",
        help='JSON prices per 1k tokens, {"model": [input, output]}, over the built-in list '
        "(for the estimate and the cost of the reported usage)",
    )
    run.add_argument(
        "--no-preflight",
        dest="preflight",
        action="store_false",
        help="skip the one test call made before the run",
    )


def _temperature(text: str) -> float | None:
    """`--judge-temperature`: a number, or `omit` for none."""
    if text.strip().lower() in ("omit", "none", "default"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'omit', got {text!r}") from None


def _json_object(text: str) -> dict[str, Any]:
    """`--judge-extra-body`: a JSON object."""

    def no_constant(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    try:
        value = json.loads(text, parse_constant=no_constant)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def confirm_plan(plan: Any) -> bool:
    """Ask only when a person is at the keyboard; scripts and CI are never blocked."""
    if not sys.stdin.isatty():
        return True
    how = f"with {plan.calls} call(s)"
    if plan.options.batch:
        how = "as provider batch(es) at half price"
    try:
        answer = input(f"Judge {len(plan.pending)} match(es) {how}? [Y/n] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")


def make_config(args: argparse.Namespace) -> JudgeConfig:
    """The `JudgeConfig` that the parsed flags describe (not yet validated).

    Raises:
        ConfigError: for --poll-interval without --batch (nothing would poll).
    """
    # The default is the field's (tests/test_config.py); another value asks for a batch run.
    if args.poll_interval != JudgeConfig.poll_interval and not args.batch:
        raise ConfigError(
            "--poll-interval is for --batch runs (seconds between looks at their batches): "
            "add --batch, or drop --poll-interval"
        )
    return config_from_args(JudgeConfig, args, RENAMED, paths=bench_paths(args))


def batch_command(args: argparse.Namespace, config: JudgeConfig) -> bool:
    """Carry out `--batch-status` or `--batch-cancel` if given; whether one was."""
    if not (args.batch_status or args.batch_cancel):
        return False
    if args.batch_status and args.batch_cancel:
        raise ConfigError("--batch-status and --batch-cancel cannot go together")
    from mtbench.judging.batch_status import batch_status

    batch_status(config, cancel=args.batch_cancel)
    return True


def _run(args: argparse.Namespace) -> int:
    from mtbench.cli.progress import JudgeBar
    from mtbench.judging.pipeline import judge

    config = make_config(args)
    if batch_command(args, config):
        return 0
    progress = JudgeBar()

    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():  # warnings about failed calls print above the bar
            result = judge(config, confirm=None if args.yes else confirm_plan, on_progress=progress)
    finally:
        progress.close()
    return 1 if result.status == "cancelled" else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-judge`."""
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
