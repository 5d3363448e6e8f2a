"""Judging answers with an LLM, as FastChat's `gen_judgment.py` does (see `mtbench-judge`).

    from mtbench.judging import JudgeConfig, judge
    result = judge(JudgeConfig(mode="single", model_list=["my-model"], parallel=8))
    result.status, result.stats   # "done" and the run's JudgeStats (or dry_run, nothing_to_do...)

Modules: `config` (`JudgeConfig`, what can be asked), `matches` (what is judged, FastChat's
prompts and order), `verdicts` (reading scores and winners out of replies), `checks` (missing
and broken answers), `cost` (estimates), `staleness` (is a judgment still about what the
bench holds?), `resume` (what a judgment file already holds), `plan` (everything decided before
the first call),
`judge_backend` (the judge's flags on the shared backend registry, and the preflight call),
`runner` (parallel, resumable execution), `batch` (the same calls through a provider's batch
API: `batch_ledger` records the batches, `batch_plan` and `batch_status` describe them),
`pipeline` (the whole command).
"""

from mtbench.judging.config import JudgeConfig, JudgeOptions
from mtbench.judging.matches import NEED_REF_CATS, Judge, Match, build_matches, make_judges
from mtbench.judging.pipeline import JudgeResult, judge
from mtbench.judging.plan import JudgePlan, describe_plan, make_plan
from mtbench.judging.runner import JudgeStats, judgment_row, run_matches
from mtbench.judging.verdicts import parse_pair_verdict, parse_rating, winner_label

__all__ = [
    "NEED_REF_CATS",
    "Judge",
    "JudgeConfig",
    "JudgeOptions",
    "JudgePlan",
    "JudgeResult",
    "Match",
    "JudgeStats",
    "build_matches",
    "describe_plan",
    "judge",
    "judgment_row",
    "make_judges",
    "make_plan",
    "parse_pair_verdict",
    "parse_rating",
    "run_matches",
    "winner_label",
]
