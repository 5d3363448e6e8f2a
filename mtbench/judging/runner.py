"""Running judge calls: parallel for APIs, batched for local models, every result kept at once.

Each match needs one call (single) or two (pairwise, one per answer order). For an API backend
(`backend.concurrent`), the calls go to a thread pool (`mtbench.backends.calls.open_pool`, as in
`mtbench-gen`), one request each, so a pairwise match's two games run side by side (at most
`parallel` requests are in flight; a call waiting to retry gives its slot to another); for a
local backend, the main thread hands the backend `batch_size` conversations at a time. Either
way only the main thread writes: a match's row is appended (one complete, fsynced line) as soon
as its last call returns.

Replies: the verdict is read from the final answer, apart from any thinking
(`mtbench.judging.replies`); each row records its calls' provenance in `judge_meta`. A reply
that ran out of room before its verdict (cut at the token limit, or empty) is asked again, with
twice the limit when it was cut, up to `replies.REASKS` times, then counts as a failed call.

Failures: a call that still fails after the backend's retries costs only its match, which is
not written (FastChat writes `$ERROR$` and a -1 score) and is counted so a rerun picks it up.
Errors that retrying cannot fix (bad key, unknown model, bad request) stop the run at once, as
does a streak of failed calls (the judge is down; `mtbench.backends.calls.failure_streak`, the
rule `mtbench-gen` uses too). Ctrl-C loses only the calls in flight.
"""

from __future__ import annotations

