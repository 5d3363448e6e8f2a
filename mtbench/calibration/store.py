"""Calibrations on disk: `{data}/{bench}/calibration/{judge}.json`, one per judge.

The file holds what the calibration rests on (each model's GPT-4 and judge averages, the
bootstrap settings) and what it concluded (fit, correlations, verdict, item agreement), plus its
provenance: the judge snapshots, the judgment file, mtbench's version, when. `load_calibration`
refits from the stored models with the stored bootstrap settings, which gives back the same
draws (the fit is deterministic), and refuses a file whose stored fit no longer matches them (an
edited or truncated file). Written atomically (`data.atomic`), so a killed run leaves the old one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.calibration.build import Calibration
from mtbench.calibration.fit import Fit, ModelPoint, finite_or_none, fit_calibration
from mtbench.calibration.items import ItemAgreement
from mtbench.calibration.published import REFERENCE_JUDGE, REFERENCE_SNAPSHOT
from mtbench.data.atomic import write_atomic
from mtbench.data.paths import BenchPaths, file_stem
from mtbench.data.writable import write_error
from mtbench.errors import DataError

SCHEMA = "mtbench-calibration"
SCHEMA_VERSION = 1


def calibration_file(paths: BenchPaths, judge: str) -> Path:
    """Where the calibration of `judge` (mapped by `file_stem`, as judgment files are) lives."""
    return paths.bench_dir / "calibration" / f"{file_stem(judge)}.json"


def calibration_json(calibration: Calibration) -> dict[str, Any]:
    """The calibration as the JSON document `save_calibration` writes (and `--format json`)."""
    fit = calibration.fit
    residuals = fit.residuals()
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "judge": calibration.judge,
        "judge_snapshots": dict(calibration.judge_snapshots),
        "reference": {"judge": REFERENCE_JUDGE, "snapshot": REFERENCE_SNAPSHOT},
        "judgment_file": str(calibration.judgment_file),
        "questions": calibration.questions,
        "created": calibration.created,
        "mtbench_version": calibration.version,
        "bootstrap": {
            "resamples": fit.spec.resamples,
            "seed": fit.spec.seed,
            "confidence": fit.spec.confidence,
        },
        "verdict": fit.verdict,
        "reasons": list(fit.reasons),
        "fit": {
            "intercept": fit.intercept.as_dict(),
            "slope": fit.slope.as_dict(),
            "residual_sd": finite_or_none(fit.residual_sd),
            "pearson": fit.pearson.as_dict(),
            "spearman": fit.spearman.as_dict(),
            "kendall": fit.kendall.as_dict(),
        },
        "models": [
            {
                "model": p.model,
                "gpt4": p.reference,
                "judge": p.judge,
                "judgments": p.judgments,
                "reference_source": calibration.reference[p.model],
                "gpt4_scale": finite_or_none(fit.to_reference(p.judge)) if fit.mappable else None,
                "residual": finite_or_none(residuals[p.model]) if fit.mappable else None,
            }
            for p in fit.points
        ],
        "items": calibration.items.as_dict() if calibration.items is not None else None,
        "notes": list(calibration.notes),
        "caveats": list(calibration.caveats),
    }


def save_calibration(calibration: Calibration, path: Path) -> None:
    """Write `calibration_json` to `path` atomically (creating its folder).

    Raises:
        WriteError: when the folder or the file cannot be written (an older file is unchanged).
    """
    text = json.dumps(calibration_json(calibration), indent=2, allow_nan=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, path, "the calibration", "the judgments are kept", "") from None
    write_atomic(path, [text.encode()], "the calibration")


def load_calibration(path: Path) -> Calibration:
    """Read a calibration written by `save_calibration`, with its fit rebuilt.

    Raises:
        DataError: the file is not valid JSON, not a calibration of this schema version, or its
            stored fit differs from the one its models give (edited or damaged).
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise ValueError("not an mtbench calibration")
        if document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"schema version {document.get('schema_version')}, this mtbench reads "
                f"{SCHEMA_VERSION}"
            )
        spec = BootstrapSpec(
            resamples=int(document["bootstrap"]["resamples"]),
            seed=int(document["bootstrap"]["seed"]),
            confidence=float(document["bootstrap"]["confidence"]),
        )
        points = [
            ModelPoint(str(m["model"]), float(m["gpt4"]), float(m["judge"]), int(m["judgments"]))
            for m in document["models"]
        ]
        caveats = tuple(str(c) for c in document.get("caveats", ()))
        fit = fit_calibration(points, spec, caveats)
        _same_fit(fit, document["fit"])
        items = document.get("items")
        return Calibration(
            judge=str(document["judge"]),
            judgment_file=Path(document["judgment_file"]),
            judge_snapshots={str(k): int(v) for k, v in document["judge_snapshots"].items()},
            reference={str(m["model"]): str(m["reference_source"]) for m in document["models"]},
            fit=fit,
            items=_items(items) if items else None,
            questions=int(document["questions"]),
            accounting=None,
            notes=tuple(document.get("notes", ())),
            caveats=caveats,
            created=str(document["created"]),
            version=str(document["mtbench_version"]),
        )
    except OSError as exc:
        raise DataError(f"cannot read the calibration ({exc.strerror})", path) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataError(
            f"not a readable calibration ({detail}); run mtbench-calibrate again", path
        ) from None


def _same_fit(fit: Fit, stored: dict[str, Any]) -> None:
    for name in ("intercept", "slope", "spearman"):
        value = stored[name]["value"]
        computed = getattr(fit, name).value
        if value is None and not math.isfinite(computed):
            continue
        if value is None or not math.isclose(computed, value, rel_tol=1e-9, abs_tol=1e-9):
            raise ValueError(f"its stored {name} {value} is not what its models give")


def _items(data: dict[str, Any]) -> ItemAgreement:
    return ItemAgreement(
        items=int(data["items"]),
        exact=float(data["exact"]),
        within_one=float(data["within_one"]),
        offset=float(data["offset"]),
        by_turn={int(k): float(v) for k, v in data["by_turn"].items()},
        by_category={str(k): float(v) for k, v in data["by_category"].items()},
    )
