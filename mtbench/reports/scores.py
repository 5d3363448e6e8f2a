"""Render a `ScoreReport` (`mtbench-show`) as FastChat-style text, CSV, JSON or Markdown.

The `table` format prints FastChat's `show_result` output first, unchanged (pandas' own printing
of the same tables), then the additions: intervals, the category table and the row accounting,
with a warning line for scores outside the judge prompt's scale (JSON: `accounting.out_of_scale`,
per model).
Markdown carries the additions only; JSON is the results document of `reports.results`
(`as_json`, documented in `docs/results-schema.md`); CSV is one row per model with the categories
as columns. Everything but the FastChat part and the CSV is rendered by `reports.tables`.

Where the file records which judge snapshot answered, `snapshot_lines` name it (and warn when
there are several) right under the `Input file:` line, or first in Markdown; JSON has them as
`judge_snapshots`; CSV, one table, leaves them out. A file that records none (FastChat's) prints
exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from mtbench.analysis.coverage import MIN_INTERVAL_QUESTIONS, coverage_warning
from mtbench.analysis.gate import GateVerdict
from mtbench.analysis.scores import ScoreReport
from mtbench.analysis.selection import Accounting
from mtbench.analysis.snapshots import mixed_snapshots_warning, recorded
from mtbench.data.judgments import out_of_scale_warning
from mtbench.judging.staleness import stale_note
from mtbench.reports.gate import with_gate
from mtbench.reports.results import results_document as as_json
from mtbench.reports.scale import with_scale
from mtbench.reports.tables import Sections, interval_title

if TYPE_CHECKING:
    from mtbench.calibration.scale import ScaleEstimates


def render_report(
    report: ScoreReport,
    fmt: str = "table",
    gate: GateVerdict | None = None,
    scale: ScaleEstimates | None = None,
) -> str:
    """The report in one of `reports.tables.FORMATS`, with a `gate` verdict under it if given
    (`reports.gate`; not in CSV, which is one table), and the GPT-4-scale estimates if given
    (`reports.scale`).

    Raises:
        ValueError: for an unknown format.
    """
    if fmt == "csv":
        return wide_table(report, scale).to_csv(index_label="model")
    sections = with_gate(with_scale(score_sections(report), scale), gate)
    if fmt == "table":
        # The snapshot lines are already under FastChat's header, where they are seen first.
        return fastchat_text(report) + replace(sections, header=()).render(fmt)
    return sections.render(fmt)


def fastchat_text(report: ScoreReport) -> str:
    """Exactly what FastChat's `show_result.py` prints for the same file and flags.

    Only a file that records its judge snapshots (FastChat's never do) gets more: the
    `snapshot_lines` under the `Input file:` line.
    """
    lines = [f"Mode: {report.mode}", f"Input file: {report.input_file}"]
    lines += snapshot_lines(report.judge_snapshots, report.mode)
    if report.mode == "single":
        for title, table in report.tables.items():
            lines.append(f"\n########## {title} ##########")
            lines.append(str(table))
    else:
        lines.append(str(report.tables["Pairwise"]))
    return "\n".join(lines) + "\n"


def accounting_line(accounting: Accounting, mode: str) -> str:
    """One line saying what happened to every row of the file."""
    unparsed = "score -1" if mode == "single" else "an error verdict"
    text = (
        f"Judgments: {accounting.rows} rows read, {accounting.used} used; "
        f"{accounting.unparsed} with {unparsed} dropped, "
        f"{accounting.duplicates} repeated counted once, "
        f"{accounting.filtered} filtered out"
    )
    if mode != "single":
        text += f"; {accounting.inconsistent} with the two orders disagreeing (counted as ties)"
    if accounting.stale:
        text += f"; {accounting.stale} stale skipped"
        if not accounting.stale_pending:
            text += " (all judged again since)"
    if accounting.samples:
        text += f"; {accounting.samples} further sample(s) combined per item"
    if accounting.unchecked:
        text += (
            f"; {accounting.unchecked} not checked for staleness (no answer file, question or "
            "judge prompt to rebuild their prompt from)"
        )
    return text + "."


def notes(report: ScoreReport) -> list[str]:
    """The footer's `warning:` and `note:` lines beyond the accounting line."""
    lines = []
    warning = out_of_scale_warning(report.accounting.out_of_scale)
    if warning:
        lines.append(f"warning: {warning}.")
    note = stale_note(report.accounting.stale, report.accounting.stale_pending)
    if note:
        lines.append(f"warning: {note}.")
    unit = "judgments" if report.mode != "pairwise-all" else "match-ups"
    for entry in (report.coverage or {}).values():
        text = coverage_warning(entry, unit)
        if text:
            lines.append(f"warning: {text}.")
    few = report.few_questions
    if few:
        models = ", ".join(f"{model} ({count})" for model, count in few.items())
        lines.append(
            f"note: no interval for models judged on fewer than {MIN_INTERVAL_QUESTIONS} "
            f"questions, too few to resample: {models}."
        )
    if "judge_sd" in report.summary:
        combined = (
            f"each item's {report.combine} is scored"
            if report.mode == "single"
            else "each match's majority verdict counts"
        )
        lines.append(
            "note: judge_sd is the judge's own run-to-run standard deviation of one run's "
            f"average, from items judged several times ({combined}); lower/upper is the "
            "question-sampling interval."
        )
    return lines


def snapshot_lines(snapshots: Mapping[str, int], mode: str) -> list[str]:
    """Which judge snapshot(s) the numbers come from, plus a warning if several; [] if unknown.

    E.g. `judge snapshot: gpt-5-2025-08-07 (160 judgments)`, or `judge snapshots: a (120),
    b (40)` and a `warning:` line. Counts are judge calls: judgments in single mode, games
    (two per row) in pairwise modes. Calls with no snapshot appear as `not recorded (N)`.
    """
    named = recorded(snapshots)
    if not named:
        return []
    label = "judge snapshot" if len(named) == 1 else "judge snapshots"
    if len(snapshots) == 1:
        ((name, count),) = snapshots.items()
        unit = "judgments" if mode == "single" else "games"
        lines = [f"{label}: {name} ({count} {unit})"]
    else:
        lines = [f"{label}: " + ", ".join(f"{name} ({count})" for name, count in snapshots.items())]
    warning = mixed_snapshots_warning(snapshots)
    if warning:
        lines.append(f"warning: {warning}")
    return lines


def score_sections(report: ScoreReport) -> Sections:
    """The additions to FastChat's output: summary with intervals, categories, accounting.

    The header holds the `snapshot_lines` (printed by `fastchat_text` in the `table` format).
    """
    title = interval_title("Summary", report.bootstrap, intervals="confidence intervals")
    tables = {title: report.summary}
    if report.categories is not None:
        measure = "mean score" if report.mode == "single" else "adjusted win rate"
        tables[f"Per category ({measure}, both turns)"] = report.categories
    footer = [accounting_line(report.accounting, report.mode), *notes(report)]
    header = snapshot_lines(report.judge_snapshots, report.mode)
    return Sections(header, tables, footer, as_json(report))


def wide_table(report: ScoreReport, scale: ScaleEstimates | None = None) -> pd.DataFrame:
    """One row per model: the summary columns, then one column per category (then the
    GPT-4-scale estimate and its interval, if given)."""
    table = report.summary.copy()
    if report.categories is not None:
        table = table.join(report.categories.T)
    if scale is not None:
        estimates = scale.table[["gpt4_scale", "lower", "upper"]]
        table = table.join(
            estimates.add_prefix("gpt4_scale_").rename(
                columns={"gpt4_scale_gpt4_scale": "gpt4_scale"}
            )
        )
    table.index.name = "model"
    return table
