"""`mtbench-show --export`: the results in a model card, MLflow and W&B, written by the real
libraries and read back through them, offline (a local SQLite tracking store, W&B's offline
mode, a local README.md)."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, shared_file, unused_port

from mtbench.cli.show import main
from mtbench.data.jsonl import dumps
from mtbench.data.paths import BenchPaths

SAMPLE = "third_party/Stefanstud-FastChat-phi3"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may reach a hub or a tracker's server, nor report telemetry."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture
def judged(bench: BenchPaths) -> BenchPaths:
    """The bench with the third-party phi-3 judgment files and answer files."""
    bench.judgment_dir.mkdir(parents=True)
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        shutil.copy(shared_file(f"{SAMPLE}/model_judgment/{name}"), bench.judgment_dir / name)
    bench.answer_dir.mkdir(parents=True)
    for model in ("phi-3", "phi-3-dpo"):
        shutil.copy(shared_file(f"{SAMPLE}/model_answer/{model}.jsonl"), bench.answer_dir)
    return bench


def show(bench: BenchPaths, *args: str, cwd: Path | None = None) -> tuple[dict[str, Any], str]:
    """`mtbench-show --format json ...` in a subprocess: its document and its stderr."""
    result = run_cli("show", "--data-dir", str(bench.data_dir), "--format", "json", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(bench: BenchPaths, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run `mtbench-show` in-process, expecting exit 1 with one line and nothing printed."""
    capsys.readouterr()
    code = main(["--data-dir", str(bench.data_dir), *args])
    out = capsys.readouterr()
    assert code == 1 and out.out == "", out
    lines = out.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.err
    return lines[0]


# --- Hugging Face model card ---------------------------------------------------------------


USER_CARD = """\
---
# Reviewed by legal: keep as is
license: "apache-2.0"
tags:  # for the hub's search
- chat
model-index:
- name: my-phi
  results:
  - task:
      type: text-generation
    dataset:
      name: AI2 ARC
      type: ai2_arc
    metrics:
    - type: acc_norm
      value: 61.2
  - task:
      type: text-generation
    dataset:
      name: MT-Bench
      type: mt_bench
    metrics:
    - type: score
      value: 1.0
      config: gpt-4
    - type: score
      value: 7.5
      config: gpt-4o
---

# My phi

Words the user wrote, kept as they are.
"""


@pytest.mark.extra("huggingface_hub")
def test_model_card_is_written_and_read_back_by_huggingface_hub(judged, tmp_path):
    from huggingface_hub import ModelCard

    card = tmp_path / "card" / "README.md"
    document, err = show(judged, "--export", f"hf-card={card}")
    assert f"Exported: model card {card}: phi-3-dpo's MT-bench results" in err
    loaded = ModelCard.load(card)
    assert loaded.data.model_name == "phi-3-dpo"
    results = {r.metric_type: r for r in loaded.data.eval_results}
    model = document["models"][0]
    expected = {
        "score": model["score"],
        "score_turn_1": model["turn_1"],
        "score_turn_2": model["turn_2"],
        **{f"score_{c}": v for c, v in model["categories"].items()},
    }
    assert {k: r.metric_value for k, r in results.items()} == pytest.approx(expected, abs=5e-5)
    assert len(expected) == 11  # the average, two turns, eight categories
    for result in results.values():
        assert (result.task_type, result.dataset_type, result.dataset_name) == (
            "text-generation",
            "mt_bench",
            "MT-Bench",
        )
        assert result.metric_config == "gpt-4"
    args = results["score"].metric_args
    assert args["judge"] == "gpt-4" and args["judge_snapshot"] == "not recorded"
    assert args["mtbench_version"] == document["mtbench_version"] == "0.1.0"
    assert args["schema_version"] == 1
    assert (args["lower"], args["upper"]) == (model["lower"], model["upper"])
    assert args["sha256"]["question_file"] == sha256(judged.question_file)
    assert args["sha256"]["judge_prompts"] == sha256(judged.judge_prompts_file)
    assert args["sha256"]["reference_answers"] == {"gpt-4": sha256(judged.reference_file("gpt-4"))}
    assert args["sha256"]["answers"] == {"phi-3-dpo": sha256(judged.answer_file("phi-3-dpo"))}


