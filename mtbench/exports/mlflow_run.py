"""MT-bench results as MLflow runs, through `mlflow.MlflowClient` (the `mlflow-skinny` package
with SQLAlchemy, so that a local SQLite tracking store works as well as a tracking server).

One run per model of the results document, in one experiment: the model's metrics, the
parameters that say what they rest on (`exports.fields`), tags naming the judge, the mode, the
group of runs one `mtbench-show` made and the digest of the results (so that the same results
are not logged twice), and two artifacts: `mtbench_summary.json` (the
summary table, logged with `log_table`, so MLflow shows it as a table) and
`mtbench_results.json` (the whole results document). The tracking URI is the one given, else
MLflow's own (`MLFLOW_TRACKING_URI`, else its default); credentials come only from MLflow's
environment variables (`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mtbench.errors import ExportError, first_line
from mtbench.exports.fields import broken_install, model_metrics, run_params, summary_frame

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_ARTIFACT = "mtbench_summary.json"
DOCUMENT_ARTIFACT = "mtbench_results.json"
MODEL_TAG = "mtbench.model"
DIGEST_TAG = "mtbench.results_sha256"
"""The tag that holds `results_digest`: which results a run holds."""


def shown_uri(uri: str) -> str:
    """A tracking URI fit to print: any user name and password in it are left out."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def canonical(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without the spelling of its paths, which says nothing about the results:
    `--data-dir data`, `./data` and `/abs/data` read the same files. The data files' `path`
    is left out (their `sha256` identifies them); the judgment file and the calibration file
    are kept by name (`gpt-4_single.jsonl`, `gpt-4.json`)."""
    out = copy.deepcopy(dict(document))
    if "input_file" in out:
        out["input_file"] = PurePath(str(out["input_file"])).name
    data = out.get("data") or {}
    digests = [data.get("question_file"), data.get("judge_prompts")]
    for group in ("reference_answers", "answers"):
        digests += list((data.get(group) or {}).values())
    for digest in digests:
        if isinstance(digest, dict):
            digest.pop("path", None)
    calibration = (out.get("gpt4_scale") or {}).get("calibration")
    if isinstance(calibration, dict) and "file" in calibration:
        calibration["file"] = PurePath(str(calibration["file"])).name
    return out


HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
"""MLflow's request retries and timeout (seconds) during an export, unless the user set them:
MLflow's own (7 retries with growing waits, 120 s) take minutes to report a server that is
not there."""


@contextmanager
def _short_requests() -> Iterator[None]:
    """`HTTP_DEFAULTS` in the environment (which MLflow reads at each request) for the
    duration, for the variables the user has not set; restored afterwards."""
    added = [name for name in HTTP_DEFAULTS if name not in os.environ]
    os.environ.update({name: HTTP_DEFAULTS[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def results_digest(document: Mapping[str, Any]) -> str:
    """The sha256 of the document's canonical JSON (`canonical`, keys sorted): the same results
    of the same data give the same digest, however the paths to them were spelled."""
    text = json.dumps(canonical(document), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def log_runs(
    document: Mapping[str, Any],
    tracking_uri: str | None,
    experiment: str,
    group: str,
) -> list[str]:
    """Log one MLflow run per model of `document`, unless the experiment already has it.

    A run is tagged with the digest of the document (`mtbench.results_sha256`); a model whose
    finished run of the same results is already in the experiment is not logged again, so
    rerunning an interrupted export adds only what is missing. MLflow's HTTP retries and
    timeout are those of `HTTP_DEFAULTS` meanwhile, where the user has not set them.

    Args:
        document: The results document (`reports.results.results_document`).
        tracking_uri: Where to log (`sqlite:///mlflow.db`, `http://host:5000`...); None:
            MLflow's own choice.
        experiment: The experiment's name (created if it does not exist).
        group: The `mtbench.group` tag shared by the runs of this call.

    Returns:
        One line per model: its run's name, id, experiment and tracking URI (without
        credentials), and whether it was already there.

    Raises:
        ExportError: when MLflow refuses (no server, a bad URI, a run it cannot write); a run
            started before the failure is marked FAILED.
    """
    with _short_requests():
        return _log_runs(document, tracking_uri, experiment, group)


def _log_runs(
    document: Mapping[str, Any], tracking_uri: str | None, experiment: str, group: str
) -> list[str]:
    from mlflow import MlflowClient

    uri = tracking_uri
    digest = results_digest(document)
    try:
        client = MlflowClient(tracking_uri)
        uri = client.tracking_uri
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        done = {
            run.data.tags.get(MODEL_TAG): run.info.run_id
            for run in client.search_runs([experiment_id], f"tags.`{DIGEST_TAG}` = '{digest}'")
            if run.info.status == "FINISHED"
        }
    except Exception as exc:  # MLflow raises its own, SQLAlchemy's and requests' errors
        raise _failed(exc, uri) from None
    where = f"in experiment {experiment!r} at {shown_uri(uri or '')}"
    lines = []
    summary = summary_frame(document)
    for entry in document["models"]:
        model = str(entry["model"])
        if model in done:
            lines.append(f"MLflow run {model!r} ({done[model]}) {where}: already there")
            continue
        tags = {
            "mtbench.group": group,
            MODEL_TAG: model,
            "mtbench.judge": str(document["judge"]["name"]),
            "mtbench.mode": document["mode"],
            "mtbench.schema_version": str(document["schema_version"]),
            DIGEST_TAG: digest,
        }
        run_id = _log_run(client, experiment_id, document, model, tags, summary, uri)
        lines.append(f"MLflow run {model!r} ({run_id}) {where}")
    return lines


def _log_run(
    client: Any,
    experiment_id: str,
    document: Mapping[str, Any],
    model: str,
    tags: dict[str, str],
    summary: pd.DataFrame,
    uri: str | None,
) -> str:
    """One model's run, finished; marked FAILED (and an `ExportError`) if MLflow refuses."""
    from mlflow.entities import Metric, Param

    run_id = None
    try:
        run_id = client.create_run(experiment_id, run_name=model, tags=tags).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in model_metrics(document, model).items()],
            params=[Param(k, v) for k, v in run_params(document, model).items()],
        )
        client.log_table(run_id, summary, SUMMARY_ARTIFACT)
        client.log_dict(run_id, dict(document), DOCUMENT_ARTIFACT)
        client.set_terminated(run_id)
    except Exception as exc:
        if run_id is not None:
            try:
                client.set_terminated(run_id, status="FAILED")
            except Exception:  # the store is gone: the run stays RUNNING
                pass
        raise _failed(exc, uri, run_id) from None
    return str(run_id)


def _failed(exc: BaseException, uri: str | None, run_id: str | None = None) -> ExportError:
    if isinstance(exc, ImportError) and run_id is None:  # one of MLflow's own lazy imports
        return broken_install("mlflow", "mlflow", exc)
    where = shown_uri(uri) if uri else "MLflow's default tracking URI"
    text = first_line(exc, with_type=True)
    if uri and uri != where:
        text = text.replace(uri, where)  # never echo credentials from the URI
    kept = f"; run {run_id} is marked FAILED" if run_id else ""
    return ExportError(f"MLflow export to {where} failed: {text}{kept}")
