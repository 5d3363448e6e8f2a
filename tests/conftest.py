"""Shared test fixtures: the official MT-bench data from ../shared, temporary data dirs, CLIs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mtbench.paths import BenchPaths

REPO = Path(__file__).resolve().parent.parent
SHARED_ENV = "MTBENCH_SHARED_DATA"
SHARED = Path(os.environ.get(SHARED_ENV, REPO.parent / "shared" / "mt_bench")).resolve()


def shared_file(relative: str) -> Path:
    """A file of the official data set in ../shared/mt_bench (or $MTBENCH_SHARED_DATA)."""
    path = SHARED / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: set {SHARED_ENV} to the shared mt_bench folder")
    return path


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's data dir, API keys and endpoints out of the tests."""
    for name in list(os.environ):
        if name.startswith(("MTBENCH_", "OPENAI_", "ANTHROPIC_", "RAY_ADDRESS")):
            if name != SHARED_ENV:
                monkeypatch.delenv(name)


@pytest.fixture
def bench(tmp_path: Path) -> BenchPaths:
    """A fresh data dir in FastChat's layout holding the official questions, prompts, references."""
    paths = BenchPaths(tmp_path / "data")
    paths.reference_dir.mkdir(parents=True)
    shutil.copy(shared_file("question.jsonl"), paths.question_file)
    shutil.copy(shared_file("judge_prompts.jsonl"), paths.data_dir / "judge_prompts.jsonl")
    shutil.copy(shared_file("reference_answer/gpt-4.jsonl"), paths.reference_file("gpt-4"))
    return paths


def run_cli(
    command: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `mtbench-<command>` as a user would, in a subprocess, and capture its output."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", f"mtbench.cli.{command}", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