@pytest.mark.extra("huggingface_hub")
def test_model_card_update_keeps_the_users_text_and_other_results(judged, tmp_path):
    from huggingface_hub import ModelCard

    card = tmp_path / "README.md"
    card.write_text(USER_CARD)
    args = ("--mode", "pairwise-baseline", "--baseline-model", "phi-3", "--export")
    show(judged, "--export", f"hf-card={tmp_path}")  # a folder: its README.md
    show(judged, *args, f"hf-card={card}")
    show(judged, "--export", f"hf-card={card}")  # again: replaced, not added twice
    text = card.read_text()
    assert text.endswith("---\n\n# My phi\n\nWords the user wrote, kept as they are.\n")
    assert text.startswith(USER_CARD[: USER_CARD.index("model-index:")])  # comments, quotes
    loaded = ModelCard.load(card)
    assert loaded.data.license == "apache-2.0" and loaded.data.tags == ["chat"]
    assert loaded.data.model_name == "my-phi"  # the user's name stays
    results = [(r.dataset_type, r.metric_config, r.metric_type) for r in loaded.data.eval_results]
    assert len(results) == len(set(results))
    by_key = {key: r.metric_value for key, r in zip(results, loaded.data.eval_results, strict=True)}
    assert by_key[("ai2_arc", None, "acc_norm")] == 61.2  # another benchmark
    assert by_key[("mt_bench", "gpt-4o", "score")] == 7.5  # another judge
    assert by_key[("mt_bench", "gpt-4", "score")] == 8.2  # ours, replacing 1.0
    pairwise = ("mt_bench", "gpt-4, baseline phi-3", "win_rate_adjusted")
    assert by_key[pairwise] == pytest.approx(0.5137, abs=1e-4)
    assert len(results) == 2 + 11 + 9  # theirs kept, single (with turns), pairwise (no turns)


@pytest.mark.extra("huggingface_hub")
def test_model_card_path_a_new_folder_or_an_existing_one(judged, tmp_path, capsys, monkeypatch):
    from huggingface_hub import ModelCard

    monkeypatch.chdir(tmp_path)
    show(judged, "--export", "hf-card=newdir/")  # a new folder: created, its README.md
    assert (tmp_path / "newdir").is_dir()
    assert ModelCard.load(tmp_path / "newdir" / "README.md").data.model_name == "phi-3-dpo"
    (tmp_path / "old").mkdir()
    _, err = show(judged, "--export", "hf-card=old")  # an existing folder, no slash
    assert f"Exported: model card {Path('old', 'README.md')}:" in err
    assert (tmp_path / "old" / "README.md").is_file()
    script = tmp_path / "myscript.py"
    script.write_text("print('mine')\n")
    for name in ("myscript.py", "newfile"):
        line = refused(judged, capsys, "--export", f"hf-card={name}")
        assert line == (
            f"Error: --export hf-card={name}: neither a .md file nor a folder; give the card's "
            "README.md, or its folder (a new folder ends with /)"
        )
    assert script.read_text() == "print('mine')\n" and not (tmp_path / "newfile").exists()


@pytest.mark.extra("huggingface_hub")
def test_model_card_without_results_keeps_its_front_matter_and_gets_a_model_index(judged, tmp_path):
    from huggingface_hub import ModelCard

    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit  # ours\nlanguage: [en]\n---\nBody\n")
    show(judged, "--export", f"hf-card={card}")
    text = card.read_text()
    assert text.startswith("---\nlicense: mit  # ours\nlanguage: [en]\nmodel-index:\n")
    assert text.endswith("\n---\nBody\n")
    loaded = ModelCard.load(card)
    assert loaded.data.license == "mit" and loaded.data.language == ["en"]
    assert loaded.data.model_name == "phi-3-dpo" and len(loaded.data.eval_results) == 11


