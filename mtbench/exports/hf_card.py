"""MT-bench results in a Hugging Face model card: the `model-index` evaluation results of a local
`README.md`, written through `huggingface_hub`'s model-card API (`ModelCard`, `ModelCardData`,
`EvalResult`). Uploading the card stays the user's step (`huggingface-cli upload` or
`ModelCard.push_to_hub`); nothing here touches the network.

One model's results go in (a card describes one model): the headline number (single: the mean
1-10 score; pairwise-baseline: the adjusted win rate against the baseline, 0-1), the two turns'
scores (single), and one result per category. They are filed as the task `text-generation` on
the dataset `mt_bench` (the bench name) with the judge as `metric_config` (and the baseline, in
pairwise mode), as the Zephyr cards file their MT-Bench score; the headline result's
`metric_args` record the judge snapshot and prompts, the interval, the counts, the sha256 of the
data files and the mtbench and schema versions.

An existing card keeps its text and every other metadata field as written (its YAML comments
and quoting: only the `model-index` block is rewritten); of its evaluation results only
those of the same bench and `metric_config` (this judge, and baseline) are replaced, so results
of other benchmarks and other judges stay.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtbench.data.atomic import write_atomic
from mtbench.errors import ConfigError, DataError, first_line
from mtbench.exports.fields import model_entry, snapshot_text

if TYPE_CHECKING:
    from huggingface_hub import EvalResult

TASK_TYPE = "text-generation"
TASK_NAME = "Text Generation"
DATASET_NAMES = {"mt_bench": "MT-Bench"}
"""Pretty names of benches (others are shown by their bench name)."""

TURN_NAMES = {"turn_1": "first-turn", "turn_2": "second-turn"}

PAIRWISE_ALL_REFUSED = (
    "--export hf-card takes single or pairwise-baseline results; a pairwise-all win rate "
    "depends on the other models of the file"
)


def one_model_needed(models: Sequence[str]) -> str:
    """The error for a model card asked of results that hold other than one model."""
    return (
        f"--export hf-card: a model card holds one model's results and these hold "
        f"{len(models)} ({', '.join(models)}); choose one with --model-list MODEL"
    )


def card_path(location: str) -> Path:
    """The card file of `--export hf-card=LOCATION`: `LOCATION/README.md` for a folder (an
    existing one, or a new one written with a trailing `/`), else LOCATION, a `.md` file.

    Raises:
        ConfigError: for a LOCATION that is neither a folder nor a `.md` file (`myscript.py`,
            or `newdir` without its `/`), which a card would otherwise replace or be named.
    """
    path = Path(location).expanduser()
    if location.endswith(("/", os.sep)) or path.is_dir():
        return path / "README.md"
    if path.suffix.lower() != ".md":
        raise ConfigError(
            f"--export hf-card={location}: neither a .md file nor a folder; give the card's "
            "README.md, or its folder (a new folder ends with /)"
        )
    return path


def metric_config(document: Mapping[str, Any]) -> str:
    """The judge (and baseline) that a card result's numbers come from: `gpt-4`, or
    `gpt-4, baseline gpt-3.5-turbo`."""
    judge = str(document["judge"]["name"])
    baseline = document.get("baseline")
    return f"{judge}, baseline {baseline}" if baseline else judge


def eval_results(document: Mapping[str, Any], model: str) -> list[EvalResult]:
    """`model`'s results in the document as model-card evaluation results (headline first).

    Values are rounded to 4 decimals, as `mtbench-show` prints them.

    Raises:
        ConfigError: for pairwise-all results (a win rate against the file's other models says
            nothing on its own), or a model the document does not hold.
    """
    from huggingface_hub import EvalResult

    mode = document["mode"]
    if mode == "pairwise-all":
        raise ConfigError(PAIRWISE_ALL_REFUSED)
    entry = model_entry(document, model)
    data = document.get("data") or {}
    bench = str(data.get("bench") or "mt_bench")
    judge = document["judge"]
    single = mode == "single"
    headline = "score" if single else "win_rate_adjusted"
    pretty = DATASET_NAMES.get(bench, bench)
    what = "score (1-10)" if single else f"adjusted win rate against {document['baseline']}"
    common: dict[str, Any] = {
        "task_type": TASK_TYPE,
        "task_name": TASK_NAME,
        "dataset_type": bench,
        "dataset_name": pretty,
        "metric_config": metric_config(document),
    }
    sha256 = {
        "question_file": data.get("question_file", {}).get("sha256"),
        "judge_prompts": data.get("judge_prompts", {}).get("sha256"),
        "reference_answers": {
            name: digest["sha256"] for name, digest in data.get("reference_answers", {}).items()
        },
        "answers": {
            name: digest["sha256"]
            for name, digest in data.get("answers", {}).items()
            if name in (model, document.get("baseline"))
        },
    }
    bootstrap = document.get("bootstrap")
    args = {
        "judge": judge["name"],
        "judge_snapshot": snapshot_text(judge.get("snapshots") or {}),
        "judge_prompts": list(judge.get("prompts") or []),
        "mode": mode,
        **({"baseline": document["baseline"]} if document.get("baseline") else {}),
        "lower": entry.get("lower"),
        "upper": entry.get("upper"),
        "confidence": bootstrap["confidence"] if bootstrap else None,
        "questions": entry.get("questions"),
        "judgments": entry.get("judgments"),
        "sha256": sha256,
        "mtbench_version": document["mtbench_version"],
        "schema_version": document["schema_version"],
    }
    results = [
        EvalResult(
            **common,
            metric_type=headline,
            metric_value=round(float(entry[headline]), 4),
            metric_name=f"{pretty} {what}, judge {judge['name']}",
            metric_args=args,
        )
    ]
    for column, label in TURN_NAMES.items():
        if entry.get(column) is not None:
            results.append(
                EvalResult(
                    **common,
                    metric_type=f"{headline}_{column}",
                    metric_value=round(float(entry[column]), 4),
                    metric_name=f"{pretty} {label} {what}",
                )
            )
    for category, value in (entry.get("categories") or {}).items():
        if value is not None:
            results.append(
                EvalResult(
                    **common,
                    metric_type=f"{headline}_{category}",
                    metric_value=round(float(value), 4),
                    metric_name=f"{pretty} {category} {what}",
                )
            )
    return results


def write_card(document: Mapping[str, Any], model: str, location: str) -> Path:
    """Create or update the model card at `location` with `model`'s results.

    Args:
        document: The results document (`reports.results.results_document`).
        model: The model whose results go in (the card's `model_name` if it has none yet).
        location: A card file (`README.md`) or the folder that holds it.

    Returns:
        The card file written (replaced in one step: a failed write leaves it as it was).

    Raises:
        ConfigError: as `eval_results`.
        DataError: when the existing card's metadata cannot be read.
        WriteError: when the card cannot be written.
    """
    import yaml
    from huggingface_hub import ModelCard, ModelCardData

    path = card_path(location)
    ours = eval_results(document, model)
    existing = None
    if path.exists():
        try:
            existing = path.read_text(encoding="utf-8")
            card = ModelCard(existing)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise DataError(
                f"cannot read the model card's metadata ({first_line(exc, with_type=True)}); "
                "fix its YAML header or give another file",
                path,
            ) from None
    else:
        card = ModelCard(f"---\n{ModelCardData().to_yaml()}\n---\n\n# {model}\n")
    data = card.data
    assert isinstance(data, ModelCardData)  # what ModelCard parses its metadata into
    same = (ours[0].dataset_type, ours[0].metric_config)
    kept = [
        result
        for result in data.eval_results or []
        if (result.dataset_type, result.metric_config) != same
    ]
    data.eval_results = kept + ours
    if not data.model_name:
        data.model_name = model
    text = str(card)
    if existing is not None:
        text = kept_front_matter(existing, text)
    write_atomic(path, [text.encode("utf-8")], "the model card")
    return path


MODEL_INDEX = "model-index:"


def kept_front_matter(old: str, new: str) -> str:
    """The card `old` with the `model-index` of `new` (the same card, re-serialised by
    `huggingface_hub`), so that the user's YAML (comments, quoting, order) stays as written.

    Falls back to `new` when the result would not read back as the same metadata as `new`
    (a front matter this line-based splice does not understand).
    """
    import yaml
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    old_match, new_match = REGEX_YAML_BLOCK.search(old), REGEX_YAML_BLOCK.search(new)
    if old_match is None or new_match is None:
        return new
    old_lines = old_match.group(2).split("\n")
    new_lines = new_match.group(2).split("\n")
    new_start, new_end = _block(new_lines)
    if new_start is None:
        return new
    ours = new_lines[new_start:new_end]
    start, end = _block(old_lines)
    if start is None:
        lines = [*old_lines, *ours]
    else:
        lines = [*old_lines[:start], *ours, *old_lines[end:]]
    front = "\n".join(lines)
    try:
        same = yaml.safe_load(front) == yaml.safe_load(new_match.group(2))
    except yaml.YAMLError:
        same = False
    if not same:
        return new
    return old[: old_match.start(2)] + front + old[old_match.end(2) :]


def _block(lines: list[str]) -> tuple[int | None, int]:
    """The lines [start, end) of the top-level `model-index:` key and its value (indented or
    `- ` lines after it); start None when there is none."""
    for start, line in enumerate(lines):
        if line.startswith(MODEL_INDEX):
            end = start + 1
            while end < len(lines) and (
                not lines[end].strip() or lines[end].startswith((" ", "\t", "-"))
            ):
                end += 1
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            return start, end
    return None, 0
