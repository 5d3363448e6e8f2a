"""Titled tables in the output formats every command offers (`table`, `csv`, `json`, `markdown`).

A report is a few header lines, a list of named tables, and footer lines. `table` prints them as
text (pandas' printing, numbers to 4 decimals); `markdown` as GitHub tables; `csv` as one CSV,
with a leading `table` column naming each row's section when there are several; `json` as an
object holding the caller's data (built by the caller, since JSON can carry more than tables).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (index first, numbers to 4 decimals)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return fmt_number(value)
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = [str(frame.index.name or ""), *map(str, frame.columns)]
    out = io.StringIO()
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join(["---"] * len(header)) + "|\n")
    for index, *values in frame.itertuples(name=None):
        out.write("| " + " | ".join([cell(index), *(cell(v) for v in values)]) + " |\n")
    return out.getvalue()


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
            shared = names.pop() if len(names) == 1 else "group"
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
            return "".join(parts)
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