@pytest.mark.extra("huggingface_hub")
def test_model_card_refusals(judged, tmp_path, capsys):
    card = tmp_path / "README.md"
    line = refused(judged, capsys, "--mode", "pairwise-all", "--export", f"hf-card={card}")
    assert line == (
        "Error: --export hf-card takes single or pairwise-baseline results; a pairwise-all win "
        "rate depends on the other models of the file"
    )
    line = refused(judged, capsys, "--model-list", "a", "b", "--export", f"hf-card={card}")
    assert "a model card holds one model's results and these hold 2 (a, b)" in line
    assert not card.exists()
    # Two models in the file and no --model-list: known once the scores are computed.
    path = judged.judgment_file("gpt-4", "single")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(dumps(r) + "\n" for r in rows + [{**r, "model": "b"} for r in rows]))
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--export", f"hf-card={card}")
    assert result.returncode == 1 and not card.exists()
    assert result.stderr.splitlines()[-1] == (
        "Error: --export hf-card: a model card holds one model's results and these hold 2 "
        "(b, phi-3-dpo); choose one with --model-list MODEL"
    )
    card.write_text("---\nlicense: [unclosed\n---\ntext\n")
    result = run_cli(
        "show", "--data-dir", str(judged.data_dir), "--model-list", "b", "--export",
        f"hf-card={card}",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: {card}: cannot read the model card's metadata"
    )
    assert card.read_text() == "---\nlicense: [unclosed\n---\ntext\n"


# --- MLflow ----------------------------------------------------------------------------------


@pytest.mark.extra("mlflow")
def test_mlflow_runs_in_a_sqlite_store_read_back_through_the_client(judged, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    document, err = show(
        judged, "--export", f"mlflow={uri}", "--export-project", "mt", cwd=tmp_path
    )
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mt")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert (
        f"Exported: MLflow run 'phi-3-dpo' ({run.info.run_id}) in experiment 'mt' at {uri}" in err
    )
    assert (run.info.run_name, run.info.status) == ("phi-3-dpo", "FINISHED")
    model = document["models"][0]
    expected = {k: v for k, v in model.items() if k not in ("model", "categories")}
    expected.update({f"category/{c}": v for c, v in model["categories"].items()})
    assert run.data.metrics == expected
    params = run.data.params
    assert (params["model"], params["mode"], params["judge"]) == ("phi-3-dpo", "single", "gpt-4")
    assert params["judge_snapshot"] == "not recorded"
    assert params["judge_prompts"] == ", ".join(document["judge"]["prompts"])
    assert params["bootstrap"] == "1000 resamples, seed 0, 95%"
    assert (params["mtbench_version"], params["schema_version"]) == ("0.1.0", "1")
    assert params["sha256/question_file"] == sha256(judged.question_file)
    assert params["sha256/judge_prompts"] == sha256(judged.judge_prompts_file)
    assert params["sha256/reference_answers/gpt-4"] == sha256(judged.reference_file("gpt-4"))
    assert params["sha256/answers/phi-3-dpo"] == sha256(judged.answer_file("phi-3-dpo"))
    assert run.data.tags["mtbench.judge"] == "gpt-4"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"mtbench_summary.json", "mtbench_results.json"}
    kept = client.download_artifacts(run.info.run_id, "mtbench_results.json", str(tmp_path))
    assert json.loads(Path(kept).read_text()) == document  # the very document printed
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # load_table searches the default store
    table = client.load_table(
        experiment.experiment_id, "mtbench_summary.json", run_ids=[run.info.run_id]
    )
    assert list(table["model"]) == ["phi-3-dpo"] and list(table["score"]) == [8.2]
    assert list(table["writing"]) == [model["categories"]["writing"]]

    # The same results again (a rerun after an interrupted export): not logged twice.
    again, err = show(judged, "--export", f"mlflow={uri}", "--export-project", "mt", cwd=tmp_path)
    assert again == document
    assert f"({run.info.run_id}) in experiment 'mt' at {uri}: already there" in err
    assert len(client.search_runs([experiment.experiment_id])) == 1
    # The same data by another spelling of its path: the same results, still not logged twice.
    relative = f"./{judged.data_dir.relative_to(tmp_path)}"
    again, err = show(
        judged, "--data-dir", relative, "--export", f"mlflow={uri}", "--export-project", "mt",
        cwd=tmp_path,
    )  # fmt: skip
    assert again["data"]["question_file"]["path"] == "data/mt_bench/question.jsonl"
    assert again["input_file"] != document["input_file"]
    assert f"({run.info.run_id}) in experiment 'mt' at {uri}: already there" in err
    assert len(client.search_runs([experiment.experiment_id])) == 1

    # Several models: one run each, in one group; pairwise metrics.
    document, _ = show(
        judged, "--mode", "pairwise-all", "--bootstrap", "0", "--export", f"mlflow={uri}",
        "--export-project", "mt", cwd=tmp_path,
    )  # fmt: skip
    runs = client.search_runs([experiment.experiment_id], "tags.`mtbench.mode` = 'pairwise-all'")
    assert sorted(r.info.run_name for r in runs) == ["phi-3", "phi-3-dpo"]
    assert len({r.data.tags["mtbench.group"] for r in runs}) == 1
    dpo = next(r for r in runs if r.info.run_name == "phi-3-dpo")
    assert dpo.data.metrics["win_rate_adjusted"] == document["models"][0]["win_rate_adjusted"]
    assert (dpo.data.metrics["win"], dpo.data.metrics["tie"]) == (20, 35)
    assert "lower" not in dpo.data.metrics and dpo.data.params["bootstrap"] == "off"


