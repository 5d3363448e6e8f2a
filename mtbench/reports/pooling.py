"""Render a `PooledReport` (`mtbench-show` with several judges) as text, CSV, JSON or Markdown.

Text and Markdown name the judges and their files with each file's row accounting, say how many
items were pooled and how many were left out, then show the pooled scores with their intervals
next to each judge's average, the items per model, the agreement of each pair of judges and the
items the judges disagree on most. CSV is the pooled-score table (one row per model, as
`mtbench-show`'s CSV); JSON holds everything, every pooled item included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mtbench.analysis.gate import GateVerdict
from mtbench.analysis.pooling import PooledReport
from mtbench.analysis.selection import Accounting
from mtbench.data.judgments import out_of_scale_warning
from mtbench.reports.gate import with_gate
from mtbench.reports.scores import accounting_line
from mtbench.reports.tables import Sections, bootstrap_json, clean, interval_title


def score_table(report: PooledReport) -> pd.DataFrame:
    """One row per model: pooled score (and interval), each judge's average, item counts."""
    scores = report.scores
    head = scores.drop(columns=["items", "questions"])
    table = pd.concat([head, report.judge_scores, scores[["items", "questions"]]], axis=1)
    table.index.name = "model"
    return table


def pooled_sections(report: PooledReport) -> Sections:
    """The pooled report as `Sections` (see the module docstring)."""
    coverage = report.coverage
    total, pooled = int(coverage["items"].sum()), int(coverage["pooled_items"].sum())
    header = [f"Mode: single, pooled over {len(report.judges)} judges"]
    for judge in report.judges:
        header.append(f"Judge {judge.label}: {judge.file}")
        header.append("  " + accounting_line(report.accountings[judge.label], "single"))
    header.append(
        f"Items (model, question, turn) pooled: {pooled} of {total}; left out {total - pooled}, "
        "not scored by every judge"
    )
    title = interval_title(
        "Pooled score (per item the judges' mean, then the mean over items; judge columns: "
        "each judge's average on the same items)",
        report.bootstrap,
        intervals="confidence intervals",
        method="paired bootstrap",
    )
    tables = {
        title: score_table(report),
        "Items per model (pooled_items: scored by every judge; judge columns: items that "
        "judge did not score)": coverage,
        "Judge agreement on the pooled items (differences and offset: B - A)": report.agreement,
    }
    if len(report.disagreements):
        tables[
            f"Items the judges disagree on most (top {len(report.disagreements)} by spread "
            "= max - min)"
        ] = report.disagreements.set_index("model")
    footer = list(report.notes)
    for label, accounting in report.accountings.items():
        warning = out_of_scale_warning(accounting.out_of_scale)
        if warning:
            footer.append(f"warning: {label}: {warning}.")
    return Sections(header, tables, footer, as_json(report))


def render_pooled(report: PooledReport, fmt: str = "table", gate: GateVerdict | None = None) -> str:
    """The report in one of `reports.tables.FORMATS`; CSV is the pooled-score table only.

    A `gate` verdict (`mtbench-show --fail-under`) is added under it (`reports.gate`).

    Raises:
        ValueError: for an unknown format.
    """
    if fmt == "csv":
        return score_table(report).to_csv()
    return with_gate(pooled_sections(report), gate).render(fmt)


def _accounting_json(accounting: Accounting) -> dict[str, Any]:
    return {
        "rows": accounting.rows,
        "used": accounting.used,
        "unparsed": accounting.unparsed,
        "duplicates": accounting.duplicates,
        "filtered": accounting.filtered,
        "out_of_scale": dict(accounting.out_of_scale),
        "stale": accounting.stale,
        "unchecked": accounting.unchecked,
        "samples": accounting.samples,
    }


def _scores(row: Mapping[Any, Any], labels: list[str]) -> dict[str, Any]:
    return {label: clean(row[label]) for label in labels}


def as_json(report: PooledReport) -> dict[str, Any]:
    """The report as plain JSON-able data (what `--format json` prints)."""
    labels = report.labels
    models = []
    judge_scores = report.judge_scores.to_dict(orient="index")
    for model, row in report.scores.to_dict(orient="index").items():
        entry = {"model": model, **{k: clean(v) for k, v in row.items()}}
        entry["judges"] = _scores(judge_scores[model], labels)
        models.append(entry)
    coverage = [
        {
            "model": model,
            "items": int(row["items"]),
            "pooled_items": int(row["pooled_items"]),
            "left_out": int(row["left_out"]),
            "not_scored_by": {label: int(row[label]) for label in labels},
        }
        for model, row in report.coverage.to_dict(orient="index").items()
    ]
    agreement = [
        {"pair": pair, **{k: clean(v) for k, v in row.items()}}
        for pair, row in report.agreement.to_dict(orient="index").items()
    ]

    def items(frame: pd.DataFrame, value: str) -> list[dict[str, Any]]:
        return [
            {
                "model": row["model"],
                "question_id": clean(row["question_id"]),
                "turn": clean(row["turn"]),
                "category": row["category"],
                value: clean(row[value]),
                "scores": _scores(row, labels),
            }
            for row in frame.to_dict(orient="records")
        ]

    return {
        "mode": "single",
        "judges": [
            {
                "label": judge.label,
                "file": str(judge.file),
                "accounting": _accounting_json(report.accountings[judge.label]),
            }
            for judge in report.judges
        ],
        "bootstrap": bootstrap_json(report.bootstrap),
        "pooled_items": int(report.coverage["pooled_items"].sum()),
        "left_out_items": int(report.coverage["left_out"].sum()),
        "models": models,
        "coverage": coverage,
        "agreement": agreement,
        "disagreements": items(report.disagreements, "spread"),
        "items": items(report.items, "pooled"),
        "notes": list(report.notes),
    }
