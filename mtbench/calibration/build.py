"""A calibration from a judgment file: which models, which reference, the fit, the item agreement.

For each official model the judge scored, the reference (its GPT-4 average) is taken from the
best source present:

* the official per-item GPT-4 judgments (`model_judgment/gpt-4_single.jsonl`), averaged over
  exactly the items the judge scored (then judge and GPT-4 are compared on the same answers, and
  a `--first-n` look is as fair as a full run); the judge's average is over the same items;
* otherwise the published average (`published.published_scores`, all 80 questions); when the
  judge scored fewer items than the published average covers, a note says the comparison is
  rough.

Rows are read by the rules of `mtbench-show` (`analysis.selection.select_single`).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mtbench._version import __version__
from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.analysis.selection import Accounting, ReadOptions, select_single
from mtbench.analysis.snapshots import judge_snapshots, mixed_snapshots_warning
from mtbench.calibration.fit import Fit, ModelPoint, fit_calibration
from mtbench.calibration.items import ItemAgreement, item_agreement, paired_items
from mtbench.calibration.published import REFERENCE_JUDGE, published_scores
from mtbench.data.judgments import SingleJudgment, load_single_judgments
from mtbench.data.paths import BenchPaths, require_file
from mtbench.data.questions import Question, QuestionId, load_questions
from mtbench.errors import DataError

PUBLISHED = "published"
ITEMS = "official judgments"


@dataclass(frozen=True)
class Calibration:
    """A judge related to the GPT-4 scale.

    Attributes:
        judge: The judge's label (its judgment file's name without `_single.jsonl`).
        judgment_file: The file the judge's scores were read from.
        judge_snapshots: Judge calls per snapshot that answered (`analysis.snapshots`).
        reference: Per model, where its GPT-4 average came from: `PUBLISHED` or `ITEMS`.
        fit: The linear relation and its verdict.
        items: Per-item agreement with the official GPT-4 judgments, None without them.
        questions: Distinct questions the judge's scores cover.
        accounting: What happened to the judgment file's rows (None when read back from a
            calibration file, which does not keep it).
        notes: Remarks for the report (uneven judgment counts, mixed judge snapshots).
        caveats: Why the comparison is weak whatever the fit (few categories, a subset of the
            questions against the published averages); passed to `fit_calibration`.
        created: When it was made (ISO 8601, UTC).
        version: The mtbench version that made it.
    """

    judge: str
    judgment_file: Path
    judge_snapshots: dict[str, int]
    reference: dict[str, str]
    fit: Fit
    items: ItemAgreement | None
    questions: int
    accounting: Accounting | None
    notes: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    created: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )
    version: str = __version__


def build_calibration(
    paths: BenchPaths,
    judgment_file: Path,
    judge: str,
    models: Sequence[str] | None = None,
    bootstrap: BootstrapSpec = BootstrapSpec(),
    read: ReadOptions = ReadOptions(),
    question_ids: Collection[QuestionId] | None = None,
) -> Calibration:
    """Relate the judge of `judgment_file` (single grading) to the GPT-4 scale.

    Args:
        paths: The bench (questions, and the official per-item file if present).
        judgment_file: The judge's single-mode judgment file.
        judge: Its label, for the report and the calibration's file name.
        models: The official models to use (default: every model of the published table the
            file scores).
        bootstrap: Draws, seed and confidence of every interval (`fit.fit_calibration`).
        read: Stale rows and samples, as `mtbench-show` reads them.
        question_ids: Only these questions (a `--first-n` run's); None: every question the
            file holds.

    Raises:
        DataError: for a missing or malformed file, one holding several judges' rows, or
            fewer than 3 published models scored.
    """
    require_file(judgment_file, "judgment file", hint="run mtbench-calibrate with a judge first")
    published = published_scores()
    wanted = [m for m in (models if models is not None else published) if m in published]
    rows = [
        row
        for row in load_single_judgments(judgment_file)
        if row.model in wanted and (question_ids is None or row.question_id in question_ids)
    ]
    _one_judge(rows, judgment_file)
    frame, accounting = select_single(rows, wanted, read.check(paths), read.combine)
    official = _official_items(paths, wanted, read)
    paired = paired_items(frame, official) if official is not None else None
    questions = load_questions(paths.question_file) if paths.question_file.is_file() else None
    points, reference, rough = [], {}, []
    for model in wanted:
        mine = frame[frame["model"] == model]
        if mine.empty:
            continue
        both = paired[paired["model"] == model] if paired is not None else None
        if both is not None and not both.empty:
            points.append(
                ModelPoint(model, both["reference"].mean(), both["judge"].mean(), len(both))
            )
            reference[model] = ITEMS
        else:
            points.append(
                ModelPoint(model, published[model].average, mine["score"].mean(), len(mine))
            )
            reference[model] = PUBLISHED
            if len(mine) < published[model].judgments:
                rough.append(model)
    if len(points) < 3:
        raise DataError(
            f"only {len(points)} official model(s) with published GPT-4 scores are scored in "
            "this file; a calibration needs at least 3 (judge the official answer files: "
            "mtbench-download --what answers)",
            judgment_file,
        )
    caveats = _caveats(frame, questions, rough)
    categories = {q.question_id: q.category for q in questions} if questions else None
    return Calibration(
        judge=judge,
        judgment_file=judgment_file,
        judge_snapshots=judge_snapshots(rows),
        reference=reference,
        fit=fit_calibration(points, bootstrap, caveats),
        items=item_agreement(paired, categories) if paired is not None else None,
        questions=int(frame["question_id"].nunique()),
        accounting=accounting,
        notes=tuple(_notes(points, judge_snapshots(rows))),
        caveats=tuple(caveats),
    )


def _one_judge(rows: Sequence[SingleJudgment], path: Path) -> None:
    """Refuse a file that holds several judges' rows: their scales differ."""
    judges = sorted({row.judge[0] for row in rows})
    if len(judges) > 1:
        raise DataError(
            f"holds the rows of {len(judges)} judges ({', '.join(judges[:4])}); a calibration "
            "relates one judge: split the file by the rows' judge",
            path,
        )


def _caveats(
    frame: pd.DataFrame, questions: Sequence[Question] | None, rough: Sequence[str]
) -> list[str]:
    """Why the comparison itself is weak, whatever the fit: a few categories, a subset of the
    questions against averages over all of them."""
    caveats = []
    if questions:
        every = list(dict.fromkeys(q.category for q in questions))
        judged = {q.category for q in questions if q.question_id in set(frame["question_id"])}
        if len(judged) < len(every):
            caveats.append(
                f"The judged questions cover {len(judged)} of {len(every)} categories "
                f"({', '.join(c for c in every if c in judged)}): judge every question, or "
                "choose fewer models with --spread instead of fewer questions."
            )
    if rough:
        caveats.append(
            f"{len(rough)} model(s) are compared with their published average over all 160 "
            "judgments on fewer items: judge every question, or add the official per-item "
            "GPT-4 judgments (mtbench-download --what judgments) to compare on the same items."
        )
    return caveats


def _notes(points: Sequence[ModelPoint], snapshots: dict[str, int]) -> list[str]:
    notes = []
    counts = sorted({p.judgments for p in points})
    if len(counts) > 1:
        notes.append(
            f"The models rest on {counts[0]} to {counts[-1]} judgments each (unparsed or "
            "missing ones): rerun the same command to judge what is missing."
        )
    mixed = mixed_snapshots_warning(snapshots)
    if mixed:
        notes.append(mixed[0].upper() + mixed[1:] + ".")
    return notes


def official_file(paths: BenchPaths) -> Path:
    """Where `mtbench-download --what judgments` puts the official per-item GPT-4 judgments."""
    return paths.judgment_file(REFERENCE_JUDGE, "single")


def _official_items(
    paths: BenchPaths, models: Sequence[str], read: ReadOptions
) -> pd.DataFrame | None:
    """The official GPT-4 per-item scores of `models`, None when the file is not there."""
    path = official_file(paths)
    if not path.is_file():
        return None
    frame, _ = select_single(load_single_judgments(path), models, read.check(paths), read.combine)
    return frame
