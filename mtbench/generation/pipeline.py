"""`generate_answers`: MT-bench answers from any backend, batched, resumable, on Ray if asked.

The flow (FastChat's `fastchat/llm_judge/gen_model_answer.py`: `run_eval`, `get_model_answers`,
`reorg_answer_file`; made faster and safer):

1. load and slice the questions; check that the answer file can be written and lock it for this
   run (`mtbench.data.run_lock`: a second run on it stops at once, naming this one); decide what
   is missing for this model id and settings (`plan`);
2. open the backend once (`backend_spec` -> `mtbench.backends.registry`): load a local model
   (once per Ray replica), or connect to an API;
3. generate in groups, turn by turn (`scheduler`), writing each question's row as soon as all
   its choices are finished (`JsonlAppender`: one complete line per write, flushed; a write the
   disk refuses stops the run with one `WriteError`, leaving no torn line);
4. always, even after Ctrl-C or an error: sort the file by question id, one row per question;
5. questions that failed after retries are raised at the end (`FailedQuestionsError`), once
   everything else is written.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mtbench.backends.base import Backend
from mtbench.backends.conv_templates import get_conv_template
from mtbench.backends.registry import LOCAL_KINDS, BackendSpec, open_backend
from mtbench.data.answers import Answer, Choice, reorg_answer_file
from mtbench.data.jsonl import JsonlAppender
from mtbench.data.questions import Question, QuestionId, load_questions
from mtbench.data.run_lock import RunLock
from mtbench.data.writable import WriteError, check_writable
from mtbench.errors import AuthError, BackendError, ConfigError, RequestError
from mtbench.generation.config import GenConfig, Placement, plan_placement
from mtbench.generation.engines import Engine, LocalEngine, ThreadEngine
from mtbench.generation.plan import SETTINGS_FIELD, Plan, make_plan
from mtbench.generation.sampling import choice_params
from mtbench.generation.scheduler import Scheduler, Task, make_groups

logger = logging.getLogger(__name__)


class Progress(Protocol):
    """What the driver reports while it runs (the CLI draws it with tqdm)."""

    def start(self, answer_file: Path, plan: Plan) -> None: ...

    def generation_started(self, turns: int = 0, max_new_tokens: int = 0) -> None:
        """The model is loaded; `turns` replies of at most `max_new_tokens` tokens to make."""

    def tokens(self, count: int) -> None:
        """A call (or, in a refilled batch, one reply) finished, having generated `count`
        tokens, which `tokens_in_flight` may have reported already."""

    def tokens_in_flight(self, count: int) -> None:
        """`count` more tokens of the calls under way (local models, each decoding step;
        negative when rows restart after running out of memory)."""

    def turns_done(self, count: int) -> None:
        """`count` more turns finished (or dropped with a failed question)."""

    def question_done(self, question_id: QuestionId) -> None: ...

    def question_failed(self, question_id: QuestionId) -> None: ...

    def close(self) -> None: ...


@dataclass
class GenSummary:
    """What a run did."""

    answer_file: Path
    selected: int
    generated: int = 0
    already_done: int = 0
    regenerated: int = 0
    """Questions regenerated because their answers were made with other settings."""
    failed: dict[QuestionId, str] = field(default_factory=dict)
    tokens: int | None = None
    seconds: float = 0.0
    """Wall time of the whole run."""
    generation_seconds: float = 0.0
    """Wall time from the first batch to the last (model loading excluded)."""
    unfinished: int = 0
    """Questions the run never finished because it stopped early (a backend that is down)."""

    def line(self) -> str:
        """One line for the end of a run."""
        parts = [f"{self.generated} question(s) generated"]
        if self.already_done:
            parts.append(f"{self.already_done} already done")
        if self.regenerated:
            parts.append(f"{self.regenerated} regenerated after a settings change")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.unfinished:
            parts.append(f"{self.unfinished} unfinished")
        rate = ""
        if self.tokens is not None and self.generation_seconds > 0:
            per_second = self.tokens / self.generation_seconds
            rate = (
                f", {self.tokens} tokens in {_duration(self.generation_seconds)} "
                f"({per_second:.1f} tokens/s)"
            )
        return (
            f"{', '.join(parts)}{rate}; wall time {_duration(self.seconds)}; "
            f"answers in {self.answer_file}"
        )


class FailedQuestionsError(BackendError):
    """Questions whose generation failed after retries; every other answer was written.

    The failed questions have no answer row, so a rerun retries them.

    Attributes:
        summary: What the run did; `summary.failed` maps each failed question id to its error.
    """

    def __init__(self, summary: GenSummary):
        self.summary = summary
        ids = ", ".join(str(qid) for qid in sorted(summary.failed)[:10])
        first = next(iter(summary.failed.values()))
        super().__init__(
            f"{len(summary.failed)} question(s) failed ({ids}): {first}; they have no "
            "answer row, so a rerun retries them"
        )


class GenerationStoppedError(FailedQuestionsError):
    """The run stopped early because the backend kept failing (`calls.FailureStreak`).

    Every answer finished before the stop was written; `summary.failed` holds the questions
    whose calls failed and `summary.unfinished` counts the ones never finished, so a rerun of
    the same command generates exactly those.
    """

    def __init__(self, summary: GenSummary, cause: BackendError):
        self.summary = summary
        missing = len(summary.failed) + summary.unfinished
        BackendError.__init__(
            self,
            f"generation stopped: {cause}; {summary.generated} question(s) written, "
            f"{missing} still to generate: rerun the same command to resume",
        )


def load_selected_questions(config: GenConfig) -> tuple[list[Question], Path]:
    """The selected questions and the answer file of a run.

    Raises:
        DataError: for a question file without questions (or malformed).
        ConfigError: when `--question-begin`/`--question-end` select no question.
    """
    paths = config.paths
    every = load_questions(paths.question_file)
    questions = every[config.question_begin : config.question_end]
    if not questions:
        ids = [question.question_id for question in every]
        flags = " ".join(
            f"{flag} {value}"
            for flag, value in (
                ("--question-begin", config.question_begin),
                ("--question-end", config.question_end),
            )
            if value is not None
        )
        raise ConfigError(
            f"--question-begin/--question-end select no question ({flags}): "
            f"{paths.question_file} has {len(every)} question(s), and the slice counts "
            f"positions in it (0 to {len(every) - 1}), not question ids "
            f"({min(ids)} to {max(ids)})"
        )
    if config.answer_file:
        answer_file = Path(config.answer_file).expanduser()
    else:
        answer_file = paths.answer_file(config.resolved_model_id)
    return questions, answer_file


def generate_answers(
    config: GenConfig,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> GenSummary:
    """Generate the missing answers of one model and write them to its answer file.

    Args:
        config: The run's settings.
        backend: A ready backend to use instead of opening the configured one (e.g. a loaded
            model, or a remote API backend: when it is `concurrent` it is called from a thread
            pool with at most `config.parallel` requests in flight, see
            `mtbench.backends.calls.open_pool`). It stays open for the caller.
        progress: Receives progress reports.

    Returns:
        What was generated and skipped (`failed` is empty: failures raise).

    Raises:
        ConfigError, DataError, MissingDependencyError: before any model is loaded, among them
            an answer file that cannot be written, and `FileInUseError` when another run
            holds it.
        FailedQuestionsError: some questions failed after retries; the others were written and
            the file is sorted (the error's `summary` tells what was done). A rerun retries them.
            `GenerationStoppedError`, a subclass, when generation kept failing and the run
            stopped early (its summary counts the `unfinished` questions too).
        AuthError, RequestError: the backend refused the key or the request.
        WriteError: when the disk refuses a row (the rows written so far are kept).
    """
    started = time.monotonic()
    config.validate()
    if config.conv_template:
        get_conv_template(config.conv_template, config.system_message)  # fail early
    questions, answer_file = load_selected_questions(config)
    if backend is None and config.backend == "llamacpp":
        from mtbench.backends.llamacpp import prompt_format

        # Fail early on a bad file or template: the vocabulary alone loads in a moment.
        prompt_format(config.model_path, config.conv_template).tokenizer.gguf.close()
    elif backend is None and config.loads_model:
        from mtbench.backends.hf_loading import resolve_model_path

        resolve_model_path(  # fail early
            config.model_path, config.cache_dir, convert=False, revision=config.revision
        )
    check_writable(answer_file, "the answer file")
    # Held from reading what is done to the final re-sort: see `mtbench.data.run_lock`.
    with RunLock(answer_file):
        return _generate(config, backend, progress, questions, answer_file, started)


def _generate(
    config: GenConfig,
    backend: Backend | None,
    progress: Progress | None,
    questions: list[Question],
    answer_file: Path,
    started: float,
) -> GenSummary:
    """`generate_answers` once the answer file is locked for this run."""
    settings = config.settings()
    dtype_note = None
    if backend is not None:
        settings["backend"] = type(backend).__name__
        if backend.format is not None:
            settings["prompt"] = backend.format.description
    # The weights' dtype (`--dtype auto` resolved), so rows say what made them.
    loaded = getattr(backend, "dtype_name", None)
    if loaded:
        settings["dtype"] = loaded
        dtype_note = getattr(backend, "dtype_note", None)
    elif backend is None and config.backend == "hf" and not os.environ.get("RAY_ADDRESS"):
        # Loaded here or on local replicas, on the device this process sees (a cluster's
        # replicas may see another: their rows keep the flag as given).
        from mtbench.backends.hf_loading import planned_dtype

        settings["dtype"], dtype_note = planned_dtype(config.dtype)
    plan = make_plan(questions, answer_file, settings, config.overwrite)
    if dtype_note and plan.todo:
        plan.notes.append(dtype_note)
    engine_note = _engine_note(config) if backend is None else None
    if engine_note and plan.todo:
        plan.notes.append(engine_note)
    summary = GenSummary(
        answer_file,
        selected=len(questions),
        already_done=len(plan.done),
        regenerated=len(plan.stale),
    )
    if progress:
        progress.start(answer_file, plan)
    if not plan.todo:
        summary.seconds = time.monotonic() - started
        return summary
    engine = _make_engine(config, backend, len(plan.todo) * config.num_choices)
    if engine.num_threads:
        settings["num_threads"] = engine.num_threads  # recorded, not a resume key
    weights = getattr(getattr(engine, "backend", None), "dtype_name", None)
    if backend is None and config.backend == "llamacpp" and weights:
        settings["dtype"] = weights  # the GGUF file's weight type, e.g. Q4_1
    stopped: BackendError | None = None
    appender = JsonlAppender(answer_file, what="answers")
    failing = True
    try:
        tasks = _make_tasks(config, plan.todo)
        groups = make_groups(
            tasks, engine.chunk_size(config.max_new_token), engine.slots, engine.mixes_temperatures
        )

        model_id = config.resolved_model_id

        def write(done: list[Task]) -> None:
            appender.append(_row(done, model_id, settings))  # a failed write: one WriteError
            summary.generated += 1
            if progress:
                progress.question_done(done[0].question.question_id)

        scheduler = Scheduler(
            engine,
            groups,
            on_question=write,
            on_tokens=progress.tokens if progress else lambda n: None,
            on_failed=progress.question_failed if progress else lambda qid: None,
            on_turns=progress.turns_done if progress else lambda n: None,
        )
        generating = time.monotonic()
        if progress:
            engine.listen(progress.tokens_in_flight)
            progress.generation_started(scheduler.turns, config.max_new_token)
        try:
            stats = scheduler.run()
        except (AuthError, RequestError):
            raise  # a rejected key or request: nothing was generated, one line says it all
        except BackendError as exc:
            stopped, stats = exc, scheduler.stats  # the backend looks down: report, then raise
        finally:
            summary.generation_seconds = time.monotonic() - generating
        summary.failed = stats.failed
        summary.tokens = stats.tokens
        failing = False
    finally:
        appender.close()
        try:
            engine.close()
        finally:
            try:
                if answer_file.exists():
                    reorg_answer_file(answer_file)
            except WriteError as exc:
                if not failing:
                    raise
                logger.info("%s", exc)  # the error that stopped the run is the one to show
    summary.seconds = time.monotonic() - started
    if stopped is not None:
        summary.unfinished = len(plan.todo) - summary.generated - len(summary.failed)
        raise GenerationStoppedError(summary, stopped) from stopped
    if summary.failed:
        raise FailedQuestionsError(summary)
    return summary


def _make_tasks(config: GenConfig, questions: list[Question]) -> list[Task]:
    return [
        Task(
            question=question,
            choice=choice,
            params=choice_params(
                question,
                choice,
                config.max_new_token,
                config.force_temperature,
                seed=config.choice_seed(choice),
            ),
            system_message=config.system_message,
            strip_reasoning=config.reasoning == "strip",
        )
        for question in questions
        for choice in range(config.num_choices)
    ]


def _row(tasks: list[Task], model_id: str, settings: dict[str, Any]) -> dict[str, Any]:
    """FastChat's answer row, plus the settings, why each turn ended, and reasoning traces.

    `finish_reason` holds one list per choice with one entry per turn (`length`: cut at the
    token limit, which `mtbench-judge` flags; `stop`: ended by the model).
    """
    extra: dict[str, Any] = {SETTINGS_FIELD: settings}
    if any(reason for task in tasks for reason in task.finish_reasons):
        extra["finish_reason"] = [list(t.finish_reasons) for t in tasks]
    if any(trace for task in tasks for trace in task.traces):
        extra["reasoning"] = [{"index": t.choice, "turns": list(t.traces)} for t in tasks]
    answer = Answer(
        question_id=tasks[0].question.question_id,
        model_id=model_id,
        choices=tuple(Choice(index=t.choice, turns=tuple(t.answers)) for t in tasks),
        extra=extra,
    )
    return answer.to_row()


def _make_engine(config: GenConfig, backend: Backend | None, task_count: int) -> Engine:
    owns_backend = backend is None  # the caller's backend stays open for the caller
    if backend is None:
        spec = backend_spec(config)
        # llama.cpp decodes --parallel sequences in this process; no Ray replicas.
        if spec.kind in LOCAL_KINDS and spec.kind != "llamacpp":
            placement = _placement(config)
            if placement.use_ray:
                return _ray_engine(config, spec, placement, task_count)
        backend = open_backend(spec)
    if backend.concurrent:
        return ThreadEngine(backend, config.parallel, owns_backend=owns_backend)
    return LocalEngine(backend, owns_backend=owns_backend)


def _ray_engine(
    config: GenConfig, spec: BackendSpec, placement: Placement, task_count: int
) -> Engine:
    from mtbench.backends.hf_loading import resolve_model_path
    from mtbench.generation.ray_engine import RayEngine

    if placement.replicas > task_count:
        placement = Placement(
            task_count, placement.gpus_per_replica, placement.cpus_per_replica, placement.use_ray
        )
    # Convert a GGUF file here, once, before the replicas load it.
    spec = replace(
        spec,
        model_path=resolve_model_path(
            config.model_path, config.cache_dir, revision=config.revision
        ),
    )
    logger.info(
        "starting %d replica(s) on Ray (%d GPU(s), %d CPU(s) each)",
        placement.replicas,
        placement.gpus_per_replica,
        placement.cpus_per_replica,
    )
    return RayEngine(
        spec, placement.replicas, placement.gpus_per_replica, placement.cpus_per_replica
    )


def _placement(config: GenConfig) -> Placement:
    cluster = bool(os.environ.get("RAY_ADDRESS"))
    ray_available = importlib.util.find_spec("ray") is not None  # without importing it (slow)
    if cluster:
        from mtbench.generation.ray_engine import start_ray

        ray_module, _ = start_ray()
        visible = int(ray_module.cluster_resources().get("GPU", 0))
    else:
        visible = _local_gpus()
    return plan_placement(config, visible, ray_available)


def _local_gpus() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def backend_spec(config: GenConfig) -> BackendSpec:
    """The backend a run configures, as a picklable spec (what Ray replicas receive too).

    Error messages of the backend name `mtbench-gen`'s flags (`--api-key-env`, `--model`).
    """
    if not config.loads_model:
        # The fake backend replies with `mtbench.backends.fake.echo`.
        return BackendSpec(
            kind=config.backend,
            model=config.model_path,  # the served model's name (or the fake's)
            base_url=config.api_base,
            api_key_env=config.api_key_env,
            timeout=config.timeout,
            max_attempts=config.max_attempts,
            key_flag="--api-key-env",
            model_flag="--model",
        )
    template = (
        get_conv_template(config.conv_template, config.system_message)
        if config.conv_template
        else None
    )
    if config.backend == "llamacpp":
        return BackendSpec(
            kind="llamacpp",
            model=config.resolved_model_id,
            model_path=config.model_path,
            options={
                "conv_template": template,
                "parallel": config.parallel,
                "max_model_len": config.max_model_len,
                "num_threads": config.num_threads,
            },
        )
    options: dict[str, Any] = {
        "conv_template": template,
        "revision": config.revision,
        "dtype": config.dtype,
        "num_gpus": config.num_gpus_per_model,
        "trust_remote_code": config.trust_remote_code,
        "cache_dir": config.cache_dir,
    }
    if config.backend == "hf":
        options.update(
            batch_size=config.batch_size,
            max_gpu_memory=config.max_gpu_memory,
            num_threads=config.num_threads,
        )
    elif config.backend == "vllm":
        if config.gpu_memory_utilization is not None:
            options["gpu_memory_utilization"] = config.gpu_memory_utilization
        options["max_model_len"] = config.max_model_len
    return BackendSpec(
        kind=config.backend,
        model=config.resolved_model_id,
        model_path=config.model_path,
        options=options,
    )


def show_prompt(config: GenConfig) -> str:
    """The exact prompt of the first selected question's first turn (no model is loaded).

    For a local model, the rendered prompt text; for an API server, the JSON messages sent.
    """
    config.validate()
    questions, _ = load_selected_questions(config)
    task = Task(questions[0], 0, choice_params(questions[0], 0, 1), config.system_message)
    if not config.loads_model:
        return json.dumps(list(task.conversation()), indent=2, ensure_ascii=False)
    from mtbench.backends.prompting import load_prompt_format

    template = (
        get_conv_template(config.conv_template, config.system_message)
        if config.conv_template
        else None
    )
    if config.backend == "llamacpp":
        from mtbench.backends.llamacpp import prompt_format

        return prompt_format(config.model_path, template).render(task.conversation())
    _, fmt = load_prompt_format(
        config.model_path,
        template,
        model_name=config.model_path,
        revision=config.revision,
        trust_remote_code=config.trust_remote_code,
        cache_dir=config.cache_dir,
        convert=False,  # showing a prompt never converts a GGUF file
    )
    return fmt.render(task.conversation())


def _engine_note(config: GenConfig) -> str | None:
    """What runs a `.gguf` file, said once before the run (None for other models)."""
    if not config.model_path.lower().endswith(".gguf") or not config.loads_model:
        return None
    if config.backend == "llamacpp":
        return (
            f"llama.cpp runs {config.model_path} natively, {config.parallel} sequences decoded "
            "together (--parallel); --backend hf runs it with transformers instead"
        )
    if config.backend == "hf":
        from mtbench.backends.registry import llama_cpp_installed

        if not llama_cpp_installed():
            return (
                "transformers runs the .gguf file de-quantized to float32; pip install "
                "'mtbench-toolkit[llamacpp]' runs it natively with llama.cpp, several times "
                "as fast on CPU"
            )
    return None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s"
