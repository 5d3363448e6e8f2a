"""Results where users keep them: `mtbench-show --export TARGET`.

Every export is built from the JSON results document (`reports.results`, documented in
`docs/results-schema.md`), the same data `--format json` prints, so a model card, a tracker run
and a CI log never disagree. Targets, each behind its own pip extra:

    hf-card=PATH          the model card's evaluation results in a local README.md
                          (`exports.hf_card`; extra `hf-card`: huggingface_hub)
    mlflow[=URI]          one MLflow run per model (`exports.mlflow_run`; extra `mlflow`)
    wandb[=DIR]           one W&B run per model (`exports.wandb_run`; extra `wandb`)

Targets are checked (syntax, the extra installed, a card path that can be written, an MLflow
URI scheme MLflow has a store for) before any result is computed; a missing extra is one line
naming the `pip install` that adds it. Every target is tried even when one fails; the failures
are raised together afterwards (`ExportsFailed`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mtbench.data.writable import check_writable
from mtbench.errors import ConfigError, ExportError, MissingDependencyError, MTBenchError
from mtbench.exports.fields import broken_install
from mtbench.exports.hf_card import PAIRWISE_ALL_REFUSED, card_path, one_model_needed, write_card

HF_CARD = "hf-card"
MLFLOW = "mlflow"
WANDB = "wandb"
TARGETS = (HF_CARD, MLFLOW, WANDB)
"""The export targets, as `--export` names them."""

PACKAGES = {HF_CARD: "huggingface_hub", MLFLOW: "mlflow", WANDB: "wandb"}
"""The import each target needs; its pip extra has the target's name."""

DEFAULT_PROJECT = "mtbench"
"""The MLflow experiment and W&B project when neither the flag nor the tracker's own
environment variable (`MLFLOW_EXPERIMENT_NAME`, `WANDB_PROJECT`) names one."""

PROJECT_ENVS = {MLFLOW: "MLFLOW_EXPERIMENT_NAME", WANDB: "WANDB_PROJECT"}


@dataclass(frozen=True)
class ExportTarget:
    """One `--export` value.

    Attributes:
        kind: One of `TARGETS`.
        location: The card file or folder (`hf-card`), the tracking URI (`mlflow`) or the
            folder for W&B's run files (`wandb`); None: the tracker's default.
    """

    kind: str
    location: str | None = None

    @classmethod
    def parse(cls, text: str) -> ExportTarget:
        """`hf-card=PATH`, `mlflow`, `mlflow=URI`, `wandb` or `wandb=DIR`.

        Raises:
            ConfigError: for an unknown target or a missing or empty value.
        """
        kind, sep, location = text.partition("=")
        if kind not in TARGETS:
            raise ConfigError(
                f"--export {text}: unknown target {kind!r}; choose hf-card=PATH, mlflow[=URI] "
                "or wandb[=DIR]"
            )
        if sep and not location.strip():
            raise ConfigError(f"--export {text}: give a value after '=', or leave out '='")
        if kind == HF_CARD and not location:
            raise ConfigError(
                "--export hf-card needs the card's path: --export hf-card=PATH/README.md"
            )
        return cls(kind, location or None)


def parse_targets(
    values: Sequence[str] | None, mode: str = "single", models: Sequence[str] | None = None
) -> list[ExportTarget]:
    """The `--export` values, parsed and checked before anything is computed.

    Args:
        values: The `--export` values.
        mode: The results' mode (a model card takes no pairwise-all results).
        models: The `--model-list` models, if given (a model card takes one).

    Raises:
        ConfigError: as `ExportTarget.parse`, a target given twice, or a model card asked for
            pairwise-all results or several listed models.
        MissingDependencyError: when a target's package is not installed (naming its extra).
        WriteError: when a model card cannot be written where it was asked for.
    """
    targets = [ExportTarget.parse(value) for value in values or ()]
    if len(set(targets)) < len(targets):
        raise ConfigError("--export: a target is given twice; give each once")
    if any(target.kind == HF_CARD for target in targets):
        if mode == "pairwise-all":
            raise ConfigError(PAIRWISE_ALL_REFUSED)
        if models is not None and len(models) > 1:
            raise ConfigError(one_model_needed(models))
    for target in targets:
        package = PACKAGES[target.kind]
        if importlib.util.find_spec(package) is None:
            raise MissingDependencyError(package, target.kind, f"--export {target.kind}")
        if target.kind == MLFLOW:
            check_tracking_uri(target.location)
        probe = _written_path(target)
        if probe is not None:
            check_writable(probe, _WHAT[target.kind])
    return targets


