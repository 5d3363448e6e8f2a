"""mtbench: MT-bench end to end, faithful to FastChat's `llm_judge`, fast and resumable.

The functions behind the commands, importable from here (heavy ones load on first use, so
`import mtbench` stays light):

    generate_answers(GenConfig(...))           mtbench-gen
    judge(JudgeConfig(...))                    mtbench-judge
    build_report(paths, ...)                   mtbench-show (render_report for text/CSV/JSON/MD)
    results_document(report)                   mtbench-show --format json (docs/results-schema.md)
    export_results(document, parse_targets([...]))   mtbench-show --export hf-card=... mlflow wandb
    build_comparison(paths, "a", "b")          mtbench-show --compare
    build_pooled_report(paths, ["j1", "j2"])   mtbench-show --judge-model J1 J2 (several judges)
    write_browse_report(paths)                 mtbench-browse
    run_agreement / position_report / single_pair_report    mtbench-agreement
    build_reference_diff(paths, "gpt-4", "gpt-4o")   mtbench-refs diff
    download(select_files(...), paths, resolve_base_urls())      mtbench-download

Every one finds the data through `paths = BenchPaths.resolve(data_dir, bench_name)` (`--data-dir`,
else `$MTBENCH_DATA_DIR`, else `./data`); the configs hold it as `paths` and default to
`BenchPaths.resolve()`.
"""

import importlib
from typing import Any

from mtbench import data as _data
from mtbench._version import __version__ as __version__
from mtbench.data import *  # noqa: F403 (the records and loaders: exactly mtbench.data.__all__)
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
    "JudgeConfig": "mtbench.judging",
    "JudgeOptions": "mtbench.judging",
    "judge": "mtbench.judging",
    "build_report": "mtbench.analysis.scores",
    "render_report": "mtbench.reports.scores",
    "results_document": "mtbench.reports.results",
    "export_results": "mtbench.exports",
    "parse_targets": "mtbench.exports",
    "build_comparison": "mtbench.analysis.compare",
    "build_pooled_report": "mtbench.analysis.pooling",
    "write_browse_report": "mtbench.reports.browse",
    "run_agreement": "mtbench.analysis.agreement",
    "position_report": "mtbench.analysis.consistency",
    "single_pair_report": "mtbench.analysis.consistency",
    "build_reference_diff": "mtbench.analysis.references",
    "download": "mtbench.data.download",
    "select_files": "mtbench.data.manifest",
    "resolve_base_urls": "mtbench.data.manifest",
}
"""Each lazily imported name and the module that defines it under that name."""

_OLD_NAMES = {"mode_report": "single_pair_report"}
"""Names exported before a rename, still importable: old name to current name."""


def __getattr__(name: str) -> Any:
    """Import the command-level functions only when first used (they pull in pandas, torch...)."""
    current = _OLD_NAMES.get(name, name)
    module = _LAZY.get(current)
    if module is None:
        raise AttributeError(f"module 'mtbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), current)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included before their first use (dir(), completion)."""
    return sorted(set(globals()) | set(_LAZY))


# The records and their loaders are mtbench.data's exports, re-exported here as they are.
__all__ = [
    *_LAZY,
    *_OLD_NAMES,
    *_data.__all__,
    "AuthError",
    "BackendError",
    "ConfigError",
    "DataError",
    "MTBenchError",
    "MissingDependencyError",
    "RateLimitError",
    "RequestError",
]
