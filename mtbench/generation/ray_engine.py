"""Spreading generation over model replicas with Ray: several GPUs, CPU workers, or a cluster.

Each replica is a Ray actor that loads its own copy of the model (`--num-gpus-per-model` GPUs
each, or a share of the CPU cores with `--num-workers`). The driver keeps all the planning: it
hands each free replica the next group's turn (so fast replicas take more work than slow ones,
instead of FastChat's fixed shards) and is the only process that writes the answer file.

With `RAY_ADDRESS` set, the driver joins that cluster (and ships the `mtbench` package to it);
otherwise it starts a private local Ray instance and stops it at the end.
"""

from __future__ import annotations

import logging
import os
import queue
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from mtbench.backends.base import Conversation, GenerationParams, TurnFeed
from mtbench.backends.calls import LOCAL_FAILURE_STREAK
from mtbench.backends.registry import BackendSpec, open_backend
from mtbench.errors import BackendError, MissingDependencyError, MTBenchError
from mtbench.generation.engines import Result, run_counted

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "ray", "ray", "generating on several GPUs or workers"
        ) from None
    return ray


def start_ray(num_cpus: int | None = None) -> tuple[Any, bool]:
    """Connect to `RAY_ADDRESS` or start a local instance; return (ray, whether we started it)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    address = os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address:
        package = str(Path(__file__).resolve().parent.parent)
        kwargs["runtime_env"] = {"py_modules": [package]}
        logger.info("joining the Ray cluster at %s", address)
    else:
        kwargs.update(include_dashboard=False, num_cpus=num_cpus)
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
        hint = ""
        if address and os.environ.get("RAY_AUTH_MODE") != "token":
            hint = f" ({AUTH_HINT})"
        raise BackendError(f"cannot start {where}: {_reason(exc)}{hint}") from None
    return ray, True


AUTH_HINT = (
    "if the cluster uses token authentication, the default of `ray start` in recent Ray, "
    "set RAY_AUTH_MODE=token here too, with its token in RAY_AUTH_TOKEN or ~/.ray/auth_token"
)
"""Ray drivers send a token only with RAY_AUTH_MODE=token, and a refused one shows only as a
connection failure (after about 20 s of retries)."""


def _quiet_loading_bars() -> None:
    """Replicas load their models silently: Ray would interleave their progress bars with ours."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()


REFILL_CALL_BATCHES = 4
"""Conversations per call to a replica that refills its batch, in batch sizes: a call's batch
idles only at the call's end, when fewer conversations than rows are left."""


class _Replica:
    """A Ray actor that holds one backend (created remotely)."""

    def __init__(self, spec: BackendSpec, num_threads: int | None):
        if num_threads and spec.kind == "hf" and not spec.options.get("num_threads"):
            # A CPU replica gets its share of the cores, unless --num-threads says otherwise.
            spec = replace(spec, options={**spec.options, "num_threads": num_threads})
        elif num_threads:
            import torch

            torch.set_num_threads(num_threads)
        _quiet_loading_bars()
        self.backend = open_backend(spec)

    def ready(self) -> bool:
        return True

    def per_row_params(self) -> bool:
        return self.backend.per_row_params

    def chunk_size(self, max_new_tokens: int) -> int:
        size = max(1, self.backend.batch_size(max_new_tokens))
        # A refilling backend keeps its batch full within a call only if the call holds more.
        return size * REFILL_CALL_BATCHES if self.backend.refills else size

    def generate(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Result:
        return run_counted(self.backend, conversations, params)


class RayEngine:
    """Replicas of one backend on Ray, each running one call at a time.

    Args:
        spec: The backend every replica opens (`open_backend`).
        replicas: How many copies of the model.
        gpus_per_replica: GPUs given to each replica (0 on CPU).
        cpus_per_replica: CPU cores (and torch threads) given to each replica.
    """

    def __init__(
        self, spec: BackendSpec, replicas: int, gpus_per_replica: int, cpus_per_replica: int
    ):
        self.ray, self._owns_ray = start_ray(
            None if gpus_per_replica else max(replicas * cpus_per_replica, os.cpu_count() or 1)
        )
        self.slots = replicas
        self.failure_streak = LOCAL_FAILURE_STREAK  # every replica is a local engine
        self.refills = False  # calls go to replicas whole (each may refill within a call)
        actor_class = self.ray.remote(_Replica)
        threads = None if gpus_per_replica else cpus_per_replica
        self.num_threads: int | None = (
            (spec.options.get("num_threads") or threads) if spec.kind == "hf" else None
        )
        self._actors = [
            actor_class.options(num_gpus=gpus_per_replica, num_cpus=cpus_per_replica).remote(
                spec, threads
            )
            for _ in range(replicas)
        ]
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        try:
            self.ray.get([actor.ready.remote() for actor in self._actors])
        except Exception as exc:
            self.close()
            raise _translate(self.ray, exc) from None
        for actor in self._actors:
            self._free.put(actor)
        self.mixes_temperatures = bool(self.ray.get(self._actors[0].per_row_params.remote()))
        logger.info("%d replica(s) ready", replicas)

    def chunk_size(self, max_new_tokens: int) -> int:
        return int(self.ray.get(self._actors[0].chunk_size.remote(max_new_tokens)))

    def listen(self, on_tokens: Callable[[int], None]) -> None:
        """Nothing to do: replicas run in other processes; tokens arrive with each call."""

    def submit(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> Future[Result]:
        actor = self._free.get_nowait()  # the scheduler never exceeds `slots` calls in flight
        result: Future[Result] = Future()
        remote = actor.generate.remote(list(conversations), list(params)).future()

        def finished(done: Future[Result]) -> None:
            self._free.put(actor)
            try:
                result.set_result(done.result())
            except Exception as exc:  # noqa: BLE001 - every failure goes to the scheduler
                result.set_exception(_translate(self.ray, exc))

        remote.add_done_callback(finished)
        return result

    def refill(self, feed: TurnFeed) -> None:
        raise NotImplementedError("replicas take whole calls")

    def close(self) -> None:
        for actor in self._actors:
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors = []
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()


def _translate(ray: Any, exc: BaseException) -> BaseException:
    """Turn Ray's wrappers into mtbench errors with a one-line reason."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, MTBenchError):
        return cause
    if isinstance(exc, MTBenchError):
        return exc
    if isinstance(exc, ray.exceptions.RayError):
        return BackendError(f"a Ray replica failed: {_reason(exc)}")
    return exc


def _reason(exc: BaseException) -> str:
    """The most telling line of a (possibly multi-line, remote) error message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception): ", line):
            return line
    return lines[-1] if lines else type(exc).__name__
