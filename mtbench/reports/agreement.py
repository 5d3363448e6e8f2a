"""Render `mtbench-agreement` results as text, CSV, JSON or Markdown.

The `table` format of judge agreement starts with exactly the four lines FastChat's
`compute_agreement.py` prints, then adds all turns together and what was read.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from mtbench.analysis.agreement import JudgeAgreement
from mtbench.analysis.consistency import PositionReport, SinglePairReport
from mtbench.data.judgments import out_of_scale_warning
from mtbench.reports.tables import Sections, clean, records


def _counts_frame(result: JudgeAgreement) -> pd.DataFrame:
    rows = [
        {
            "turn": "all" if c.turn is None else str(c.turn),
            "ties": "with tie" if c.with_ties else "without tie",
            "total": c.total,
            "agree": c.agree,
            "ratio": c.ratio,
        }
        for c in result.counts
    ]
    return pd.DataFrame(rows).set_index("turn")


def agreement_sections(result: JudgeAgreement) -> Sections:
    """Judge-vs-judge agreement: FastChat's four lines first."""
    fastchat = [c.fastchat_line() for c in result.counts if c.turn in (1, 2)]
    extra = [c.fastchat_line() for c in result.counts if c.turn not in (1, 2)]
    votes = ", ".join(f"{name} {count}" for name, count in sorted(result.votes.items()))
    matches = ", ".join(f"turn {t}: {n}" for t, n in sorted(result.matches.items()))
    same = result.judge_1 == result.judge_2
    compared = (
        f"Judges: {result.judge_1} with itself (every pair of its votes on a match)"
        if same
        else f"Judges: {result.judge_1} vs {result.judge_2}"
    )
    info = [compared, f"Votes read: {votes}", f"Matches compared: {matches}"]
    for path, count in result.sources.items():
        info.append(f"File {path}: " + ", ".join(f"{k} {v}" for k, v in count.items()))
    data: dict[str, Any] = {
        "judges": [result.judge_1, result.judge_2],
        "results": [
            {
                "turn": c.turn,
                "with_ties": c.with_ties,
                "total": c.total,
                "agree": c.agree,
                "ratio": clean(c.ratio),
            }
            for c in result.counts
        ],
        "votes": result.votes,
        "matches": {str(t): n for t, n in result.matches.items()},
        "files": result.sources,
    }
    # FastChat's lines hold every number of the table, so the text format is just lines.
    text = "\n".join([*fastchat, *extra, "", *info]) + "\n"
    return Sections(info, {"Agreement": _counts_frame(result)}, (), data, text)


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def position_sections(report: PositionReport) -> Sections:
    """Position consistency: a summary line and the tables by turn, category and model pair."""
    overall = cast(pd.Series, report.tables["All"].loc["all"])
    judged = int(overall["rows"] - overall["error"])
    header = [
        f"Position consistency of the judge in {report.input_file}",
        f"{int(overall['inconsistent'])} of {judged} matches judged in both orders disagree "
        f"({_percent(overall['inconsistent'], judged)}): the first position (Assistant A) "
        f"favoured in {int(overall['first'])}, the second in {int(overall['second'])}; "
        f"{int(overall['error'])} with an unparsable verdict left out, "
        f"{report.repeated} repeated rows counted once.",
        f"Single games: A won {int(overall['games_a'])}, B won {int(overall['games_b'])}, "
        f"tie {int(overall['games_tie'])} of {int(overall['games'])}.",
    ]
    footer = [
        "first/second: the two orders disagree and the answer shown first/second did better in "
        "both; inconsistent_pct = (first + second) / (rows - error) * 100.",
    ]
    data = {
        "input_file": str(report.input_file),
        "repeated": report.repeated,
        **{title.lower().replace(" ", "_"): records(t) for title, t in report.tables.items()},
    }
    return Sections(header, report.tables, footer, data)


def single_pair_sections(result: SinglePairReport) -> Sections:
    """Single-vs-pairwise consistency: agreement per turn and the verdict confusion table."""
    overall = cast(pd.Series, result.table.loc["all"])
    games = "each order on its own" if result.per_game else "both orders combined as mtbench-show"
    header = [
        f"Single-vs-pairwise consistency: {result.pair_file} (pairwise, {games}) against "
        f"{result.single_file} (higher score wins, within {result.tie_margin:g} a tie)",
        f"Agree on {int(overall['agree'])} of {int(overall['total'])} verdicts "
        f"({_percent(overall['agree'], overall['total'])}); without ties "
        f"{int(overall['agree_no_tie'])} of {int(overall['total_no_tie'])} "
        f"({_percent(overall['agree_no_tie'], overall['total_no_tie'])}).",
    ]
    left = ", ".join(f"{n} {why}" for why, n in result.left_out.items()) or "none"
    footer = [f"Left out: {left}."]
    warning = out_of_scale_warning(result.out_of_scale)
    if warning:
        footer.append(f"warning: {warning}.")
    tables = {
        "Agreement": result.table,
        "Verdicts: pairwise (rows) by single scores (columns)": result.confusion,
    }
    data = {
        "single_file": str(result.single_file),
        "pair_file": str(result.pair_file),
        "tie_margin": result.tie_margin,
        "per_game": result.per_game,
        "agreement": records(result.table),
        "confusion": {
            str(p): {str(s): int(n) for s, n in row.items()}
            for p, row in result.confusion.to_dict(orient="index").items()
        },
        "left_out": result.left_out,
        "out_of_scale": result.out_of_scale,
    }
    return Sections(header, tables, footer, data)
