"""`mtbench-judge --batch`: the pending judge calls through a provider's batch API, at half price.

Every pending call becomes one request of a batch (`mtbench.backends.batch_api`: OpenAI's
Batch API or Anthropic's Message Batches), as many batches as the provider's limits need. The
run records each batch beside the judgment file the moment it exists (`batch_ledger`), polls
until every batch has ended, and writes the results as the live path does: the same reply
reading, verdict parsing, rows and provenance (`runner.settle_reply`, `runner.Collector`), plus
the batch's id in each call's `judge_meta`.

Resuming: a rerun of the same command first picks up the recorded batches. Those still running
are waited for, not submitted again; those that ended meanwhile are collected at once; only the
calls no batch covers are submitted. A request's `custom_id` (`custom_id`) names its match
(question, turn, sample, game) and hashes exactly what it asked (models, judge prompt,
messages): a result is written only for a pending call that asks the same now, so a changed
answer or prompt is never given an old verdict, and a match already written is never written
twice.

Failures, as in the live path: a request that failed inside a batch (an HTTP error, expired,
cancelled) is reported, counted as failed and not written; the next run submits it again (a
request of a batch that ended while no run was watching is submitted again by the run that
finds it). A reply that ran out of room before its verdict is asked again with more room in a
new batch, up to `replies.REASKS` times. Expired or cancelled batches keep what they finished.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mtbench.backends.base import Backend, GenerationParams
from mtbench.backends.batch_api import (
    BatchAPI,
    BatchResult,
    BatchState,
    UnknownBatch,
    orphan_warning,
    split,
)
from mtbench.data.jsonl import JsonlAppender
from mtbench.errors import BackendError, ConfigError
from mtbench.judging.batch_ids import custom_id
from mtbench.judging.batch_ledger import BatchLedger, LedgerBatch
from mtbench.judging.plan import JudgePlan
from mtbench.judging.replies import ROOM_GROWTH, JudgeReply, NoVerdictError
from mtbench.judging.runner import Call, Collector, JudgeStats, settle_reply

logger = logging.getLogger(__name__)

POLL_INTERVAL = 30.0
"""Seconds between two looks at the batches being waited for (`--poll-interval`)."""

TODO = "todo"
"""The owner of a call queued for the next submission."""


def batch_api_for(backend: Backend) -> BatchAPI:
    """The backend's batch API.

    Raises:
        ConfigError: for a backend without one.
    """
    api = backend.batch_api()
    if api is None:
        raise ConfigError(
            "--batch needs a judge with a batch API: OpenAI's (or a compatible server with "
            "/v1/files and /v1/batches) or Anthropic's"
        )
    return api


@contextmanager
def deferred_interrupt(on_interrupt: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold Ctrl-C until the block is done (creating a batch and recording its id).

    The first Ctrl-C calls `on_interrupt` (which stops waiting between retries, so the block
    ends soon) and is raised as `KeyboardInterrupt` when the block ends, however it ends; a
    second one is raised at once (a batch created but not recorded is then found by the
    rerun: `BatchAPI.find`). Outside the main thread, signals cannot be handled: no effect.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(number: int, frame: object) -> None:
        if caught:
            raise KeyboardInterrupt
        caught.append(number)
        if on_interrupt is not None:
            on_interrupt()

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    except Exception:
        if caught:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class BatchRun:
    """One `--batch` run over a plan's pending matches (see the module's description).

    Args:
        plan: The plan (its `pending` matches, its `output` file).
        backend: The judge's open API backend (its batch API is used).
        params: The run's judge sampling.
        stats: Filled in as the run goes.
        on_progress: Called after every look at the batches.
        say: Prints one line for the user (batches submitted, picked up).
        poll_interval: Seconds between looks at the batches being waited for.
        sleep: Waits between looks (tests pass their own).
    """

    def __init__(
        self,
        plan: JudgePlan,
        backend: Backend,
        params: GenerationParams,
        stats: JudgeStats,
        on_progress: Callable[[JudgeStats], None] | None = None,
        say: Callable[[str], None] = print,
        poll_interval: float = POLL_INTERVAL,
        sleep: Callable[[float], object] = time.sleep,
    ):
        self.api = batch_api_for(backend)
        self.backend = backend
        self.params = params
        self.stats = stats
        self.on_progress = on_progress
        self.say = say
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.matches = plan.pending
        self.calls = {
            custom_id(match, swapped): Call(index, swapped)
            for index, match in enumerate(self.matches)
            for swapped in (False, True)[: match.games]
        }
        self.ledger = BatchLedger(plan.output)
        self.writer = JsonlAppender(plan.output, what="judgments")
        self.collector = Collector(
            self.matches, self.writer, stats, len(self.calls) + 1, "batch requests"
        )
        self.owner: dict[str, str] = {}  # custom id -> the batch id that answers it (or TODO)
        self.done: set[str] = set()  # custom ids settled for good in this run
        self.open: dict[str, LedgerBatch] = {}
        self.states: dict[str, BatchState] = {}
        self.todo: dict[tuple[int, GenerationParams], list[str]] = {}
        self.unmarked: list[tuple[LedgerBatch, list[str]]] = []
        stats.batch = True
        stats.matches = len(self.matches)
        stats.calls = len(self.calls)

    def run(self) -> JudgeStats:
        """Pick up recorded batches, submit the rest, wait, write every result.

        Raises:
            AuthError, RequestError: when the provider refuses the key or a request.
            BackendError: when the batch API cannot be reached after retries.
            WriteError: when the disk refuses a row or a ledger line.
            KeyboardInterrupt: re-raised after marking `stats.interrupted` (the batches keep
                running at the provider; a rerun collects them).
        """
        usage = self.backend.usage
        before = (0, 0, 0)
        if usage is not None:
            before = (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens)
        try:
            self._pick_up()
            fresh = [c for c in self.calls if c not in self.owner and c not in self.done]
            for key in fresh:
                self._queue(key, 0, self.params)
            self._submit()
            self._progress()
            while self.open:
                self.sleep(self.poll_interval)
                for batch_id, entry in list(self.open.items()):
                    state = self.states[batch_id] = self.api.state(batch_id)
                    if state.ended:
                        del self.open[batch_id]
                        self._collect(entry, state, earlier=False)
                self._submit()
                self._progress()
        except BaseException as error:
            self.stats.interrupted = isinstance(error, KeyboardInterrupt)
            self.stats.stopped = True
            raise
        finally:
            self.stats.batches_open = len(self.open)
            self.writer.close()
            self.ledger.close()
            self.stats.finished = time.monotonic()
            if usage is not None:
                self.stats.prompt_tokens = usage.prompt_tokens - before[0]
                self.stats.completion_tokens = usage.completion_tokens - before[1]
                self.stats.reasoning_tokens = usage.reasoning_tokens - before[2]
                self.stats.tokens_reported = usage.reported
        return self.stats

    def _pick_up(self) -> None:
        """Find the batches of earlier runs; collect the ended ones, wait for the others."""
        entries = self.ledger.load()
        judge = [
            e for e in entries if e.api == self.api.endpoint and e.model == self.backend.model_name
        ]
        if len(judge) < len(entries):
            self.say(
                f"notice: {len(entries) - len(judge)} batch(es) in {self.ledger.path.name} went to "
                "another API or judge model; left alone"
            )
        ours = [e for e in judge if self._asks_the_same(e)]
        if len(ours) < len(judge):
            self.say(
                f"notice: {len(judge) - len(ours)} batch(es) in {self.ledger.path.name} were sent "
                "with other request parameters (temperature, max tokens, reasoning effort, extra "
                "body, thinking budget...) than this run's; left alone, never written as this "
                "run's judgments"
            )
        known = {e.batch_id for e in entries if e.batch_id}
        for entry in ours:
            if entry.dangling:
                found = self.api.find(entry.tag, entry.submitted, len(entry.custom_ids), known)
                if found is None:
                    self.ledger.abandoned(entry, never_created=self.api.labelled)
                    suspects = self.api.suspects(entry.submitted, len(entry.custom_ids), known)
                    if suspects:
                        self.say(orphan_warning(suspects, self.api.console))
                    continue
                self.ledger.created(entry, found.id)
                self.say(
                    f"batch {found.id}: found at the provider (its run stopped before recording "
                    "its id)"
                )
        waiting = sorted((e for e in ours if e.open), key=lambda e: (-e.round, -e.submitted))
        ended = []
        for entry in waiting:
            assert entry.batch_id is not None
            try:
                state = self.states[entry.batch_id] = self.api.state(entry.batch_id)
            except UnknownBatch as error:
                again = sum(1 for c in entry.custom_ids if c in self.calls and c not in self.owner)
                self.say(f"notice: {error}; this run submits its {again} pending request(s) again")
                continue
            owned = [c for c in entry.custom_ids if c in self.calls and c not in self.owner]
            for key in owned:
                self.owner[key] = entry.batch_id
            if not owned:
                if state.ended:
                    self.ledger.collected(entry)  # nothing of it is still to judge
                else:
                    self.say(
                        f"batch {entry.batch_id}: holds none of this run's pending calls (made "
                        "with other flags?); left running"
                    )
                continue
            self.stats.batches_resumed += 1
            self.say(
                f"batch {entry.batch_id}: picked up from an earlier run ({state.status}, "
                f"{state.finished} of {state.total} request(s) finished)"
            )
            if state.ended:
                ended.append((entry, state))
            else:
                self.open[entry.batch_id] = entry
        for entry, state in ended:
            self._collect(entry, state, earlier=True)

    def _asks_the_same(self, entry: LedgerBatch) -> bool:
        """Whether a recorded batch's requests carry what this run's would: its sampling is
        this run's (grown by re-asks: `replies.more_room`), and so are its request parameters."""
        mine, theirs = self.params, entry.generation
        if (theirs.temperature, theirs.seed) != (mine.temperature, mine.seed):
            return False
        limits = [mine.max_new_tokens * ROOM_GROWTH**k for k in range(entry.round + 1)]
        if theirs.max_new_tokens not in limits:
            return False
        sent = json.loads(json.dumps(self.api.params(theirs)))
        return bool(sent == json.loads(json.dumps(entry.params)))

    def _owned(self, entry: LedgerBatch) -> list[str]:
        return [c for c in entry.custom_ids if self.owner.get(c) == entry.batch_id]

    def _collect(self, entry: LedgerBatch, state: BatchState, earlier: bool) -> None:
        """Write (or report) the results of an ended batch, and queue its re-asks."""
        owned = self._owned(entry)
        wanted = set(owned)
        seen: set[str] = set()
        assert entry.batch_id is not None
        for result in self.api.results(entry.batch_id, wanted, entry.params):
            if result.custom_id in wanted and result.custom_id not in seen:
                seen.add(result.custom_id)
                self._settle(entry, result, earlier)
        why = f"no result: batch {state.status}" + (f", {state.detail}" if state.detail else "")
        for key in owned:
            if key not in seen:
                self._settle(entry, BatchResult(key, None, why), earlier)
        self.unmarked.append((entry, owned))

    def _settle(self, entry: LedgerBatch, result: BatchResult, earlier: bool) -> None:
        key = result.custom_id
        call = self.calls[key]
        if result.reply is None:
            if earlier:  # ended while no run was watching: this run submits it again
                self.stats.resubmitted += 1
                self._queue(key, entry.round, entry.generation)
                return
            self._finish(key)
            error = BackendError(f"batch {entry.batch_id}: {result.error}")
            self.collector.call_failed([call], error)
            return
        match = self.matches[call.index]
        outcome = settle_reply(
            match, call.swapped, result.reply, entry.generation, self.params, entry.round
        )
        if isinstance(outcome, GenerationParams):
            self.stats.reasked += 1
            self._queue(key, entry.round + 1, outcome)
        elif isinstance(outcome, NoVerdictError):
            self._finish(key)
            self.collector.call_failed([call], outcome)
        else:
            self._finish(key)
            meta = {**outcome.meta, "batch": entry.batch_id}
            kept = JudgeReply(outcome.judgment, outcome.raw, meta)
            self.collector.done(call, kept)

    def _finish(self, key: str) -> None:
        self.done.add(key)
        self.owner.pop(key, None)

    def _queue(self, key: str, round_: int, generation: GenerationParams) -> None:
        self.owner[key] = TODO
        self.todo.setdefault((round_, generation), []).append(key)

    def _submit(self) -> None:
        """Submit the queued calls (split by the provider's limits), then mark what is done."""
        for (round_, generation), keys in self.todo.items():
            requests = []
            sent: dict[str, Any] = {}
            for key in keys:
                body, sent = self.api.request(self._messages(key), generation)
                requests.append((key, body))
            for chunk in split(requests, self.api.limits, self.api.size):
                tag = uuid.uuid4().hex
                entry = self.ledger.submitting(
                    tag,
                    self.api.endpoint,
                    self.backend.model_name,
                    round_,
                    sent,
                    generation,
                    [key for key, _ in chunk],
                )
                # A batch created is a batch recorded and tracked.
                with deferred_interrupt(self.backend.cancel):
                    try:
                        state = self.api.submit(chunk, tag)
                    except BaseException as error:
                        if self.api.created_nothing(error):
                            self.ledger.abandoned(entry, never_created=True)
                        raise
                    finally:
                        for line in self.api.warnings:
                            self.say(line)
                        self.api.warnings.clear()
                    self.ledger.created(entry, state.id)
                    self.stats.batches_submitted += 1
                    self.open[state.id] = entry
                    self.states[state.id] = state
                    for key, _ in chunk:
                        self.owner[key] = state.id
                    again = f", re-ask {round_}" if round_ else ""
                    self.say(
                        f"batch {state.id}: {len(chunk)} request(s) submitted to {self.api.name}"
                        f"{again}; recorded in {self.ledger.path}"
                    )
        self.todo.clear()
        self._mark()

    def _messages(self, key: str) -> list[dict[str, str]]:
        call = self.calls[key]
        return self.matches[call.index].messages(call.swapped)

    def _mark(self) -> None:
        """Mark collected the batches whose results are all written, reported or re-asked."""
        held = self.collector.replies  # pairwise games waiting for their other game
        still = []
        for entry, owned in self.unmarked:
            if any(self.calls[key].index in held or self.owner.get(key) == TODO for key in owned):
                still.append((entry, owned))
            else:
                self.ledger.collected(entry)
        self.unmarked = still

    def _progress(self) -> None:
        stats = self.stats
        stats.batches_open = len(self.open)
        stats.batch_progress = 0
        for batch_id in self.open:
            state = self.states.get(batch_id)
            if state is not None:
                owned = sum(1 for owner in self.owner.values() if owner == batch_id)
                stats.batch_progress += min(state.finished, owned)
        if self.on_progress is not None:
            self.on_progress(stats)
