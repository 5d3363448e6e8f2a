"""GPT-4-scale estimates under a score report (`mtbench-show --scale gpt-4`).

A table of its own, titled as an estimate, after the report's tables; footer lines naming the
calibration it came from (judge, snapshot, models, rank agreement, file) and its warnings; JSON
`gpt4_scale`. The judge's own scores above it are unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mtbench.calibration.published import REFERENCE_SNAPSHOT
from mtbench.reports.calibration import interval_text, snapshot_text
from mtbench.reports.tables import Sections, records

if TYPE_CHECKING:
    from mtbench.calibration.scale import ScaleEstimates


def with_scale(sections: Sections, scale: ScaleEstimates | None) -> Sections:
    """`sections` with the estimates' table, lines and JSON added (unchanged without them)."""
    if scale is None:
        return sections
    fit = scale.calibration.fit
    title = (
        f"Estimated GPT-4-scale scores (an estimate of what {REFERENCE_SNAPSHOT} would give, "
        f"not a GPT-4 judgment) with {fit.spec.confidence:.0%} intervals"
    )
    tables = {**sections.tables, title: scale.table}
    footer = [
        *sections.footer,
        f"note: gpt4_scale maps each score through {calibration_line(scale)}; its interval "
        "holds the calibration's uncertainty, the models' scatter around its line and the "
        "score's own question sampling.",
        *(f"warning: {w.rstrip('.')}." for w in scale.warnings),
    ]
    return replace(
        sections, tables=tables, footer=footer, data={**sections.data, **scale_json(scale)}
    )


def calibration_line(scale: ScaleEstimates) -> str:
    """`the calibration of judge X (snapshot S) on N official models, Spearman ..., made D (F)`."""
    calibration = scale.calibration
    fit = calibration.fit
    return (
        f"the calibration of judge {calibration.judge} (snapshot: "
        f"{snapshot_text(calibration.judge_snapshots)}) on {len(fit.points)} official models "
        f"and {calibration.questions} questions, Spearman {interval_text(fit.spearman)}, "
        f"{fit.verdict}, made {calibration.created} ({scale.file})"
    )


def scale_json(scale: ScaleEstimates) -> dict[str, Any]:
    """`{"gpt4_scale": {...}}`: the estimates, what they estimate, the calibration behind them."""
    calibration = scale.calibration
    fit = calibration.fit
    models = [
        {"model": row["model"], "score": row["score"], "estimate": row["gpt4_scale"],
         "lower": row["lower"], "upper": row["upper"]}
        for row in records(scale.table)
    ]  # fmt: skip
    return {
        "gpt4_scale": {
            "estimate_of": REFERENCE_SNAPSHOT,
            "calibration": {
                "file": str(scale.file),
                "judge": calibration.judge,
                "judge_snapshots": dict(calibration.judge_snapshots),
                "verdict": fit.verdict,
                "reasons": list(fit.reasons),
                "models": len(fit.points),
                "questions": calibration.questions,
                "spearman": fit.spearman.as_dict(),
                "slope": fit.slope.as_dict(),
                "intercept": fit.intercept.as_dict(),
                "created": calibration.created,
            },
            "models": models,
            "warnings": list(scale.warnings),
        }
    }
