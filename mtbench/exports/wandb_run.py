"""MT-bench results as Weights & Biases runs, through the `wandb` SDK.

One run per model of the results document, all in one W&B `group` (the runs one `mtbench-show`
made), job type `mtbench`: the model's metrics in the run summary, the parameters that say what
they rest on as the run config (`exports.fields`), and the summary table as a `wandb.Table`
(`mtbench/summary`). Where the run goes is W&B's own choice: `WANDB_MODE=offline` writes it
under the given folder only (`wandb sync` uploads it later), otherwise it is sent to W&B with
the key from `WANDB_API_KEY` (or `wandb login`). The project is the one given, else
`WANDB_PROJECT`, else `mtbench`. The SDK's own messages go to stderr; the process's output is
not captured into the run (`console="off"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mtbench.errors import ExportError, first_line
from mtbench.exports.fields import broken_install, model_metrics, run_params, summary_frame

TABLE_KEY = "mtbench/summary"
JOB_TYPE = "mtbench"


def log_runs(
    document: Mapping[str, Any], folder: str | None, project: str, group: str
) -> list[str]:
    """Log one W&B run per model of `document`.

    Args:
        document: The results document (`reports.results.results_document`).
        folder: The folder W&B writes its `wandb/` run folders under (None: W&B's default,
            the working directory or `WANDB_DIR`).
        project: The W&B project.
        group: The W&B group of the runs of this call.

    Returns:
        One line per run: its name, id, mode and where it went (its local folder offline, its
        URL online).

    Raises:
        ExportError: when W&B refuses (no key online, an unreachable server, a folder it cannot
            write); a run started before the failure is finished as failed.
    """
    import wandb

    where = None
    if folder is not None:
        where = Path(folder).expanduser()
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"W&B export failed: {where}: {exc.strerror or exc}") from None
    summary = summary_frame(document)
    lines = []
    for entry in document["models"]:
        model = str(entry["model"])
        try:
            run = wandb.init(
                project=project,
                name=model,
                group=group,
                job_type=JOB_TYPE,
                dir=str(where) if where is not None else None,
                config=run_params(document, model),
                settings=wandb.Settings(console="off"),
            )
        except ImportError as exc:  # one of wandb's own lazy imports: a broken install
            raise broken_install("wandb", "wandb", exc) from None
        except Exception as exc:  # wandb raises its own errors, and OSError for the folder
            raise ExportError(f"W&B export failed: {first_line(exc, with_type=True)}") from None
        try:
            run.summary.update(model_metrics(document, model))
            run.log({TABLE_KEY: wandb.Table(dataframe=summary)})
            kept = run.url or str(Path(run.dir).parent)
            mode = "offline" if run.offline else "online"
            run_id = run.id
        except Exception as exc:
            run.finish(exit_code=1)
            raise ExportError(
                f"W&B export failed: {first_line(exc, with_type=True)}; run {run.id} is finished "
                "as failed"
            ) from None
        run.finish()
        lines.append(f"W&B run {model!r} ({run_id}, {mode}) in project {project!r}: {kept}")
    return lines
