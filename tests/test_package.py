"""The public API and the promise that importing mtbench stays light."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

import mtbench


def test_all_names_are_exported():
    for name in mtbench.__all__:
        assert hasattr(mtbench, name), name


def test_import_does_not_pull_heavy_dependencies():
    code = (
        "import sys, mtbench, mtbench.cli.show\n"
        "names = ('torch', 'transformers', 'matplotlib', 'ray', 'vllm')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