MLFLOW_SCHEMES = (
    "file",
    "sqlite",
    "http",
    "https",
    "databricks",
    "databricks-uc",
    "uc",
    "postgresql",
    "mysql",
    "mssql",
)
"""The tracking URI schemes `mlflow-skinny` has stores for (a database's may name a driver:
`postgresql+psycopg2`); a URI without a scheme is a local folder."""


def check_tracking_uri(uri: str | None) -> None:
    """Refuse, before anything is computed, a tracking URI MLflow has no store for.

    Args:
        uri: The `--export mlflow=URI` value; None: `MLFLOW_TRACKING_URI`, if set.

    Raises:
        ConfigError: naming the flag (or the variable), never the URI's credentials.
    """
    from mtbench.exports.mlflow_run import shown_uri

    given = "--export mlflow={}"
    if uri is None:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or None
        given = "MLFLOW_TRACKING_URI={}"
    if uri is None:
        return
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) <= 1 or scheme.split("+")[0] in MLFLOW_SCHEMES:  # C: is a Windows drive
        return
    raise ConfigError(
        f"{given.format(shown_uri(uri))}: MLflow has no tracking store for {scheme}: URIs; give "
        "a folder, file:, sqlite:///FILE, http(s)://HOST, databricks, or a database URI "
        "(postgresql://, mysql://, mssql://)"
    )


_WHAT = {HF_CARD: "the model card", MLFLOW: "MLflow's SQLite store", WANDB: "W&B's run files"}

SQLITE = "sqlite:///"


def _written_path(target: ExportTarget) -> Path | None:
    """The local file a target writes (a probe file for W&B's folder), to check up front."""
    if target.location is None:
        return None
    if target.kind == HF_CARD:
        return card_path(target.location)
    if target.kind == WANDB:
        return Path(target.location).expanduser() / ".mtbench-probe"
    if target.location.startswith(SQLITE):
        return Path(target.location[len(SQLITE) :]).expanduser()
    return None  # a tracking server: MLflow says whether it can be reached


class ExportsFailed(ExportError):
    """One or more targets failed after every target was tried; `failures` holds each one's
    error, and the message is one `Error:`-prefixed line per failure after the first."""

    def __init__(self, failures: Sequence[MTBenchError]):
        self.failures = list(failures)
        super().__init__("\nError: ".join(str(failure) for failure in self.failures))


def export_results(
    document: Mapping[str, Any],
    targets: Sequence[ExportTarget],
    project: str | None = None,
    on_exported: Callable[[str], None] | None = None,
) -> list[str]:
    """Send the results document to each target, in order; every target is tried, whichever
    fails.

    Args:
        document: The results document (`reports.results.results_document`).
        targets: From `parse_targets`.
        project: MLflow experiment and W&B project; None: `PROJECT_ENVS`, else `DEFAULT_PROJECT`.
        on_exported: Called with each line as soon as its card or run is written (so that what
            worked is reported even when a later target fails).

    Returns:
        One line per card or run written, saying where it went.

    Raises:
        ExportsFailed: after every target was tried, when any failed (a model card asked for
            with other than exactly one model, a tracker that refused the results, an existing
            model card whose metadata cannot be read, a card that cannot be written...).
    """
    group = f"{document['mode']} {document['judge']['name']} " + datetime.now(
        timezone.utc
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines: list[str] = []
    failures: list[MTBenchError] = []
    for target in targets:
        try:
            done = _export(document, target, project, group)
        except ImportError as exc:  # installed (parse_targets found it) but broken
            failures.append(broken_install(target.kind, PACKAGES[target.kind], exc))
            continue
        except MTBenchError as exc:
            failures.append(exc)
            continue
        for line in done:
            if on_exported is not None:
                on_exported(line)
        lines += done
    if failures:
        raise ExportsFailed(failures)
    return lines


def _export(
    document: Mapping[str, Any], target: ExportTarget, project: str | None, group: str
) -> list[str]:
    """One target's export: the lines of what it wrote."""
    if target.kind == HF_CARD:
        models = [str(entry["model"]) for entry in document["models"]]
        if len(models) != 1:
            raise ConfigError(one_model_needed(models))
        path = write_card(document, models[0], str(target.location))
        return [f"model card {path}: {models[0]}'s MT-bench results"]
    name = project or os.environ.get(PROJECT_ENVS[target.kind]) or DEFAULT_PROJECT
    if target.kind == MLFLOW:
        from mtbench.exports import mlflow_run

        return mlflow_run.log_runs(document, target.location, name, group)
    from mtbench.exports import wandb_run

    return wandb_run.log_runs(document, target.location, name, group)
