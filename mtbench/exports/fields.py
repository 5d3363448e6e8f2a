"""The results document (`reports.results`) as an experiment tracker's run: metrics, parameters,
a summary table.

MLflow and Weights & Biases get the same fields from here, one run per model of the document:

* metrics: the model's entry of `models` (single: `score`, `lower`, `upper`, `turn_1`,
  `turn_2`, `judgments`, `questions`, and `judge_sd`... where items were judged several times;
  pairwise: `win_rate_adjusted`, `lower`, `upper`, `win`, `loss`, `tie`, `judgments`,
  `questions`), plus `category/{category}` per category; null values (an interval left out)
  are left out;
* parameters: what the numbers rest on (`run_params`): the judge, its snapshot and prompts,
  the mode, the bootstrap, mtbench's and the schema's versions, and the sha256 of the data
  files;
* the summary table: one row per model, the summary columns then one column per category.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mtbench.errors import ConfigError, ExportError, first_line

NOT_RECORDED = "not recorded"
"""As `analysis.snapshots.NOT_RECORDED`: the judge calls whose row names no snapshot."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /:]")
"""What MLflow refuses in a metric or parameter name (it allows letters, digits, `_-. /:`)."""


def broken_install(kind: str, package: str, exc: ImportError) -> ExportError:
    """The one-line error for a target's package that is installed but fails to import (a
    broken or half-upgraded install): what failed, and the extra to reinstall."""
    return ExportError(
        f"--export {kind}: importing {package} failed ({first_line(exc, with_type=True)}); "
        f"reinstall it: pip install --force-reinstall 'mtbench-toolkit[{kind}]'"
    )


def key(name: str) -> str:
    """A metric or parameter name that every tracker accepts (other characters become `_`)."""
    return _UNSAFE.sub("_", name)


def model_entry(document: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The document's `models` entry of `model`.

    Raises:
        ConfigError: when the document has no such model.
    """
    for entry in document["models"]:
        if entry["model"] == model:
            return dict(entry)
    known = ", ".join(str(entry["model"]) for entry in document["models"])
    raise ConfigError(f"no model {model!r} in these results (they hold: {known})")


def model_metrics(document: Mapping[str, Any], model: str) -> dict[str, float]:
    """One model's numbers as flat metrics: its `models` entry, categories as `category/{name}`.

    Null values (no interval for too few questions, a category without judgments) are left out.

    Raises:
        ConfigError: when the document has no such model.
    """
    entry = model_entry(document, model)
    metrics: dict[str, float] = {}
    for name, value in entry.items():
        if name in ("model", "categories") or value is None:
            continue
        metrics[key(name)] = float(value)
    for category, value in (entry.get("categories") or {}).items():
        if value is not None:
            metrics[key(f"category/{category}")] = float(value)
    return metrics


def snapshot_text(snapshots: Mapping[str, int]) -> str:
    """The judge snapshot in one value: its name if one, `a (120), b (40)` if several (counts
    of judge calls), `not recorded` if the rows name none."""
    if not snapshots:
        return NOT_RECORDED
    if len(snapshots) == 1:
        return next(iter(snapshots))
    return ", ".join(f"{name} ({count})" for name, count in snapshots.items())


def run_params(document: Mapping[str, Any], model: str) -> dict[str, str]:
    """What one model's numbers rest on, as flat string parameters.

    Keys: `model`, `mode`, `baseline` (pairwise-baseline only), `judge`, `judge_snapshot`
    (`snapshot_text`), `judge_prompts` (comma-separated), `bench`, `input_file`, `bootstrap`
    (`1000 resamples, seed 0, 95%` or `off`), `mtbench_version`, `schema_version`, and
    `sha256/question_file`, `sha256/judge_prompts`, `sha256/reference_answers/{name}` for each
    reference file, `sha256/answers/{model}` for this model and the baseline (`missing` for a
    file that is not there).
    """
    judge = document["judge"]
    data = document.get("data") or {}
    bootstrap = document.get("bootstrap")
    params = {
        "model": model,
        "mode": document["mode"],
        **({"baseline": document["baseline"]} if document.get("baseline") else {}),
        "judge": str(judge.get("name")),
        "judge_snapshot": snapshot_text(judge.get("snapshots") or {}),
        "judge_prompts": ", ".join(judge.get("prompts") or []),
        "bench": str(data.get("bench")),
        "input_file": document["input_file"],
        "bootstrap": (
            f"{bootstrap['resamples']} resamples, seed {bootstrap['seed']}, "
            f"{bootstrap['confidence']:.0%}"
            if bootstrap
            else "off"
        ),
        "mtbench_version": document["mtbench_version"],
        "schema_version": str(document["schema_version"]),
    }
    if data:
        params["sha256/question_file"] = _sha(data["question_file"])
        params["sha256/judge_prompts"] = _sha(data["judge_prompts"])
        for name, digest in data["reference_answers"].items():
            params[key(f"sha256/reference_answers/{name}")] = _sha(digest)
        for name in (model, document.get("baseline")):
            if name in data["answers"]:
                params[key(f"sha256/answers/{name}")] = _sha(data["answers"][name])
    return params


def _sha(digest: Mapping[str, Any]) -> str:
    return str(digest["sha256"]) if digest["sha256"] else "missing"


def summary_frame(document: Mapping[str, Any]) -> pd.DataFrame:
    """The document's models as one table: `model`, the summary columns, then one column per
    category (in the order of the first model that has them). Text columns are `object`, as
    trackers' table writers expect."""
    rows = []
    for entry in document["models"]:
        row = {name: value for name, value in entry.items() if name != "categories"}
        row.update(entry.get("categories") or {})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.astype({"model": object})
