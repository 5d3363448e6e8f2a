"""Ray: two local CPU replicas give the same answers as one process, one row per question;
with `RAY_ADDRESS`, the same on a real Ray cluster started apart from the driver."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run_cli, unused_port

from mtbench.data.answers import load_answer_file
from mtbench.generation import GenConfig, generate_answers

pytestmark = [pytest.mark.model, pytest.mark.ray]


def test_two_cpu_workers_match_a_single_process(bench, smollm2_model, smollm2_backend):
    # Roleplay 99-100 (sampled at 0.7) and reasoning 101-102 (greedy).
    questions = ["--question-begin", "18", "--question-end", "22"]
    result = run_cli(
        "gen", "--model-path", str(smollm2_model), "--model-id", "ray",
        "--data-dir", str(bench.data_dir), "--max-new-token", "8", "--num-workers", "2",
        *questions,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4 question(s) generated")
    lines = bench.answer_file("ray").read_text().splitlines()
    assert [json.loads(line)["question_id"] for line in lines] == [99, 100, 101, 102]
    # Each replica runs with its share of the cores, and the rows say so.
    share = max(1, (os.cpu_count() or 1) // 2)
    assert {json.loads(line)["generation"]["num_threads"] for line in lines} == {share}

    single = GenConfig(
        model_path=str(smollm2_model),
        model_id="single",
        paths=bench,
        max_new_token=8,
        question_begin=18,
        question_end=22,
    )
    generate_answers(single, backend=smollm2_backend)
    with_ray = load_answer_file(bench.answer_file("ray"))
    alone = load_answer_file(bench.answer_file("single"))
    assert {q: a.choices for q, a in with_ray.items()} == {q: a.choices for q, a in alone.items()}


@pytest.fixture
def ray_cluster():
    """A real Ray cluster head (`ray start --head`, token authentication on), killed afterwards.

    It runs in its own process group, on free ports (also those Ray would otherwise fix), so
    it neither meets nor stops a Ray cluster of the developer's, as `ray stop` would. It runs
    from another folder without PYTHONPATH: in a checkout that is not pip-installed, its
    workers can import `mtbench` only from the package the driver ships.
    """
    token = secrets.token_hex(16)
    port = unused_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are limited
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    log_path = Path(temp, "head.log")
    with open(log_path, "w") as log:
        head = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
             f"--port={port}", f"--dashboard-port={unused_port()}",
             f"--dashboard-agent-listen-port={unused_port()}", "--num-cpus=2",
             f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"],
            env=env, cwd=temp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log_path.read_text():
            assert head.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "Ray head not started after 120 s"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # the head, its raylet and its workers
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_address_joins_a_cluster_and_ships_the_package(
    bench, smollm2_model, smollm2_backend, ray_cluster
):
    address, token = ray_cluster
    args = (
        "gen", "--model-path", str(smollm2_model), "--model-id", "cluster",
        "--data-dir", str(bench.data_dir), "--max-new-token", "8", "--num-workers", "2",
        "--question-begin", "20", "--question-end", "22",
    )  # fmt: skip

    # A driver that sends no token is refused; the error says what to set, and writes nothing.
    refused = run_cli(*args, env={"RAY_ADDRESS": address, "RAY_AUTH_TOKEN": token})
    assert refused.returncode == 1
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: cannot start the Ray cluster at RAY_ADDRESS={address}")
    assert "set RAY_AUTH_MODE=token" in error
    assert not bench.answer_file("cluster").exists()

    joined = run_cli(
        *args, env={"RAY_ADDRESS": address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    )
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout.startswith("2 question(s) generated")
    rows = [json.loads(line) for line in bench.answer_file("cluster").read_text().splitlines()]
    assert [row["question_id"] for row in rows] == [101, 102]
    single = GenConfig(
        model_path=str(smollm2_model), model_id="single", paths=bench,
        max_new_token=8, question_begin=20, question_end=22,
    )  # fmt: skip
    generate_answers(single, backend=smollm2_backend)
    alone = load_answer_file(bench.answer_file("single"))
    on_cluster = load_answer_file(bench.answer_file("cluster"))
    assert {q: a.choices for q, a in on_cluster.items()} == {q: a.choices for q, a in alone.items()}
    # The replicas load quietly, and the token shows nowhere.
    assert "Loading weights" not in joined.stderr
    assert token not in joined.stdout + joined.stderr + refused.stdout + refused.stderr
