"""Item by item: how a judge's scores compare with the official GPT-4 judgments of the same answers.

Where the official per-item file (`model_judgment/gpt-4_single.jsonl`, `mtbench-download --what
judgments`) is in the data directory, each (model, question, turn) scored by both judges is an
item. Agreement is the share of items with the same score (`exact`) and with scores at most one
point apart (`within_one`, the paper's looser agreement for 1-10 grades); offsets are the mean of
judge minus GPT-4, overall, per turn and per category (a judge that is harsh on coding or lenient
on second turns shows it here). Both frames come from `analysis.selection.select_single`, so
FastChat's rules apply to both: score -1 rows dropped, repeats counted once, samples combined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mtbench.data.questions import QuestionId

ITEM = ["model", "question_id", "turn"]


@dataclass(frozen=True)
class ItemAgreement:
    """Per-item comparison of a judge with GPT-4.

    Attributes:
        items: Items scored by both.
        exact: Share of items with equal scores (0-1).
        within_one: Share with |judge - GPT-4| <= 1 (0-1).
        offset: Mean of judge - GPT-4 over the items, in points.
        by_turn: Mean offset per turn (1, 2).
        by_category: Mean offset per category, in the question file's order.
    """

    items: int
    exact: float
    within_one: float
    offset: float
    by_turn: dict[int, float]
    by_category: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (turns as strings, as JSON keys are)."""
        return {
            "items": self.items,
            "exact": self.exact,
            "within_one": self.within_one,
            "offset": self.offset,
            "by_turn": {str(k): v for k, v in self.by_turn.items()},
            "by_category": dict(self.by_category),
        }


def paired_items(judge: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The items both frames score: columns model, question_id, turn, judge, reference.

    Args:
        judge, reference: Frames of `select_single` (columns model, score, turn, question_id;
            one row per item).
    """
    left = judge[[*ITEM, "score"]].rename(columns={"score": "judge"})
    right = reference[[*ITEM, "score"]].rename(columns={"score": "reference"})
    return left.merge(right, on=ITEM, how="inner")


def item_agreement(
    paired: pd.DataFrame, categories: Mapping[QuestionId, str] | None
) -> ItemAgreement | None:
    """Agreement over `paired_items`; None when no item is scored by both.

    Args:
        paired: `paired_items`' frame.
        categories: Question id → category (None: no per-category offsets).
    """
    if paired.empty:
        return None
    difference = paired["judge"] - paired["reference"]
    by_turn = difference.groupby(paired["turn"]).mean()
    by_category: dict[str, float] = {}
    if categories is not None:
        labels = paired["question_id"].map(categories)
        means = difference.groupby(labels).mean()
        order = list(dict.fromkeys(categories.values()))
        by_category = {c: float(means[c]) for c in order if c in means.index}
    return ItemAgreement(
        items=len(paired),
        exact=float((difference == 0).mean()),
        within_one=float((difference.abs() <= 1).mean()),
        offset=float(difference.mean()),
        by_turn={int(str(t)): float(v) for t, v in by_turn.items()},
        by_category=by_category,
    )
