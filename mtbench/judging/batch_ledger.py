"""The record of a judgment file's provider batches, kept beside it: `{file}.batches.jsonl`.

`mtbench-judge --batch` pays for a batch once: before a batch is created its requests are
recorded (`submitting`), and the provider's batch id the moment it is known (`created`), each
as one appended, fsynced line; a run killed at any point leaves a record the rerun acts on
instead of submitting again. A batch whose results have all been written (or reported as
failed) is marked `collected`. A submission given up is marked `abandoned`: by the run whose
submission certainly created nothing (it failed before or at its create request, with a
refusal), or by the rerun that finds no batch for it; `created` says whether the provider
certainly has none (true: `false`; unknown, as for an Anthropic batch, which carries no label
to look it up by: `null` or absent).

Lines (JSON objects, appended in this order for one batch):

    {"event": "submitting", "tag", "api", "model", "round", "params", "generation",
     "custom_ids", "time"}
    {"event": "created", "tag", "batch", "time"}
    {"event": "collected", "batch", "time"}
    {"event": "abandoned", "tag", "created", "time"}

`api` is the API root and `model` the judge model the batch went to (a batch recorded for
another is left alone); `round` counts re-asks of replies that ran out of room (0: first ask);
`params` are the request parameters every request of the batch carried, and `generation` the
`GenerationParams` they came from. Deleting the file forgets the batches (a rerun then submits
what is not judged again).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.backends.base import GenerationParams
from mtbench.data.jsonl import JsonlAppender, read_jsonl
from mtbench.errors import DataError

SUFFIX = ".batches.jsonl"
"""What the ledger's name adds to the judgment file's."""


@dataclass
class LedgerBatch:
    """One submission and what became of it.

    Attributes:
        tag: The submission's own id (also given to the provider where it takes a label).
        api: The API root it was sent to.
        model: The judge model it asked.
        round: 0 for a first ask; n for the n-th re-ask of replies that ran out of room.
        params: The request parameters its requests carried (`Reply.meta["params"]`).
        generation: The sampling those parameters came from.
        custom_ids: Its requests' custom ids (`mtbench.judging.batch.custom_id`).
        submitted: When the submission began (seconds since the epoch).
        batch_id: The provider's id, once created (None: not known to have been created).
        collected: All its results were written or reported.
        abandoned: Given up: no batch of it will be collected.
        never_created: Given up because the provider certainly never created it (else it may
            have been created, and run unseen).
    """

    tag: str
    api: str
    model: str
    round: int
    params: dict[str, Any]
    generation: GenerationParams
    custom_ids: list[str]
    submitted: float
    batch_id: str | None = None
    collected: bool = False
    abandoned: bool = False
    never_created: bool = False
    line: int = field(default=0, compare=False)

    @property
    def open(self) -> bool:
        """Created and not yet collected."""
        return self.batch_id is not None and not self.collected

    @property
    def dangling(self) -> bool:
        """Being submitted when its run ended: created or not, nobody knows yet."""
        return self.batch_id is None and not self.abandoned


class BatchLedger:
    """The batches of one judgment file.

    Args:
        judgment_file: The judgment file; the ledger is `{judgment_file}.batches.jsonl`.
    """

    def __init__(self, judgment_file: str | Path):
        self.path = Path(str(judgment_file) + SUFFIX)
        self._writer = JsonlAppender(self.path, durable=True, what="batch records")

    def load(self) -> list[LedgerBatch]:
        """Every submission recorded, in order (none when there is no ledger).

        Raises:
            DataError: naming the file and line, for a line that is not a ledger record.
        """
        if not self.path.is_file():
            return []
        batches: dict[str, LedgerBatch] = {}
        by_id: dict[str, LedgerBatch] = {}
        for number, row in read_jsonl(self.path):
            try:
                event = row["event"]
                if event == "submitting":
                    generation = row["generation"]
                    entry = LedgerBatch(
                        tag=str(row["tag"]),
                        api=str(row["api"]),
                        model=str(row["model"]),
                        round=int(row["round"]),
                        params=dict(row["params"]),
                        generation=GenerationParams(
                            max_new_tokens=int(generation["max_new_tokens"]),
                            temperature=generation["temperature"],
                            seed=generation["seed"],
                        ),
                        custom_ids=[str(c) for c in row["custom_ids"]],
                        submitted=float(row["time"]),
                        line=number,
                    )
                    batches[entry.tag] = entry
                elif event == "created":
                    entry = batches[str(row["tag"])]
                    entry.batch_id = str(row["batch"])
                    by_id[entry.batch_id] = entry
                elif event == "collected":
                    by_id[str(row["batch"])].collected = True
                elif event == "abandoned":
                    entry = batches[str(row["tag"])]
                    entry.abandoned = True
                    entry.never_created = row.get("created") is False
                else:
                    raise ValueError(f"unknown event {event!r}")
            except (KeyError, TypeError, ValueError) as exc:
                why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
                raise DataError(
                    f"not a batch record ({why}); this file is written by "
                    "mtbench-judge --batch: restore it, or delete it to forget its batches "
                    "(a rerun then submits what is not judged again)",
                    self.path,
                    number,
                ) from None
        return list(batches.values())

    def submitting(
        self,
        tag: str,
        api: str,
        model: str,
        round_: int,
        params: dict[str, Any],
        generation: GenerationParams,
        custom_ids: Sequence[str],
    ) -> LedgerBatch:
        """Record a submission about to be sent (before the provider can create it)."""
        entry = LedgerBatch(
            tag, api, model, round_, dict(params), generation, list(custom_ids), time.time()
        )
        self._append(
            {
                "event": "submitting",
                "tag": tag,
                "api": api,
                "model": model,
                "round": round_,
                "params": entry.params,
                "generation": {
                    "max_new_tokens": generation.max_new_tokens,
                    "temperature": generation.temperature,
                    "seed": generation.seed,
                },
                "custom_ids": entry.custom_ids,
                "time": entry.submitted,
            }
        )
        return entry

    def created(self, entry: LedgerBatch, batch_id: str) -> None:
        """Record the provider's id of a submission (the moment it is known)."""
        self._append({"event": "created", "tag": entry.tag, "batch": batch_id})
        entry.batch_id = batch_id

    def collected(self, entry: LedgerBatch) -> None:
        """Record that every result of a batch has been written or reported."""
        self._append({"event": "collected", "batch": entry.batch_id})
        entry.collected = True

    def abandoned(self, entry: LedgerBatch, never_created: bool) -> None:
        """Record a submission given up: the provider certainly never created it, or may have."""
        created = False if never_created else None
        self._append({"event": "abandoned", "tag": entry.tag, "created": created})
        entry.abandoned = True
        entry.never_created = never_created

    def _append(self, row: dict[str, Any]) -> None:
        self._writer.append({**row, "time": row.get("time", time.time())})

    def close(self) -> None:
        """Close the file (a later record reopens it)."""
        self._writer.close()
