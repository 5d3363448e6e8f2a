"""mtbench: MT-bench end to end, faithful to FastChat's `llm_judge`, fast and resumable.

The functions behind the commands, importable from here (heavy ones load on first use, so
`import mtbench` stays light):

    generate_answers(GenConfig(...))           mtbench-gen
    judge(JudgeOptions(...))                   mtbench-judge
    build_report(BenchPaths(...), ...)         mtbench-show (render_report for text/CSV/JSON/MD)
    build_comparison(paths, "a", "b")          mtbench-show --compare
    write_browse_report(paths)                 mtbench-browse
    run_agreement / position_report / mode_report    mtbench-agreement
    build_reference_diff(paths, "gpt-4", "gpt-4o")   mtbench-refs diff
    download(select_files(...), data_dir, resolve_base_urls())   mtbench-download
"""

import importlib
from typing import Any

from mtbench._version import __version__ as __version__
from mtbench.data.answers import Answer, Choice, load_answer_file, load_model_answers
from mtbench.data.judge_prompts import JudgePrompt, load_judge_prompts
from mtbench.data.judgments import (
    PairJudgment,
    SingleJudgment,
    load_pair_judgments,
    load_single_judgments,
)
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import CATEGORIES, Question, load_questions
from mtbench.errors import (
    AuthError,
    BackendError,
    ConfigError,
    DataError,
    MissingDependencyError,
    MTBenchError,
    RateLimitError,
    RequestError,
)

_LAZY = {
    "GenConfig": "mtbench.generation",
    "generate_answers": "mtbench.generation",
    "JudgeOptions": "mtbench.judging",
    "judge": "mtbench.judging",
    "build_report": "mtbench.analysis.scores",
    "render_report": ("mtbench.reports.scores", "render"),
    "build_comparison": "mtbench.analysis.compare",
    "write_browse_report": ("mtbench.reports.browse", "write_report"),
    "run_agreement": "mtbench.analysis.agreement",
    "position_report": "mtbench.analysis.consistency",
    "mode_report": "mtbench.analysis.consistency",
    "build_reference_diff": "mtbench.analysis.references",
    "download": "mtbench.data.download",
    "select_files": "mtbench.data.manifest",
    "resolve_base_urls": "mtbench.data.manifest",
}


def __getattr__(name: str) -> Any:
    """Import the command-level functions only when first used (they pull in pandas, torch...)."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mtbench' has no attribute {name!r}")
    module, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included before their first use (dir(), completion)."""
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    *_LAZY,
    "CATEGORIES",
    "Answer",
    "AuthError",
    "BackendError",
    "BenchPaths",
    "Choice",
    "ConfigError",
    "DataError",
    "JudgePrompt",
    "MTBenchError",
    "MissingDependencyError",
    "PairJudgment",
    "Question",
    "RateLimitError",
    "RequestError",
    "SingleJudgment",
    "load_answer_file",
    "load_judge_prompts",
    "load_model_answers",
    "load_pair_judgments",
    "load_questions",
    "load_single_judgments",
]
