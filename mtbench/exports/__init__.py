"""Results where users keep them: `mtbench-show --export TARGET`.

Every export is built from the JSON results document (`reports.results`, documented in
`docs/results-schema.md`), the same data `--format json` prints, so a model card, a tracker run
and a CI log never disagree. Targets, each behind its own pip extra:

    hf-card=PATH          the model card's evaluation results in a local README.md
                          (`exports.hf_card`; extra `hf-card`: huggingface_hub)
    mlflow[=URI]          one MLflow run per model (`exports.mlflow_run`; extra `mlflow`)
    wandb[=DIR]           one W&B run per model (`exports.wandb_run`; extra `wandb`)

Targets are checked (syntax, the extra installed, a card path that can be written) before any
result is computed; a missing extra is one line naming the `pip install` that adds it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtbench.data.writable import check_writable
from mtbench.errors import ConfigError, MissingDependencyError
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
        probe = _written_path(target)
        if probe is not None:
            check_writable(probe, _WHAT[target.kind])
    return targets


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


def export_results(
    document: Mapping[str, Any],
    targets: Sequence[ExportTarget],
    project: str | None = None,
) -> list[str]:
    """Send the results document to each target, in order.

    Args:
        document: The results document (`reports.results.results_document`).
        targets: From `parse_targets`.
        project: MLflow experiment and W&B project; None: `PROJECT_ENVS`, else `DEFAULT_PROJECT`.

    Returns:
        One line per card or run written, saying where it went.

    Raises:
        ConfigError: a model card asked for with other than exactly one model, or for
            pairwise-all results.
        ExportError: a tracker refused the results.
        DataError: an existing model card whose metadata cannot be read.
    """
    group = f"{document['mode']} {document['judge']['name']} " + datetime.now(
        timezone.utc
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines: list[str] = []
    for target in targets:
        if target.kind == HF_CARD:
            models = [str(entry["model"]) for entry in document["models"]]
            if len(models) != 1:
                raise ConfigError(one_model_needed(models))
            path = write_card(document, models[0], str(target.location))
            lines.append(f"model card {path}: {models[0]}'s MT-bench results")
            continue
        name = project or os.environ.get(PROJECT_ENVS[target.kind]) or DEFAULT_PROJECT
        if target.kind == MLFLOW:
            from mtbench.exports import mlflow_run

            lines += mlflow_run.log_runs(document, target.location, name, group)
        else:
            from mtbench.exports import wandb_run

            lines += wandb_run.log_runs(document, target.location, name, group)
    return lines
