"""`--reasoning`: what `mtbench-gen` does with a reasoning model's trace.

With `--reasoning strip` (the default) a trace is kept in the answer file, in the row's
`reasoning` field, but removed from the answer that is judged and from the context of the next
turn. With `--reasoning keep` answers are left as the model wrote them (as FastChat does). The
rule that finds a trace, `split_reasoning`, is shared with the judge's replies and lives in
`mtbench.backends.reasoning`.
"""

from __future__ import annotations

from mtbench.backends.reasoning import CLOSE, OPEN, split_reasoning

REASONING_MODES = ("strip", "keep")
"""`--reasoning` values (not the grading modes of `mtbench-judge --mode`)."""

__all__ = ["CLOSE", "OPEN", "REASONING_MODES", "split_reasoning"]
