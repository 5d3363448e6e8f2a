"""Reference-answer sets of a bench: list them, and show which questions' references differ.

The judge sees a reference answer for math, reasoning and coding questions, taken from
`reference_answer/{name}.jsonl` (FastChat: `{name}` is the judge model). GPT-4's references are
wrong for several questions (FastChat issue #3053, PR #3158), and other judges ship their own
(PR #3404's `gpt-4o.jsonl`). `diff_references` says, turn by turn, where two sets differ, with an
excerpt of both starting just before the first differing character, and which questions only one
set has. A corrected set is used for judging by copying it into `reference_answer/` under a new
name and passing that name to `mtbench-judge --ref-answer-model`. `mtbench.reports.references`
renders both for output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mtbench.data.answers import load_answer_file
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import QuestionId, question_categories
from mtbench.errors import ConfigError, DataError

DEFAULT_WIDTH = 70
CONTEXT = 20
"""Characters of common text kept before the first difference in an excerpt."""


def resolve_reference(paths: BenchPaths, name_or_path: str) -> Path:
    """A reference set given as a file path, or as a name in the bench's `reference_answer/`.

    Raises:
        DataError: naming the sets that exist when neither is found.
    """
    if Path(name_or_path).is_file():
        return Path(name_or_path)
    path = paths.reference_file(name_or_path)
    if path.is_file():
        return path
    known = sorted(p.stem for p in paths.reference_dir.glob("*.jsonl"))
    raise DataError(
        f"no reference set {name_or_path!r}: not a file, and not in {paths.reference_dir} "
        f"(sets there: {', '.join(known) or 'none'})",
    )


def load_reference_turns(path: str | Path) -> dict[QuestionId, tuple[str, ...]]:
    """Reference turns by question id (the first choice, as the judge uses)."""
    return {qid: answer.turns for qid, answer in load_answer_file(path).items()}


def list_references(paths: BenchPaths) -> pd.DataFrame:
    """The reference sets of a bench: `name`, `questions`, `turns`, `file`, by name."""
    rows = []
    for path in sorted(paths.reference_dir.glob("*.jsonl")):
        turns = load_reference_turns(path)
        rows.append(
            {
                "name": path.stem,
                "questions": len(turns),
                "turns": sum(len(t) for t in turns.values()),
                "file": str(path),
            }
        )
    return pd.DataFrame(rows, columns=["name", "questions", "turns", "file"]).set_index("name")


def _flat(text: str) -> str:
    return text.replace("\r", "").replace("\n", "\\n")


def excerpts(a: str, b: str, width: int = DEFAULT_WIDTH) -> tuple[str, str, int]:
    """Excerpts of two texts around their first difference, and where it is (0-based)."""
    start = len(os.path.commonprefix([a, b]))
    context = min(CONTEXT, width // 3)
    begin = max(0, start - context)
    # Start at a word where one is near, so the excerpt reads well (the prefix is shared).
    space = a.rfind(" ", max(0, begin - context // 2), begin)
    if space >= 0:
        begin = space + 1

    def cut(text: str) -> str:
        piece = _flat(text[begin : begin + width])
        return ("..." if begin else "") + piece + ("..." if begin + width < len(text) else "")

    return cut(a), cut(b), start


@dataclass(frozen=True)
class ReferenceDiff:
    """Where two reference sets differ.

    Attributes:
        a: File of set A.
        b: File of set B.
        changes: One row per differing turn: `question_id`, `category`, `turn`, `status`
            (`differs`, `only in A`, `only in B` for a turn one set lacks), `at` (the first
            differing character), `excerpt_a`, `excerpt_b`.
        identical: Turns with the same text in both sets.
        only_a: Questions only set A has a reference for.
        only_b: Questions only set B has.
        questions_a: Questions in set A.
        questions_b: Questions in set B.
    """

    a: Path
    b: Path
    changes: pd.DataFrame
    identical: int
    only_a: list[QuestionId]
    only_b: list[QuestionId]
    questions_a: int
    questions_b: int


def diff_references(
    path_a: str | Path,
    path_b: str | Path,
    categories: dict[QuestionId, str] | None = None,
    width: int = DEFAULT_WIDTH,
    ignore_whitespace: bool = False,
) -> ReferenceDiff:
    """Compare two reference-answer files turn by turn.

    Args:
        path_a: Set A.
        path_b: Set B.
        categories: Question id to category (None: `unknown`).
        width: Characters of each excerpt.
        ignore_whitespace: Treat runs of whitespace as one space, and ignore it at the ends.

    Raises:
        DataError: for a missing or malformed file.
    """
    refs_a, refs_b = load_reference_turns(path_a), load_reference_turns(path_b)
    rows = []
    identical = 0
    for qid in sorted(set(refs_a) & set(refs_b)):
        turns_a, turns_b = refs_a[qid], refs_b[qid]
        for index in range(max(len(turns_a), len(turns_b))):
            text_a = turns_a[index] if index < len(turns_a) else None
            text_b = turns_b[index] if index < len(turns_b) else None
            if ignore_whitespace:
                text_a = " ".join(text_a.split()) if text_a is not None else None
                text_b = " ".join(text_b.split()) if text_b is not None else None
            if text_a == text_b:
                identical += 1
                continue
            if text_a is None or text_b is None:
                status, at = ("only in B" if text_a is None else "only in A"), 0
                excerpt_a, excerpt_b, _ = excerpts(text_a or "", text_b or "", width)
            else:
                status = "differs"
                excerpt_a, excerpt_b, at = excerpts(text_a, text_b, width)
            rows.append(
                {
                    "question_id": qid,
                    "category": (categories or {}).get(qid, "unknown"),
                    "turn": index + 1,
                    "status": status,
                    "at": at,
                    "excerpt_a": excerpt_a,
                    "excerpt_b": excerpt_b,
                }
            )
    columns = ["question_id", "category", "turn", "status", "at", "excerpt_a", "excerpt_b"]
    return ReferenceDiff(
        Path(path_a),
        Path(path_b),
        pd.DataFrame(rows, columns=columns),
        identical,
        sorted(set(refs_a) - set(refs_b)),
        sorted(set(refs_b) - set(refs_a)),
        len(refs_a),
        len(refs_b),
    )


def build_reference_diff(
    paths: BenchPaths,
    set_a: str,
    set_b: str,
    width: int = DEFAULT_WIDTH,
    ignore_whitespace: bool = False,
) -> ReferenceDiff:
    """What `mtbench-refs diff A B` computes: sets by name or path, categories from the bench."""
    if width < 10:
        raise ConfigError(f"--width must be at least 10, got {width}")
    path_a, path_b = resolve_reference(paths, set_a), resolve_reference(paths, set_b)
    categories = question_categories(paths.question_file)
    return diff_references(path_a, path_b, categories, width, ignore_whitespace)
