"""`mtbench-show` on real judgment files, run as a user runs it."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli, shared_file

from mtbench.data.jsonl import dumps

SAMPLE = "third_party/Stefanstud-FastChat-phi3/model_judgment"

# What FastChat's show_result.py prints for the third-party sample (its published numbers:
# single 8.3625 / 8.0375 / 8.2; pairwise-all 20 wins, 18 losses, 35 ties, 0.513699).
FASTCHAT_SINGLE = """\
Mode: single
Input file: {path}

########## First turn ##########
                 score
model     turn        
phi-3-dpo 1     8.3625

########## Second turn ##########
                 score
model     turn        
phi-3-dpo 2     8.0375

########## Average ##########
           score
model           
phi-3-dpo    8.2
"""

FASTCHAT_PAIRWISE_ALL = """\
Mode: pairwise-all
Input file: {path}
           win  loss  tie  win_rate  loss_rate  win_rate_adjusted
model                                                            
phi-3-dpo   20    18   35  0.273973   0.246575           0.513699
phi-3       18    20   35  0.246575   0.273973           0.486301
"""


@pytest.fixture
def judged(bench):
    """The data dir with the third-party judgment files in their FastChat places."""
    bench.judgment_dir.mkdir(parents=True)
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        shutil.copy(shared_file(f"{SAMPLE}/{name}"), bench.judgment_dir / name)
    return bench


def test_single_prints_exactly_what_fastchat_prints(judged):
    result = run_cli("show", "--data-dir", str(judged.data_dir))
    assert result.returncode == 0, result.stderr
    path = judged.judgment_file("gpt-4", "single")
    assert result.stdout.startswith(FASTCHAT_SINGLE.format(path=path))
    assert "Judgments: 160 rows read, 160 used; 0 with score -1 dropped" in result.stdout


def test_pairwise_all_prints_exactly_what_fastchat_prints(judged):
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--mode", "pairwise-all")
    assert result.returncode == 0, result.stderr
    path = judged.judgment_file("gpt-4", "pairwise-all")
    assert result.stdout.startswith(FASTCHAT_PAIRWISE_ALL.format(path=path))
    assert "75 rows read, 73 used; 2 with an error verdict dropped" in result.stdout


def test_pairwise_baseline_against_a_model_of_the_file(judged):
    result = run_cli(
        "show",
        "--data-dir",
        str(judged.data_dir),
        "--mode",
        "pairwise-baseline",
        "--baseline-model",
        "phi-3",
        "--format",
        "json",
        "--bootstrap",
        "0",
    )
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)["models"]
    assert [m["model"] for m in models] == ["phi-3-dpo"]
    assert (models[0]["win"], models[0]["loss"], models[0]["tie"]) == (20, 18, 35)
    assert models[0]["win_rate_adjusted"] == pytest.approx(0.513699, abs=1e-6)


def test_formats_carry_the_same_numbers(judged):
    args = ("show", "--data-dir", str(judged.data_dir))
    as_json = json.loads(run_cli(*args, "--format", "json").stdout)
    model = as_json["models"][0]
    assert (model["turn_1"], model["turn_2"], model["score"]) == (8.3625, 8.0375, 8.2)
    assert model["categories"]["writing"] == pytest.approx(9.6)
    assert model["lower"] < 8.2 < model["upper"]
    csv = run_cli(*args, "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("model,score,lower,upper,turn_1,turn_2,judgments,questions,writing")
    assert csv[1].startswith("phi-3-dpo,8.2,")
    markdown = run_cli(*args, "--format", "markdown").stdout
    assert "| phi-3-dpo | 8.2000 |" in markdown and "| humanities | 9.9500 |" in markdown


def test_bootstrap_is_seeded(judged):
    args = ("show", "--data-dir", str(judged.data_dir), "--format", "json")
    first = json.loads(run_cli(*args, "--seed", "7").stdout)["models"][0]
    again = json.loads(run_cli(*args, "--seed", "7").stdout)["models"][0]
    other = json.loads(run_cli(*args, "--seed", "8").stdout)["models"][0]
    assert (first["lower"], first["upper"]) == (again["lower"], again["upper"])
    assert (first["lower"], first["upper"]) != (other["lower"], other["upper"])
    off = json.loads(run_cli(*args, "--bootstrap", "0").stdout)
    assert off["bootstrap"] is None and "lower" not in off["models"][0]


@pytest.mark.extra("matplotlib")
def test_plot_writes_a_png(judged, tmp_path):
    out = tmp_path / "radar.png"
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--plot", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def _rewrite(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(dumps(r) + "\n" for r in rows))


def test_duplicates_from_reruns_count_once_with_a_warning(judged):
    path = judged.judgment_file("gpt-4", "single")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    _rewrite(path, rows + rows[:10])
    result = run_cli("show", "--data-dir", str(judged.data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(FASTCHAT_SINGLE.format(path=path))
    assert "10 repeated counted once" in result.stdout
    assert "10 repeated judgment row(s) counted once" in result.stderr


def test_unparsed_scores_are_dropped_and_counted(judged):
    path = judged.judgment_file("gpt-4", "single")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["score"] = -1
    _rewrite(path, rows)
    out = json.loads(run_cli("show", "--data-dir", str(judged.data_dir), "--format", "json").stdout)
    assert out["accounting"]["unparsed"] == 1 and out["accounting"]["used"] == 159


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "no judgments in this file"),
        ('{"question_id": 81}\n', ":1: missing field 'model'"),
        (
            '{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "score": 5, '
            '"turn": 1}\nnot json\n',
            ":2: not valid JSON",
        ),
        (
            '{"question_id": 81, "model": "m", "judge": "gpt-4", "score": 5, "turn": 1}\n',
            "field 'judge' must be [judge_model, prompt_name]",
        ),
    ],
)
def test_bad_files_give_one_line_errors(bench, content, expected):
    path = bench.judgment_file("gpt-4", "single")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    result = run_cli("show", "--data-dir", str(bench.data_dir))
    assert result.returncode == 1
    assert expected in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stdout == ""


def test_missing_file_names_it_and_the_command_that_makes_it(bench):
    result = run_cli("show", "--data-dir", str(bench.data_dir), "--mode", "pairwise-all")
    assert result.returncode == 1
    assert str(bench.judgment_file("gpt-4", "pair")) in result.stderr
    assert "mtbench-judge --mode pairwise-all" in result.stderr


def test_model_list_matching_nothing_is_a_clear_error(judged):
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--model-list", "nope")
    assert result.returncode == 1
    assert "no judgments left to show" in result.stderr and "160 outside" in result.stderr


def test_bad_flag_is_a_usage_error(judged):
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--mode", "triple")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_a_report_from_rows_already_read_is_the_report_of_their_file(judged):
    from mtbench.analysis.bootstrap import BootstrapSpec
    from mtbench.analysis.scores import build_report
    from mtbench.data.judgments import load_pair_judgments

    path = judged.judgment_file("gpt-4", "pair")
    spec = BootstrapSpec(resamples=50)
    from_file = build_report(judged, "pairwise-all", bootstrap=spec)
    rows = list(load_pair_judgments(path))
    path.unlink()  # given the rows, the file is not opened
    from_rows = build_report(judged, "pairwise-all", bootstrap=spec, judgments=rows)
    assert from_rows.input_file == path and from_rows.accounting == from_file.accounting
    pd.testing.assert_frame_equal(from_rows.summary, from_file.summary)
    pd.testing.assert_frame_equal(from_rows.tables["Pairwise"], from_file.tables["Pairwise"])


COMMANDS = ("gen", "judge", "show", "download", "browse", "agreement", "refs")


def _parsers(parser):
    """A parser and the parsers of its sub-commands."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_says_what_it_does(command):
    """`--help` explains each flag, not just its default (`--mode`, `--format` once did not)."""
    module = importlib.import_module(f"mtbench.cli.{command}")
    bare = []
    for parser in _parsers(module.build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            words = re.sub(r"\(default: [^)]*\)", "", action.help or "").strip()
            if len(words) < 10:
                bare.append(f"{parser.prog} {action.option_strings[0]}")
    assert not bare, bare
