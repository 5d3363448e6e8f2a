"""The JSON results document of `mtbench-show`: what `--format json` prints, CI logs keep, the
HTML report embeds and every export (`mtbench.exports`) is built from.

Its fields, their units and what a change of `SCHEMA_VERSION` means are documented in
`docs/results-schema.md`; `tests/test_results_document.py` checks that every field printed is
documented there and every documented field is printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtbench._version import __version__
from mtbench.analysis.gate import GateVerdict
from mtbench.analysis.provenance import FileDigest, Provenance
from mtbench.analysis.scores import ScoreReport
from mtbench.analysis.snapshots import recorded
from mtbench.reports.scale import scale_json
from mtbench.reports.tables import bootstrap_json, clean

if TYPE_CHECKING:
    from mtbench.calibration.scale import ScaleEstimates

SCHEMA_VERSION = 1
"""The results document's schema version. Fields may be added without a change; it goes up
when a field is removed or renamed, or changes its meaning or unit (`docs/results-schema.md`)."""


def results_document(
    report: ScoreReport, gate: GateVerdict | None = None, scale: ScaleEstimates | None = None
) -> dict[str, Any]:
    """The report as the JSON results document (plain JSON-able data; NaN becomes null).

    Args:
        report: A report from `analysis.scores.build_report`.
        gate: The CI gate's verdict on it (`mtbench-show --fail-under`...), added as `gate`.
        scale: GPT-4-scale estimates of its scores (`mtbench-show --scale gpt-4`), added as
            `gpt4_scale` (`reports.scale.scale_json`).

    Returns:
        The document, keys in the order `docs/results-schema.md` lists them.
    """
    models = []
    for model, row in report.summary.to_dict(orient="index").items():
        entry = {"model": model, **{k: clean(v) for k, v in row.items()}}
        if report.categories is not None and model in report.categories.columns:
            entry["categories"] = {str(c): clean(v) for c, v in report.categories[model].items()}
        models.append(entry)
    coverage = {
        model: {
            "expected": entry.expected,
            "judged": entry.judged,
            "missing_share": entry.missing_share,
            "missing": [list(item) for item in entry.missing],
        }
        for model, entry in (report.coverage or {}).items()
    }
    provenance = report.provenance
    return {
        "schema_version": SCHEMA_VERSION,
        "mtbench_version": provenance.mtbench_version if provenance else __version__,
        "mode": report.mode,
        "input_file": str(report.input_file),
        "baseline": report.baseline,
        "bootstrap": bootstrap_json(report.bootstrap),
        "judge": {
            "name": provenance.judge if provenance else None,
            "prompts": list(provenance.judge_prompts) if provenance else [],
            "snapshots": dict(report.judge_snapshots),
        },
        **(
            {"judge_snapshots": dict(report.judge_snapshots)}
            if recorded(report.judge_snapshots)
            else {}  # FastChat's files record none: their JSON stays as it was
        ),
        "data": _data(provenance) if provenance else None,
        "accounting": {
            "rows": report.accounting.rows,
            "used": report.accounting.used,
            "unparsed": report.accounting.unparsed,
            "duplicates": report.accounting.duplicates,
            "filtered": report.accounting.filtered,
            "inconsistent": report.accounting.inconsistent,
            "out_of_scale": dict(report.accounting.out_of_scale),
            "stale": report.accounting.stale,
            "stale_pending": report.accounting.stale_pending,
            "unchecked": report.accounting.unchecked,
            "samples": report.accounting.samples,
        },
        "models": models,
        **({"coverage": coverage} if report.coverage is not None else {}),
        **({"gate": gate.as_json()} if gate is not None else {}),
        **(scale_json(scale) if scale is not None else {}),
    }


def _file(digest: FileDigest) -> dict[str, Any]:
    return {"path": str(digest.path), "sha256": digest.sha256}


def _data(provenance: Provenance) -> dict[str, Any]:
    return {
        "bench": provenance.bench,
        "question_file": _file(provenance.question_file),
        "judge_prompts": _file(provenance.judge_prompt_file),
        "reference_answers": {
            name: _file(digest) for name, digest in provenance.reference_answers.items()
        },
        "answers": {model: _file(digest) for model, digest in provenance.answers.items()},
    }
