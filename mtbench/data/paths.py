"""Where bench data lives: FastChat's directory layout under one data directory.

    {data_dir}/judge_prompts.jsonl          (a copy in {data_dir}/{bench}/ takes precedence)
    {data_dir}/{bench}/question.jsonl
    {data_dir}/{bench}/reference_answer/{judge}.jsonl
    {data_dir}/{bench}/model_answer/{model}.jsonl
    {data_dir}/{bench}/model_judgment/{judge}_single.jsonl
    {data_dir}/{bench}/model_judgment/{judge}_pair.jsonl

`{judge}` and `{model}` are names mapped by `file_stem` (`Org/Judge-7B` -> `Judge-7B`), in every
command that writes or reads these files, so a name given to one command finds the files of
another.

The data directory is, in order of precedence: the `--data-dir` flag, the `MTBENCH_DATA_DIR`
environment variable, then `./data` (as FastChat, relative to the working directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mtbench.data.judgments import KINDS, grading_kind
from mtbench.errors import ConfigError, DataError

DATA_DIR_ENV = "MTBENCH_DATA_DIR"
DEFAULT_DATA_DIR = "data"
DEFAULT_BENCH = "mt_bench"

FETCH_HINT = (
    "run `mtbench-download` (with the same --data-dir) to fetch the official MT-bench files, "
    "or point --data-dir at a folder that holds them"
)


GGUF_SUFFIX = ".gguf"


def file_stem(name: str, flag: str | None = None) -> str:
    """The file stem under which a judge's or a model's files are kept.

    The rule: the last part of a `/`-separated name (a hub id such as `Qwen/Qwen2.5-72B-Instruct`,
    a served model name, or a local path; a trailing `/` is ignored), without a `.gguf` ending
    (a GGUF file's model is known by the file's name). `Org/Judge-7B` -> `Judge-7B`,
    `models/judge.gguf` -> `judge`, `gpt-4` -> `gpt-4`. FastChat itself uses names verbatim and
    ships only names without a slash, so its files keep their names.

    Args:
        name: A judge or model name as given on the command line (`--judge-model`,
            `--model`, `--model-list`, `--baseline-model`...).
        flag: The flag the name came from, named in the error message.

    Returns:
        The stem: `{stem}.jsonl` in `model_answer/` and `reference_answer/`,
        `{stem}_single.jsonl` / `{stem}_pair.jsonl` in `model_judgment/`.

    Raises:
        ConfigError: when nothing usable is left (an empty name, `.`, `..`, a bare `.gguf`).
    """
    stem = name.rstrip("/").rsplit("/", 1)[-1]
    if stem.endswith(GGUF_SUFFIX):
        stem = stem[: -len(GGUF_SUFFIX)]
    if not stem.strip() or stem in (".", ".."):
        where = f"{flag} {name!r}" if flag else f"the name {name!r}"
        raise ConfigError(
            f"{where} gives no usable file name (its last '/' part is empty, '.' or '..'); "
            "give a plain name such as my-model"
        )
    return stem


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
        """`model_answer/{file_stem(model)}.jsonl`; raises `ConfigError` as `file_stem`."""
        return self.answer_dir / f"{file_stem(model)}.jsonl"

    def reference_file(self, judge: str) -> Path:
        """`reference_answer/{file_stem(judge)}.jsonl`; raises `ConfigError` as `file_stem`."""
        return self.reference_dir / f"{file_stem(judge)}.jsonl"

    def judgment_file(self, judge: str, mode: str) -> Path:
        """`{judge}_single.jsonl` for single grading, `{judge}_pair.jsonl` for both pairwise.

        `judge` is mapped by `file_stem`, so `Org/Judge-7B` reads and writes
        `Judge-7B_single.jsonl`; raises `ConfigError` as `file_stem`. `mode` is one of
        `MODES`, or the kind itself (`single`, `pair`).
        """
        kind = mode if mode in KINDS else grading_kind(mode)
        return self.judgment_dir / f"{file_stem(judge)}_{kind}.jsonl"


def require_file(path: Path, what: str, hint: str = FETCH_HINT) -> Path:
    """Return `path` if it is a file, else raise a `DataError` naming it and how to get it."""
    if not path.is_file():
        raise DataError(f"{what} not found; {hint}", path)
    return path
