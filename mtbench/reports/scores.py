"""Render a `ScoreReport` (`mtbench-show`) as FastChat-style text, CSV, JSON or Markdown.

The `table` format prints FastChat's `show_result` output first, unchanged (pandas' own printing
of the same tables), then the additions: intervals, the category table and the row accounting.
Markdown and JSON carry the additions only; CSV is one row per model with the categories as
columns. Everything but the FastChat part and the CSV is rendered by `reports.tables`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mtbench.analysis.scores import Accounting, ScoreReport
from mtbench.reports.tables import Sections, bootstrap_json, clean, interval_title


def render_report(report: ScoreReport, fmt: str = "table") -> str:
    """The report in one of `reports.tables.FORMATS`.

    Raises:
        ValueError: for an unknown format.
    """
    if fmt == "csv":
        return wide_table(report).to_csv(index_label="model")
    sections = score_sections(report)
    if fmt == "table":
        return fastchat_text(report) + sections.render(fmt)
    return sections.render(fmt)


def fastchat_text(report: ScoreReport) -> str:
    """Exactly what FastChat's `show_result.py` prints for the same file and flags."""
    lines = [f"Mode: {report.mode}", f"Input file: {report.input_file}"]
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
    return text + "."


def score_sections(report: ScoreReport) -> Sections:
    """The additions to FastChat's output: summary with intervals, categories, accounting."""
    title = interval_title("Summary", report.bootstrap, intervals="confidence intervals")
    tables = {title: report.summary}
    if report.categories is not None:
        measure = "mean score" if report.mode == "single" else "adjusted win rate"
        tables[f"Per category ({measure}, both turns)"] = report.categories
    footer = [accounting_line(report.accounting, report.mode)]
    return Sections((), tables, footer, as_json(report))


def wide_table(report: ScoreReport) -> pd.DataFrame:
    """One row per model: the summary columns, then one column per category."""
    table = report.summary.copy()
    if report.categories is not None:
        table = table.join(report.categories.T)
    table.index.name = "model"
    return table


def as_json(report: ScoreReport) -> dict[str, Any]:
    """The report as plain JSON-able data (what `--format json` prints and the HTML page embeds)."""
    models = []
    for model, row in report.summary.to_dict(orient="index").items():
        entry = {"model": model, **{k: clean(v) for k, v in row.items()}}
        if report.categories is not None and model in report.categories.columns:
            entry["categories"] = {str(c): clean(v) for c, v in report.categories[model].items()}
        models.append(entry)
    return {
        "mode": report.mode,
        "input_file": str(report.input_file),
        "baseline": report.baseline,
        "bootstrap": bootstrap_json(report.bootstrap),
        "accounting": {
            "rows": report.accounting.rows,
            "used": report.accounting.used,
            "unparsed": report.accounting.unparsed,
            "duplicates": report.accounting.duplicates,
            "filtered": report.accounting.filtered,
            "inconsistent": report.accounting.inconsistent,
        },
        "models": models,
    }