def test_mlflow_results_digest_ignores_path_spellings_not_checksums():
    from mtbench.exports.mlflow_run import results_digest

    def document(root: str, question_sha: str) -> dict[str, Any]:
        return {
            "mode": "single",
            "input_file": f"{root}/model_judgment/gpt-4_single.jsonl",
            "data": {
                "question_file": {"path": f"{root}/question.jsonl", "sha256": question_sha},
                "judge_prompts": {"path": f"{root}/judge_prompts.jsonl", "sha256": "b"},
                "reference_answers": {"gpt-4": {"path": f"{root}/r/gpt-4.jsonl", "sha256": "c"}},
                "answers": {"m": {"path": f"{root}/model_answer/m.jsonl", "sha256": "d"}},
            },
            "gpt4_scale": {"calibration": {"file": f"{root}/calibration/gpt-4.json"}},
            "models": [{"model": "m", "score": 8.0}],
        }

    digest = results_digest(document("data/mt_bench", "a"))
    assert results_digest(document("./data/mt_bench", "a")) == digest
    assert results_digest(document("/home/u/data/mt_bench", "a")) == digest
    assert results_digest(document("data/mt_bench", "other questions")) != digest
    moved = document("data/mt_bench", "a")
    moved["input_file"] = "data/mt_bench/model_judgment/gpt-4_pair.jsonl"
    assert results_digest(moved) != digest


@pytest.mark.extra("mlflow")
def test_mlflow_unreachable_is_one_line_without_credentials(judged, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    uri = f"http://someone:s3cret-token@127.0.0.1:{unused_port()}"
    result = run_cli("show", "--data-dir", str(judged.data_dir), "--export", f"mlflow={uri}")
    assert result.returncode == 1
    assert result.stdout.startswith("Mode: single")  # the report was shown before
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: MLflow export to http://127.0.0.1:")
    assert "s3cret" not in result.stderr and "someone" not in result.stderr


@pytest.mark.extra("mlflow")
def test_mlflow_unreachable_fails_within_seconds_not_minutes(judged, monkeypatch):
    """MLflow's own retries (7, with growing waits) took about 4 minutes; the export's defaults
    (2 retries, 30 s) are short, and left to the user when set (the test above sets 0)."""
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    uri = f"http://127.0.0.1:{unused_port()}"
    start = time.monotonic()
    result = run_cli(
        "show", "--data-dir", str(judged.data_dir), "--export", f"mlflow={uri}", timeout=120
    )
    assert time.monotonic() - start < 60
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"Error: MLflow export to {uri} failed: ")


