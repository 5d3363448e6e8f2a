"""`judge()`: one call from a `JudgeConfig` to a judgment file (what `mtbench-judge` runs).

Plan (load, check, count, estimate) → show the plan → `--dry-run` stops here with one rendered
prompt → confirm (only if the caller asks) → open the judge and make one test call → run →
summary. Judgments already in the output file are skipped, so a rerun resumes. Except for a dry
run, the output file is checked for writing and locked for this run before the plan reads it
(`mtbench.data.run_lock`), so a second run on it stops before it judges anything twice.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from mtbench.backends.base import GenerationParams
from mtbench.backends.registry import open_backend
from mtbench.backends.retry import RetryCallback
from mtbench.data.judgments import SCORE_SCALE
from mtbench.data.run_lock import RunLock
from mtbench.data.writable import check_writable
from mtbench.errors import BackendError
from mtbench.judging import cost
from mtbench.judging.config import JudgeConfig
from mtbench.judging.judge_backend import name_served_judge, preflight
from mtbench.judging.plan import (
    JudgePlan,
    choose_price,
    describe_plan,
    make_plan,
    output_file,
    render_prompt,
)
from mtbench.judging.runner import JudgeStats, run_matches

logger = logging.getLogger(__name__)

JUDGE_TEMPERATURE = 0.0
"""FastChat's judge temperature, the default of `JudgeConfig.judge_temperature`."""

JudgeStatus = Literal["done", "dry_run", "nothing_to_do", "cancelled"]


@dataclass
class JudgeResult:
    """How a `judge()` call ended.

    Attributes:
        status: `done` (the run finished and every pending match was written), `dry_run` (the
            plan and a prompt were shown), `nothing_to_do` (every match was already judged) or
            `cancelled` (`confirm` said no); nothing was judged unless `done`.
        plan: What the run was to judge, and where the judgments go (`plan.output`).
        stats: The run's statistics when `status` is `done`, else None.
    """

    status: JudgeStatus
    plan: JudgePlan
    stats: JudgeStats | None = None


def summary_lines(stats: JudgeStats, plan: JudgePlan, adjustments: Sequence[str] = ()) -> list[str]:
    """The end-of-run report.

    Args:
        stats: What the run did.
        plan: What it set out to do.
        adjustments: Request parameters the judge's server refused and the run stopped
            sending (`RemoteBackend.adjustments`).
    """
    rate = stats.calls_done / stats.wall_time if stats.wall_time > 0 else 0.0
    head = "interrupted" if stats.interrupted else "stopped" if stats.stopped else "done"
    why = "request(s) failed inside their batch" if stats.batch else "call(s) failed after retries"
    lines = [
        f"mtbench-judge {head} in {stats.wall_time:.1f}s ({rate:.2f} calls/s)",
        f"  judged:     {stats.judged} of {stats.matches} match(es) written to {plan.output}",
        f"  skipped:    {plan.done} already judged before this run",
        f"  unparsed:   {stats.unparsed} verdict(s) without a rating/winner (stored as -1/error)",
        f"  failed:     {stats.failed} match(es) not written ({stats.failed_calls} {why})",
        f"  retries:    {stats.retries}",
    ]
    if stats.out_of_scale:
        low, high = SCORE_SCALE
        lines.append(
            f"  off scale:  {stats.out_of_scale} score(s) outside the judge prompt's {low}-{high} "
            "scale, kept as FastChat keeps them (mtbench-show flags them)"
        )
    if stats.reasked:
        lines.append(
            f"  re-asked:   {stats.reasked} time(s) after a reply ran out of room before its "
            "verdict (cut at the token limit, or empty)"
        )
    if stats.no_verdict:
        lines.append(
            f"  no verdict: {stats.no_verdict} call(s) never fitted a verdict in the token limit "
            f"(not written, counted as failed): raise --judge-max-tokens (now {plan.max_tokens})"
        )
    if stats.batch:
        lines += _batch_lines(stats)
    elif stats.stopped or stats.lost_calls:
        lines.append(
            f"  lost:       {stats.lost_calls} call(s) under way when the run stopped (sent, or "
            "waiting for a slot)"
        )
    for note in adjustments:
        lines.append(f"  request:    {note}")
    if stats.tokens_reported:
        thinking = (
            f", of which {stats.reasoning_tokens:,} reasoning" if stats.reasoning_tokens else ""
        )
        lines.append(
            f"  tokens:     {stats.prompt_tokens:,} input + {stats.completion_tokens:,} output"
            f"{thinking} (as the API reported)"
        )
        price, source = plan.price, plan.price_source
        if len(stats.judge_models) == 1:
            # Priced as the snapshot that answered, where its price is known.
            (served,) = stats.judge_models
            if served != plan.backend.model and choose_price(plan, served)[0] is not None:
                price, source = choose_price(plan, served)
        spent = cost.reported_cost(stats.prompt_tokens, stats.completion_tokens, price, source)
        if spent:
            lines.append(f"  cost:       {spent}")
    if stats.last_error:
        lines.append(f"  last error: {stats.last_error}")
    if stats.not_done:
        lines.append(
            f"  {stats.not_done} match(es) still to judge: rerun the same command to resume"
        )
    return lines


