"""`mtbench-browse` as a library: one self-contained HTML page to browse a bench's results.

FastChat's `qa_browser.py` is a Gradio server (broken on current Gradio). This writes a static
page instead: it opens from disk with no server and no network. The data (questions, answers,
judgments, and `mtbench-show`'s tables with their confidence intervals) is embedded once as JSON,
and a small vanilla-JS script (`browse_assets/`) renders the leaderboard, the per-category table
and radar chart, and per-question views with the selected models side by side.

Everything taken from the data files is untrusted: the JSON is escaped so that it cannot close
its `<script>` element, the script builds the page with text nodes only (never `innerHTML`), and
a Content-Security-Policy allows no network access and only the page's own script (by hash).

Missing pieces are shown, not fatal: a judgment file that does not exist, a model without an
answer to some question, a model-list entry with no data. Only a missing question file, or a
bench with neither answers nor judgments, is an error.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.scores import build_report
from mtbench.analysis.selection import latest_prompts
from mtbench.data.answers import Answer, load_answer_file, load_model_answers
from mtbench.data.atomic import write_atomic
from mtbench.data.defaults import DEFAULT_BASELINE, DEFAULT_JUDGE
from mtbench.data.judgments import (
    PairJudgment,
    SingleJudgment,
    first_parsed,
    load_pair_judgments,
    load_single_judgments,
    out_of_scale_warning,
)
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import CATEGORIES, QuestionId, load_questions
from mtbench.data.writable import check_writable
from mtbench.errors import DataError
from mtbench.judging.staleness import PromptCheck, split_stale
from mtbench.reports.scores import accounting_line, as_json

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
"""The default output, `{data}/{bench}/report.html`."""

DEFAULT_BOOTSTRAP = BootstrapSpec()

_ASSETS = "browse_assets"
_PLACEHOLDER = re.compile(r"\{\{(TITLE|CSP|CSS|JS|DATA)\}\}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that must not appear raw inside an inline <script> (or that old parsers choke on).
_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True)
class BrowseResult:
    """What `write_browse_report` wrote.

    Attributes:
        path: The HTML file.
        size: Its size in bytes.
        models: Models on the page.
        questions: Questions on the page.
        notes: Missing pieces the page mentions (also logged as warnings).
    """

    path: Path
    size: int
    models: tuple[str, ...]
    questions: int
    notes: tuple[str, ...]


def default_output(paths: BenchPaths) -> Path:
    """`{data}/{bench}/report.html`."""
    return paths.bench_dir / REPORT_NAME


def build_page_data(
    paths: BenchPaths,
    judge_model: str = DEFAULT_JUDGE,
    baseline_model: str | None = DEFAULT_BASELINE,
    model_list: Sequence[str] | None = None,
    bootstrap: BootstrapSpec | None = DEFAULT_BOOTSTRAP,
) -> dict[str, Any]:
    """Gather everything the page shows, as JSON-able data.

    Args:
        paths: The data directory and bench.
        judge_model: Whose judgment files and reference answers to read.
        baseline_model: Pairwise judgments are shown against this baseline when the pairwise
            file has it (`pairwise-baseline`); otherwise as all pairs (`pairwise-all`).
        model_list: Only these models (None: every model with answers or judgments).
        bootstrap: Resampling for the confidence intervals; None turns them off.

    Raises:
        DataError: for a missing question file, a malformed file, or no data at all.
    """
    questions = load_questions(paths.question_file)
    wanted = set(model_list) if model_list is not None else None
    notes: list[str] = []
    answers = {
        model: rows
        for model, rows in load_model_answers(paths.answer_dir).items()
        if wanted is None or model in wanted
    }
    reference = _judge_reference(paths, judge_model)
    check = PromptCheck(paths)  # one for both files: each bench file is read once
    single = _single_section(paths, judge_model, model_list, bootstrap, notes, check)
    pair = _pair_section(paths, judge_model, baseline_model, model_list, bootstrap, notes, check)
    judged = set(single["judgments"]) if single else set()
    if pair:
        judged |= {m for rows in pair["judgments"].values() for r in rows for m in r["models"]}
    models = sorted(set(answers) | judged)
    if not models:
        selection = f" for --model-list {' '.join(model_list)}" if model_list else ""
        raise DataError(
            f"no model answers or judgments found{selection}; run `mtbench-gen` and "
            "`mtbench-judge` first, or check --data-dir and --model-list",
            paths.bench_dir,
        )
    if wanted is not None:
        for missing in sorted(wanted - set(models)):
            notes.append(f"{missing}: no answers or judgments found")
    if not answers:
        notes.append(f"No model answers in {paths.answer_dir}.")
    qids = [q.question_id for q in questions]
    for model in sorted(answers):
        absent = [qid for qid in qids if qid not in answers[model]]
        if absent:
            notes.append(f"{model}: no answer to {len(absent)} of {len(qids)} questions.")
    for note in notes:
        logger.warning("%s", note)
    # On the page only: `build_report` has logged it already.
    report = single["report"] if single else None
    scale = out_of_scale_warning(report["accounting"]["out_of_scale"]) if report else None
    if scale:
        notes.append(f"Single grading: {scale}.")
    categories = [c for c in CATEGORIES if any(q.category == c for q in questions)]
    categories += sorted({q.category for q in questions} - set(categories))
    return {
        "meta": {
            "bench": paths.bench_name,
            "judge": judge_model,
            "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "question_file": str(paths.question_file),
            "answer_dir": str(paths.answer_dir),
            "reference_file": str(paths.reference_file(judge_model)) if reference else None,
            "notes": notes,
        },
        "categories": categories,
        "questions": [
            {
                "id": q.question_id,
                "category": q.category,
                "turns": list(q.turns),
                "reference": list(q.reference) if q.reference else None,
            }
            for q in questions
        ],
        "models": models,
        "answers": {model: _answer_turns(rows) for model, rows in sorted(answers.items())},
        "judge_reference": reference,
        "single": single,
        "pairwise": pair,
    }


def _answer_turns(rows: dict[QuestionId, Answer]) -> dict[str, list[str]]:
    return {str(qid): list(answer.turns) for qid, answer in sorted(rows.items())}


def _judge_reference(paths: BenchPaths, judge_model: str) -> dict[str, list[str]] | None:
    path = paths.reference_file(judge_model)
    if not path.is_file():
        return None
    return _answer_turns(load_answer_file(path))


def _leaderboard(
    paths: BenchPaths, mode: str, notes: list[str], label: str, **kwargs: Any
) -> dict[str, Any] | None:
    """`mtbench-show`'s report in its JSON form, plus its accounting line, for the leaderboard.

    None, with a note that the `label` leaderboard is left out and why, if it cannot be built.
    """
    try:
        report = build_report(paths, mode=mode, **kwargs)
        data = as_json(report)
        data["accounting_line"] = accounting_line(report.accounting, report.mode)
    except DataError as exc:
        notes.append(f"{label} leaderboard left out: {exc}")
        return None
    return data


def _single_section(
    paths: BenchPaths,
    judge_model: str,
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    notes: list[str],
    check: PromptCheck,
) -> dict[str, Any] | None:
    path = paths.judgment_file(judge_model, "single")
    if not path.is_file():
        notes.append(
            f"No single-grading judgments: {path} not found (mtbench-judge --mode single)."
        )
        return None
    rows: list[SingleJudgment] = list(load_single_judgments(path))
    # Stale rows are left out; the leaderboard's accounting line counts them.
    shown = split_stale([j for j in rows if model_list is None or j.model in model_list], check)[0]
    judgments: dict[str, dict[str, dict[str, Any]]] = {}
    for j in first_parsed(latest_prompts(shown)[0])[0]:
        per_question = judgments.setdefault(j.model, {}).setdefault(str(j.question_id), {})
        per_question[str(j.turn)] = {"score": j.score, "judge": list(j.judge), "text": j.judgment}
    report = _leaderboard(
        paths,
        "single",
        notes,
        "Single-grading",
        input_file=path,
        model_list=model_list,
        bootstrap=bootstrap,
        judgments=rows,
    )
    return {"file": str(path), "report": report, "judgments": judgments}


def _pair_section(
    paths: BenchPaths,
    judge_model: str,
    baseline_model: str | None,
    model_list: Sequence[str] | None,
    bootstrap: BootstrapSpec | None,
    notes: list[str],
    check: PromptCheck,
) -> dict[str, Any] | None:
    path = paths.judgment_file(judge_model, "pairwise-all")
    if not path.is_file():
        notes.append(f"No pairwise judgments: {path} not found (mtbench-judge --mode pairwise-*).")
        return None
    rows: list[PairJudgment] = list(load_pair_judgments(path))
    has_baseline = baseline_model is not None and any(
        baseline_model in (j.model_1, j.model_2) for j in rows
    )
    mode = "pairwise-baseline" if has_baseline else "pairwise-all"
    allowed: set[str | None] | None = None if model_list is None else {*model_list, baseline_model}
    judgments: dict[str, list[dict[str, Any]]] = {}
    for j in first_parsed(latest_prompts(split_stale(rows, check)[0])[0])[0]:
        if allowed is not None and not {j.model_1, j.model_2} <= allowed:
            continue
        judgments.setdefault(str(j.question_id), []).append(
            {
                "models": [j.model_1, j.model_2],
                "turn": j.turn,
                "judge": list(j.judge),
                "winners": [j.g1_winner, j.g2_winner],
                "texts": [j.g1_judgment, j.g2_judgment],
            }
        )
    report = _leaderboard(
        paths,
        mode,
        notes,
        "Pairwise",
        input_file=path,
        baseline_model=baseline_model,
        model_list=model_list,
        bootstrap=bootstrap,
        judgments=rows,
    )
    return {"file": str(path), "mode": mode, "report": report, "judgments": judgments}


def script_json(data: Any) -> str:
    """JSON that is safe inside an HTML `<script>` element whatever strings `data` holds."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Paired surrogates were joined by the JSON reader; a lone one cannot be written as UTF-8.
    text = _LONE_SURROGATE.sub("\ufffd", text)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def _asset(name: str) -> str:
    return (resources.files("mtbench.reports") / _ASSETS / name).read_text(encoding="utf-8")


