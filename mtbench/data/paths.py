"""Where bench data lives: FastChat's directory layout under one data directory.

    {data_dir}/judge_prompts.jsonl          (a copy in {data_dir}/{bench}/ takes precedence)
    {data_dir}/{bench}/question.jsonl
    {data_dir}/{bench}/reference_answer/{judge}.jsonl
    {data_dir}/{bench}/model_answer/{model}.jsonl
    {data_dir}/{bench}/model_judgment/{judge}_single.jsonl
    {data_dir}/{bench}/model_judgment/{judge}_pair.jsonl

The data directory is, in order of precedence: the `--data-dir` flag, the `MTBENCH_DATA_DIR`
environment variable, then `./data` (as FastChat, relative to the working directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mtbench.data.judgments import KINDS, grading_kind
from mtbench.errors import DataError

DATA_DIR_ENV = "MTBENCH_DATA_DIR"
DEFAULT_DATA_DIR = "data"
DEFAULT_BENCH = "mt_bench"

FETCH_HINT = (
    "run `mtbench-download` (with the same --data-dir) to fetch the official MT-bench files, "
    "or point --data-dir at a folder that holds them"
)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the data directory chosen by flag, then environment, then `./data`."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


@dataclass(frozen=True)
class BenchPaths:
    """The files of one bench inside a data directory.

    Attributes:
        data_dir: The data directory (see module docstring).
        bench_name: The bench, e.g. `mt_bench`.
    """

    data_dir: Path
    bench_name: str = DEFAULT_BENCH

    @classmethod
    def resolve(
        cls, data_dir: str | Path | None = None, bench_name: str = DEFAULT_BENCH
    ) -> BenchPaths:
        """Build the paths from a `--data-dir` value (or the environment, or the default)."""
        return cls(resolve_data_dir(data_dir), bench_name)

    @property
    def bench_dir(self) -> Path:
        return self.data_dir / self.bench_name

    @property
    def question_file(self) -> Path:
        return self.bench_dir / "question.jsonl"

    @property
    def answer_dir(self) -> Path:
        return self.bench_dir / "model_answer"

    @property
    def reference_dir(self) -> Path:
        return self.bench_dir / "reference_answer"

    @property
    def judgment_dir(self) -> Path:
        return self.bench_dir / "model_judgment"

    @property
    def judge_prompts_file(self) -> Path:
        """FastChat keeps the judge prompts beside the bench folders; a copy inside one wins."""
        inside = self.bench_dir / "judge_prompts.jsonl"
        return inside if inside.exists() else self.data_dir / "judge_prompts.jsonl"

    def answer_file(self, model: str) -> Path:
        return self.answer_dir / f"{model}.jsonl"

    def reference_file(self, judge: str) -> Path:
        return self.reference_dir / f"{judge}.jsonl"

    def judgment_file(self, judge: str, mode: str) -> Path:
        """`{judge}_single.jsonl` for single grading, `{judge}_pair.jsonl` for both pairwise.

        `mode` is one of `MODES`, or the kind itself (`single`, `pair`).
        """
        kind = mode if mode in KINDS else grading_kind(mode)
        return self.judgment_dir / f"{judge}_{kind}.jsonl"


def require_file(path: Path, what: str, hint: str = FETCH_HINT) -> Path:
    """Return `path` if it is a file, else raise a `DataError` naming it and how to get it."""
    if not path.is_file():
        raise DataError(f"{what} not found; {hint}", path)
    return path
