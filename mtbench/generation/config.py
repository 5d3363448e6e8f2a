"""The settings of one `mtbench-gen` run, checked before anything heavy is loaded."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.backends.hf_loading import DTYPES
from mtbench.backends.registry import API_KINDS, AUTO, KINDS, LOCAL_KINDS, local_kind
from mtbench.data.paths import BenchPaths, file_stem
from mtbench.errors import ConfigError
from mtbench.generation.reasoning import REASONING_MODES

logger = logging.getLogger(__name__)

MEMORY_SIZE = re.compile(r"\d+(\.\d+)?(GiB|GB|MiB|MB)")
"""`--max-gpu-memory` sizes that accelerate reads as bytes (it would read `40Gb` as bits)."""


@dataclass(frozen=True)
class GenConfig:
    """What to generate, with which model, how (flag names as in FastChat's gen_model_answer).

    `mtbench-gen`'s flags set the fields of the same name (`--openai-api-base` sets `api_base`,
    `--model` or `--model-path` sets `model_path`, `--data-dir` and `--bench-name` make `paths`)
    and take their defaults from here. `generate_answers` calls `validate()`.

    Attributes:
        model_path: Model folder, `.gguf` file or hub id; with an API backend, the model name
            sent to the server (`--model`).
        model_id: The model's name: the answer file's stem and the rows' `model_id`. None (or
            empty): with an API backend, the last part of `model_path` (see
            `resolved_model_id`); a local model needs one.
        paths: The data directory and bench (default: `$MTBENCH_DATA_DIR`, else `./data`;
            `mt_bench`); questions come from `paths.question_file`.
        question_begin: Slice start into the question file (not a question id).
        question_end: Slice end.
        answer_file: Output file (default `{data_dir}/{bench}/model_answer/{model_id}.jsonl`).
        max_new_token: Token limit of every turn.
        num_choices: Completions per question (each seeded as `seed` says).
        backend: `hf` (transformers), `vllm`, `llamacpp` (llama.cpp on a `.gguf` file),
            `openai` (an OpenAI-compatible server), `anthropic` (Anthropic's API) or `fake`
            (scripted replies, for smoke runs); with the last three, `model_path` is the model
            name sent to the server (or reported). `auto` (the default) becomes, on
            construction, `registry.local_kind(model_path)`: `llamacpp` for a `.gguf` file when
            llama-cpp-python is installed, else `hf`.
        conv_template: A legacy FastChat template name; None uses the tokenizer's chat template.
        system_message: System message sent first in every conversation.
        reasoning: `strip` moves `<think>` traces out of judged answers; `keep` leaves them.
        force_temperature: One temperature for every question instead of FastChat's table.
        seed: Seed of choice 0; choice `i` gets `seed + i` (`choice_seed`). None: a local
            model's choice `i` is seeded with `i`, as FastChat's `gen_model_answer` seeds torch,
            and an API request carries no `seed` field, as FastChat's `gen_api_answer` sends
            none (a server such as vLLM samples differently when given one). Given, API
            requests carry `seed + i` (an opt-in; a server may ignore it).
        overwrite: Regenerate selected questions that already have answers.
        batch_size: Conversations per batch (None: automatic).
        num_gpus_per_model: GPUs per model replica.
        num_gpus_total: GPUs to use in all (None: every visible GPU).
        num_workers: CPU replicas (Ray) when there is no GPU.
        num_threads: Torch CPU threads of a transformers model on CPU (per replica), or
            llama.cpp's threads; None: the cores not kept busy by other work
            (`hf_loading.default_cpu_threads`), or `OMP_NUM_THREADS` when set.
        parallel: Concurrent requests, for backends that are remote APIs (and for a caller's
            backend that is `concurrent`); with `llamacpp`, the sequences llama.cpp decodes
            together (its slots).
        max_gpu_memory: Per-GPU memory cap (e.g. `40GiB`) for a model split over GPUs.
        gpu_memory_utilization: With `vllm`: share of each GPU's memory vLLM may take.
        max_model_len: With `vllm`: context length cap (None: the model's own); with
            `llamacpp`: tokens of prompt and reply per sequence (None:
            `llamacpp.DEFAULT_CONTEXT`, at most the model's own).
        dtype: `float32`, `float16`, `bfloat16` or `auto` (default: float16 on GPU, float32 on CPU;
            `auto` on CPU is bfloat16 where the CPU computes it natively, else float32:
            `backends.hf_loading.torch_dtype`).
        revision: Hub revision of weights and tokenizer.
        trust_remote_code: Allow model code from the hub.
        cache_dir: Cache for converted GGUF files.
        api_base: With `openai`: the server's base URL (None: `$OPENAI_BASE_URL`, else OpenAI).
        api_key_env: With `openai`/`anthropic`: the environment variable that holds the API key
            (None: `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`).
        timeout: With an API: seconds one request may take.
        max_attempts: With an API: attempts per request on 429/5xx/timeouts, with backoff.
    """

    model_path: str
    model_id: str | None = None
    paths: BenchPaths = field(default_factory=BenchPaths.resolve)
    question_begin: int | None = None
    question_end: int | None = None
    answer_file: str | None = None
    max_new_token: int = 1024
    num_choices: int = 1
    backend: str = AUTO
    conv_template: str | None = None
    system_message: str | None = None
    reasoning: str = "strip"
    force_temperature: float | None = None
    seed: int | None = None
    overwrite: bool = False
    batch_size: int | None = None
    num_gpus_per_model: int = 1
    num_gpus_total: int | None = None
    num_workers: int | None = None
    num_threads: int | None = None
    parallel: int = 8
    max_gpu_memory: str | None = None
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    dtype: str | None = None
    revision: str = "main"
    trust_remote_code: bool = False
    cache_dir: str | None = None
    api_base: str | None = None
    api_key_env: str | None = None
    timeout: float = 300.0
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if self.backend == AUTO:  # frozen: set once, so every later reader sees the engine
            object.__setattr__(self, "backend", local_kind(self.model_path))

    @property
    def uses_api(self) -> bool:
        """Whether answers come from a remote API."""
        return self.backend in API_KINDS

    @property
    def loads_model(self) -> bool:
        """Whether a model is loaded here (or on Ray replicas): not an API, not the fake."""
        return self.backend in LOCAL_KINDS

    def choice_seed(self, choice: int) -> int | None:
        """The sampling seed of choice `choice` (see `seed`); None: send no seed."""
        if self.seed is not None:
            return self.seed + choice
        return choice if self.loads_model else None

    @property
    def resolved_model_id(self) -> str:
        """`model_id`, else (API or fake backend) `file_stem` of the model name (`org/m` → `m`).

        Raises:
            ConfigError: a local model without a `model_id`.
        """
        if self.model_id:
            return self.model_id
        if not self.loads_model:
            return file_stem(self.model_path, "--model")
        raise ConfigError(
            "--model-id is required for a local model: it names the answer file and its rows"
        )

    def validate(self) -> None:
        """Reject impossible values and combinations, naming the flag.

        Raises:
            ConfigError: the first problem found.
        """
        model_id = self.resolved_model_id
        if not model_id.strip():
            raise ConfigError("--model-id must not be empty")
        if self.answer_file is None and ("/" in model_id or "\\" in model_id):
            raise ConfigError(
                f"--model-id {model_id}: a '/' would put the answer file in a subfolder "
                "that the judge does not read; use a name such as "
                f"{model_id.replace('/', '--')}"
            )
        for flag, value in (
            ("--max-new-token", self.max_new_token),
            ("--num-choices", self.num_choices),
            ("--batch-size", self.batch_size),
            ("--num-gpus-per-model", self.num_gpus_per_model),
            ("--num-gpus-total", self.num_gpus_total),
            ("--num-workers", self.num_workers),
            ("--num-threads", self.num_threads),
            ("--parallel", self.parallel),
            ("--max-attempts", self.max_attempts),
            ("--max-model-len", self.max_model_len),
        ):
            if value is not None and value < 1:
                raise ConfigError(f"{flag} must be at least 1, got {value}")
        if self.backend not in KINDS:
            raise ConfigError(
                f"--backend {self.backend}: choose one of {', '.join((AUTO, *KINDS))}"
            )
        if self.loads_model:
            self._validate_local()
        else:
            self._validate_api()
        self._validate_memory()
        if self.reasoning not in REASONING_MODES:
            raise ConfigError(
                f"--reasoning {self.reasoning}: choose one of {', '.join(REASONING_MODES)}"
            )
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype}: choose one of {', '.join(DTYPES)}")
        if self.timeout <= 0:
            raise ConfigError(f"--timeout must be positive, got {self.timeout:g}")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"--seed must not be negative, got {self.seed}")
        if self.force_temperature is not None and self.force_temperature < 0:
            raise ConfigError(
                f"--force-temperature must not be negative, got {self.force_temperature}"
            )
        if self.num_workers is not None and self.num_gpus_total is not None:
            raise ConfigError(
                "--num-workers is for CPU runs; on GPUs use --num-gpus-total and "
                "--num-gpus-per-model"
            )
        if self.num_gpus_total is not None and self.num_gpus_total % self.num_gpus_per_model:
            raise ConfigError(
                f"--num-gpus-total {self.num_gpus_total} is not a multiple of "
                f"--num-gpus-per-model {self.num_gpus_per_model}"
            )

    def _validate_memory(self) -> None:
        if self.max_gpu_memory is not None and not MEMORY_SIZE.fullmatch(self.max_gpu_memory):
            raise ConfigError(
                f"--max-gpu-memory {self.max_gpu_memory}: give a size per GPU such as 40GiB "
                "(units GiB, GB, MiB or MB)"
            )
        fraction = self.gpu_memory_utilization
        if fraction is not None and not 0 < fraction <= 1:
            raise ConfigError(
                f"--gpu-memory-utilization must be above 0 and at most 1, got {fraction:g}"
            )
        if self.backend == "vllm":
            for flag, value, instead in (
                ("--max-gpu-memory", self.max_gpu_memory, "--gpu-memory-utilization"),
                ("--batch-size", self.batch_size, "nothing: vLLM schedules batches itself"),
                ("--num-threads", self.num_threads, "nothing: vLLM runs on GPUs"),
            ):
                if value is not None:
                    raise ConfigError(f"{flag} is for --backend hf; with vllm use {instead}")
        elif self.backend == "hf":
            _reject_set(
                {"--gpu-memory-utilization": self.gpu_memory_utilization},
                "is for --backend vllm; with transformers use --max-gpu-memory and --batch-size",
            )
            _reject_set(
                {"--max-model-len": self.max_model_len},
                "is for --backend vllm or llamacpp; transformers uses the model's own context",
            )
        elif self.backend == "llamacpp":
            self._validate_llamacpp()

    def _validate_llamacpp(self) -> None:
        """Flags that llama.cpp has no use for, each with what to use instead."""
        for flag, value, instead in (
            ("--batch-size", self.batch_size, "--parallel N decodes N sequences together"),
            ("--dtype", self.dtype, "the GGUF file's own weight types are used"),
            ("--max-gpu-memory", self.max_gpu_memory, "it runs on CPU here"),
            ("--gpu-memory-utilization", self.gpu_memory_utilization, "it runs on CPU here"),
            ("--num-gpus-total", self.num_gpus_total, "it runs on CPU here"),
            ("--num-workers", self.num_workers, "--parallel N decodes N sequences together"),
        ):
            if value is not None:
                raise ConfigError(
                    f"{flag} does not apply to --backend llamacpp: {instead} (--backend hf "
                    "runs the file with transformers)"
                )

    def _validate_local(self) -> None:
        _reject_set(
            {"--openai-api-base": self.api_base, "--api-key-env": self.api_key_env},
            f"is for an API server (--backend openai or anthropic), not --backend {self.backend}",
        )

    def _validate_api(self) -> None:
        """The flags of the kinds that load no model here: openai, anthropic and fake."""
        if self.api_base is not None and self.backend != "openai":
            hint = " (Anthropic's comes from $ANTHROPIC_BASE_URL)" if self.uses_api else ""
            raise ConfigError(f"--openai-api-base is for --backend openai{hint}")
        if self.api_key_env is not None and not self.uses_api:
            raise ConfigError(
                "--api-key-env is for an API server (--backend openai or anthropic), "
                f"not --backend {self.backend}"
            )
        where = "the server decides" if self.uses_api else "no model is loaded"
        if self.conv_template:
            rendering = (
                "the server applies its own chat template"
                if self.uses_api
                else "no prompt is rendered"
            )
            raise ConfigError(
                f"--conv-template is for local models; with --backend {self.backend} "
                f"{rendering} (use --system-message for a system prompt)"
            )
        local_only = {
            "--batch-size": self.batch_size,
            "--num-gpus-total": self.num_gpus_total,
            "--num-workers": self.num_workers,
            "--num-threads": self.num_threads,
            "--max-gpu-memory": self.max_gpu_memory,
            "--gpu-memory-utilization": self.gpu_memory_utilization,
            "--max-model-len": self.max_model_len,
            "--dtype": self.dtype,
        }
        _reject_set(
            local_only,
            f"is for local models; with --backend {self.backend} {where} "
            "(use --parallel for concurrent requests)",
        )

    @property
    def prompt(self) -> str:
        """How prompts are rendered, as recorded in answer rows."""
        return f"conv_template:{self.conv_template}" if self.conv_template else "chat_template"

    def normalized_model_path(self) -> str:
        """The model path as recorded: absolute for local files and folders, else the hub id."""
        path = Path(self.model_path).expanduser()
        return str(path.resolve()) if path.exists() else self.model_path

    def settings(self) -> dict[str, Any]:
        """The `generation` field of every row (see `mtbench.generation.plan`)."""
        from mtbench._version import __version__

        sampling = {
            "system_message": self.system_message,
            "max_new_token": self.max_new_token,
            "num_choices": self.num_choices,
            "reasoning": self.reasoning,
            "force_temperature": self.force_temperature,
            "backend": self.backend,
        }
        if self.seed is not None and not (self.loads_model and self.seed == 0):
            # Recorded only where it changes the seeds, so rows made without --seed match.
            sampling["seed"] = self.seed
        if not self.loads_model:
            # The server renders prompts and picks weights; the base URL may change between
            # runs (another host serving the same model) without making answers stale.
            return {
                "model": self.model_path,
                "prompt": "server" if self.uses_api else "none",
                **sampling,
                "mtbench": __version__,
            }
        return {
            "model_path": self.normalized_model_path(),
            "revision": self.revision,
            "prompt": self.prompt,
            **sampling,
            "dtype": self.dtype,
            "mtbench": __version__,
        }


def _reject_set(flags: Mapping[str, object], reason: str) -> None:
    """Reject the first of `flags` (flag → value, None when not given) that was given.

    Raises:
        ConfigError: `{flag} {reason}`, for the first flag in order whose value is not None.
    """
    for flag, value in flags.items():
        if value is not None:
            raise ConfigError(f"{flag} {reason}")


@dataclass(frozen=True)
class Placement:
    """Where the model runs: how many replicas and what each gets."""

    replicas: int
    gpus_per_replica: int
    cpus_per_replica: int
    use_ray: bool


def plan_placement(config: GenConfig, visible_gpus: int, ray_available: bool) -> Placement:
    """Decide replicas from the GPU flags, `--num-workers` and the GPUs visible.

    `visible_gpus` counts this machine's GPUs, or the cluster's when `RAY_ADDRESS` is set.
    GPUs: `--num-gpus-total` (default: all visible) over `--num-gpus-per-model` each; CPU:
    `--num-workers` replicas sharing the cores. More than one replica, or `RAY_ADDRESS`, means
    Ray. Without the flags and without Ray installed, several visible GPUs fall back to one
    replica (with a note) rather than failing.
    """
    per = config.num_gpus_per_model
    cluster = bool(os.environ.get("RAY_ADDRESS"))
    cores = os.cpu_count() or 1
    if config.num_workers is not None:
        workers = config.num_workers
        return Placement(workers, 0, max(1, cores // workers), use_ray=workers > 1 or cluster)
    total = config.num_gpus_total
    if total is None:
        if visible_gpus == 0:
            if per > 1:
                raise ConfigError(f"--num-gpus-per-model {per}: no GPU is visible here")
            return Placement(1, 0, cores, use_ray=cluster)
        if visible_gpus < per:
            raise ConfigError(
                f"--num-gpus-per-model {per}: only {visible_gpus} GPU(s) are visible here"
            )
        total = visible_gpus - visible_gpus % per
        if total // per > 1 and not ray_available:
            logger.warning(
                "using one model replica on %d of %d GPUs: install Ray "
                "(pip install 'mtbench-toolkit[ray]') to use them all",
                per,
                visible_gpus,
            )
            total = per
    elif total > visible_gpus and not cluster:
        raise ConfigError(
            f"--num-gpus-total {total}: only {visible_gpus} GPU(s) are visible here "
            "(set RAY_ADDRESS to use a Ray cluster's GPUs)"
        )
    replicas = total // per
    if config.backend == "vllm" and replicas > 1 and per > 1:
        raise ConfigError(
            "--backend vllm runs several replicas only with --num-gpus-per-model 1; for one "
            "tensor-parallel model over all GPUs set --num-gpus-per-model to --num-gpus-total"
        )
    return Placement(replicas, per, 1, use_ray=replicas > 1 or cluster)