def render_html(data: dict[str, Any]) -> str:
    """The complete page: template, CSS, script and the embedded data."""
    script = _asset("browse.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    meta = data["meta"]
    parts = {
        "TITLE": html.escape(f"MT-bench report: {meta['bench']} judged by {meta['judge']}"),
        "CSP": html.escape(csp),
        "CSS": _asset("browse.css"),
        "JS": script,
        "DATA": script_json(data),
    }
    # One pass, so that text substituted in (the data) is never scanned for placeholders.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("browse.html"))


def write_browse_report(
    paths: BenchPaths,
    output: str | Path | None = None,
    judge_model: str = DEFAULT_JUDGE,
    baseline_model: str | None = DEFAULT_BASELINE,
    model_list: Sequence[str] | None = None,
    bootstrap: BootstrapSpec | None = DEFAULT_BOOTSTRAP,
) -> BrowseResult:
    """Build the page and write it atomically (default `{data}/{bench}/report.html`).

    Arguments as for `build_page_data`; `output` is the HTML file to write.

    Raises:
        DataError: as `build_page_data`, and before any work when `output` cannot be written
            (`WriteError` when the write itself fails; an older report is then unchanged).
    """
    path = Path(output) if output is not None else default_output(paths)
    check_writable(path, "the report")
    data = build_page_data(paths, judge_model, baseline_model, model_list, bootstrap)
    size = write_atomic(path, [render_html(data).encode("utf-8")], "the report")
    return BrowseResult(
        path, size, tuple(data["models"]), len(data["questions"]), tuple(data["meta"]["notes"])
    )
