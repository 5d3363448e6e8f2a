"""Progress bars on stderr, drawn by one policy for every command.

On a terminal a bar redraws as work advances, at most every `TTY_INTERVAL` seconds. In a log file
(stderr not a terminal) it writes a line at most every `LOG_INTERVAL` seconds, so a long run
still shows it is alive without flooding the log; a short job may stay silent there instead
(`in_logs=False`, as `mtbench-download`). The library never draws: it reports progress to an
object or callback it is given, and the adapters here turn those reports into bars:

* `GenerationBar`: `mtbench.generation.pipeline.Progress` (mtbench-gen): questions, tokens/s;
* `JudgeBar`: `judge(on_progress=...)` (mtbench-judge): calls, retries, failures, unparsed;
* `DownloadBar`: `mtbench.data.download.Progress` (mtbench-download): bytes.

tqdm draws the bars; it is imported when the first bar is made.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mtbench.data.download import Progress as DownloadProgress
from mtbench.data.manifest import RemoteFile
from mtbench.data.questions import QuestionId

LOG_INTERVAL = 30.0
"""Seconds between progress lines when stderr is not a terminal (a log file)."""

TTY_INTERVAL = 0.1
"""Seconds between redraws on a terminal."""

Clock = Callable[[], float]


class ProgressBar:
    """One tqdm bar on stderr that redraws by the module's policy.

    Args:
        total: Units of work expected (may grow with `grow`).
        unit: tqdm's unit label, e.g. `q`, `call`, `B`.
        desc: The label before the bar.
        tty: Whether stderr is a terminal (default: ask it).
        in_logs: Draw in a log file too (a line every `LOG_INTERVAL` s); False: only on a terminal.
        clock: Seconds, monotonic (tests pass a fake one).
        **style: More tqdm options (`unit_scale`, `leave`, ...).
    """

    def __init__(
        self,
        total: float,
        unit: str,
        desc: str,
        tty: bool | None = None,
        in_logs: bool = True,
        clock: Clock = time.monotonic,
        **style: Any,
    ):
        from tqdm import tqdm

        self.tty = sys.stderr.isatty() if tty is None else tty
        self._interval = TTY_INTERVAL if self.tty else LOG_INTERVAL
        self._clock = clock
        # The bar is only ever redrawn here (its count is set, not `update`d), so tqdm's own
        # timing never decides when a line is written.
        self._bar = tqdm(
            total=total,
            unit=unit,
            desc=desc,
            file=sys.stderr,
            dynamic_ncols=self.tty,
            disable=not (self.tty or in_logs),
            **style,
        )
        self._drawn = clock()  # tqdm draws the empty bar when it is made

    def update(
        self,
        advance: float = 0,
        done: float | None = None,
        postfix: Mapping[str, object] | str | None = None,
        now: bool = False,
    ) -> None:
        """Record progress, then redraw if the interval has passed since the last draw.

        Args:
            advance: Units finished since the last call (negative to take some back).
            done: Units finished in all (instead of `advance`).
            postfix: Figures shown after the bar, or one text.
            now: Redraw whatever the interval.
        """
        self._bar.n = done if done is not None else self._bar.n + advance
        if isinstance(postfix, str):
            self._bar.set_postfix_str(postfix, refresh=False)
        elif postfix is not None:
            self._bar.set_postfix(postfix, refresh=False)
        current = self._clock()
        if now or current - self._drawn >= self._interval:
            self._bar.refresh()
            self._drawn = current

    def grow(self, units: float) -> None:
        """Expect `units` more work than announced."""
        self._bar.total += units

    def close(self) -> None:
        """Draw the final state (or clear the bar, with tqdm's `leave=False`) and stop."""
        self._bar.close()


class _BarOwner:
    """What the adapters share: the bar they make on the first report, and closing it.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, tty: bool | None = None, clock: Clock = time.monotonic):
        self.tty = tty
        self._clock = clock
        self._bar: ProgressBar | None = None

    def close(self) -> None:
        """Finish the bar (draw its final state, or clear it) and forget it."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class GenerationBar(_BarOwner):
    """Draws `generate_answers`' progress reports: a bar of questions with tokens per second.

    It also says, when the run starts, which file the answers go to and what is already there.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, tty: bool | None = None, clock: Clock = time.monotonic):
        super().__init__(tty, clock)
        self._tokens = 0
        self._failed = 0
        self._total = 0
        self._since = clock()

    def start(self, answer_file: Path, plan: Any) -> None:
        """The run is planned: `plan.todo` questions to generate, `plan.done` already there."""
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
        self._since = self._clock()
        if self._total:
            self._bar = ProgressBar(
                self._total, unit="q", desc="questions", tty=self.tty, clock=self._clock
            )

    def tokens(self, count: int) -> None:
        # Tokens arrive long before questions finish (turn 1 of all, then turn 2), so they
        # are drawn too, as often as the policy allows.
        self._tokens += count
        self._draw()

    def question_done(self, question_id: QuestionId) -> None:
        self._draw(1)

    def question_failed(self, question_id: QuestionId) -> None:
        self._failed += 1
        self._draw(1)

    def _draw(self, finished: int = 0) -> None:
        if self._bar is None:
            return
        elapsed = max(self._clock() - self._since, 1e-9)
        postfix = {"tok/s": f"{self._tokens / elapsed:.1f}"}
        if self._failed:
            postfix["failed"] = str(self._failed)
        self._bar.update(finished, postfix=postfix)


class JudgeBar(_BarOwner):
    """Draws `judge()`'s `on_progress` reports: calls done, retries, failures, unparsed verdicts.

    Close it (`close`) to finish the bar before the summary is printed.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __call__(self, stats: Any) -> None:
        """One report: a `judging.runner.RunStats` as it stands."""
        if self._bar is None:
            self._bar = ProgressBar(
                stats.calls, unit="call", desc="judging", tty=self.tty, clock=self._clock
            )
        figures = {"failed": stats.failed_calls, "retries": stats.retries}
        self._bar.update(done=stats.calls_done, postfix={**figures, "unparsed": stats.unparsed})


class DownloadBar(_BarOwner, DownloadProgress):
    """Draws `download()`'s progress: one bar for all bytes to fetch, on a terminal only.

    A download is short, so a log file gets no progress lines, only the summary.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, tty: bool | None = None, clock: Clock = time.monotonic):
        super().__init__(tty, clock)
        self._total = 0

    def start(self, files: Sequence[RemoteFile]) -> None:
        self._total = sum(f.size or 0 for f in files)

    def begin(self, file: RemoteFile, size: int | None) -> None:
        if self._bar is None:
            self._bar = ProgressBar(
                self._total,
                unit="B",
                desc="mtbench-download",
                tty=self.tty,
                in_logs=False,
                clock=self._clock,
                unit_scale=True,
                unit_divisor=1024,
                leave=False,
            )
        if file.size is None and size:
            self._bar.grow(size)
        self._bar.update(postfix=file.local_path.name, now=True)

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)
