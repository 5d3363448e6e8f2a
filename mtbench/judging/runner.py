"""Running judge calls: parallel for APIs, batched for local models, every result kept at once.

Each match needs one call (single) or two (pairwise, one per answer order). For an API backend
(`backend.concurrent`), the calls go to a thread pool (`mtbench.backends.calls.open_pool`, as in
`mtbench-gen`), one request each, so a pairwise match's two games run side by side (at most
`parallel` requests are in flight; a call waiting to retry gives its slot to another); for a
local backend, the main thread hands the backend `batch_size` conversations at a time. Either
way only the main thread writes: a match's row is appended (one complete, fsynced line) as soon
as its last call returns.

Failures: a call that still fails after the backend's retries costs only its match, which is
not written (FastChat writes `$ERROR$` and a -1 score) and is counted so a rerun picks it up.
Errors that retrying cannot fix (bad key, unknown model, bad request) stop the run at once, as
does a streak of failed calls (the judge is down; `mtbench.backends.calls.failure_streak`, the
rule `mtbench-gen` uses too). Ctrl-C loses only the calls in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mtbench.backends.base import Backend, GenerationParams, Message, Usage
from mtbench.backends.calls import CallPool, FailureStreak, open_pool
from mtbench.backends.calls import failure_streak as calls_failure_streak
from mtbench.data.jsonl import JsonlAppender
from mtbench.data.judgments import NO_SCORE, PairJudgment, SingleJudgment
from mtbench.errors import AuthError, BackendError, DataError, MTBenchError, RequestError
from mtbench.judging.matches import Match
from mtbench.judging.verdicts import parse_pair_verdict, parse_rating, winner_label

logger = logging.getLogger(__name__)

FATAL_ERRORS = (AuthError, RequestError)
"""Errors after which no further call can succeed."""


@dataclass
class JudgeStats:
    """What a run did; updated as it goes (for progress) and final at the end.

    Attributes:
        matches: Matches this run set out to judge.
        calls: Judge calls those matches need.
        skipped: Matches already in the output file before the run (not judged again).
        calls_done: Calls finished (successfully or not).
        judged: Rows written.
        unparsed: Rows written whose verdict could not be parsed (score -1 / winner `error`).
        failed: Matches not written because a call failed after retries.
        failed_calls: Calls that failed after retries.
        retries: Retries of transient failures.
        prompt_tokens: Input tokens reported by the API.
        completion_tokens: Output tokens reported by the API.
        tokens_reported: Whether the API reported token usage.
        interrupted: The run was stopped by Ctrl-C.
        stopped: The run ended early (Ctrl-C or an error that stops it).
        lost_calls: Calls whose replies were lost because the run stopped early (in flight, or
            one game of a pairwise match whose other game had not returned).
        last_error: The last call failure, for the summary.
    """

    matches: int = 0
    calls: int = 0
    skipped: int = 0
    calls_done: int = 0
    judged: int = 0
    unparsed: int = 0
    failed: int = 0
    failed_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_reported: bool = False
    interrupted: bool = False
    stopped: bool = False
    lost_calls: int = 0
    last_error: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def wall_time(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def not_done(self) -> int:
        """Matches of this run that a rerun still has to judge."""
        return self.matches - self.judged


@dataclass(frozen=True)
class Call:
    """One judge call: a match's game 1 (`swapped=False`) or game 2."""

    index: int
    swapped: bool

    def messages(self, matches: Sequence[Match]) -> list[Message]:
        return matches[self.index].messages(self.swapped)


