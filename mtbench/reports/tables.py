"""Titled tables in the output formats every command offers (`table`, `csv`, `json`, `markdown`).

A report is a few header lines, a list of named tables, and footer lines. `table` prints them as
text (pandas' printing, numbers to 4 decimals); `markdown` as GitHub tables (numeric columns
right-aligned); `csv` as one CSV, with a leading `table` column naming each row's section when
there are several; `json` as an object holding the caller's data (built by the caller, since JSON
can carry more than tables). Every command renders its tables here, so their formats agree.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from mtbench.analysis.bootstrap import BootstrapSpec

FORMATS = ("table", "csv", "json", "markdown")


def fmt_number(value: float) -> str:
    """Four decimals, `nan` for a missing value."""
    return "nan" if math.isnan(value) else f"{value:.4f}"


def clean(value: Any) -> Any:
    """A JSON-able value: numpy scalars unwrapped, NaN as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame (index included, under its name) as JSON-able dicts."""
    flat = frame.reset_index(names=frame.index.name or "index")
    return [{str(k): clean(v) for k, v in row.items()} for row in flat.to_dict(orient="records")]


def markdown(frame: pd.DataFrame, index_label: str | None = None) -> str:
    """A GitHub-flavoured Markdown table: the index first, then the columns.

    Numbers are written to 4 decimals and numeric columns are right-aligned (`---:`); in a cell
    `|` is escaped and a line break becomes a space, so that each row stays one table row.

    Args:
        frame: The table.
        index_label: The index column's heading (default: the index's name, else empty).
    """

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return fmt_number(value)
        return str(value).replace("|", "\\|").replace("\n", " ")

    label = index_label if index_label is not None else frame.index.name or ""
    header = [str(label), *map(str, frame.columns)]
    align = ["---"]
    for _, column in frame.items():
        align.append("---:" if pd.api.types.is_numeric_dtype(column) else "---")
    out = io.StringIO()
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join(align) + "|\n")
    for index, *values in frame.itertuples(name=None):
        out.write("| " + " | ".join([cell(index), *(cell(v) for v in values)]) + " |\n")
    return out.getvalue()


def bootstrap_json(spec: BootstrapSpec | None) -> dict[str, Any] | None:
    """The resampling behind a report's intervals, as its JSON output states it (None: off)."""
    if spec is None:
        return None
    return {"resamples": spec.resamples, "seed": spec.seed, "confidence": spec.confidence}


def interval_title(
    title: str, spec: BootstrapSpec | None, intervals: str = "intervals", method: str = "bootstrap"
) -> str:
    """A table title that states its intervals, e.g. `Summary with 95% confidence intervals
    (bootstrap over questions, 1000 resamples, seed 0)`; just `title` without intervals."""
    if spec is None:
        return title
    return (
        f"{title} with {spec.confidence:.0%} {intervals} "
        f"({method} over questions, {spec.resamples} resamples, seed {spec.seed})"
    )


@dataclass
class Sections:
    """A report as text lines and titled tables.

    Attributes:
        header: Lines printed first (text formats only).
        tables: Titled tables, in order.
        footer: Lines printed last (text formats only).
        data: What the `json` format prints.
        text: If given, what the `table` format prints instead (a fixed, tool-compatible text).
    """

    header: Sequence[str] = ()
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    footer: Sequence[str] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None

    def render(self, fmt: str) -> str:
        """The report in one of `FORMATS`."""
        if fmt == "json":
            return json.dumps(self.data, indent=2) + "\n"
        if fmt == "csv" and len(self.tables) == 1:
            return next(iter(self.tables.values())).to_csv()
        if fmt == "csv":
            names = {table.index.name for table in self.tables.values()}
            # Tables grouped by different things share one `group` column.
            shared = cast("str | None", names.pop()) if len(names) == 1 else "group"
            frames = [
                table.rename_axis(shared).reset_index().assign(table=title).set_index("table")
                for title, table in self.tables.items()
            ]
            return pd.concat(frames).to_csv() if frames else ""
        if fmt == "markdown":
            parts = [line + "\n" for line in self.header]
            for title, table in self.tables.items():
                parts += [f"\n### {title}\n\n", markdown(table)]
            parts += ["\n" + line + "\n" for line in self.footer]
            return "".join(parts).lstrip("\n")  # no blank first line when there is no header
        if fmt == "table" and self.text is not None:
            return self.text
        if fmt == "table":
            parts = list(self.header)
            for title, table in self.tables.items():
                parts.append(f"\n########## {title} ##########")
                parts.append(table.to_string(float_format=fmt_number))
            if self.footer:
                parts += ["", *self.footer]
            return "\n".join(parts) + "\n"
        raise ValueError(f"unknown format {fmt!r}")
