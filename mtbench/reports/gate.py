"""The CI gate's verdict under a report: `gate:` lines in text and Markdown, `gate` in JSON."""

from __future__ import annotations

from dataclasses import replace

from mtbench.analysis.gate import GateVerdict
from mtbench.reports.tables import Sections


def with_gate(sections: Sections, gate: GateVerdict | None) -> Sections:
    """`sections` with the gate's lines last in the footer and its verdict as JSON `gate`."""
    if gate is None:
        return sections
    footer = [*sections.footer, *gate.lines()]
    return replace(sections, footer=footer, data={**sections.data, "gate": gate.as_json()})
