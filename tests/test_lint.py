"""The style budget is enforced where the tests run: the ruff part of scripts/check.

mypy, the other part, runs in scripts/check only (CI runs that before pytest): cold, it takes
a minute or more, too slow for the quick test loop.
"""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def test_ruff_lint_and_format():
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "check"), "ruff"],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
