"""Planning a judge run: load and check the data, build the matches, leave out the done ones.

Nothing here calls the judge. The plan says what will be sent, how many calls that is, what it
may cost, and where results go, so that `--dry-run` and the confirmation prompt can show it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.backends.registry import (
    LOCAL_KINDS,
    BackendSpec,
    api_url,
    describe_backend,
    provider_api,
)
from mtbench.data.answers import Answer, load_answer_file
from mtbench.data.defaults import FALLBACK_REFERENCES
from mtbench.data.judge_prompts import load_judge_prompts
from mtbench.data.paths import BenchPaths, file_stem, require_file
from mtbench.data.questions import Question, QuestionId, load_questions
from mtbench.errors import ConfigError, DataError
from mtbench.judging import checks, cost
from mtbench.judging.config import JudgeConfig
from mtbench.judging.judge_backend import (
    FAKE_JUDGE,
    default_max_tokens,
    judge_spec,
    name_served_judge,
)
from mtbench.judging.matches import Match, build_matches, grading_kind, make_judges, needs_reference
from mtbench.judging.resume import judged_keys

logger = logging.getLogger(__name__)


@dataclass
class JudgePlan:
    """A run, planned.

    Attributes:
        options: What was asked.
        backend: Which judge backend and model.
        judge_name: The judge's name in the output.
        questions: The questions judged.
        models: The models judged.
        matches: Every match of the run, in FastChat's order.
        pending: The matches not yet in the output file.
        output: The judgment file.
        reference_file: The reference answers used, if any question needs them.
        max_tokens: The judge's reply limit.
        flags: Answers that look broken.
        notices: Things the user should know (fallbacks, FastChat `$ERROR$` rows).
        stale_keys: The keys of pending matches that were judged, but grading a prompt that
            has changed since (`judging.staleness`): judged again.
    """

    options: JudgeConfig
    backend: BackendSpec
    judge_name: str
    questions: list[Question]
    models: list[str]
    matches: list[Match]
    pending: list[Match]
    output: Path
    reference_file: Path | None
    max_tokens: int
    flags: list[checks.AnswerFlag] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    stale_keys: frozenset[tuple[object, ...]] = frozenset()

    @property
    def stale(self) -> int:
        """How many pending matches are judged again because their rows are stale."""
        return len(self.stale_keys)

    @property
    def stale_matches(self) -> list[Match]:
        return [match for match in self.pending if match.key in self.stale_keys]

    @property
    def done(self) -> int:
        return len(self.matches) - len(self.pending)

    @property
    def calls(self) -> int:
        return sum(match.games for match in self.pending)

    @property
    def price(self) -> tuple[float, float] | None:
        """USD per 1k (input, output) tokens of this judge, if known (`cost.choose_price`)."""
        return choose_price(self)[0]

    @property
    def price_source(self) -> str:
        """Where `price` comes from (flags, price table, list price, local model)."""
        return choose_price(self)[1]

    def estimate(self, matches: Sequence[Match] | None = None) -> cost.Estimate:
        """Calls, tokens and cost of judging `matches` (default: every pending match)."""
        matches = self.pending if matches is None else matches
        calls = sum(match.games for match in matches)
        input_tokens = 0
        for match in matches:
            for swapped in (False, True)[: match.games]:
                messages = match.messages(swapped)
                chars = sum(len(m["content"]) for m in messages)
                input_tokens += cost.count_tokens(chars, len(messages))
        price, source = self.price, self.price_source
        return cost.Estimate(
            calls=calls,
            input_tokens=input_tokens,
            output_tokens=calls * cost.OUTPUT_TOKENS_PER_CALL,
            price=price,
            price_source=source,
        )


def choose_price(
    plan: JudgePlan, model: str | None = None
) -> tuple[tuple[float, float] | None, str]:
    """The judge's price per 1k (input, output) tokens and its source (`cost.choose_price`).

    A local or fake judge costs nothing. The built-in list prices are OpenAI's and Anthropic's:
    a judge at any other URL (a local vLLM or Ollama, a proxy) is priced only by the price
    flags or `--price-table`, else not at all (the source then says why). Prices are live
    prices: with `--batch`, whichever applies is halved (`cost.BATCH_DISCOUNT`).

    Args:
        plan: The run (its flags, price table and backend kind).
        model: Price this model name instead of the requested one (the snapshot that answered).
    """
    price, source = _live_price(plan, model)
    if price is not None and plan.options.batch and price != (0.0, 0.0):
        discount = cost.BATCH_DISCOUNT
        return (price[0] * discount, price[1] * discount), f"{source}, halved by --batch"
    return price, source


def _live_price(
    plan: JudgePlan, model: str | None = None
) -> tuple[tuple[float, float] | None, str]:
    """`choose_price` before the batch discount."""
    options = plan.options
    if plan.backend.kind in LOCAL_KINDS:
        return (0.0, 0.0), "local model"
    if plan.backend.kind == "fake":
        return (0.0, 0.0), "fake backend"
    table = cost.load_price_table(options.price_table) if options.price_table else None
    known = provider_api(plan.backend)
    price, source = cost.choose_price(
        model or plan.backend.model,
        options.price_per_1k_input,
        options.price_per_1k_output,
        table,
        known,
    )
    if price is None and not known:
        source = (
            f"no list price for a judge served at {api_url(plan.backend)}; give "
            "--price-per-1k-input and --price-per-1k-output if it charges"
        )
    return price, source


def judge_label(options: JudgeConfig) -> str:
    """The judge's name in output files and rows' `judge[0]`.

    `--judge-name` as given, else `file_stem` of `--judge-model-path` or `--judge-model`
    (`Qwen/Qwen2.5-72B-Instruct` -> `Qwen2.5-72B-Instruct`), the rule every reader applies to
    its `--judge-model`. A fake judge is called `fake` (unless `--judge-name` says otherwise).

    Raises:
        ConfigError: for a `--judge-name` that is not its own file stem (a `/`, `.`, `..`, a
            `.gguf` ending), or a model name or path that gives no file name.
    """
    if options.judge_name:
        try:
            usable = file_stem(options.judge_name) == options.judge_name
        except ConfigError:
            usable = False
        if not usable:
            raise ConfigError(
                f"--judge-name {options.judge_name!r} must be usable as a file name: no '/', "
                "not '.' or '..', no .gguf ending"
            )
        return options.judge_name
    if options.judge_backend == "fake":
        return FAKE_JUDGE
    source = options.judge_model_path or options.requested_model
    try:
        return file_stem(source)
    except ConfigError:
        raise ConfigError(
            f"{source!r} gives the judge no file name; give it one with --judge-name"
        ) from None


def _model_list(options: JudgeConfig, paths: BenchPaths) -> list[str]:
    """`--model-list` by answer-file stem (the name in judgment rows), else every answer file."""
    if options.model_list:
        return [file_stem(model, "--model-list") for model in options.model_list]
    found = sorted(path.stem for path in paths.answer_dir.glob("*.jsonl"))
    if not found:
        raise DataError(
            "no model answers to judge; generate some with mtbench-gen or pass --model-list",
            paths.answer_dir,
        )
    return found


def _references(
    options: JudgeConfig,
    paths: BenchPaths,
    judge_name: str,
    questions: Sequence[Question],
    notices: list[str],
) -> tuple[dict[QuestionId, Answer], Path | None]:
    needing = [q for q in questions if needs_reference(q)]
    if not needing:
        return {}, None
    if options.ref_answer_model:
        chosen = file_stem(options.ref_answer_model, "--ref-answer-model")
        available = sorted(p.stem for p in paths.reference_dir.glob("*.jsonl"))
        path = require_file(
            paths.reference_file(chosen),
            f"reference answers of '{options.ref_answer_model}' (--ref-answer-model)",
            hint=f"available: {', '.join(available) or 'none'}",
        )
    elif paths.reference_file(judge_name).is_file():
        path = paths.reference_file(judge_name)
    else:
        looked_for = (
            f"neither {judge_name}.jsonl nor {FALLBACK_REFERENCES}.jsonl"
            if judge_name != FALLBACK_REFERENCES
            else f"{judge_name}.jsonl"
        )
        path = require_file(
            paths.reference_file(FALLBACK_REFERENCES), f"reference answers ({looked_for})"
        )
        if judge_name != FALLBACK_REFERENCES:
            notices.append(
                f"no reference answers for judge '{judge_name}'; using GPT-4's ({path.name}), "
                "as FastChat's published runs do (choose with --ref-answer-model)"
            )
    references = load_answer_file(path)
    checks.check_references(needing, references, path)
    return references, path


def output_file(options: JudgeConfig) -> Path:
    """The judgment file a run writes: `{judge}_single.jsonl` or `{judge}_pair.jsonl`."""
    return options.paths.judgment_file(judge_label(options), options.mode)


def make_plan(options: JudgeConfig, notices: Sequence[str] = ()) -> JudgePlan:
    """Load and check everything a run needs, and work out what is left to judge.

    Args:
        options: The run's options (a judge at a URL without a model name is named after the
            one model the server lists: `judge_backend.name_served_judge`).
        notices: Notices to show first in the plan.

    Raises:
        ConfigError: for impossible options.
        DataError: for missing or malformed files, missing answers or references.
    """
    options.validate()
    served_notice = ""
    if options.unnamed_served_judge:
        options, served_notice = name_served_judge(options)
    judge_name = judge_label(options)
    spec = judge_spec(options, judge_name, grading_kind(options.mode))
    paths = options.paths
    questions = load_questions(paths.question_file, end=options.first_n)
    judge_file = Path(options.judge_file) if options.judge_file else paths.judge_prompts_file
    judges = make_judges(load_judge_prompts(judge_file), judge_name, options.mode, str(judge_file))

    models = _model_list(options, paths)
    needed = list(models)
    baseline = (
        file_stem(options.baseline_model, "--baseline-model")
        if options.mode == "pairwise-baseline"
        else None
    )
    if baseline and baseline not in needed:
        needed.append(baseline)
    if options.mode == "pairwise-all" and len(models) < 2:
        raise ConfigError("--mode pairwise-all needs at least two models")
    if baseline and not [m for m in models if m != baseline]:
        raise ConfigError(f"nothing to compare with the baseline '{baseline}'; list other models")
    answer_files = {model: paths.answer_file(model) for model in needed}
    answers = {m: load_answer_file(f) for m, f in answer_files.items() if f.is_file()}
    checks.check_answers(questions, answers, needed, answer_files)

    notices = [*notices, *([served_notice] if served_notice else [])]
    references, reference_file = _references(options, paths, judge_name, questions, notices)
    matches = build_matches(
        questions,
        answers,
        judges,
        options.mode,
        models,
        baseline=baseline,
        references=references,
        answer_reasoning=options.answer_reasoning,
        samples=options.samples,
    )
    flags = checks.flag_answers(questions, answers, needed)
    if options.answer_reasoning == "keep" and any(
        flag.problem == checks.REASONING_TRACE for flag in flags
    ):
        notices.append(
            "answers with a <think> reasoning trace are judged with it, as FastChat does; "
            "--answer-reasoning strip judges them with the trace removed"
        )
    if options.samples > 1 and (spec.kind == "fake" or spec.kind in LOCAL_KINDS):
        if spec.kind == "fake" or not options.judge_temperature:
            notices.append(
                f"--samples {options.samples} with a {spec.kind} judge at temperature 0 gives "
                "the same verdict every time (greedy); set --judge-temperature to sample"
            )
    output = output_file(options)
    done, stale = judged_keys(output, options.mode, matches, options.keep_stale, notices)
    pending = [match for match in matches if match.key not in done]
    plan = JudgePlan(
        options=options,
        backend=spec,
        judge_name=judge_name,
        questions=questions,
        models=models,
        matches=matches,
        pending=pending,
        output=output,
        reference_file=reference_file,
        max_tokens=options.max_tokens or default_max_tokens(spec.kind),
        flags=flags,
        notices=notices,
        stale_keys=frozenset(stale),
    )
    if not options.batch:
        from mtbench.judging.batch_plan import uncollected_notice

        note = uncollected_notice(plan)
        if note:
            plan.notices.append(note)
    return plan


def describe_plan(plan: JudgePlan) -> str:
    """The plan as FastChat's stats block would say it, plus calls and cost."""
    options = plan.options
    rows = [
        ("bench", f"{options.paths.bench_name} ({len(plan.questions)} questions)"),
        ("mode", options.mode),
        ("judge", f"{plan.judge_name}: {describe_backend(plan.backend)}"),
    ]
    if options.mode == "pairwise-baseline":
        rows.append(("baseline", file_stem(options.baseline_model)))
    rows += [
        ("models", ", ".join(plan.models)),
        ("references", str(plan.reference_file) if plan.reference_file else "none needed"),
        ("matches", _describe_matches(plan)),
        ("judge calls", f"{plan.calls} ({describe_request(plan)})"),
        *([("batch", _describe_batch(plan))] if options.batch else []),
        ("estimate", cost.describe(plan.estimate())),
        ("output", str(plan.output)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name + ':':<{width + 1}} {value}" for name, value in rows]
    lines += [f"  notice: {text}" for text in plan.notices]
    if plan.stale:
        part = plan.estimate(plan.stale_matches)
        money = f", about ${part.dollars:,.2f}" if part.dollars else ""
        lines.append(
            f"  notice: {plan.stale} judged match(es) in {plan.output.name} are stale: the "
            "answer, reference or judge prompt they graded has changed since; they are judged "
            f"again ({part.calls} call(s), ~{cost.format_tokens(part.input_tokens)} input "
            f"tokens{money}) and appended (the old rows stay and readers skip them; "
            "--keep-stale counts them as judged)"
        )
    lines += [
        f"  warning: {text}" for text in checks.describe_flags(plan.flags, options.answer_reasoning)
    ]
    return "\n".join(["mtbench-judge plan", *lines])


def _describe_batch(plan: JudgePlan) -> str:
    """The `batch:` line of a `--batch` plan (`judging.batch_plan.describe`)."""
    from mtbench.judging.batch_plan import describe

    return describe(plan)


def _describe_matches(plan: JudgePlan) -> str:
    """`160 (150 already judged, 10 to judge, 4 of them stale)`; with samples, each sample of a
    match is counted: `144 (48 matches x 3 samples; ...)`."""
    stale = f", {plan.stale} of them stale" if plan.stale else ""
    samples = plan.options.samples
    each = f"{len(plan.matches) // samples} matches x {samples} samples; " if samples > 1 else ""
    return (
        f"{len(plan.matches)} ({each}{plan.done} already judged, {len(plan.pending)} to judge"
        f"{stale})"
    )


def describe_request(plan: JudgePlan) -> str:
    """The judge's sampling as asked for: `temperature 0, max 2048 tokens` for FastChat's."""
    options = plan.options
    temperature = options.judge_temperature
    omitted = temperature is None or bool(options.judge_thinking_budget)
    parts = [
        "temperature not sent (the model's default)"
        if omitted and plan.backend.kind not in LOCAL_KINDS
        else f"temperature {temperature or 0:g}",
        f"max {plan.max_tokens} tokens",
    ]
    if options.judge_reasoning_effort:
        parts.append(f"reasoning effort {options.judge_reasoning_effort}")
    if options.judge_thinking_budget:
        parts.append(f"thinking budget {options.judge_thinking_budget} tokens")
    if options.judge_extra_body:
        parts.append(f"extra body {json.dumps(options.judge_extra_body)}")
    return ", ".join(parts)


def render_prompt(match: Match, swapped: bool = False) -> str:
    """One judge request, fully rendered, for `--dry-run`."""
    head = (
        f"question {match.question.question_id} ({match.question.category}), "
        f"{' vs '.join(match.models)}, turn {match.turn}, prompt {match.judge.prompt.name}"
    )
    parts = [f"===== judge request: {head} ====="]
    for message in match.messages(swapped):
        parts.append(f"----- {message['role']} -----")
        parts.append(message["content"])
    parts.append("===== end of request =====")
    return "\n".join(parts)
