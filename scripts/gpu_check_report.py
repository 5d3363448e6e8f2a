#!/usr/bin/env python
"""The report of `scripts/gpu_check.sh`: each run's speed, and its greedy answers against the first.

    python scripts/gpu_check_report.py --question-file data/mt_bench/question.jsonl \
        --question-begin 30 --question-end 46 --out OUT \
        --run hf hf.jsonl hf.out 52.1 --run vllm vllm.jsonl vllm.out 71.3

Each `--run NAME ANSWER_FILE STDOUT_FILE SECONDS` is one `mtbench-gen` run over the same
questions: its answer file, what it printed on stdout (its summary line gives the tokens and
tokens/s of generation, model loading excluded) and the wall time of the whole command (loading
included). The first run is the reference: for every other run, the greedy turns (temperature 0
by FastChat's per-category table, `mtbench.generation.sampling`) whose text is identical to the
reference's are counted, and each differing turn is listed with the characters both share
before they part.

Prints a Markdown table and writes it to OUT/summary.md, and the same facts to
OUT/summary.json. Exit status 1 (after writing) when a run lacks an answer for a selected
question or its stdout has no summary line: the check failed, whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtbench.data.answers import load_answer_file  # noqa: E402
from mtbench.data.questions import Question, load_questions  # noqa: E402
from mtbench.generation.sampling import choice_params  # noqa: E402
from mtbench.reports.tables import markdown  # noqa: E402

SUMMARY = re.compile(
    r"^(?P<questions>\d+) question\(s\) generated.*?"
    r"(?:, (?P<tokens>\d+) tokens in \S+ \((?P<rate>[\d.]+) tokens/s\))?; wall time",
    re.MULTILINE,
)
"""`mtbench-gen`'s last stdout line (`GenerationSummary.line`); tokens are absent when the
backend does not count them."""


def common_prefix(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share."""
    return len(os.path.commonprefix([a, b]))


def read_run(
    name: str, answer_file: str, stdout_file: str, seconds: str, questions: list[Question]
) -> tuple[dict[str, Any], dict[Any, tuple[str, ...]], list[str]]:
    """One run's figures, its answers by question id, and what is wrong with it (if anything)."""
    problems: list[str] = []
    stdout = Path(stdout_file).read_text() if Path(stdout_file).is_file() else ""
    found = SUMMARY.search(stdout)
    if found is None:
        problems.append(f"{name}: no summary line in {stdout_file}")
    answers: dict[Any, tuple[str, ...]] = {}
    if Path(answer_file).is_file():
        answers = {qid: row.turns for qid, row in load_answer_file(answer_file).items()}
    missing = [q.question_id for q in questions if q.question_id not in answers]
    if missing:
        problems.append(f"{name}: no answer to question(s) {missing} in {answer_file}")
    tokens = int(found["tokens"]) if found and found["tokens"] else None
    rate = float(found["rate"]) if found and found["rate"] else None
    figures = {
        "run": name,
        "questions": sum(q.question_id in answers for q in questions),
        "tokens": tokens,
        "tokens_per_s": rate,
        "generation_s": round(tokens / rate, 1) if tokens and rate else None,
        "wall_s": round(float(seconds), 1),
    }
    return figures, answers, problems


def compare(
    answers: dict[Any, tuple[str, ...]],
    reference: dict[Any, tuple[str, ...]],
    greedy: list[Question],
) -> dict[str, Any]:
    """Greedy turns of `answers` identical to `reference`'s, and where the others part."""
    turns = identical = 0
    differing = []
    for question in greedy:
        ours, theirs = answers.get(question.question_id), reference.get(question.question_id)
        if ours is None or theirs is None:
            continue
        for turn, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
            turns += 1
            if a == b:
                identical += 1
            else:
                differing.append(
                    {
                        "question_id": question.question_id,
                        "turn": turn,
                        "same_chars": common_prefix(a, b),
                    }
                )
    return {"greedy_turns": turns, "identical_turns": identical, "differing": differing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--question-file", required=True)
    parser.add_argument("--question-begin", type=int, default=None)
    parser.add_argument("--question-end", type=int, default=None)
    parser.add_argument(
        "--run",
        nargs=4,
        action="append",
        required=True,
        metavar=("NAME", "ANSWER_FILE", "STDOUT_FILE", "SECONDS"),
        help="one mtbench-gen run; the first is the reference",
    )
    parser.add_argument(
        "--fact", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
        help="a line for the top of the report (the GPU, versions, install time)",
    )  # fmt: skip
    parser.add_argument("--started", type=float, help="epoch seconds the check started")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    questions = load_questions(args.question_file, args.question_begin, args.question_end)
    greedy = [q for q in questions if choice_params(q, 0, 1).greedy]
    rows, problems = [], []
    runs: list[tuple[dict[str, Any], dict[Any, tuple[str, ...]]]] = []
    for name, answer_file, stdout_file, seconds in args.run:
        figures, answers, trouble = read_run(name, answer_file, stdout_file, seconds, questions)
        runs.append((figures, answers))
        problems += trouble
    reference_figures, reference = runs[0]
    ref_name, ref_rate = reference_figures["run"], reference_figures["tokens_per_s"]
    for figures, answers in runs:
        rate = figures["tokens_per_s"]
        figures["speed_vs_reference"] = round(rate / ref_rate, 2) if rate and ref_rate else None
        if figures is not reference_figures:
            figures.update(compare(answers, reference, greedy))
        rows.append(figures)

    facts = dict(args.fact)
    if args.started is not None:
        facts["total wall time"] = f"{time.time() - args.started:.0f} s"

    def shown(value: float | None, digits: int) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    table = pd.DataFrame(
        {
            "questions": [r["questions"] for r in rows],
            "tokens": [shown(r["tokens"], 0) for r in rows],
            "tokens/s": [shown(r["tokens_per_s"], 1) for r in rows],
            f"x {ref_name}": [shown(r["speed_vs_reference"], 2) for r in rows],
            "wall s (with loading)": [shown(r["wall_s"], 1) for r in rows],
            f"greedy turns identical to {ref_name}": [
                f"{r['identical_turns']}/{r['greedy_turns']}" if "greedy_turns" in r else "-"
                for r in rows
            ],
        },
        index=pd.Index([r["run"] for r in rows], name="run"),
    )
    lines = [f"- {key}: {value}" for key, value in facts.items()]
    lines += ["", markdown(table, "run"), ""]
    for row in rows:
        for diff in row.get("differing", []):
            lines.append(
                f"- {row['run']}: question {diff['question_id']} turn {diff['turn']} parts from "
                f"{ref_name}'s after {diff['same_chars']} characters"
            )
    lines += [f"- FAILED: {problem}" for problem in problems]
    report = "\n".join(lines).rstrip() + "\n"
    sys.stdout.write(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(report)
    summary = {"facts": facts, "reference": ref_name, "runs": rows, "problems": problems}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
