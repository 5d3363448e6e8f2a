"""Finding and loading a Hugging Face model: a local folder, a hub id, or a `.gguf` file.

A hub id is checked before anything loads: when the hub cannot be reached (a quick connection
test, `hub_reachable`) a model in the local hub cache is loaded from there, and one that is not
cached is a one-line `ConfigError` at once, instead of transformers retrying for most of a
minute.

A `.gguf` file is loaded by transformers (which de-quantizes it) and converted once into a plain
model folder in a cache, so later runs (and every Ray replica) load it in seconds. The cache entry
is keyed by the file (resolved path, size, modification time) and the transformers version: a
folder saved by one major version of transformers can load wrongly under another.

Cache location: `cache_dir` argument, else `$MTBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/mtbench`,
else `~/.cache/mtbench`.
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import logging
import os
import re
import shutil
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mtbench.data.leftovers import temp_paths
from mtbench.errors import ConfigError, MissingDependencyError, first_line

logger = logging.getLogger(__name__)

CACHE_ENV = "MTBENCH_CACHE_DIR"
DTYPES = ("float32", "float16", "bfloat16", "auto")
"""The `--dtype` values (`auto`: the dtype the model's config names)."""
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?")
HUB_PROBE_TIMEOUT = 5.0
"""Seconds the connection test to the hub may take (DNS failures answer at once)."""
_PROXY_ENVS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Variables that set torch's CPU threads; when one is set, mtbench leaves the count to it."""


def default_cpu_threads() -> int | None:
    """Torch CPU threads for a local model when `--num-threads` is not given.

    None when `OMP_NUM_THREADS` or `MKL_NUM_THREADS` is set: that is the user's choice, and
    torch follows it. Otherwise the cores this process may run on, less this process's share
    of the cores other processes keep busy (the 1-minute load average), and at least 1.

    torch's own default takes every core. On a machine where other work runs, the threads that
    wait for a busy core hold up every step: SmolLM2-135M on 2 shared cores made 6.5 tokens/s
    with 1 thread and 1.5 with torch's 2 (see the README).
    """
    if any(os.environ.get(name) for name in THREAD_ENVS):
        return None
    total = os.cpu_count() or 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this system
        load = 0.0
    busy = round(min(load, total) * cores / total)
    return max(1, cores - busy)


def import_transformers() -> tuple[Any, Any]:
    """Import torch and transformers, or say which extra provides them."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            exc.name or "transformers", "hf", "local generation with transformers"
        ) from None
    return torch, transformers


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where converted models are kept (see module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mtbench"


def resolve_model_path(
    model_path: str,
    cache_dir: str | Path | None = None,
    convert: bool = True,
    *,
    path_flag: str = "--model-path",
    revision: str = "main",
) -> str:
    """Turn `--model-path` into something `from_pretrained` loads: a folder or a hub id.

    Args:
        model_path: A model folder, a `.gguf` file, or a hub id such as `org/name`.
        cache_dir: Cache for converted GGUF files (see module docstring).
        convert: Convert a GGUF file now if it is not cached yet; when False, return the
            GGUF file's path if its conversion is not cached.
        path_flag: The running command's flag for the path (`--judge-model-path` for the
            judge), named in errors.
        revision: The hub revision, to look for a hub id's model in the local hub cache.

    Raises:
        ConfigError: naming the flag, the path and what was expected; for a hub id that is
            neither reachable (`hub_reachable`) nor cached, the ways to run without the hub.
    """
    path = Path(model_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            ggufs = sorted(path.glob("*.gguf"))
            hint = f"; to use a GGUF file give its path, e.g. {ggufs[0]}" if ggufs else ""
            raise ConfigError(
                f"{path_flag} {model_path}: folder has no config.json, so it is not a "
                f"Hugging Face model folder{hint}"
            )
        return str(path)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ConfigError(
                f"{path_flag} {model_path}: is a file but not a .gguf file; give a model "
                "folder, a .gguf file or a Hugging Face hub id"
            )
        folder = gguf_cache_folder(path, cache_dir)
        if folder.is_dir() or convert:
            return str(convert_gguf_cached(path, cache_dir, path_flag=path_flag))
        return str(path)
    if _looks_local(model_path):
        raise ConfigError(f"{path_flag} {model_path}: no such file or folder")
    if not _HUB_ID.fullmatch(model_path):
        raise ConfigError(
            f"{path_flag} {model_path}: not a folder, a .gguf file or a Hugging Face hub id "
            "(org/name)"
        )
    check_hub_model(model_path, revision, path_flag)
    return model_path


def hub_offline() -> bool:
    """Whether hub models load from the local cache only: `HF_HUB_OFFLINE=1`, or no hub."""
    import huggingface_hub

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE) or hub_reachable() is not None


def check_hub_model(model_id: str, revision: str = "main", path_flag: str = "--model-path") -> None:
    """Fail at once when a hub model can only come from a hub that cannot be reached.

    Raises:
        ConfigError: one line naming the hub id, why the hub is out of reach, and the ways
            out (a cached model with `HF_HUB_OFFLINE=1`, a local folder, a `.gguf` file).
    """
    import_transformers()  # the hub client comes with transformers
    import huggingface_hub

    if huggingface_hub.constants.HF_HUB_OFFLINE:
        why = "HF_HUB_OFFLINE is set"
    else:
        unreachable = hub_reachable()
        if unreachable is None:
            return
        why = f"the Hugging Face hub cannot be reached ({unreachable})"
    cached = huggingface_hub.try_to_load_from_cache(model_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return  # loads from the cache (`hub_offline` makes transformers skip the hub)
    raise ConfigError(
        f"{path_flag} {model_id}: {why} and the model is not in the local hub cache; "
        f"download it where there is network and run with HF_HUB_OFFLINE=1, or give "
        f"{path_flag} a local model folder or a .gguf file"
    )


@lru_cache(maxsize=1)
def hub_reachable() -> str | None:
    """None when a connection to the hub opens (or a proxy is set), else why it did not.

    A TCP connection to the host of `HF_ENDPOINT` (default huggingface.co), asked once per
    process: a missing network fails in milliseconds (DNS), a silent one after
    `HUB_PROBE_TIMEOUT` seconds. With a proxy in the environment the hub is assumed reachable
    and the hub client decides.
    """
    import huggingface_hub

    if any(os.environ.get(name) for name in _PROXY_ENVS):
        return None
    endpoint = urlsplit(huggingface_hub.constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT):
            return None
    except socket.gaierror:
        return f"cannot resolve {host}"
    except OSError as exc:
        return f"{host}: {exc.strerror or exc}"


def _looks_local(model_path: str) -> bool:
    return (
        model_path.startswith(("/", ".", "~"))
        or model_path.count("/") > 1
        or "\\" in model_path
        or model_path.lower().endswith(".gguf")
    )


def gguf_cache_folder(gguf_file: Path, cache_dir: str | Path | None = None) -> Path:
    """The cache folder for one GGUF file under the installed transformers version."""
    _torch, transformers = import_transformers()
    real = gguf_file.resolve()
    stat = real.stat()
    key = f"{real}|{stat.st_size}|{stat.st_mtime_ns}|transformers-{transformers.__version__}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root(cache_dir) / "gguf" / f"{real.stem}-{digest}"


def convert_gguf_cached(
    gguf_file: str | Path, cache_dir: str | Path | None = None, *, path_flag: str = "--model-path"
) -> Path:
    """Return a plain model folder for a GGUF file, converting it on first use.

    `path_flag` is the flag named when the file cannot be converted (as `convert_gguf`).

    Concurrent callers wait for one conversion (file lock); the folder appears atomically, so an
    interrupted conversion leaves nothing half-written behind. A conversion is staged in
    `.{folder}.{pid}.tmp` while the lock is held; a process killed mid-conversion (`kill -9`,
    the OOM killer) leaves that folder behind, several times the GGUF file's size, and the
    next caller that holds the lock removes it (no live process can be writing it then).
    """
    gguf_file = Path(gguf_file).expanduser()
    folder = gguf_cache_folder(gguf_file, cache_dir)
    lock_path = folder.with_name(folder.name + ".lock")
    if folder.is_dir():
        if temp_paths(folder, "tmp"):
            _clean_up_if_free(folder, lock_path)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Holding the lock, no other live process is converting this entry.
        _remove_staging_leftovers(folder)
        if folder.is_dir():
            return folder
        logger.warning(
            "converting %s once into %s (later runs load it from there)", gguf_file, folder
        )
        staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        try:
            convert_gguf(gguf_file, staging, path_flag=path_flag)
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _clean_up_if_free(folder: Path, lock_path: Path) -> None:
    """`_remove_staging_leftovers` if the conversion lock is free; else its holder does it."""
    try:
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _remove_staging_leftovers(folder)
    except OSError:  # busy, or a cache we may only read: leave it
        pass


def _remove_staging_leftovers(folder: Path) -> list[Path]:
    """Remove the staging folders of killed conversions of `folder`; hold its lock to call this.

    Returns:
        The folders removed.
    """
    removed = [path for path in temp_paths(folder, "tmp") if path.is_dir()]
    sizes = 0
    for path in removed:
        sizes += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        shutil.rmtree(path, ignore_errors=True)
    if removed:
        logger.warning(
            "removed %d folder(s) (%.0f MB) left in %s by an interrupted conversion of the same "
            "file",
            len(removed),
            sizes / 1e6,
            folder.parent,
        )
    return removed


def convert_gguf(
    gguf_file: str | Path, out_dir: str | Path, *, path_flag: str = "--model-path"
) -> None:
    """Load a GGUF file with transformers and save it as a plain (de-quantized) model folder.

    Raises `ConfigError` naming `path_flag` when transformers cannot load the file.

    A model loaded from GGUF refuses `save_pretrained`, so the weights are moved into a model
    built from the same config without its quantization settings.
    """
    torch, transformers = import_transformers()
    gguf_file = Path(gguf_file)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            str(gguf_file.parent), gguf_file=gguf_file.name
        )
        source = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf_file.parent), gguf_file=gguf_file.name
        )
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "gguf", "hf", "loading .gguf files") from None
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ConfigError(
            f"{path_flag} {gguf_file}: transformers cannot load this GGUF file: {exc}"
        ) from None
    config_dict = source.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(source.config).from_dict(config_dict)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config, **dtype_kwargs(source.dtype))
    model.load_state_dict(source.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = source.generation_config
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """`dtype=` for transformers that take it, `torch_dtype=` for older ones."""
    _torch, transformers = import_transformers()
    params = inspect.signature(transformers.PreTrainedModel.from_pretrained).parameters
    modern = "dtype" in params or _version_at_least(transformers.__version__, (4, 56))
    return {"dtype" if modern else "torch_dtype": dtype}


def _version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    numbers = re.findall(r"\d+", version)[:2]
    return tuple(int(n) for n in numbers) >= wanted


def cpu_computes_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), as torch reports.

    Where it does, bfloat16 generation ran 1.86x as fast as float32 on the project machine
    (README, "bfloat16 on CPU"); where it does not, bfloat16 is emulated and can be slower than
    float32. Asks torch's own CPU probes (`torch.cpu._is_avx512_bf16_supported`,
    `_is_amx_tile_supported`); a torch without them counts as no.
    """
    torch, _transformers = import_transformers()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def torch_dtype(name: str | None, device: str) -> Any:
    """The torch dtype for `--dtype` (FastChat's default: float16 on GPU, float32 on CPU).

    `auto` on CPU is bfloat16 where the CPU computes it natively (`cpu_computes_bf16`), else
    float32; on a GPU it is the dtype of the model's config (transformers' `auto`).
    """
    torch, _transformers = import_transformers()
    if name is None:
        return torch.float16 if device == "cuda" else torch.float32
    if name == "auto" and device == "cpu":
        return torch.bfloat16 if cpu_computes_bf16() else torch.float32
    if name == "auto":
        return "auto"
    if name not in DTYPES:
        raise ConfigError(f"--dtype {name}: choose one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def planned_dtype(name: str | None) -> tuple[str, str | None]:
    """The weights' dtype a transformers run of `--dtype name` loads here, before loading, and
    what the run says about it (`dtype_note`).

    The device is the one `HFBackend` picks (a GPU when torch sees one). Returns the dtype's
    name (`float32`, `bfloat16`, `float16`), or `auto` where the model's config decides (on a
    GPU), and the note or None.
    """
    torch, _transformers = import_transformers()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch_dtype(name, device)
    label = chosen if isinstance(chosen, str) else str(chosen).removeprefix("torch.")
    return label, dtype_note(name, device, label)


def dtype_note(asked: str | None, device: str, chosen: str) -> str | None:
    """What a CPU run says once about its weights' dtype (None where there is nothing to say).

    `--dtype auto` says what it chose and why; the float32 default says, on a CPU that computes
    bfloat16 natively, that `--dtype auto` is faster (`cpu_computes_bf16`).
    """
    if device != "cpu":
        return None
    native = cpu_computes_bf16()
    if asked == "auto":
        why = (
            "the CPU computes bfloat16 natively"
            if native
            else "the CPU has no native bfloat16 (AVX512-BF16 or AMX), where it is slower"
        )
        return f"--dtype auto: {chosen} weights ({why})"
    if asked is None and native:
        return (
            "float32 weights (the CPU default, as FastChat); this CPU computes bfloat16 "
            "natively: --dtype auto generated 1.3x to 1.9x as fast on the project's machine, "
            "with greedy answers that differ from float32's"
        )
    return None


def load_tokenizer(
    source: str,
    revision: str = "main",
    trust_remote_code: bool = False,
    *,
    path_flag: str = "--model-path",
) -> Any:
    """Load a tokenizer for left-padded batches (a GGUF path loads its embedded tokenizer).

    Raises `ConfigError` naming `path_flag` when it does not load.
    """
    _torch, transformers = import_transformers()
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    path = Path(source)
    if path.suffix.lower() == ".gguf" and path.is_file():
        source, kwargs = str(path.parent), {"gguf_file": path.name}
    tokenizer = _from_pretrained(
        transformers.AutoTokenizer, source, "its tokenizer", kwargs, path_flag
    )
    tokenizer.padding_side = "left"
    return tokenizer


def load_model(
    source: str,
    *,
    device: str,
    dtype: str | None = None,
    revision: str = "main",
    num_gpus: int = 1,
    max_gpu_memory: str | None = None,
    trust_remote_code: bool = False,
    path_flag: str = "--model-path",
) -> Any:
    """Load a causal LM for inference, on CPU, one GPU, or split over `num_gpus` GPUs.

    Raises `ConfigError` naming `path_flag` when it does not load.

    Several GPUs follow FastChat: a `sequential` device map capped at 85 % of each GPU's free
    memory, or an `auto` map capped at `max_gpu_memory` per GPU when that is given.
    """
    torch, transformers = import_transformers()
    kwargs: dict[str, Any] = {
        "revision": revision,
        "trust_remote_code": trust_remote_code,
        **dtype_kwargs(torch_dtype(dtype, device)),
    }
    if device == "cuda" and num_gpus > 1:
        available = torch.cuda.device_count()
        if available < num_gpus:
            raise ConfigError(
                f"--num-gpus-per-model {num_gpus}: only {available} GPU(s) are visible here"
            )
        if max_gpu_memory:
            kwargs["device_map"] = "auto"
            kwargs["max_memory"] = {i: max_gpu_memory for i in range(num_gpus)}
        else:
            kwargs["device_map"] = "sequential"
            kwargs["max_memory"] = {i: _free_gib(torch, i) for i in range(num_gpus)}
    elif max_gpu_memory:
        logger.warning("--max-gpu-memory applies when a model spans several GPUs; ignoring it")
    model = _from_pretrained(
        transformers.AutoModelForCausalLM, source, "the model", kwargs, path_flag
    )
    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    return model


def _from_pretrained(
    auto_class: Any, source: str, what: str, kwargs: dict[str, Any], path_flag: str
) -> Any:
    """`auto_class.from_pretrained(source, **kwargs)`; failing, a `ConfigError` naming `what`.

    A hub id loads from the local cache only when the hub is out of reach (`hub_offline`),
    so transformers does not spend most of a minute retrying it.
    """
    if not Path(source).exists() and hub_offline():
        kwargs = {**kwargs, "local_files_only": True}
    try:
        return auto_class.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path_flag} {source}: cannot load {what}: {first_line(exc)}") from None


def _free_gib(torch: Any, index: int) -> str:
    total = torch.cuda.get_device_properties(index).total_memory
    allocated = torch.cuda.memory_allocated(index)
    return f"{int((total - allocated) * 0.85 / 2**30)}GiB"