import logging
import threading
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
from mtbench.data.judgments import (
    JUDGE_META,
    NO_SCORE,
    SAMPLE,
    PairJudgment,
    SingleJudgment,
    score_out_of_scale,
)
from mtbench.errors import (
    AuthError,
    BackendError,
    MTBenchError,
    RequestError,
    TooLongError,
)
from mtbench.judging.matches import Match
from mtbench.judging.replies import (
    REASKS,
    JudgeReply,
    NoVerdictError,
    more_room,
    no_verdict_error,
    out_of_room,
    read_reply,
)
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
        out_of_scale: Single rows written with a score outside the prompt's scale
            (`SCORE_SCALE`, e.g. `[[0]]` or `[[11]]`), kept as FastChat keeps them.
        failed: Matches not written because a call failed after retries.
        failed_calls: Calls that failed after retries.
        no_verdict: Of those, calls whose reply ran out of room before a verdict (cut at the
            token limit, or empty) every time they were asked.
        reasked: Times a call was asked again after running out of room.
        retries: Retries of transient failures.
        prompt_tokens: Input tokens reported by the API.
        completion_tokens: Output tokens reported by the API (reasoning included).
        reasoning_tokens: Of those, reasoning tokens, where the API reported them.
        judge_models: Calls per model the server said answered (dated snapshots), where it did.
        tokens_reported: Whether the API reported token usage.
        interrupted: The run was stopped by Ctrl-C.
        stopped: The run ended early (Ctrl-C or an error that stops it).
        lost_calls: Calls whose replies were lost because the run stopped early (in flight, or
            one game of a pairwise match whose other game had not returned).
        last_error: The last call failure, for the summary.
        batch: The run judged through a provider's batch API (`mtbench.judging.batch`).
        batches_submitted: Batches this run created.
        batches_resumed: Batches of earlier runs this run picked up.
        batches_open: Batches still running at the provider (at the end: left for a rerun).
        batch_progress: Requests the provider has finished in batches still open.
        resubmitted: Requests of earlier batches that failed, expired or were cancelled, and
            were submitted again by this run.
    """

    matches: int = 0
    calls: int = 0
    skipped: int = 0
    calls_done: int = 0
    judged: int = 0
    unparsed: int = 0
    out_of_scale: int = 0
    failed: int = 0
    failed_calls: int = 0
    no_verdict: int = 0
    reasked: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    judge_models: dict[str, int] = field(default_factory=dict)
    tokens_reported: bool = False
    interrupted: bool = False
    stopped: bool = False
    lost_calls: int = 0
    last_error: str = ""
    batch: bool = False
    batches_submitted: int = 0
    batches_resumed: int = 0
    batches_open: int = 0
    batch_progress: int = 0
    resubmitted: int = 0
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


def verdict_parsed(match: Match, judgment: str, swapped: bool = False) -> bool:
    """Whether a verdict can be read from a judgment (FastChat's rules, `verdicts`)."""
    if not match.pairwise:
        return parse_rating(judgment) != NO_SCORE
    return parse_pair_verdict(judgment, match.judge.prompt.output_format) != "error"


def judgment_row(match: Match, replies: Sequence[str | JudgeReply]) -> dict[str, Any]:
    """The FastChat row for a match and its judge replies (one, or game 1 and game 2).

    The verdict is parsed from each reply's final answer (`JudgeReply.judgment`), which is
    also the stored judgment; each call's provenance goes to `judge_meta` (single) or
    `g1_judge_meta` / `g2_judge_meta` (pairwise). A plain string is taken as the judgment.
    """
    read = [
        reply if isinstance(reply, JudgeReply) else JudgeReply(reply, reply, {})
        for reply in replies
    ]
    judge = match.judge
    numbered = {SAMPLE: match.sample} if match.sample > 1 else {}
    if not match.pairwise:
        return SingleJudgment(
            question_id=match.question.question_id,
            model=match.models[0],
            judge=judge.name,
            user_prompt=match.user_prompt(),
            judgment=read[0].judgment,
            score=parse_rating(read[0].judgment),
            turn=match.turn,
            extra={**numbered, **({JUDGE_META: read[0].meta} if read[0].meta else {})},
        ).to_row()
    fmt = judge.prompt.output_format
    metas = {f"g{game}_{JUDGE_META}": r.meta for game, r in enumerate(read, 1) if r.meta}
    extra = {**numbered, **metas}
    return PairJudgment(
        question_id=match.question.question_id,
        model_1=match.models[0],
        model_2=match.models[1],
        g1_winner=winner_label(parse_pair_verdict(read[0].judgment, fmt), swapped=False),
        g2_winner=winner_label(parse_pair_verdict(read[1].judgment, fmt), swapped=True),
        judge=judge.name,
        g1_user_prompt=match.user_prompt(),
        g1_judgment=read[0].judgment,
        g2_user_prompt=match.user_prompt(swapped=True),
        g2_judgment=read[1].judgment,
        turn=match.turn,
        extra=extra,
    ).to_row()


def settle_reply(
    match: Match,
    swapped: bool,
    raw: str,
    setting: GenerationParams,
    first: GenerationParams,
    reasks: int,
) -> JudgeReply | GenerationParams | NoVerdictError:
    """What one judge reply comes to: a reply to keep, a reason to ask again, or a failure.

    The one rule for every way of calling the judge (threads, local batches, provider
    batches): the reply is read (`read_reply`: the final answer apart from any thinking); one
    with a verdict, or one without for a reason more room cannot fix, is kept; one that ran
    out of room (`out_of_room`) is asked again with more room (`more_room`) until it has been
    asked again `REASKS` times, and then fails (`no_verdict_error`).

    Args:
        match: The match the call belongs to.
        swapped: Whether the call is the match's game 2.
        raw: The backend's reply (a `Reply` where it knows more than the text).
        setting: The sampling of the request that got this reply.
        first: The run's sampling (its token limit is named in the failure).
        reasks: How many times this call has been asked again already.

    Returns:
        The `JudgeReply` to keep, the `GenerationParams` to ask again with, or the
        `NoVerdictError` the call fails with.
    """
    reply = read_reply(raw, setting)
    if not out_of_room(reply, verdict_parsed(match, reply.judgment, swapped)):
        return reply
    if reasks < REASKS:
        return more_room(setting, reply)
    return no_verdict_error(reply, setting, first.max_new_tokens)


def _unparsed(row: dict[str, Any]) -> bool:
    if "score" in row:
        return bool(row["score"] == NO_SCORE)
    return "error" in (row["g1_winner"], row["g2_winner"])


class Collector:
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
        self.replies: dict[int, dict[bool, JudgeReply]] = {}
        self.failed: set[int] = set()
        self.streak = FailureStreak(streak)
        self.unit = unit

    def done(self, call: Call, reply: JudgeReply) -> None:
        self.stats.calls_done += 1
        served = reply.meta.get("model")
        if isinstance(served, str):
            models = self.stats.judge_models
            models[served] = models.get(served, 0) + 1
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
        self.writer.append(row)  # a failed write raises one WriteError, leaving no torn line
        self.stats.judged += 1
        self.stats.unparsed += _unparsed(row)
        self.stats.out_of_scale += "score" in row and score_out_of_scale(row["score"])

    def call_failed(self, calls: Sequence[Call], error: BaseException) -> None:
        """One backend call failed after retries: one judge call, or a local batch of them.

        Raises:
            AuthError, RequestError: `error` itself, and any error that is not an MTBenchError.
            BackendError: when the failure streak is reached (see `failure_streak`).
        """
        self.stats.calls_done += len(calls)
        self.stats.failed_calls += len(calls)
        if isinstance(error, NoVerdictError):
            self.stats.no_verdict += len(calls)
        if isinstance(error, FATAL_ERRORS) or not isinstance(error, MTBenchError):
            raise error
        self.stats.last_error = str(error)
        for call in calls:
            match = self.matches[call.index]
            logger.warning(
                "question %s, %s, turn %d: %s (left for the next run)",
                match.question.question_id,
                " vs ".join(match.models),
                match.turn,
                error,
            )
            if call.index not in self.failed:
                self.failed.add(call.index)
                self.replies.pop(call.index, None)
                self.stats.failed += 1
        if isinstance(error, NoVerdictError) and self.unit != "judge calls":
            return  # a local judge out of room is not down, and costs nothing: go on
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
        WriteError: when the disk refuses a row (the rows written so far are kept).
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
    writer = JsonlAppender(output, what="judgments")
    unit = "judge calls" if backend.concurrent else "batches of judge calls"
    collector = Collector(matches, writer, stats, streak, unit)
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
            stats.reasoning_tokens = now[2] - tokens_before[2]
            stats.tokens_reported = usage.reported
    return stats


def _tokens(usage: Usage | None) -> tuple[int, int, int]:
    if usage is None:
        return (0, 0, 0)
    return (int(usage.prompt_tokens), int(usage.completion_tokens), int(usage.reasoning_tokens))


def _run_batches(
    calls: Sequence[Call],
    matches: Sequence[Match],
    backend: Backend,
    params: GenerationParams,
    size: int,
    collector: Collector,
    progress: Callable[[], None],
    stats: JudgeStats,
) -> None:
    for start in range(0, len(calls), max(1, size)):
        chunk = calls[start : start + max(1, size)]
        stats.lost_calls = len(chunk)
        try:
            replies = _ask_batch(chunk, matches, backend, params, stats)
        except MTBenchError as error:
            stats.lost_calls = 0
            collector.call_failed(chunk, error)
            progress()
            continue
        stats.lost_calls = 0
        for call, reply in zip(chunk, replies, strict=True):
            if isinstance(reply, NoVerdictError):
                collector.call_failed([call], reply)
            else:
                collector.done(call, reply)
        progress()


def _ask_batch(
    chunk: Sequence[Call],
    matches: Sequence[Match],
    backend: Backend,
    params: GenerationParams,
    stats: JudgeStats,
) -> list[JudgeReply | NoVerdictError]:
    """A local judge's replies to a batch, the ones that ran out of room asked again.

    Raises:
        BackendError: when a `generate` call fails, or returns the wrong number of replies.
    """
    todo = list(range(len(chunk)))
    current = {index: params for index in todo}
    results: list[JudgeReply | NoVerdictError] = [NoVerdictError("not asked", cut=False)] * len(
        chunk
    )
    for round_ in range(REASKS + 1):
        groups: dict[GenerationParams, list[int]] = {}
        for index in todo:
            groups.setdefault(current[index], []).append(index)
        todo = []
        for setting, indices in groups.items():
            raw = backend.generate([chunk[i].messages(matches) for i in indices], setting)
            if len(raw) != len(indices):
                raise BackendError(
                    f"the judge returned {len(raw)} replies for {len(indices)} prompts"
                )
            for index, text in zip(indices, raw, strict=True):
                call = chunk[index]
                outcome = settle_reply(
                    matches[call.index], call.swapped, text, setting, params, round_
                )
                if isinstance(outcome, GenerationParams):
                    stats.reasked += 1
                    current[index] = outcome
                    todo.append(index)
                else:
                    results[index] = outcome
        if not todo:
            break
    return results


def _run_threads(
    calls: Sequence[Call],
    matches: Sequence[Match],
    backend: Backend,
    params: GenerationParams,
    parallel: int,
    collector: Collector,
    progress: Callable[[], None],
    stats: JudgeStats,
) -> None:
    lock = threading.Lock()

    def ask(call: Call) -> JudgeReply:
        setting = params
        match = matches[call.index]
        raw = backend.generate([call.messages(matches)], setting)[0]
        for reasks in range(REASKS + 1):
            outcome = settle_reply(match, call.swapped, raw, setting, params, reasks)
            if isinstance(outcome, JudgeReply):
                return outcome
            if isinstance(outcome, NoVerdictError):
                raise outcome
            with lock:
                stats.reasked += 1
            try:
                raw = backend.generate([call.messages(matches)], outcome)[0]
            except TooLongError as error:  # the larger limit is more than the model allows
                last = read_reply(raw, setting)
                raise no_verdict_error(last, outcome, params.max_new_tokens, str(error)) from None
            setting = outcome
        raise AssertionError("settle_reply fails a call after REASKS re-asks")

    pool: CallPool[JudgeReply] = open_pool(backend, parallel, "judge", most=len(calls))
    futures: dict[Future[JudgeReply], Call] = {
        pool.submit(partial(ask, call)): call for call in calls
    }
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
