"""Render a `Calibration` (`mtbench-calibrate`) in one screen, and plot it.

Header: the judge and its snapshot, the reference, the verdict and its reasons, the rank
agreement and the fitted line with intervals. Tables: per model (GPT-4 average, judge average,
the judge's average on the GPT-4 scale, the residual), then, with the official per-item
judgments, the offsets per turn and per category. JSON is the calibration file's document
(`calibration.store.calibration_json`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from mtbench.calibration.build import ITEMS, Calibration
from mtbench.calibration.fit import Interval
from mtbench.calibration.published import REFERENCE_SNAPSHOT
from mtbench.calibration.store import calibration_json
from mtbench.reports.plots import pyplot_for, save_figure
from mtbench.reports.tables import Sections


def render_calibration(calibration: Calibration, fmt: str = "table") -> str:
    """The calibration report in one of `reports.tables.FORMATS`."""
    return calibration_sections(calibration).render(fmt)


def interval_text(estimate: Interval, digits: int = 2) -> str:
    """`0.95 [0.89, 0.98]`; `n/a` for a value that could not be computed (a constant judge)."""
    if math.isnan(estimate.value):
        return "n/a"
    return f"{estimate.value:.{digits}f} [{estimate.lower:.{digits}f}, {estimate.upper:.{digits}f}]"


def snapshot_text(snapshots: dict[str, int]) -> str:
    """The judge snapshots that answered, e.g. `gpt-4o-mini-2024-07-18`, or `not recorded`."""
    named = [name for name in snapshots if name != "not recorded"]
    return ", ".join(named) if named else "not recorded"


def calibration_sections(calibration: Calibration) -> Sections:
    """Header lines, tables and footer of the report."""
    fit = calibration.fit
    items_source = sum(source == ITEMS for source in calibration.reference.values())
    reference = (
        "the official per-item GPT-4 judgments, on the same items"
        if items_source == len(calibration.reference)
        else "the published GPT-4 averages (LMSYS, show_result)"
        if not items_source
        else f"the official per-item judgments ({items_source} models) and the published "
        "averages (the others)"
    )
    confidence = f"{fit.spec.confidence:.0%}"
    header = [
        f"Calibration of judge {calibration.judge} (snapshot: "
        f"{snapshot_text(calibration.judge_snapshots)}) against GPT-4 ({REFERENCE_SNAPSHOT})",
        f"Reference: {reference}; {len(fit.points)} official models, "
        f"{calibration.questions} questions judged",
        f"Verdict: {fit.verdict}." + "".join(f" {reason}" for reason in fit.reasons),
        f"Rank agreement ({confidence} intervals, bootstrap over models): Spearman "
        f"{interval_text(fit.spearman)}, Kendall {interval_text(fit.kendall)}, Pearson "
        f"{interval_text(fit.pearson)}",
        f"Fit ({confidence} intervals): judge = {interval_text(fit.intercept)} + "
        f"{_factor(interval_text(fit.slope), fit.slope.value)} x GPT-4; "
        f"models scatter {fit.residual_sd:.2f} judge points around the line",
    ]
    if fit.mappable:
        header.append(
            f"On the GPT-4 scale: (judge - {fit.intercept.value:.3f}) / {fit.slope.value:.3f}"
        )
    tables = {
        "Per model (GPT-4 scale = the judge's average mapped by the fit)": model_table(calibration)
    }
    if calibration.items is not None:
        items = calibration.items
        header.append(
            f"Per item ({items.items} items judged by both): same score {items.exact:.1%}, "
            f"within one point {items.within_one:.1%}, mean offset (judge - GPT-4) "
            f"{items.offset:+.2f}"
        )
        offsets = {f"turn {turn}": value for turn, value in items.by_turn.items()}
        offsets.update(items.by_category)
        tables["Offsets, judge - GPT-4 (per item)"] = pd.DataFrame(
            {"offset": pd.Series(offsets, dtype=float)}
        ).rename_axis("items")
    footer = [f"note: {note}" for note in calibration.notes]
    return Sections(header, tables, footer, calibration_json(calibration))


def _factor(text: str, value: float) -> str:
    """A negative slope in parentheses: `+ (-0.01 [-0.06, 0.03]) x GPT-4`."""
    return f"({text})" if value < 0 else text


def model_table(calibration: Calibration) -> pd.DataFrame:
    """One row per model, best GPT-4 score first: gpt4, judge, gpt4_scale, residual (those two
    only for a mappable fit), judgments."""
    fit = calibration.fit
    residuals = fit.residuals() if fit.mappable else {}
    rows = {
        p.model: {
            "gpt4": p.reference,
            "judge": p.judge,
            "gpt4_scale": fit.to_reference(p.judge) if fit.mappable else float("nan"),
            "residual": residuals.get(p.model, float("nan")),
            "judgments": p.judgments,
        }
        for p in fit.points
    }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    if not fit.mappable:  # nothing is mapped through a judge that is not calibratable
        table = table.drop(columns=["gpt4_scale", "residual"])
    return table.sort_values("gpt4", ascending=False, kind="stable")


def calibration_plot(calibration: Calibration, path: str | Path) -> Path:
    """Save a scatter of judge against GPT-4 averages with the fitted line (PNG).

    Raises:
        MissingDependencyError: without matplotlib (the `plot` extra).
        ConfigError: for a file name whose ending names no image format matplotlib writes.
        WriteError: when the file cannot be written.
    """
    plt, path = pyplot_for(path)
    fit = calibration.fit
    figure, axes = plt.subplots(figsize=(7, 6))
    x = [p.reference for p in fit.points]
    y = [p.judge for p in fit.points]
    axes.scatter(x, y, s=18)
    for point in fit.points:
        axes.annotate(point.model, (point.reference, point.judge), fontsize=6, alpha=0.7)
    line = [min(x), max(x)]
    axes.plot(
        line,
        [fit.intercept.value + fit.slope.value * v for v in line],
        linewidth=1,
        label="fit: judge = a + b x GPT-4",
    )
    axes.plot(line, line, linestyle=":", linewidth=1, color="grey", label="judge = GPT-4")
    axes.legend(loc="upper left", fontsize="small")
    axes.margins(x=0.12)
    axes.set_xlabel(f"GPT-4 ({REFERENCE_SNAPSHOT}) average")
    axes.set_ylabel(f"{calibration.judge} average")
    axes.set_title(
        f"{calibration.judge} vs GPT-4: Spearman {fit.spearman.value:.2f}, {fit.verdict}"
    )
    return save_figure(figure, path)
