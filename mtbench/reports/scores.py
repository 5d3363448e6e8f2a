"""Render a `ScoreReport` as FastChat-style text, CSV, JSON or Markdown.

The `table` format prints FastChat's `show_result` output first, unchanged (pandas' own printing
of the same tables), then the additions: intervals, the category table and the row accounting.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from mtbench.analysis.scores import Accounting, ScoreReport

FORMATS = ("table", "csv", "json", "markdown")


def render(report: ScoreReport, fmt: str = "table") -> str:
    """Return the report in the given format (one of `FORMATS`)."""
    if fmt == "table":
        return render_table(report)
    if fmt == "csv":
        return wide_table(report).to_csv(index_label="model")
    if fmt == "json":
        return json.dumps(as_json(report), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    raise ValueError(f"unknown format {fmt!r}")


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


def _interval_title(report: ScoreReport) -> str:
    spec = report.bootstrap
    if spec is None:
        return "Summary"
    return (
        f"Summary with {spec.confidence:.0%} confidence intervals "
        f"(bootstrap over questions, {spec.resamples} resamples, seed {spec.seed})"
    )


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def render_table(report: ScoreReport) -> str:
    """FastChat's output, then the summary with intervals, categories and accounting."""
    parts = [fastchat_text(report)]
    parts.append(f"########## {_interval_title(report)} ##########")
    parts.append(report.summary.to_string(float_format=_fmt))
    if report.categories is not None:
        measure = "mean score" if report.mode == "single" else "adjusted win rate"
        parts.append(f"\n########## Per category ({measure}, both turns) ##########")
        parts.append(report.categories.to_string(float_format=_fmt))
    parts.append("\n" + accounting_line(report.accounting, report.mode))
    return "\n".join(parts) + "\n"


def wide_table(report: ScoreReport) -> pd.DataFrame:
    """One row per model: the summary columns, then one column per category."""
    table = report.summary.copy()
    if report.categories is not None:
        table = table.join(report.categories.T)
    table.index.name = "model"
    return table


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def as_json(report: ScoreReport) -> dict[str, Any]:
    """The report as plain JSON-able data."""
    models = []
    for model, row in report.summary.to_dict(orient="index").items():
        entry = {"model": model, **{k: _clean(v) for k, v in row.items()}}
        if report.categories is not None and model in report.categories.columns:
            entry["categories"] = {str(c): _clean(v) for c, v in report.categories[model].items()}
        models.append(entry)
    spec = report.bootstrap
    return {
        "mode": report.mode,
        "input_file": str(report.input_file),
        "baseline": report.baseline,
        "bootstrap": None
        if spec is None
        else {"resamples": spec.resamples, "seed": spec.seed, "confidence": spec.confidence},
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


def markdown_table(frame: pd.DataFrame, index_label: str) -> str:
    """A GitHub-flavoured Markdown table of a frame (numbers to 4 decimals)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return _fmt(value)
        return str(value).replace("|", "\\|")

    header = [index_label, *map(str, frame.columns)]
    out = io.StringIO()
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join(["---"] + ["---:"] * len(frame.columns)) + "|\n")
    for index, *values in frame.itertuples(name=None):
        out.write("| " + " | ".join([cell(index), *(cell(v) for v in values)]) + " |\n")
    return out.getvalue()


def render_markdown(report: ScoreReport) -> str:
    """Summary and category tables as Markdown, with the accounting line."""
    parts = [f"### {_interval_title(report)}\n", markdown_table(report.summary, "model")]
    if report.categories is not None:
        parts += ["\n### Per category\n", markdown_table(report.categories, "category")]
    parts.append("\n" + accounting_line(report.accounting, report.mode) + "\n")
    return "\n".join(parts)
