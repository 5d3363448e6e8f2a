"""Render reference-answer sets (`mtbench-refs list`) and their differences (`mtbench-refs diff`).

The `table` format of a diff is a text block per changed turn (question, category, turn, where
the texts part, an excerpt of both); the other formats hold the same rows as a table.
"""

from __future__ import annotations

from mtbench.analysis.references import ReferenceDiff, list_references
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import QuestionId
from mtbench.reports.tables import Sections, records


def diff_sections(diff: ReferenceDiff) -> Sections:
    """The diff for output: text blocks per changed turn; a table in the other formats."""

    def listing(ids: list[QuestionId]) -> str:
        return ", ".join(map(str, ids)) or "none"

    both = diff.questions_a - len(diff.only_a)
    header = [
        f"A: {diff.a} ({diff.questions_a} questions)",
        f"B: {diff.b} ({diff.questions_b} questions)",
        f"{len(diff.changes)} turn(s) differ and {diff.identical} are identical in the {both} "
        f"question(s) both sets have; only in A: {listing(diff.only_a)}; only in B: "
        f"{listing(diff.only_b)}.",
    ]
    text = list(header)
    for row in diff.changes.itertuples(index=False):
        where = f", from character {row.at}" if row.status == "differs" else f" ({row.status})"
        text += [
            "",
            f"Question {row.question_id} ({row.category}), turn {row.turn}{where}",
            f"  A: {row.excerpt_a}",
            f"  B: {row.excerpt_b}",
        ]
    table = diff.changes.set_index("question_id")
    data = {
        "a": str(diff.a),
        "b": str(diff.b),
        "questions_a": diff.questions_a,
        "questions_b": diff.questions_b,
        "identical_turns": diff.identical,
        "only_a": diff.only_a,
        "only_b": diff.only_b,
        "changes": records(table),
    }
    return Sections(header, {"Turns that differ": table}, (), data, "\n".join(text) + "\n")


def list_sections(paths: BenchPaths) -> Sections:
    """The reference sets of a bench for output."""
    table = list_references(paths)
    header = [f"Reference sets in {paths.reference_dir}:"]
    data = {"reference_dir": str(paths.reference_dir), "sets": records(table)}
    if table.empty:
        text = f"No reference sets in {paths.reference_dir}; run `mtbench-download`.\n"
        return Sections(header, {"Reference sets": table}, (), data, text)
    return Sections(header, {"Reference sets": table}, (), data)
