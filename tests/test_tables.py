"""One table renderer for every command: the Markdown rules, and two commands held to them."""

from __future__ import annotations

import re
import shutil

import pandas as pd
from conftest import run_cli, shared_file

from mtbench.reports.tables import markdown

SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment"


def test_markdown_right_aligns_numbers_and_keeps_each_row_on_one_line():
    frame = pd.DataFrame(
        {"note": ["two\nlines", "a | b"], "count": [3, 4], "ratio": [0.5, float("nan")]},
        index=pd.Index(["x", "y"], name="name"),
    )
    assert markdown(frame) == (
        "| name | note | count | ratio |\n"
        "|---|---|---:|---:|\n"
        "| x | two lines | 3 | 0.5000 |\n"
        "| y | a \\| b | 4 | nan |\n"
    )
    assert markdown(frame, index_label="model").startswith("| model | note |")


def _separators(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.fullmatch(r"\|(-{3}:?\|)+", line)]


def test_mtbench_show_and_mtbench_agreement_print_the_same_markdown(bench):
    bench.judgment_dir.mkdir(parents=True)
    for kind in ("single", "pair"):
        shutil.copy(shared_file(f"{SAMPLE}/gpt-4_{kind}.jsonl"), bench.judgment_file("gpt-4", kind))
    pair = str(bench.judgment_file("gpt-4", "pair"))
    show = run_cli("show", "--data-dir", str(bench.data_dir), "--format", "markdown")
    agreement = run_cli("agreement", "--votefiles", pair, "--per-game", "--format", "markdown")
    assert show.returncode == 0 and agreement.returncode == 0, show.stderr + agreement.stderr

    # Summary: model, then score, lower, upper, turn_1, turn_2, judgments, questions (numbers);
    # per category: category, then one number column per model.
    assert _separators(show.stdout) == ["|---|" + "---:|" * 7, "|---|---:|"]
    # Agreement: turn, ties (text), then total, agree, ratio (numbers).
    assert _separators(agreement.stdout) == ["|---|---|---:|---:|---:|"]
    # The same rule in both: the index and text columns left, every numeric column right.
    assert "| phi-3-dpo | 8.2000 |" in show.stdout
    assert "| 1 | with tie | 73 | 46 |" in agreement.stdout
