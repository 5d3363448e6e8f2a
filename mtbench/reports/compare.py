"""Render a `Comparison` (`mtbench-show --compare`) as text, CSV, JSON or Markdown.

Text and Markdown show who A and B are, how many items were compared and why others were left
out, the differences with their intervals (overall, per turn, per category), and the items that
moved most. CSV holds the difference table; JSON holds everything, every compared item included.
"""

from __future__ import annotations

from typing import cast

import pandas as pd

from mtbench.analysis.compare import Comparison
from mtbench.analysis.gate import GateVerdict
from mtbench.data.judgments import SCORE_SCALE
from mtbench.reports.gate import with_gate
from mtbench.reports.tables import Sections, bootstrap_json, clean, interval_title, records


def comparison_sections(comparison: Comparison) -> Sections:
    """The comparison as `Sections` (see the module docstring)."""
    groups = comparison.groups
    overall = cast(pd.Series, groups.loc["all"])
    compared = int(overall["items"])
    left = sum(comparison.left_out.values())
    reasons = ", ".join(f"{n} with {why}" for why, n in comparison.left_out.items())
    summary = f"B - A = {overall['diff']:+.4f}"
    if "lower" in groups.columns:
        summary += f" [{overall['lower']:+.4f}, {overall['upper']:+.4f}]"
    header = [
        f"A: {comparison.a}",
        f"B: {comparison.b}",
        f"Items compared: {compared} of {compared + left} "
        f"({int(overall['questions'])} questions); left out {left}"
        + (f" ({reasons})" if left else ""),
        f"{summary} (mean A {overall['mean_a']:.4f}, mean B {overall['mean_b']:.4f} "
        "on the compared items)",
    ]
    if comparison.out_of_scale:
        low, high = SCORE_SCALE
        counts = ", ".join(f"{run} {n}" for run, n in comparison.out_of_scale.items())
        header.append(
            f"warning: compared items with a score outside the judge prompt's {low}-{high} "
            f"scale, kept as FastChat keeps them: {counts}."
        )
    title = interval_title(
        "Mean score difference (B - A)", comparison.bootstrap, method="paired bootstrap"
    )
    tables = {title: groups}
    if len(comparison.movers):
        tables[f"Items that moved most (top {len(comparison.movers)} by |B - A|)"] = (
            comparison.movers.set_index("question_id")
        )
    data = {
        "a": {"file": str(comparison.a.file), "model": comparison.a.model},
        "b": {"file": str(comparison.b.file), "model": comparison.b.model},
        "bootstrap": bootstrap_json(comparison.bootstrap),
        "compared": compared,
        "left_out": comparison.left_out,
        "out_of_scale": comparison.out_of_scale,
        "diff": clean(overall["diff"]),
        "groups": records(groups),
        "movers": records(comparison.movers.set_index("question_id")),
        "items": records(comparison.items.set_index("question_id")),
    }
    return Sections(header, tables, (), data)


def render_comparison(comparison: Comparison, fmt: str, gate: GateVerdict | None = None) -> str:
    """The comparison in one of `reports.tables.FORMATS`; CSV is the difference table only.

    A `gate` verdict (`--fail-if-worse`, `--max-missing`) is added under it (`reports.gate`).
    """
    if fmt == "csv":
        return comparison.groups.to_csv()
    return with_gate(comparison_sections(comparison), gate).render(fmt)
