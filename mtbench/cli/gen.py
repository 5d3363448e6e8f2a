"""`mtbench-gen`: generate a model's MT-bench answers (FastChat's gen_model_answer flags)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mtbench.backends.conv_templates import template_names
from mtbench.backends.hf_loading import DTYPES
from mtbench.backends.registry import AUTO, KINDS, LOCAL_KINDS
from mtbench.cli.common import (
    add_bench_options,
    add_logging_options,
    add_request_options,
    bench_paths,
    config_from_args,
    run_command,
)
from mtbench.generation.config import GenConfig
from mtbench.generation.reasoning import REASONING_MODES

RENAMED = {"api_base": "openai_api_base"}
"""`GenConfig` fields whose flag has another name (field → argparse dest)."""


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
        default=GenConfig.backend,
        choices=(AUTO, *KINDS),
        help="auto (the default): llamacpp for a .gguf file when llama-cpp-python is installed "
        "(pip install 'mtbench-toolkit[llamacpp]'), else hf; hf: transformers (a GGUF file is "
        "de-quantized); vllm: vLLM's offline engine; llamacpp: llama.cpp on a .gguf file, "
        "--parallel sequences decoded together; openai: an OpenAI-compatible server such as "
        "vLLM's, SGLang or OpenAI; anthropic: Anthropic's API; fake: scripted replies, no model "
        "(a smoke run of the pipeline)",
    )
    model.add_argument(
        "--revision", default=GenConfig.revision, help="hub revision (default: %(default)s)"
    )
    model.add_argument(
        "--dtype",
        choices=DTYPES,
        default=GenConfig.dtype,
        help="weights dtype (default: float16 on GPU, float32 on CPU, as FastChat); auto: on CPU "
        "bfloat16 where the CPU computes it natively (faster, greedy answers differ), else "
        "float32; on GPU the model config's",
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
        default=GenConfig.api_key_env,
        metavar="NAME",
        help="environment variable holding the API key (default: OPENAI_API_KEY, or "
        "ANTHROPIC_API_KEY with --backend anthropic); a local server needs none",
    )
    api.add_argument(
        "--parallel",
        type=int,
        default=GenConfig.parallel,
        help="concurrent requests; with --backend llamacpp, the sequences llama.cpp decodes "
        "together (its slots) (default: %(default)s)",
    )
    add_request_options(api, GenConfig, "--timeout", "request")

    prompt = parser.add_argument_group("prompt")
    prompt.add_argument(
        "--conv-template",
        choices=template_names(),
        default=GenConfig.conv_template,
        metavar="NAME",
        help="render FastChat's legacy template NAME instead of the tokenizer's chat template: "
        + ", ".join(template_names()),
    )
    prompt.add_argument(
        "--system-message",
        default=GenConfig.system_message,
        help="system message sent first in every conversation",
    )
    prompt.add_argument(
        "--show-prompt",
        action="store_true",
        help="print the first question's rendered prompt and exit",
    )
    prompt.add_argument(
        "--reasoning",
        choices=REASONING_MODES,
        default=GenConfig.reasoning,
        help="strip: keep <think> traces out of judged answers and turn-2 context (they stay "
        "in the file's 'reasoning' field); keep: leave answers as generated (default: %(default)s)",
    )

    questions = parser.add_argument_group("questions and output")
    add_bench_options(questions)
    questions.add_argument(
        "--question-begin",
        type=int,
        default=GenConfig.question_begin,
        help="slice start into the question file (an index, not an id)",
    )
    questions.add_argument(
        "--question-end",
        type=int,
        default=GenConfig.question_end,
        help="slice end into the question file, exclusive: --question-end 3 takes the first 3",
    )
    questions.add_argument(
        "--answer-file",
        default=GenConfig.answer_file,
        help="output file (default: {data-dir}/{bench}/model_answer/{model-id}.jsonl)",
    )
    questions.add_argument(
        "--max-new-token",
        "--max-tokens",
        dest="max_new_token",
        type=int,
        default=GenConfig.max_new_token,
        help="token limit of every turn (default: %(default)s)",
    )
    questions.add_argument(
        "--force-temperature",
        type=float,
        default=GenConfig.force_temperature,
        help="one sampling temperature for every question instead of FastChat's per-category table",
    )
    questions.add_argument(
        "--seed",
        type=int,
        default=GenConfig.seed,
        metavar="N",
        help="seed choice i with N + i; with an API backend this adds a 'seed' field to every "
        "request, which FastChat never sends (default: local models seed choice i with i, as "
        "FastChat; API requests carry no seed)",
    )
    questions.add_argument(
        "--num-choices",
        type=int,
        default=GenConfig.num_choices,
        help="completions per question (default: %(default)s)",
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
        default=GenConfig.batch_size,
        help="conversations per batch (default: 16 on CPU, fitted to memory on GPU)",
    )
    speed.add_argument(
        "--num-gpus-per-model",
        type=int,
        default=GenConfig.num_gpus_per_model,
        help="GPUs per model replica (default: %(default)s)",
    )
    speed.add_argument(
        "--num-gpus-total",
        type=int,
        default=GenConfig.num_gpus_total,
        help="GPUs to use; replicas = total / per-model, on Ray (default: all visible)",
    )
    speed.add_argument(
        "--max-gpu-memory",
        default=GenConfig.max_gpu_memory,
        help="per-GPU memory cap such as 40GiB when a model spans several GPUs",
    )
    speed.add_argument(
        "--gpu-memory-utilization",
        type=float,
        default=GenConfig.gpu_memory_utilization,
        help="--backend vllm: share of each GPU's memory vLLM may take (default: 0.9)",
    )
    speed.add_argument(
        "--max-model-len",
        type=int,
        default=GenConfig.max_model_len,
        help="--backend vllm: context length cap, for models whose full context does not fit "
        "(default: the model's); --backend llamacpp: tokens of prompt and reply per sequence "
        "(default: 4096, at most the model's)",
    )
    speed.add_argument(
        "--num-threads",
        type=int,
        default=GenConfig.num_threads,
        metavar="N",
        help="torch CPU threads of a local model on CPU (per --num-workers replica), or "
        "llama.cpp's threads (default: "
        "the cores not busy with other work, by the load average; OMP_NUM_THREADS when set)",
    )
    speed.add_argument(
        "--num-workers",
        type=int,
        default=GenConfig.num_workers,
        help="CPU only: model replicas on Ray sharing the cores",
    )
    add_logging_options(parser)
    return parser


def _model(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """What to load or request (a usage error if `--model`/`--model-path` are unclear).

    `GenConfig` names the answer file: `--model-id`, else with an API backend the model's last
    path part.
    """
    if args.backend not in (*LOCAL_KINDS, AUTO):
        if args.model_path and args.model and args.model_path != args.model:
            parser.error("give the served model's name once, with --model")
        model = args.model or args.model_path or ("fake" if args.backend == "fake" else None)
        if not model:
            parser.error(f"--backend {args.backend} needs --model NAME (the served model)")
        return str(model)
    if args.model:
        parser.error(
            "--model names a model on an API server (--backend openai or anthropic); "
            "for a local model use --model-path"
        )
    if not args.model_path or not args.model_id:
        parser.error("--model-path and --model-id are required (or use --backend openai)")
    return str(args.model_path)


def make_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> GenConfig:
    """The `GenConfig` that the parsed flags describe (not yet validated)."""
    return config_from_args(
        GenConfig, args, RENAMED, model_path=_model(parser, args), paths=bench_paths(args)
    )


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from mtbench.cli.progress import GenerationBar
    from mtbench.generation import FailedQuestionsError, generate_answers, show_prompt

    config = make_config(parser, args)
    if args.show_prompt:
        sys.stdout.write(show_prompt(config) + "\n")
        return 0
    progress = GenerationBar()
    failure: FailedQuestionsError | None = None
    try:
        summary = generate_answers(config, progress=progress)
    except FailedQuestionsError as exc:
        summary, failure = exc.summary, exc
    finally:
        progress.close()
    print(summary.line())
    if failure is not None:
        raise failure  # printed as one `Error:` line, exit status 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mtbench-gen`."""
    parser = build_parser()
    return run_command(parser, lambda args: _run(parser, args), argv)


if __name__ == "__main__":
    sys.exit(main())