# --- Weights & Biases ------------------------------------------------------------------------


def wandb_records(path: Path) -> list[Any]:
    """The records of a `.wandb` run file, parsed with wandb's own protobuf definitions.

    The file is a LevelDB-style log (wandb's `datastore` format): a 7-byte header (`:W&B`,
    magic 0xBEE1, version 0), then 32 KiB blocks of records, each a 7-byte header (CRC32C,
    length, type: 1 full, 2 first, 3 middle, 4 last) and its data.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0)
    block, pos, pending, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length, kind) == (0, 0):  # the rest of a block is padding
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            record.ParseFromString(pending)
            records.append(record)
    return records


@pytest.mark.extra("wandb")
def test_wandb_offline_runs_read_back_from_their_run_files(judged, tmp_path):
    folder = tmp_path / "wb"
    document, err = show(
        judged, "--mode", "pairwise-all", "--export", f"wandb={folder}", cwd=tmp_path
    )
    run_files = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(run_files) == 2
    assert err.count("Exported: W&B run ") == 2 and "offline) in project 'mtbench'" in err
    seen = {}
    for run_file in run_files:
        records = wandb_records(run_file)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        config = {item.key: json.loads(item.value_json) for item in run.config.update}
        summary = {  # a nested key (a table's fields) as a tuple
            item.key or tuple(item.nested_key): json.loads(item.value_json)
            for r in records
            if r.WhichOneof("record_type") == "summary"
            for item in r.summary.update
        }
        seen[run.display_name] = (run, config, summary)
        assert (run.project, run.job_type) == ("mtbench", "mtbench")
        assert config["judge"] == "gpt-4" and config["mode"] == "pairwise-all"
        assert config["sha256/question_file"] == sha256(judged.question_file)
        assert config["mtbench_version"] == "0.1.0"
        entry = next(m for m in document["models"] if m["model"] == run.display_name)
        assert summary["win_rate_adjusted"] == entry["win_rate_adjusted"]
        assert summary["category/writing"] == entry["categories"]["writing"]
        assert (summary["win"], summary["loss"], summary["tie"]) == (
            entry["win"],
            entry["loss"],
            entry["tie"],
        )
        assert summary[("mtbench/summary", "_type")] == "table-file"
        (table_file,) = run_file.parent.glob("files/media/table/mtbench/summary_*.table.json")
        table = json.loads(table_file.read_text())
        models = [row[table["columns"].index("model")] for row in table["data"]]
        assert models == [m["model"] for m in document["models"]]
    assert sorted(seen) == ["phi-3", "phi-3-dpo"]
    assert len({run.run_group for run, _, _ in seen.values()}) == 1


# --- Several targets ------------------------------------------------------------------------


@pytest.mark.extra("huggingface_hub")
@pytest.mark.extra("mlflow")
@pytest.mark.extra("wandb")
def test_a_failed_export_does_not_hide_or_skip_the_others(judged, tmp_path):
    """Every target is tried: what worked says `Exported:`, each failure is one `Error:` line."""
    card, folder = tmp_path / "card.md", tmp_path / "wb"
    uri = f"http://127.0.0.1:{unused_port()}"
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    args = ("--export", f"hf-card={card}", "--export", f"mlflow={uri}", "--export")
    result = run_cli(
        "show", "--data-dir", str(judged.data_dir), *args, f"wandb={folder}", cwd=tmp_path, env=env
    )
    assert result.returncode == 1 and result.stdout.startswith("Mode: single")
    lines = result.stderr.splitlines()
    assert f"Exported: model card {card}: phi-3-dpo's MT-bench results" in lines
    assert sum(line.startswith("Exported: W&B run 'phi-3-dpo' (") for line in lines) == 1
    assert len(list(folder.glob("wandb/offline-run-*/run-*.wandb"))) == 1
    assert lines[-1].startswith(f"Error: MLflow export to {uri} failed: ")
    assert sum(line.startswith("Error: ") for line in lines) == 1

    # Two failures (a card for a file of two models, the server): one line each, W&B still runs.
    path = judged.judgment_file("gpt-4", "single")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(dumps(r) + "\n" for r in rows + [{**r, "model": "b"} for r in rows]))
    result = run_cli(
        "show", "--data-dir", str(judged.data_dir), *args, f"wandb={folder}", cwd=tmp_path, env=env
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert errors[0].startswith("Error: --export hf-card: a model card holds one model's")
    assert errors[1].startswith(f"Error: MLflow export to {uri} failed: ")
    assert len(errors) == 2 and result.stderr.endswith(errors[1] + "\n")
    assert result.stderr.count("Exported: W&B run ") == 2


@pytest.mark.extra("mlflow")
def test_an_mlflow_uri_of_another_scheme_is_refused_up_front(judged, capsys, monkeypatch):
    line = refused(judged, capsys, "--export", "mlflow=ftp://someone:s3cret@x/")
    assert line == (
        "Error: --export mlflow=ftp://x/: MLflow has no tracking store for ftp: URIs; give a "
        "folder, file:, sqlite:///FILE, http(s)://HOST, databricks, or a database URI "
        "(postgresql://, mysql://, mssql://)"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "s3://bucket/runs")
    line = refused(judged, capsys, "--export", "mlflow")
    assert line.startswith("Error: MLFLOW_TRACKING_URI=s3://bucket/runs: MLflow has no tracking")
    from mtbench.exports import check_tracking_uri

    for uri in ("mlruns", "file:///tmp/m", "sqlite:///m.db", "https://h", "databricks",
                "databricks://profile", "postgresql+psycopg2://u@h/db", "C:\\mlruns"):  # fmt: skip
        check_tracking_uri(uri)


# --- Flags and extras ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "neptune"], "--export neptune: unknown target 'neptune'; choose"),
        (["--export", "hf-card"], "--export hf-card needs the card's path"),
        (["--export", "mlflow="], "--export mlflow=: give a value after '='"),
        (["--export", "wandb", "--export", "wandb"], "--export: a target is given twice"),
        (["--compare", "a", "b", "--export", "wandb"], "--export records one judge's scores"),
    ],
)
def test_bad_export_flags_are_one_line(judged, capsys, args, message):
    assert refused(judged, capsys, *args).startswith(f"Error: {message}")


@pytest.mark.parametrize(
    ("target", "package"),
    [("hf-card=card.md", "huggingface_hub"), ("mlflow", "mlflow"), ("wandb", "wandb")],
)
def test_a_missing_extra_is_one_line_naming_it(judged, target, package):
    """Without the package (hidden from the import system), before anything is computed."""
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"
        "from mtbench.cli.show import main\n"
        f"sys.exit(main(['--data-dir', {str(judged.data_dir)!r}, '--export', {target!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    kind = target.split("=")[0]
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: --export {kind} needs the Python package '{package}', which is not installed: "
        f"run pip install 'mtbench-toolkit[{kind}]'\n"
    )


@pytest.mark.parametrize(
    ("target", "package"),
    [("hf-card=card.md", "huggingface_hub"), ("mlflow", "mlflow"), ("wandb", "wandb")],
)
def test_a_broken_install_is_one_line_naming_the_extra(judged, tmp_path, target, package):
    """Installed (found) but failing to import: one line naming the extra to reinstall, and the
    other targets still run."""
    broken = tmp_path / "site" / package
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("from mtbench_no_such_dependency import thing\n")
    others = [f"--export={t}" for t in ("hf-card=other.md", "wandb=wb") if t[:5] != target[:5]]
    result = run_cli(
        "show", "--data-dir", str(judged.data_dir), "--export", target, *others,
        cwd=tmp_path, env={"PYTHONPATH": f"{broken.parent}:{REPO}"},
    )  # fmt: skip
    kind = target.split("=")[0]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"Error: --export {kind}: importing {package} failed (ModuleNotFoundError: No module "
        "named 'mtbench_no_such_dependency'); reinstall it: pip install --force-reinstall "
        f"'mtbench-toolkit[{kind}]'"
    )
    assert result.stderr.count("Exported: ") == len(others)
