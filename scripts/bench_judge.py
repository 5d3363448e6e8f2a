#!/usr/bin/env python
"""Benchmark `mtbench-judge` against a local OpenAI-compatible server with latency and faults.

The scripted server (`tests/fake_openai_server.py`) runs in its own process on 127.0.0.1 and
answers each judge call after `--latency` seconds; a share of requests gets an immediate 429
with `Retry-After`, another share an immediate 500. The real judge (`mtbench.judging.judge`,
the function `mtbench-judge` calls, with the real `openai` client) grades real answer files
from the shared MT-bench data. Reported per scenario: wall time against the ideal
`calls x latency / parallel`, retries, faults injected, and judgments lost or duplicated
(target: within 1.2x of ideal, zero lost).

    python scripts/bench_judge.py                       # 3 models x 80 questions, single mode
    python scripts/bench_judge.py --models 2 --parallel 32 --latency 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mtbench.data.judgments import (  # noqa: E402
    PairJudgment,
    SingleJudgment,
    load_pair_judgments,
    load_single_judgments,
)
from mtbench.data.paths import BenchPaths  # noqa: E402
from mtbench.judging import JudgeConfig  # noqa: E402
from mtbench.judging.pipeline import judge  # noqa: E402

DEFAULT_SHARED = REPO.parent / "shared" / "mt_bench"
MODELS = ["vicuna-13b-v1.3", "alpaca-13b", "llama-13b", "koala-13b", "gpt-3.5-turbo", "claude-v1"]


def shared_dir() -> Path:
    """The official data, found as the tests find it: $MTBENCH_SHARED_DATA, else ../shared."""
    shared = Path(os.environ.get("MTBENCH_SHARED_DATA", DEFAULT_SHARED))
    if not (shared / "question.jsonl").is_file():
        sys.exit(f"no question.jsonl in {shared}: set MTBENCH_SHARED_DATA to the mt_bench folder")
    return shared


def make_data(root: Path, shared: Path, models: list[str]) -> BenchPaths:
    paths = BenchPaths(root / "data")
    paths.answer_dir.mkdir(parents=True)
    paths.reference_dir.mkdir(parents=True)
    shutil.copy(shared / "question.jsonl", paths.question_file)
    shutil.copy(shared / "judge_prompts.jsonl", paths.data_dir / "judge_prompts.jsonl")
    shutil.copy(shared / "reference_answer" / "gpt-4.jsonl", paths.reference_file("gpt-4"))
    for model in models:
        shutil.copy(shared / "model_answer" / f"{model}.jsonl", paths.answer_file(model))
    return paths


def start_server(
    latency: float, rate_limit: float, server_error: float, retry_after: float, seed: int
):
    command = [
        sys.executable,
        str(REPO / "tests" / "fake_openai_server.py"),
        "--latency",
        str(latency),
        "--rate-limit-rate",
        str(rate_limit),
        "--server-error-rate",
        str(server_error),
        "--retry-after",
        str(retry_after),
        "--seed",
        str(seed),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http"):
        process.kill()
        sys.exit("the scripted server did not start")
    return process, base_url


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.rsplit("/v1", 1)[0] + "/stats", timeout=10) as reply:
        return json.load(reply)


def run_scenario(name: str, args: argparse.Namespace, shared: Path, faults: bool) -> dict:
    models = MODELS[: args.models]
    rate_limit = args.rate_limit_rate if faults else 0.0
    server_error = args.server_error_rate if faults else 0.0
    process, base_url = start_server(
        args.latency, rate_limit, server_error, args.retry_after, args.seed
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_data(Path(tmp), shared, models)
            options = JudgeConfig(
                paths=paths,
                mode=args.mode,
                model_list=models,
                baseline_model=models[-1],
                first_n=args.first_n,
                parallel=args.parallel,
                judge_base_url=base_url,
                judge_model="gpt-4",
                preflight=False,
            )
            devnull = open(os.devnull, "w")
            started = time.monotonic()
            stats = judge(options, err=devnull).stats
            wall = time.monotonic() - started
            devnull.close()
            output = paths.judgment_file("gpt-4", args.mode)
            rows: list[SingleJudgment] | list[PairJudgment]
            if args.mode == "single":
                rows = list(load_single_judgments(output))
            else:
                rows = list(load_pair_judgments(output))
        seen = server_stats(base_url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert stats is not None
    calls = stats.calls
    ideal = calls * args.latency / args.parallel
    keys = {row.key for row in rows}
    return {
        "scenario": name,
        "matches": stats.matches,
        "calls": calls,
        "requests": seen["requests"],
        "faults": sum(seen["faults"].values()),
        "fault_kinds": seen["faults"],
        "retries": stats.retries,
        "wall_s": round(wall, 2),
        "run_s": round(stats.wall_time, 2),
        "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3),
        "lost": stats.matches - len(keys),
        "duplicates": len(rows) - len(keys),
        "failed": stats.failed,
        "max_in_flight": seen["max_in_flight"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=3, help="answer files judged (default: 3)")
    parser.add_argument(
        "--mode", default="single", choices=["single", "pairwise-baseline", "pairwise-all"]
    )
    parser.add_argument("--first-n", type=int, default=None, help="questions (default: all 80)")
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per judge reply")
    parser.add_argument("--rate-limit-rate", type=float, default=0.10)
    parser.add_argument("--server-error-rate", type=float, default=0.05)
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of the 429s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the fault-free scenario")
    parser.add_argument("--json", action="store_true", help="print results as JSON lines")
    args = parser.parse_args()
    shared = shared_dir()

    scenarios = [] if args.no_baseline else [("no faults", False)]
    scenarios.append(
        (
            f"{args.rate_limit_rate:.0%} 429 (Retry-After {args.retry_after:g}s) + "
            f"{args.server_error_rate:.0%} 500",
            True,
        )
    )
    print(
        f"mtbench-judge benchmark: {args.models} model(s), mode {args.mode}, "
        f"{args.first_n or 80} question(s), --parallel {args.parallel}, latency {args.latency:g}s"
    )
    results = [run_scenario(name, args, shared, faults) for name, faults in scenarios]
    if args.json:
        for result in results:
            print(json.dumps(result))
        return
    header = (
        f"{'scenario':<38} {'calls':>5} {'reqs':>5} {'faults':>6} {'retries':>7} "
        f"{'wall s':>7} {'ideal s':>7} {'ratio':>6} {'lost':>4} {'dups':>4} {'peak':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['scenario']:<38} {r['calls']:>5} {r['requests']:>5} {r['faults']:>6} "
            f"{r['retries']:>7} {r['wall_s']:>7.2f} {r['ideal_s']:>7.2f} {r['ratio']:>5.2f}x "
            f"{r['lost']:>4} {r['duplicates']:>4} {r['max_in_flight']:>4}"
        )
    worst = max(r["ratio"] for r in results)
    lost = sum(r["lost"] + r["duplicates"] for r in results)
    print("(wall s: the whole judge() call, planning included; peak: most requests in flight)")
    verdict = "PASS" if worst <= 1.2 and lost == 0 else "MISS"
    print(
        f"target: within 1.2x of ideal and zero lost -> {verdict} "
        f"(worst {worst:.2f}x, {lost} lost/duplicated)"
    )


if __name__ == "__main__":
    main()