def _batch_lines(stats: JudgeStats) -> list[str]:
    """The summary's lines about provider batches (`--batch`)."""
    lines = [
        f"  batches:    {stats.batches_submitted} submitted, {stats.batches_resumed} picked up "
        "from earlier runs"
    ]
    if stats.resubmitted:
        lines.append(
            f"  resubmitted: {stats.resubmitted} request(s) of earlier batches that failed, "
            "expired or were cancelled"
        )
    if stats.batches_open:
        lines.append(
            f"  running:    {stats.batches_open} batch(es) still at the provider, recorded beside "
            "the judgment file: rerun the same command to collect them (nothing is submitted "
            "twice); --batch-cancel stops them"
        )
    return lines


def judge(
    options: JudgeConfig,
    *,
    confirm: Callable[[JudgePlan], bool] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    on_progress: Callable[[JudgeStats], None] | None = None,
    on_retry: RetryCallback | None = None,
    stats: JudgeStats | None = None,
) -> JudgeResult:
    """Judge every answer the config names that is not judged yet, appending FastChat rows.

    Args:
        options: What to judge and how (validated here).
        confirm: Asked before any call is made; returning False cancels (status `cancelled`).
        out: Where `--dry-run` prints the plan and a rendered prompt (default stdout).
        err: Where the plan and the summary go otherwise (default stderr).
        on_progress: Called after every finished judge call; its `close()`, if it has one, is
            called before the summary is printed (for progress bars).
        on_retry: Called before every retry.
        stats: Filled in as the run goes (lets a caller report after Ctrl-C).

    Returns:
        How the call ended (`status`), the plan, and for a finished run its statistics.

    Raises:
        ConfigError, DataError: before any call, for bad options or data, an output that cannot
            be written, or one that another run holds (`FileInUseError`).
        AuthError, RequestError: when the judge refuses the key, model or request.
        BackendError: when judgments failed (after the summary; rerun to retry them).
        WriteError: when the disk refuses a row (after the summary; the rows written are kept).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    if options.dry_run:
        plan = make_plan(options)
        print(describe_plan(plan), file=out)
        sample = plan.pending[0] if plan.pending else (plan.matches[0] if plan.matches else None)
        if sample is not None:
            print(render_prompt(sample), file=out)
        return JudgeResult("dry_run", plan)
    options.validate()
    options, served = name_served_judge(options)  # the file is named after the judge
    output = output_file(options)
    check_writable(output, "the judgment file")
    # Held from reading what is judged to the last row: see `mtbench.data.run_lock`.
    with RunLock(output):
        plan = make_plan(options, [served] if served else [])
        print(describe_plan(plan), file=err)
        if not plan.pending:
            # Never claim that 0 matches are in a file that may not exist.
            done = f"all {len(plan.matches)} match(es) are in {output}"
            print(f"Nothing to do: {done if plan.matches else 'no match to judge'}.", file=err)
            return JudgeResult("nothing_to_do", plan)
        if confirm is not None and not confirm(plan):
            print("Cancelled; nothing was judged.", file=err)
            return JudgeResult("cancelled", plan)
        return _run(plan, err, on_progress, on_retry, stats)


def _printer(on_progress: object, err: TextIO) -> Callable[[str], None]:
    """Print a line to `err`, through the progress bar's `write` when it has one (so that the
    line goes above the bar instead of through it)."""
    write = getattr(on_progress, "write", None)
    if callable(write):
        return lambda line: write(line)
    return lambda line: print(line, file=err)


def _run(
    plan: JudgePlan,
    err: TextIO,
    on_progress: Callable[[JudgeStats], None] | None,
    on_retry: RetryCallback | None,
    stats: JudgeStats | None,
) -> JudgeResult:
    """Open the judge, judge `plan.pending` and print the summary (the output is locked)."""
    options = plan.options
    backend = open_backend(plan.backend, on_retry=on_retry)
    stats = stats if stats is not None else JudgeStats()
    stats.skipped = plan.done
    try:
        if options.preflight:
            for warning in preflight(backend, temperature=options.judge_temperature):
                logger.info("%s", warning)  # not logger.warning: the CLI would print it twice
                print(warning, file=err)
        temperature = options.judge_temperature
        if temperature is None and not backend.concurrent:
            temperature = JUDGE_TEMPERATURE  # a local engine has no "default" to fall back on
        params = GenerationParams(max_new_tokens=plan.max_tokens, temperature=temperature)
        try:
            if options.batch:
                from mtbench.judging.batch import BatchRun

                BatchRun(
                    plan,
                    backend,
                    params,
                    stats,
                    on_progress=on_progress,
                    say=_printer(on_progress, err),
                    poll_interval=options.poll_interval,
                ).run()
            else:
                run_matches(
                    plan.pending,
                    backend,
                    plan.output,
                    params,
                    parallel=options.parallel,
                    batch_size=options.batch_size,
                    stats=stats,
                    on_progress=on_progress,
                )
        finally:
            close_progress = getattr(on_progress, "close", None)
            if close_progress is not None:
                close_progress()
            if stats.calls_done or stats.stopped:
                lines = summary_lines(stats, plan, backend.adjustments)
                print("\n".join(lines), file=err)
    finally:
        backend.close()
    if stats.failed:
        how = "inside their batch" if stats.batch else "after retries"
        raise BackendError(
            f"{stats.failed} of {stats.matches} judgment(s) failed {how} and were not "
            "written; rerun the same command to judge them"
        )
    return JudgeResult("done", plan, stats)
