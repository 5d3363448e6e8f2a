"""Progress of a generation run on stderr: a tqdm bar of questions with tokens per second."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from mtbench.generation.plan import Plan

LOG_INTERVAL = 30.0
"""Seconds between progress lines when stderr is not a terminal (a log file)."""


class TqdmProgress:
    """Draws `pipeline.Progress` reports as a tqdm bar on stderr.

    On a terminal it redraws as tokens arrive; in a log file (`tty=False`) it writes a line at
    most every 30 seconds, as `mtbench-judge` does, so a long run still shows it is alive.

    Args:
        enabled: Draw anything at all.
        tty: Whether stderr is a terminal (default: ask it).
    """

    def __init__(self, enabled: bool = True, tty: bool | None = None):
        self.enabled = enabled
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._bar: Any = None
        self._drawn = 0.0
        self._tokens = 0
        self._failed = 0
        self._total = 0
        self._since = time.monotonic()

    def start(self, answer_file: Path, plan: Plan) -> None:
        print(f"Output to {answer_file}", file=sys.stderr)
        if plan.done:
            print(
                f"{len(plan.done)} question(s) already answered with these settings; "
                f"generating {len(plan.todo)}",
                file=sys.stderr,
            )
        self._total = len(plan.todo)

    def generation_started(self) -> None:
        """The model is loaded: start the bar and the tokens/s clock."""
        self._since = time.monotonic()
        if not self.enabled or not self._total:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self._total,
            unit="q",
            desc="questions",
            file=sys.stderr,
            dynamic_ncols=self.tty,
            mininterval=0.1 if self.tty else LOG_INTERVAL,
        )
        self._drawn = time.monotonic()

    def tokens(self, count: int) -> None:
        self._tokens += count
        self._refresh()

    def question_done(self, question_id: int) -> None:
        if self._bar is not None:
            self._bar.update(1)
        self._refresh()

    def question_failed(self, question_id: int) -> None:
        self._failed += 1
        if self._bar is not None:
            self._bar.update(1)
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        elapsed = max(now - self._since, 1e-9)
        postfix = {"tok/s": f"{self._tokens / elapsed:.1f}"}
        if self._failed:
            postfix["failed"] = str(self._failed)
        # Tokens arrive long before questions finish (turn 1 of all, then turn 2), so redraw
        # for them too, but not more often than a log file can take.
        redraw = self.tty or now - self._drawn >= LOG_INTERVAL
        self._bar.set_postfix(postfix, refresh=redraw)
        if redraw:
            self._drawn = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
