"""`mtbench-judge`: grade model answers with an LLM judge, as FastChat's `gen_judgment.py`.

mtbench-judge --mode single --model-list my-model --parallel 8
mtbench-judge --judge-model gpt-4o --ref-answer-model gpt-4 --dry-run
mtbench-judge --judge-model Qwen/Qwen2.5-72B-Instruct --judge-base-url http://localhost:8000/v1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mtbench.backends.registry import AUTO, KINDS
from mtbench.cli.common import add_bench_options, add_logging_options, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-judge",
        description="Judge model answers with an LLM (FastChat's gen_judgment.py, resumable and "
        "parallel). Appends to {data-dir}/{bench}/model_judgment/{judge}_single.jsonl or "
        "{judge}_pair.jsonl; judgments already there are skipped.",
    )
    add_bench_options(parser)
    fastchat = parser.add_argument_group("FastChat's options")
    fastchat.add_argument(
        "--judge-file",
        default=None,
        help="judge prompt file (default: {data-dir}/judge_prompts.jsonl)",
    )
    fastchat.add_argument(
        "--judge-model",
        default="gpt-4",
        help="the judge model requested from the API; any name works (default: %(default)s)",
    )
    fastchat.add_argument(
        "--baseline-model",
        default="gpt-3.5-turbo",
        help="the baseline of --mode pairwise-baseline (default: %(default)s)",
    )
    fastchat.add_argument(
        "--mode",
        default="single",
        choices=["single", "pairwise-baseline", "pairwise-all"],
        help="single: a 1-10 score per answer; pairwise-baseline: each model against the "
        "baseline; pairwise-all: every pair of models (default: %(default)s)",
    )
    fastchat.add_argument(
        "--model-list",
        nargs="+",
        default=None,
        metavar="MODEL",
        help="models to judge, by answer-file name (default: every file in model_answer/)",
    )
    fastchat.add_argument(
        "--parallel",
        type=int,
        default=8,
        help="concurrent judge calls (default: %(default)s; FastChat's is 1)",
    )
    fastchat.add_argument(
        "--first-n",
        type=int,
        default=None,
        metavar="N",
        help="judge only the first N questions (for a quick check)",
    )
    judge = parser.add_argument_group("judge")
    judge.add_argument(
        "--judge-backend",
        default="auto",
        choices=(AUTO, *KINDS),
        help="auto: Anthropic for claude-* names, a local model (hf) with --judge-model-path, "
        "otherwise an OpenAI-compatible API; vllm: --judge-model-path on vLLM's offline engine; "
        "fake: no model, every verdict 'Rating: [[5]]' or '[[C]]' (tie), filed under the "
        "judge name 'fake', for a smoke run (default: %(default)s)",
    )
    judge.add_argument(
        "--judge-base-url",
        default=None,
        metavar="URL",
        help="API root of an OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM, "
        "SGLang, Ollama, Azure); default: $OPENAI_BASE_URL, else OpenAI",
    )
    judge.add_argument(
        "--judge-api-key-env",
        default=None,
        metavar="VAR",
        help="environment variable holding the API key (default: OPENAI_API_KEY, or "
        "ANTHROPIC_API_KEY for Claude); keys are never taken from the command line",
    )
    judge.add_argument(
        "--judge-model-path",
        default=None,
        metavar="PATH",
        help="a local judge model (folder, hub id or .gguf), run with transformers (or vLLM "
        "with --judge-backend vllm)",
    )
    judge.add_argument(
        "--judge-name",
        default=None,
        help="the judge's name in the output file name and rows (default: the model name, "
        "or its last path part)",
    )
    judge.add_argument(
        "--ref-answer-model",
        default=None,
        metavar="NAME",
        help="use reference_answer/NAME.jsonl (default: the judge's own, else gpt-4's)",
    )
    judge.add_argument(
        "--judge-max-tokens",
        type=int,
        default=None,
        metavar="N",
        help="judge reply limit (default: 2048, 1024 for Claude, as FastChat)",
    )
    judge.add_argument(
        "--judge-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="seconds one judge request may take (default: %(default)s)",
    )
    judge.add_argument(
        "--max-attempts",
        type=int,
        default=10,
        metavar="N",
        help="attempts per judge call on 429/5xx/timeouts, with exponential backoff "
        "(default: %(default)s)",
    )
    judge.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="prompts per batch for a local judge (default: %(default)s)",
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
        default=None,
        metavar="USD",
        help="price of 1k input tokens, for the cost estimate (default: known list prices)",
    )
    run.add_argument(
        "--price-per-1k-output",
        type=float,
        default=None,
        metavar="USD",
        help="price of 1k output tokens, for the cost estimate",
    )
    run.add_argument(
        "--no-preflight",
        dest="preflight",
        action="store_false",
        help="skip the one test call made before the run",
    )
    add_logging_options(parser)
    return parser


def _confirm(plan: Any) -> bool:
    """Ask only when a person is at the keyboard; scripts and CI are never blocked."""
    if not sys.stdin.isatty():
        return True
    try:
        answer = input(f"Judge {len(plan.pending)} match(es) with {plan.calls} call(s)? [Y/n] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")


class _ProgressBar:
    """A tqdm bar on stderr: calls done, calls/s, retries, failures, unparsed verdicts.

    On a terminal it redraws often; in a log file it writes a line every 30 seconds.
    """

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, stats: Any) -> None:
        if self.bar is None:
            from tqdm import tqdm

            tty = sys.stderr.isatty()
            self.bar = tqdm(
                total=stats.calls,
                unit="call",
                desc="judging",
                file=sys.stderr,
                dynamic_ncols=tty,
                mininterval=0.2 if tty else 30.0,
            )
        self.bar.set_postfix(
            retries=stats.retries, failed=stats.failed_calls, unparsed=stats.unparsed, refresh=False
        )
        self.bar.update(stats.calls_done - self.bar.n)

    def close(self) -> None:
        """Finish the bar (before the summary is printed)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run(args: argparse.Namespace) -> int:
    from mtbench.judging.pipeline import judge
    from mtbench.judging.plan import JudgeOptions

    options = JudgeOptions(
        bench_name=args.bench_name,
        data_dir=args.data_dir,
        judge_file=args.judge_file,
        judge_model=args.judge_model,
        judge_name=args.judge_name,
        mode=args.mode,
        baseline_model=args.baseline_model,
        model_list=args.model_list,
        first_n=args.first_n,
        parallel=args.parallel,
        batch_size=args.batch_size,
        judge_backend=args.judge_backend,
        judge_base_url=args.judge_base_url,
        judge_api_key_env=args.judge_api_key_env,
        judge_model_path=args.judge_model_path,
        ref_answer_model=args.ref_answer_model,
        max_tokens=args.judge_max_tokens,
        timeout=args.judge_timeout,
        max_attempts=args.max_attempts,
        price_per_1k_input=args.price_per_1k_input,
        price_per_1k_output=args.price_per_1k_output,
        dry_run=args.dry_run,
        preflight=args.preflight,
    )
    progress = _ProgressBar()
    declined = []

    def confirm(plan: Any) -> bool:
        ok = _confirm(plan)
        declined.append(not ok)
        return ok

    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():  # warnings about failed calls print above the bar
            judge(options, confirm=None if args.yes else confirm, on_progress=progress)
    finally:
        progress.close()
    return 1 if any(declined) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-judge`."""
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
