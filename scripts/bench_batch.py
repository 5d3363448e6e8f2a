#!/usr/bin/env python
"""Compare `mtbench-judge --batch` with the live path on the scripted server: calls, time, cost.

The scripted server (`tests/fake_openai_server.py`, batches in `tests/fake_batches.py`) runs in
this process on 127.0.0.1. The live run sends every judge call as its own request, each answered
after `--latency` seconds, `--parallel` at a time; the batch run uploads one input file, creates
one batch (or more, by the provider's limits), polls it every `--poll-interval` seconds until the
scripted provider ends it after `--batch-polls` looks, and downloads the results. Both runs go
through the real judge (`mtbench.judging.judge`) and `openai` client, on real answer files.

Reported per path: judge calls, HTTP requests the judge made (the preflight included), wall
time, the plan's cost estimate and the cost of the tokens the server reported, both at the
judge's list price (`--judge-model`'s in `mtbench.judging.cost.KNOWN_PRICES`, halved for
`--batch` as OpenAI and Anthropic bill batches), and judgments lost or duplicated. A real
provider's batch takes minutes to hours (at most 24 h): the batch wall time here is the
scripted provider's, not a prediction.

    python scripts/bench_batch.py                    # 2 models x 80 questions, single mode
    python scripts/bench_batch.py --models 3 --latency 0.5 --batch-polls 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fake_openai_server import FakeOpenAIServer  # noqa: E402

from mtbench.data.judgments import load_single_judgments  # noqa: E402
from mtbench.data.paths import BenchPaths  # noqa: E402
from mtbench.judging import JudgeConfig, make_plan  # noqa: E402
from mtbench.judging.cost import KNOWN_PRICES  # noqa: E402
from mtbench.judging.pipeline import judge  # noqa: E402

DEFAULT_SHARED = REPO.parent / "shared" / "mt_bench"
MODELS = ["vicuna-13b-v1.3", "alpaca-13b", "llama-13b", "koala-13b", "gpt-3.5-turbo", "claude-v1"]


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


def run_path(batch: bool, args: argparse.Namespace, shared: Path) -> dict:
    models = MODELS[: args.models]
    price = KNOWN_PRICES[args.judge_model]
    with FakeOpenAIServer(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        server.batches.script.polls = args.batch_polls
        paths = make_data(Path(tmp), shared, models)
        options = JudgeConfig(
            paths=paths,
            model_list=models,
            first_n=args.first_n,
            parallel=args.parallel,
            judge_base_url=server.base_url,
            judge_model=args.judge_model,
            price_per_1k_input=price[0],
            price_per_1k_output=price[1],
            ref_answer_model="gpt-4",
            batch=batch,
            poll_interval=args.poll_interval,
        )
        estimate = make_plan(options).estimate()
        with open(os.devnull, "w") as devnull:
            started = time.monotonic()
            stats = judge(options, err=devnull).stats
            wall = time.monotonic() - started
        rows = list(load_single_judgments(paths.judgment_file(args.judge_model, "single")))
        requests = len(server.completions()) + sum(server.batches.http.values())
        http = dict(server.batches.http)
    assert stats is not None
    scale = 0.5 if batch else 1.0
    reported = (stats.prompt_tokens * price[0] + stats.completion_tokens * price[1]) / 1000
    keys = {row.key for row in rows}
    return {
        "path": "batch" if batch else f"live (--parallel {args.parallel})",
        "calls": stats.calls,
        "requests": requests,
        "http": http,
        "wall_s": wall,
        "estimate": estimate.dollars,
        "reported": reported * scale,
        "tokens": (stats.prompt_tokens, stats.completion_tokens),
        "lost": stats.matches - len(keys),
        "duplicates": len(rows) - len(keys),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=2, help="answer files judged (default: 2)")
    parser.add_argument("--first-n", type=int, default=None, help="questions (default: all 80)")
    parser.add_argument("--judge-model", default="gpt-4o", choices=sorted(KNOWN_PRICES))
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per live reply")
    parser.add_argument("--batch-polls", type=int, default=5, help="looks before a batch ends")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    shared = Path(os.environ.get("MTBENCH_SHARED_DATA", DEFAULT_SHARED))
    if not (shared / "question.jsonl").is_file():
        sys.exit(f"no question.jsonl in {shared}: set MTBENCH_SHARED_DATA to the mt_bench folder")
    print(
        f"mtbench-judge --batch vs live: {args.models} model(s) x {args.first_n or 80} "
        f"question(s), single mode, judge {args.judge_model} at its list price "
        f"{KNOWN_PRICES[args.judge_model]} per 1k tokens"
    )
    results = [run_path(False, args, shared), run_path(True, args, shared)]
    header = (
        f"{'path':<22} {'calls':>5} {'HTTP reqs':>9} {'wall s':>7} {'estimate $':>10} "
        f"{'reported $':>10} {'lost':>4} {'dups':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['path']:<22} {r['calls']:>5} {r['requests']:>9} {r['wall_s']:>7.1f} "
            f"{r['estimate']:>10.3f} {r['reported']:>10.3f} {r['lost']:>4} {r['duplicates']:>4}"
        )
    print(f"batch HTTP requests by route: {results[1]['http']} (+1 live preflight)")
    print(
        "(reported $: the tokens the scripted server reported, whose replies are short "
        "stand-ins; estimate $: the plan's, 200 output tokens a call)"
    )


if __name__ == "__main__":
    main()