def judgment_row(match: Match, replies: Sequence[str]) -> dict[str, Any]:
    """The FastChat row for a match and its judge replies (one, or game 1 and game 2)."""
    judge = match.judge
    if not match.pairwise:
        return SingleJudgment(
            question_id=match.question.question_id,
            model=match.models[0],
            judge=judge.name,
            user_prompt=match.user_prompt(),
            judgment=replies[0],
            score=parse_rating(replies[0]),
            turn=match.turn,
        ).to_row()
    fmt = judge.prompt.output_format
    return PairJudgment(
        question_id=match.question.question_id,
        model_1=match.models[0],
        model_2=match.models[1],
        g1_winner=winner_label(parse_pair_verdict(replies[0], fmt), swapped=False),
        g2_winner=winner_label(parse_pair_verdict(replies[1], fmt), swapped=True),
        judge=judge.name,
        g1_user_prompt=match.user_prompt(),
        g1_judgment=replies[0],
        g2_user_prompt=match.user_prompt(swapped=True),
        g2_judgment=replies[1],
        turn=match.turn,
    ).to_row()


def _unparsed(row: dict[str, Any]) -> bool:
    if "score" in row:
        return bool(row["score"] == NO_SCORE)
    return "error" in (row["g1_winner"], row["g2_winner"])


class _Collector:
    """Turns finished calls into rows (main thread only).

    Args:
        matches: The matches.
        writer: The judgment file.
        stats: Updated as calls finish.
        streak: Failed backend calls in a row that stop the run.
        unit: What one backend call is, for the stop message (`judge calls`, `batches`).
    """

    def __init__(
        self,
        matches: Sequence[Match],
        writer: JsonlAppender,
        stats: JudgeStats,
        streak: int,
        unit: str,
    ):
        self.matches = matches
        self.writer = writer
        self.stats = stats
        self.replies: dict[int, dict[bool, str]] = {}
        self.failed: set[int] = set()
        self.streak = FailureStreak(streak)
        self.unit = unit

    def done(self, call: Call, reply: str) -> None:
        self.stats.calls_done += 1
        self.streak.succeeded()
        if call.index in self.failed:
            return
        games = self.replies.setdefault(call.index, {})
        games[call.swapped] = reply
        match = self.matches[call.index]
        if len(games) < match.games:
            return
        del self.replies[call.index]
        row = judgment_row(match, [games[False], games[True]] if match.pairwise else [games[False]])
        try:
            self.writer.append(row)
        except OSError as exc:
            raise DataError(
                f"cannot write judgments ({exc.strerror or exc}); rows written so far are kept",
                self.writer.path,
            ) from None
        self.stats.judged += 1
        self.stats.unparsed += _unparsed(row)

    def call_failed(self, calls: Sequence[Call], error: BaseException) -> None:
        """One backend call failed after retries: one judge call, or a local batch of them.

        Raises:
            AuthError, RequestError: `error` itself, and any error that is not an MTBenchError.
            BackendError: when the failure streak is reached (see `failure_streak`).
        """
        self.stats.calls_done += len(calls)
        self.stats.failed_calls += len(calls)
        if isinstance(error, FATAL_ERRORS) or not isinstance(error, MTBenchError):
            raise error
        self.stats.last_error = str(error)
        for call in calls:
            match = self.matches[call.index]
            logger.warning(
                "question %d, %s, turn %d: %s (left for the next run)",
                match.question.question_id,
                " vs ".join(match.models),
                match.turn,
                error,
            )
            if call.index not in self.failed:
                self.failed.add(call.index)
                self.replies.pop(call.index, None)
                self.stats.failed += 1
        if self.streak.failed():
            raise BackendError(
                f"stopping: the last {self.streak.count} {self.unit} all failed after retries "
                f"(last error: {error}); judgments written so far are kept, rerun to resume"
            )


