"""Progress bars on stderr, drawn by one policy for every command.

On a terminal a bar redraws as work advances, at most every `TTY_INTERVAL` seconds. In a log file
(stderr not a terminal) it writes a line at most every `LOG_INTERVAL` seconds, so a long run
still shows it is alive without flooding the log; a short job may stay silent there instead
(`in_logs=False`, as `mtbench-download`). The library never draws: it reports progress to an
object or callback it is given, and the adapters here turn those reports into bars:

* `GenerationBar`: `mtbench.generation.pipeline.Progress` (mtbench-gen): turns, questions,
  tokens, tokens/s and time left;
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
    """Draws `generate_answers`' progress reports: turns done, questions, tokens and time left.

    The bar counts turns (one reply each), since questions finish only when their last turn
    does. Tokens move within a call where the backend reports each decoding step (a local
    transformers model), so a long CPU batch does not look stuck. Time left is the tokens still
    to come at the rate so far: the average reply of the turns done, or, before any is done,
    every reply running to the token limit (then it says "at most").

    It also says, when the run starts, which file the answers go to and what is already there.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} turns [{elapsed}{postfix}]"

    def __init__(self, tty: bool | None = None, clock: Clock = time.monotonic):
        super().__init__(tty, clock)
        self._tokens = 0  # of finished calls (or replies)
        self._live = 0  # of the call (or replies) under way
        self._counted = False
        self._turns = 0
        self._turns_total = 0
        self._max_new_tokens = 0
        self._questions = 0
        self._failed = 0
        self._total = 0
        self._since = clock()

    def start(self, answer_file: Path, plan: Any) -> None:
        """The run is planned: `plan.todo` questions to generate, `plan.done` already there."""
        print(f"Output to {answer_file}", file=sys.stderr)
        for note in getattr(plan, "notes", ()):
            print(note, file=sys.stderr)
        if plan.done:
            print(
                f"{len(plan.done)} question(s) already answered with these settings; "
                f"generating {len(plan.todo)}",
                file=sys.stderr,
            )
        self._total = len(plan.todo)

    def generation_started(self, turns: int = 0, max_new_tokens: int = 0) -> None:
        """The model is loaded: start the bar (of `turns` turns) and the clock."""
        self._since = self._clock()
        self._turns_total = turns or 2 * self._total  # MT-bench questions have two turns
        self._max_new_tokens = max_new_tokens
        if self._total:
            self._bar = ProgressBar(
                self._turns_total,
                unit="turn",
                desc="generating",
                tty=self.tty,
                clock=self._clock,
                bar_format=self.FORMAT,
            )
            self._draw()

    def tokens(self, count: int) -> None:
        self._tokens += count
        # The live count held these tokens (a call's, or a refilled batch's finished reply).
        self._live = max(0, self._live - count)
        self._counted = True
        self._draw()

    def tokens_in_flight(self, count: int) -> None:
        self._live += count
        self._counted = True
        self._draw()

    def turns_done(self, count: int) -> None:
        self._turns += count
        self._draw()

    def question_done(self, question_id: QuestionId) -> None:
        self._questions += 1
        self._draw()

    def question_failed(self, question_id: QuestionId) -> None:
        self._failed += 1
        self._draw()

    def _draw(self) -> None:
        if self._bar is None:
            return
        elapsed = max(self._clock() - self._since, 1e-9)
        parts = [f"{self._questions}/{self._total} questions"]
        if self._failed:
            parts.append(f"{self._failed} failed")
        if self._counted:
            tokens = self._tokens + self._live
            parts.append(f"{tokens} tokens, {tokens / elapsed:.1f} tok/s")
        left = self._time_left(elapsed)
        if left:
            parts.append(left)
        self._bar.update(done=min(self._turns, self._turns_total), postfix=", ".join(parts))

    def _time_left(self, elapsed: float) -> str:
        """`~MM:SS left` (or `at most MM:SS left`), or "" when it cannot be told yet."""
        from tqdm import tqdm

        remaining = self._turns_total - self._turns
        tokens = self._tokens + self._live
        if remaining <= 0:
            return ""
        if tokens > 0:
            per_turn = self._tokens / self._turns if self._turns else self._max_new_tokens
            if per_turn <= 0:
                return ""
            seconds = max(0.0, remaining * per_turn - self._live) / (tokens / elapsed)
            bound = "at most " if not self._turns else "~"
        elif self._turns:  # no token counts (an API, the fake): by turns
            seconds, bound = elapsed / self._turns * remaining, "~"
        else:
            return ""
        return f"{bound}{tqdm.format_interval(seconds)} left"


class JudgeBar(_BarOwner):
    """Draws `judge()`'s `on_progress` reports: calls done, retries, failures, unparsed verdicts.

    Close it (`close`) to finish the bar before the summary is printed.

    Args:
        tty: Whether stderr is a terminal (default: ask it).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __call__(self, stats: Any) -> None:
        """One report: a `judging.runner.JudgeStats` as it stands.

        A `--batch` run counts requests the provider has finished in batches still running
        (`batch_progress`) as done, and shows how many batches it waits for.
        """
        batch = getattr(stats, "batch", False)
        if self._bar is None:
            self._bar = ProgressBar(
                stats.calls,
                unit="call",
                desc="batch" if batch else "judging",
                tty=self.tty,
                clock=self._clock,
            )
        figures = {"failed": stats.failed_calls, "retries": stats.retries}
        done = stats.calls_done
        if batch:
            figures["batches"] = stats.batches_open
            done += stats.batch_progress
        done = min(done, stats.calls)  # never "7/6": a re-asked call counts once
        self._bar.update(done=done, postfix={**figures, "unparsed": stats.unparsed})

    def write(self, line: str) -> None:
        """Print a line on stderr above the bar (the bar is drawn again below it)."""
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)


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
