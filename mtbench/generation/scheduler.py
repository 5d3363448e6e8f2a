"""Turning questions into batched backend calls, turn by turn, and finished questions into rows.

Every (question, choice) is a task; a task's conversation grows by one user turn and the
model's post-processed reply per call. Tasks are grouped once, up front:

* by choice index (its seed) and, unless the engine can sample every row at its own
  temperature, by temperature too (then one call has one setting);
* within such a class, longest first turn first, cut into evenly sized groups of about the
  engine's batch size (smaller when that would leave replicas idle).

A group goes through its turns together (turn 1 of all its tasks in one call, then turn 2, ...),
and the scheduler prefers a started group's next turn over starting a new group. So a question is
finished, and its row written, about two calls after it starts; an interrupted run loses at most
the groups in flight. Group composition does not depend on timing, so sampled answers are
reproducible for a given batch size whatever replica runs them (and with the local backends,
which seed every row on its own, independent of batching altogether).

An engine that `refills` (a local transformers model) gets no calls but a `TurnFeed`: the
groups' tasks queue up in the same order, the engine takes a turn whenever a row of its batch is
free, and a finished turn 1 puts the task's turn 2 at the head of the queue. So the batch stays
full, and a question is finished, and its row written, soon after it starts.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from mtbench.backends.base import (
    Conversation,
    GenerationParams,
    Message,
    Reply,
    finish_reason,
    reply_reasoning,
)
from mtbench.backends.calls import FailureStreak
from mtbench.data.questions import Question, QuestionId
from mtbench.errors import AuthError, BackendError, RequestError
from mtbench.generation.engines import Engine, Result
from mtbench.generation.reasoning import split_reasoning

logger = logging.getLogger(__name__)


@dataclass
class Task:
    """One choice of one question, answered turn by turn."""

    question: Question
    choice: int
    params: GenerationParams
    system_message: str | None = None
    strip_reasoning: bool = True
    answers: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    finish_reasons: list[str | None] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return len(self.answers) == len(self.question.turns)

    def conversation(self) -> list[Message]:
        """The conversation whose reply is the next turn's answer.

        Earlier turns carry the model's own post-processed answers (without reasoning traces
        when they are stripped), as FastChat feeds turn 1's answer into turn 2's prompt.
        """
        messages: list[Message] = []
        if self.system_message is not None:
            messages.append({"role": "system", "content": self.system_message})
        for user, answer in zip(self.question.turns, self.answers, strict=False):
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": answer})
        messages.append({"role": "user", "content": self.question.turns[len(self.answers)]})
        return messages

    def record(self, reply: str) -> None:
        """Keep a turn's reply: the answer, its trace (inline, or the API's separate field)."""
        answer, trace = split_reasoning(reply) if self.strip_reasoning else (reply, "")
        separate = reply_reasoning(reply)  # never part of the answer, whatever --reasoning says
        self.answers.append(str(answer))
        self.traces.append("\n\n".join(part for part in (separate, trace) if part))
        self.finish_reasons.append(finish_reason(reply))


@dataclass
class Group:
    tasks: list[Task]


@dataclass
class GenStats:
    """What the scheduler did (`Scheduler.run`)."""

    calls: int = 0
    tokens: int | None = None
    """Generated tokens, when the backend counts them."""
    failed: dict[QuestionId, str] = field(default_factory=dict)
    """Question ids whose generation failed, with the reason."""


def make_groups(
    tasks: list[Task], chunk_size: int, slots: int, mix_temperatures: bool = False
) -> list[Group]:
    """Group tasks as described in the module docstring."""
    if not tasks:
        return []
    chunk = max(1, min(chunk_size, math.ceil(len(tasks) / max(1, slots))))
    classes: dict[tuple[float, int], list[Task]] = {}
    for task in tasks:
        temperature = 0.0 if mix_temperatures else task.params.temperature or 0.0
        classes.setdefault((temperature, task.choice), []).append(task)
    groups: list[Group] = []
    for members in _interleave_choices(classes):
        members.sort(key=lambda t: -len(t.question.turns[0]))
        count = math.ceil(len(members) / chunk)
        size, extra = divmod(len(members), count)
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            groups.append(Group(members[start:end]))
            start = end
    return groups


def _interleave_choices(classes: dict[tuple[float, int], list[Task]]) -> Iterable[list[Task]]:
    # Classes in order of first appearance, with all choices of a temperature class together,
    # so the choices of a question finish close to one another.
    temperatures = list(dict.fromkeys(key[0] for key in classes))
    for temperature in temperatures:
        for key in sorted(k for k in classes if k[0] == temperature):
            yield classes[key]


class Scheduler:
    """Runs groups on an engine and reports each finished question once.

    Args:
        engine: Where calls run.
        groups: From `make_groups`.
        on_question: Called with a question's tasks (all its choices) when all are finished.
        on_tokens: Called with the tokens generated by each call, when known.
        on_failed: Called with a question id when its generation fails.
        on_turns: Called with how many turns (one reply each) a call finished, or a failure
            took off the list; they add up to `turns`.
    """

    def __init__(
        self,
        engine: Engine,
        groups: list[Group],
        on_question: Callable[[list[Task]], None],
        on_tokens: Callable[[int], None] = lambda n: None,
        on_failed: Callable[[QuestionId], None] = lambda qid: None,
        on_turns: Callable[[int], None] = lambda n: None,
    ):
        self.engine = engine
        self.fresh = deque(groups)
        self.started: deque[Group] = deque()
        self.on_question = on_question
        self.on_tokens = on_tokens
        self.on_failed = on_failed
        self.on_turns = on_turns
        self.stats = GenStats()
        self._pending: dict[QuestionId, list[Task]] = {}
        for group in groups:
            for task in group.tasks:
                self._pending.setdefault(task.question.question_id, []).append(task)
        self._open = {qid: len(tasks) for qid, tasks in self._pending.items()}
        self.turns = sum(len(t.question.turns) for g in groups for t in g.tasks)
        """Turns to generate in all: every task's conversation, turn by turn."""
        self._streak = FailureStreak(engine.failure_streak)

    def run(self) -> GenStats:
        if self.engine.refills:
            return self._run_refilling()
        in_flight: dict[Future[Result], tuple[Group, list[Task]]] = {}
        while self.fresh or self.started or in_flight:
            while len(in_flight) < self.engine.slots and (self.started or self.fresh):
                group = (self.started or self.fresh).popleft()
                active = [
                    t
                    for t in group.tasks
                    if not t.finished and t.question.question_id not in self.stats.failed
                ]
                if not active:
                    continue
                conversations = [t.conversation() for t in active]
                params = [t.params for t in active]
                in_flight[self.engine.submit(conversations, params)] = (group, active)
            if not in_flight:
                break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                group, active = in_flight.pop(future)
                self._collect(future, group, active)
        return self.stats

    def _collect(self, future: Future[Result], group: Group, active: list[Task]) -> None:
        self.stats.calls += 1
        try:
            replies, tokens = future.result()
        except (AuthError, RequestError):
            raise  # a rejected key or request fails every call alike: stop at once
        except BackendError as exc:
            for task in active:
                self._fail(task.question.question_id, str(exc))
            logger.error("generation failed for %d conversation(s): %s", len(active), exc)
            if self._streak.failed():
                raise  # the backend is down (`failure_streak`): stop, keeping what was written
            return
        self._streak.succeeded()
        if tokens is not None:
            self.stats.tokens = (self.stats.tokens or 0) + tokens
            self.on_tokens(tokens)
        for task, reply in zip(active, replies, strict=True):
            task.record(reply)
            if task.finished:
                self._task_finished(task)
        self.on_turns(len(active))
        if any(not t.finished for t in group.tasks):
            self.started.append(group)

    def _run_refilling(self) -> GenStats:
        """Feed the engine turn by turn (module docstring) until every task is finished."""
        feed = _TaskFeed(self, [task for group in self.fresh for task in group.tasks])
        self.fresh.clear()
        while feed.pending:
            self.stats.calls += 1
            try:
                self.engine.refill(feed)
            except (AuthError, RequestError):
                raise
            except BackendError as exc:
                lost = feed.abandon()
                for task in lost:
                    self._fail(task.question.question_id, str(exc))
                logger.error("generation failed for %d conversation(s): %s", len(lost), exc)
                if self._streak.failed():
                    raise
        return self.stats

    def _turn_done(self, task: Task, reply: str, tokens: int) -> bool:
        """Record a turn's reply from a refilling engine; whether the task has more turns."""
        self._streak.succeeded()
        self.stats.tokens = (self.stats.tokens or 0) + tokens
        self.on_tokens(tokens)
        task.record(reply)
        if task.finished:
            self._task_finished(task)
        self.on_turns(1)
        return not task.finished

    def _task_finished(self, task: Task) -> None:
        qid = task.question.question_id
        self._open[qid] -= 1
        if self._open[qid] == 0 and qid not in self.stats.failed:
            tasks = sorted(self._pending.pop(qid), key=lambda t: t.choice)
            self.on_question(tasks)

    def _fail(self, qid: QuestionId, reason: str) -> None:
        if qid not in self.stats.failed:
            self.stats.failed[qid] = reason
            tasks = self._pending.pop(qid, [])
            self.on_failed(qid)
            # None of this question's turns will be generated now.
            self.on_turns(sum(len(t.question.turns) - len(t.answers) for t in tasks))


class _TaskFeed:
    """The scheduler's tasks as a `TurnFeed`: each task's next turn, turn 2 ahead of new tasks."""

    def __init__(self, scheduler: Scheduler, tasks: list[Task]):
        self.scheduler = scheduler
        self.waiting = deque(tasks)  # with a turn to generate, not handed out
        self.out: dict[Hashable, Task] = {}  # handed out, by id(task)

    @property
    def pending(self) -> bool:
        """Whether turns are left to hand out or to finish."""
        return bool(self.waiting or self.out)

    def take(self) -> tuple[Hashable, Conversation, GenerationParams] | None:
        failed = self.scheduler.stats.failed
        while self.waiting:
            task = self.waiting.popleft()
            if task.question.question_id not in failed:
                self.out[id(task)] = task
                return id(task), task.conversation(), task.params
        return None

    def done(self, key: Hashable, reply: Reply, tokens: int) -> None:
        task = self.out.pop(key)
        if self.scheduler._turn_done(task, reply, tokens):
            self.waiting.appendleft(task)  # its next turn goes first

    def abandon(self) -> list[Task]:
        """The tasks handed out and not done (their call failed)."""
        lost = list(self.out.values())
        self.out.clear()
        return lost