def run_matches(
    matches: Sequence[Match],
    backend: Backend,
    output: str | Path,
    params: GenerationParams,
    *,
    parallel: int = 1,
    batch_size: int = 8,
    stats: JudgeStats | None = None,
    on_progress: Callable[[JudgeStats], None] | None = None,
    failure_streak: int | None = None,
) -> JudgeStats:
    """Judge `matches` and append one row per finished match to `output`.

    Args:
        matches: The matches to judge (already-judged ones left out by the caller).
        backend: The judge.
        output: The judgment file (appended to; created if needed).
        params: Judge sampling (FastChat: temperature 0, 2048 new tokens).
        parallel: Concurrent calls for an API backend.
        batch_size: Conversations per `generate` for a local backend.
        stats: Filled in as the run goes (pass one to read it after Ctrl-C).
        on_progress: Called after every finished call.
        failure_streak: Failed backend calls in a row that stop the run, a local batch
            counting once (default: `mtbench.backends.calls.failure_streak`).

    Raises:
        AuthError, RequestError: at once, when no call can succeed.
        BackendError: when the judge keeps failing (see `failure_streak`).
        KeyboardInterrupt: re-raised after marking `stats.interrupted`.
    """
    stats = stats if stats is not None else JudgeStats()
    stats.matches = len(matches)
    calls = [
        Call(i, swapped)
        for i, match in enumerate(matches)
        for swapped in (False, True)[: match.games]
    ]
    stats.calls = len(calls)
    usage = backend.usage
    retries_before = usage.retries if usage is not None else 0

    def progress() -> None:
        if usage is not None:
            stats.retries = usage.retries - retries_before
        if on_progress is not None:
            on_progress(stats)

    streak = failure_streak or calls_failure_streak(backend, parallel)
    writer = JsonlAppender(output)
    unit = "judge calls" if backend.concurrent else "batches of judge calls"
    collector = _Collector(matches, writer, stats, streak, unit)
    tokens_before = _tokens(usage)
    progress()
    try:
        if backend.concurrent and parallel > 1:
            _run_threads(calls, matches, backend, params, parallel, collector, progress, stats)
        else:
            size = batch_size if not backend.concurrent else 1
            _run_batches(calls, matches, backend, params, size, collector, progress, stats)
    except BaseException as error:
        stats.interrupted = isinstance(error, KeyboardInterrupt)
        stats.stopped = True
        stats.lost_calls += sum(len(games) for games in collector.replies.values())
        raise
    finally:
        writer.close()
        stats.finished = time.monotonic()
        if usage is not None:
            stats.retries = usage.retries - retries_before
            now = _tokens(usage)
            stats.prompt_tokens = now[0] - tokens_before[0]
            stats.completion_tokens = now[1] - tokens_before[1]
            stats.tokens_reported = usage.reported
    return stats


def _tokens(usage: Usage | None) -> tuple[int, int]:
    if usage is None:
        return (0, 0)
    return (int(usage.prompt_tokens), int(usage.completion_tokens))


def _run_batches(
    calls: Sequence[Call],
    matches: Sequence[Match],
    backend: Backend,
    params: GenerationParams,
    size: int,
    collector: _Collector,
    progress: Callable[[], None],
    stats: JudgeStats,
) -> None:
    for start in range(0, len(calls), max(1, size)):
        chunk = calls[start : start + max(1, size)]
        stats.lost_calls = len(chunk)
        try:
            replies = backend.generate([call.messages(matches) for call in chunk], params)
        except MTBenchError as error:
            stats.lost_calls = 0
            collector.call_failed(chunk, error)
            progress()
            continue
        stats.lost_calls = 0
        if len(replies) != len(chunk):
            raise BackendError(
                f"the judge returned {len(replies)} replies for {len(chunk)} prompts"
            )
        for call, reply in zip(chunk, replies, strict=True):
            collector.done(call, reply)
        progress()


def _run_threads(
    calls: Sequence[Call],
    matches: Sequence[Match],
    backend: Backend,
    params: GenerationParams,
    parallel: int,
    collector: _Collector,
    progress: Callable[[], None],
    stats: JudgeStats,
) -> None:
    def ask(call: Call) -> str:
        return backend.generate([call.messages(matches)], params)[0]

    pool: CallPool[str] = open_pool(backend, parallel, "judge", most=len(calls))
    futures: dict[Future[str], Call] = {pool.submit(partial(ask, call)): call for call in calls}
    try:
        for future in as_completed(futures):
            error = future.exception()
            if error is not None:
                collector.call_failed([futures[future]], error)
            else:
                collector.done(futures[future], future.result())
            progress()
    except BaseException:
        stats.lost_calls = pool.running
        pool.shutdown()
        backend.cancel()
        raise
    pool.shutdown()
