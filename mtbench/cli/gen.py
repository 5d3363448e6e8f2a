"""`mtbench-gen`: generate a model's MT-bench answers (FastChat's gen_model_answer flags)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.backends.conv_templates import template_names
from mtbench.backends.hf_loading import DTYPES
from mtbench.backends.registry import KINDS, LOCAL_KINDS
from mtbench.cli.common import add_bench_options, add_logging_options, run_command
from mtbench.generation.reasoning import MODES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtbench-gen",
        description=(
            "Generate a model's answers to the bench questions, batched and resumable: a rerun "
            "generates only what is missing for this --model-id and these settings."
        ),
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model-path", help="model folder, .gguf file, or Hugging Face hub id (local backends)"
    )
    model.add_argument(
        "--model-id",
        help="the model's name: answer file {model-id}.jsonl and its model_id field "
        "(default with --backend openai, anthropic or fake: the last part of --model)",
    )
    model.add_argument(
        "--backend",
        default="hf",
        choices=KINDS,
        help="hf: transformers; vllm: vLLM's offline engine; openai: an OpenAI-compatible "
        "server such as vLLM's, SGLang or OpenAI; anthropic: Anthropic's API; fake: scripted "
        "replies, no model (a smoke run of the pipeline) (default: %(default)s)",
    )
    model.add_argument("--revision", default="main", help="hub revision (default: %(default)s)")
    model.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="weights dtype (default: float16 on GPU, float32 on CPU)",
    )
    model.add_argument(
        "--trust-remote-code", action="store_true", help="allow model code from the hub"
    )

    api = parser.add_argument_group(
        "API server (--backend openai or anthropic, FastChat's gen_api_answer)"
    )
    api.add_argument(
        "--model", help="the model name the server serves (with --backend fake: any name)"
    )
    api.add_argument(
        "--openai-api-base",
        metavar="URL",
        help="server base URL, e.g. http://localhost:8000/v1 (default: $OPENAI_BASE_URL, "
        "else OpenAI)",
    )
    api.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="environment variable holding the API key (default: OPENAI_API_KEY, or "
        "ANTHROPIC_API_KEY with --backend anthropic); a local server needs none",
    )
    api.add_argument(
        "--parallel",
        type=int,
        default=8,
        help="concurrent requests (default: %(default)s)",
    )
    api.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per request (default: %(default)s)"
    )
    api.add_argument(
        "--max-attempts",
        type=int,
        default=10,
        help="attempts per request on 429/5xx/timeouts, with exponential backoff that honours "
        "Retry-After (default: %(default)s)",
    )

    prompt = parser.add_argument_group("prompt")
    prompt.add_argument(
        "--conv-template",
        choices=template_names(),
        default=None,
        metavar="NAME",
        help="render FastChat's legacy template NAME instead of the tokenizer's chat template: "
        + ", ".join(template_names()),
    )
    prompt.add_argument(
        "--system-message", default=None, help="system message sent first in every conversation"
    )
    prompt.add_argument(
        "--show-prompt",
        action="store_true",
        help="print the first question's rendered prompt and exit",
    )
    prompt.add_argument(
        "--reasoning",
        choices=MODES,
        default="strip",
        help="strip: keep <think> traces out of judged answers and turn-2 context (they stay "
        "in the file's 'reasoning' field); keep: leave answers as generated (default: %(default)s)",
    )

    questions = parser.add_argument_group("questions and output")
    add_bench_options(questions)
    questions.add_argument(
        "--question-begin",
        type=int,
        default=None,
        help="slice start into the question file (an index, not an id)",
    )
    questions.add_argument("--question-end", type=int, default=None, help="slice end")
    questions.add_argument(
        "--answer-file",
        default=None,
        help="output file (default: {data-dir}/{bench}/model_answer/{model-id}.jsonl)",
    )
    questions.add_argument(
        "--max-new-token",
        "--max-tokens",
        dest="max_new_token",
        type=int,
        default=1024,
        help="token limit of every turn (default: %(default)s)",
    )
    questions.add_argument(
        "--force-temperature",
        type=float,
        default=None,
        help="one sampling temperature for every question instead of FastChat's per-category table",
    )
    questions.add_argument(
        "--num-choices", type=int, default=1, help="completions per question (default: %(default)s)"
    )
    questions.add_argument(
        "--overwrite",
        action="store_true",
        help="regenerate selected questions that already have answers",
    )

    speed = parser.add_argument_group("speed and scale")
    speed.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="conversations per batch (default: 16 on CPU, fitted to memory on GPU)",
    )
    speed.add_argument(
        "--num-gpus-per-model",
        type=int,
        default=1,
        help="GPUs per model replica (default: %(default)s)",
    )
    speed.add_argument(
        "--num-gpus-total",
        type=int,
        default=None,
        help="GPUs to use; replicas = total / per-model, on Ray (default: all visible)",
    )
    speed.add_argument(
        "--max-gpu-memory",
        default=None,
        help="per-GPU memory cap such as 40GiB when a model spans several GPUs",
    )
    speed.add_argument(
        "--gpu-memory-utilization",
        type=float,
        default=None,
        help="--backend vllm: share of each GPU's memory vLLM may take (default: 0.9)",
    )
    speed.add_argument(
        "--max-model-len",
        type=int,
        default=None,
        help="--backend vllm: context length cap, for models whose full context does not fit "
        "(default: the model's)",
    )
    speed.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="CPU only: model replicas on Ray sharing the cores",
    )
    add_logging_options(parser)
    return parser


def _model_and_id(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, str]:
    """What to load or request, and the name to file answers under (a usage error if unclear)."""
    if args.backend not in LOCAL_KINDS:
        if args.model_path and args.model and args.model_path != args.model:
            parser.error("give the served model's name once, with --model")
        model = args.model or args.model_path or ("fake" if args.backend == "fake" else None)
        if not model:
            parser.error(f"--backend {args.backend} needs --model NAME (the served model)")
        return model, args.model_id or model.rstrip("/").rsplit("/", 1)[-1]
    if args.model:
        parser.error(
            "--model names a model on an API server (--backend openai or anthropic); "
            "for a local model use --model-path"
        )
    if not args.model_path or not args.model_id:
        parser.error("--model-path and --model-id are required (or use --backend openai)")
    return args.model_path, args.model_id


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from mtbench.generation import GenConfig, generate_answers, show_prompt
    from mtbench.generation.progress import TqdmProgress

    model, model_id = _model_and_id(parser, args)
    config = GenConfig(
        model_path=model,
        model_id=model_id,
        bench_name=args.bench_name,
        data_dir=args.data_dir,
        question_begin=args.question_begin,
        question_end=args.question_end,
        answer_file=args.answer_file,
        max_new_token=args.max_new_token,
        num_choices=args.num_choices,
        backend=args.backend,
        conv_template=args.conv_template,
        system_message=args.system_message,
        reasoning=args.reasoning,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        num_gpus_per_model=args.num_gpus_per_model,
        num_gpus_total=args.num_gpus_total,
        num_workers=args.num_workers,
        max_gpu_memory=args.max_gpu_memory,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len,
        dtype=args.dtype,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
        force_temperature=args.force_temperature,
        parallel=args.parallel,
        api_base=args.openai_api_base,
        api_key_env=args.api_key_env,
        timeout=args.timeout,
        max_attempts=args.max_attempts,
    )
    if args.show_prompt:
        sys.stdout.write(show_prompt(config) + "\n")
        return 0
    progress = TqdmProgress()
    try:
        summary = generate_answers(config, progress=progress)
    finally:
        progress.close()
    print(summary.line())
    if summary.failed:
        ids = ", ".join(str(qid) for qid in sorted(summary.failed)[:10])
        first = next(iter(summary.failed.values()))
        print(
            f"Error: {len(summary.failed)} question(s) failed ({ids}): {first}; they have no "
            "answer row, so a rerun retries them",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-gen`."""
    parser = build_parser()
    return run_command(parser, lambda args: _run(parser, args), argv)


if __name__ == "__main__":
    sys.exit(main())
