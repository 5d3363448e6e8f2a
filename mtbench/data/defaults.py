"""The names every command falls back on, defined once: FastChat's judge, baseline and references.

They are FastChat's `gen_judgment.py` / `show_result.py` defaults, and the names of the files its
published MT-bench run ships (`model_judgment/gpt-4_single.jsonl`, `gpt-4_pair.jsonl`,
`reference_answer/gpt-4.jsonl`, `model_answer/gpt-3.5-turbo.jsonl`), so that every command finds
those files without a flag. Change one here and every command follows.
"""

from __future__ import annotations

DEFAULT_JUDGE = "gpt-4"
"""The judge `mtbench-judge` calls, and whose judgment files the readers open, by default."""

DEFAULT_BASELINE = "gpt-3.5-turbo"
"""The baseline model of `--mode pairwise-baseline`."""

FALLBACK_REFERENCES = "gpt-4"
"""The reference answers used when the judge has none of its own: FastChat ships only GPT-4's."""
