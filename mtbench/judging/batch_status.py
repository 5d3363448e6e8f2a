"""`mtbench-judge --batch-status` and `--batch-cancel`: the recorded batches of a judgment file.

Both read the batches recorded beside the judgment file (`batch_ledger`) and ask the provider
about those not yet collected; `--batch-cancel` also asks it to stop them. Neither writes a
judgment: the next `--batch` run of the same command collects what the batches finished (a
cancelled or expired batch keeps its answered requests) and submits the rest again.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TextIO

from mtbench.backends.batch_api import BatchState, UnknownBatch
from mtbench.backends.registry import open_backend
from mtbench.judging.batch import batch_api_for
from mtbench.judging.batch_ledger import BatchLedger, LedgerBatch
from mtbench.judging.config import JudgeConfig
from mtbench.judging.judge_backend import judge_spec, name_served_judge
from mtbench.judging.matches import grading_kind
from mtbench.judging.plan import judge_label, output_file


@dataclass(frozen=True)
class BatchReport:
    """One recorded batch and what the provider says of it now.

    Attributes:
        entry: The ledger's record.
        state: The provider's state (None when it was not asked: the batch is collected,
            was never created, or went to another API or judge model).
        note: What the ledger alone says (`collected`, `never created`, ...), else "".
    """

    entry: LedgerBatch
    state: BatchState | None
    note: str = ""


def batch_status(
    options: JudgeConfig, cancel: bool = False, out: TextIO | None = None
) -> list[BatchReport]:
    """Print (and return) the state of every batch recorded beside the run's judgment file.

    Args:
        options: The run's options (they name the judgment file and the judge).
        cancel: Also ask the provider to stop every batch that has not ended.
        out: Where the lines go (default stdout).

    Raises:
        ConfigError: for options that name no API judge with a batch API.
        AuthError, RequestError, BackendError: as the provider answers.
    """
    out = out or sys.stdout
    options = replace(options, batch=True)  # refuses a judge without a batch API
    options.validate()
    options, _ = name_served_judge(options)
    spec = judge_spec(options, judge_label(options), grading_kind(options.mode))
    output = output_file(options)
    ledger = BatchLedger(output)
    entries = ledger.load()
    if not entries:
        print(f"No batches recorded for {output} (none in {ledger.path}).", file=out)
        return []
    backend = open_backend(spec)
    reports = []
    try:
        api = batch_api_for(backend)
        for entry in entries:
            if entry.api != api.endpoint or entry.model != backend.model_name:
                note = f"sent to {entry.model} at {entry.api}, not this judge"
                reports.append(BatchReport(entry, None, note))
            elif entry.never_created:
                reports.append(BatchReport(entry, None, "never created (its submission failed)"))
            elif entry.abandoned:
                note = (
                    "may have been created (its run stopped while submitting); not collected: "
                    f"if it runs, cancel it in {api.console}"
                )
                reports.append(BatchReport(entry, None, note))
            elif entry.batch_id is None:
                note = "may have been created (its run stopped while submitting); the next "
                note += "--batch run looks for it" if api.labelled else "--batch run submits again"
                reports.append(BatchReport(entry, None, note))
            elif entry.collected:
                reports.append(BatchReport(entry, None, "collected"))
            else:
                try:
                    state = api.state(entry.batch_id)
                    if cancel and not state.ended:
                        state = api.cancel(entry.batch_id)
                except UnknownBatch:
                    note = (
                        f"unknown at {api.endpoint} (HTTP 404: made with another API key or "
                        "project?); left alone"
                    )
                    reports.append(BatchReport(entry, None, note))
                    continue
                reports.append(BatchReport(entry, state))
    finally:
        backend.close()
    for report in reports:
        print(_line(report), file=out)
    waiting = [r for r in reports if r.state is not None]
    if waiting:
        what = "cancel requested; " if cancel else ""
        print(
            f"{len(waiting)} batch(es) not yet collected: {what}rerun the same mtbench-judge "
            "command with --batch to write what they finished (and submit the rest)",
            file=out,
        )
    return reports


def _line(report: BatchReport) -> str:
    entry, state = report.entry, report.state
    when = datetime.fromtimestamp(entry.submitted, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = f"{entry.batch_id or '(no id)'}  {len(entry.custom_ids)} request(s), submitted {when}"
    if entry.round:
        head += f", re-ask {entry.round}"
    if state is None:
        return f"{head}: {report.note}"
    detail = f"; {state.detail}" if state.detail else ""
    return (
        f"{head}: {state.status}, {state.succeeded} done, {state.failed} failed of "
        f"{state.total}{detail}"
    )
