"""A full single-mode run of one model against each kind of judge a user meets today.

Each judge is played by the scripted server (`tests/fake_openai_server.py`, in this process on
127.0.0.1) through the real `openai` / `anthropic` clients and `mtbench.judging.judge`; the
table gives what each run did: matches judged, failed, re-asked for lack of room, retried after
transient faults, unparsed, and the requests the server saw.

    python scripts/judge_kinds.py [--model gpt-3.5-turbo] [--first-n 80]

Reads the official questions, judge prompts, references and answers from `$MTBENCH_SHARED_DATA`
(default `../shared/mt_bench`).
"""

from __future__ import annotations

import argparse
import hashlib
import io
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
sys.path.insert(0, str(REPO / "tests"))

from fake_openai_server import (  # noqa: E402
    Completion,
    FakeOpenAIServer,
    Refusal,
    judge_reply,
)

from mtbench.data.paths import BenchPaths  # noqa: E402
from mtbench.errors import BackendError  # noqa: E402
from mtbench.judging import JudgeConfig  # noqa: E402
from mtbench.judging.pipeline import judge  # noqa: E402
from mtbench.judging.runner import JudgeStats  # noqa: E402


def _digest(body: dict[str, Any]) -> int:
    return int(hashlib.sha256(json.dumps(body.get("messages", [])).encode()).hexdigest(), 16)


def reasoning_model(body: dict[str, Any]) -> Completion:
    return Completion(judge_reply(body), model="o3-2025-04-16", reasoning_tokens=400)


def think_inline(body: dict[str, Any]) -> str:
    return f"<think>\nA first guess: [[1]]. Let me look again.\n</think>\n\n{judge_reply(body)}"


def reasoning_field(body: dict[str, Any]) -> Completion:
    return Completion(judge_reply(body), reasoning_content="Maybe [[2]]? Let me check.")


def sometimes_out_of_room(body: dict[str, Any]) -> Completion:
    """One call in five spends 2048 tokens thinking; with 4096 it always fits."""
    if body.get("max_tokens", 0) < 4096 and _digest(body) % 5 == 0:
        return Completion(None, reasoning_content="thinking " * 200, finish_reason="length")
    return Completion(judge_reply(body))


def never_fits(body: dict[str, Any]) -> Completion:
    return Completion("", finish_reason="length")


def claude_thinking(body: dict[str, Any]) -> Completion:
    return Completion(
        judge_reply(body), thinking="A draft: [[2]].", model="claude-sonnet-4-20250514"
    )


KINDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (name, server arguments, JudgeConfig arguments)
    ("classic (gpt-4 style)", {}, {"judge_model": "classic"}),
    (
        "classic, 10 % HTTP 500",
        {"server_error_rate": 0.1},
        {"judge_model": "classic-flaky"},
    ),
    (
        "OpenAI reasoning model",
        {"reply": reasoning_model, "refuse": Refusal.reasoning_model},
        {"judge_model": "o3"},
    ),
    ("open model, <think> inline", {"reply": think_inline}, {"judge_model": "qwen3-inline"}),
    (
        "open model, reasoning_content",
        {"reply": reasoning_field},
        {"judge_model": "qwen3-parser"},
    ),
    (
        "thinks past 2048 tokens (1 in 5)",
        {"reply": sometimes_out_of_room},
        {"judge_model": "qwq"},
    ),
    ("never fits a verdict", {"reply": never_fits}, {"judge_model": "stuck", "max_attempts": 1}),
    (
        "Claude, extended thinking",
        {"reply": claude_thinking},
        {
            "judge_model": "claude-sonnet-4",
            "judge_backend": "anthropic",
            "judge_thinking_budget": 2048,
        },
    ),
]


def make_data(shared: Path, model: str, root: Path) -> BenchPaths:
    paths = BenchPaths(root / "data")
    paths.reference_dir.mkdir(parents=True)
    paths.answer_dir.mkdir(parents=True)
    shutil.copy(shared / "question.jsonl", paths.question_file)
    shutil.copy(shared / "judge_prompts.jsonl", paths.data_dir / "judge_prompts.jsonl")
    shutil.copy(shared / "reference_answer/gpt-4.jsonl", paths.reference_file("gpt-4"))
    shutil.copy(shared / f"model_answer/{model}.jsonl", paths.answer_file(model))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gpt-3.5-turbo")
    parser.add_argument("--first-n", type=int, default=None)
    args = parser.parse_args()
    shared = Path(os.environ.get("MTBENCH_SHARED_DATA", REPO.parent / "shared" / "mt_bench"))
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-scripted")
    print(
        "| judge | judged | failed | re-asked | retried | unparsed | requests | wall |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(shared, args.model, Path(tmp))
        for name, server_args, options in KINDS:
            stats = JudgeStats()
            with FakeOpenAIServer(**server_args) as server:
                url = server.root_url if options.get("judge_backend") == "anthropic" else None
                config = JudgeConfig(
                    paths=data,
                    model_list=[args.model],
                    first_n=args.first_n,
                    judge_base_url=url or server.base_url,
                    **{"max_attempts": 4, **options},
                )
                started = time.monotonic()
                try:
                    judge(config, err=io.StringIO(), stats=stats)
                except BackendError:
                    pass  # failed matches: counted in stats
                wall = time.monotonic() - started
                requests = len(server.completions())
            print(
                f"| {name} | {stats.judged} of {stats.matches} | {stats.failed} | "
                f"{stats.reasked} | {stats.retries} | {stats.unparsed} | {requests} "
                f"| {wall:.1f} s |"
            )


if __name__ == "__main__":
    main()
