"""What a report's numbers were made from: the judge, its prompts, and checksums of the data.

Two runs of MT-bench are comparable only when they graded the same questions, with the same
judge prompts and references, by the same judge. `mtbench-show` records these facts in every
report (`ScoreReport.provenance`), so that its JSON results document and the exports built on
it (`mtbench.exports`) say what the scores rest on:

* the judge as the rows name it (`judge[0]` of each row: the `--judge-model` or `--judge-name`
  given to `mtbench-judge`) and the judge prompts they used (`judge[1]`); the snapshot the server
  said answered is counted separately (`analysis.snapshots`);
* the sha256 of the question file, the judge prompt file, every reference answer file of the
  bench (the rows do not record which one their judge was given) and the answer file of each
  model in the report (None where a file is not there);
* the mtbench version that computed the numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench._version import __version__
from mtbench.data.download import sha256_file
from mtbench.data.judgments import PairJudgment, SingleJudgment
from mtbench.data.paths import BenchPaths


@dataclass(frozen=True)
class FileDigest:
    """One data file and its checksum.

    Attributes:
        path: Where the file is (as the data directory names it, relative or absolute).
        sha256: The sha256 of its bytes (64 hex digits), None when the file is not there.
    """

    path: Path
    sha256: str | None

    @classmethod
    def of(cls, path: Path) -> FileDigest:
        """The digest of `path` (None for a missing file, never an error)."""
        return cls(path, sha256_file(path) if path.is_file() else None)


@dataclass(frozen=True)
class Provenance:
    """What a report's numbers were made from.

    Attributes:
        judge: The judge the used rows name (`judge[0]`); the most frequent one if they name
            several, None for no row.
        judge_prompts: The judge prompt names the used rows name (`judge[1]`), sorted.
        bench: The bench name (`mt_bench`).
        question_file: The question file.
        judge_prompt_file: The judge prompt file rows were checked against (`--judge-file`,
            else the bench's).
        reference_answers: Every `reference_answer/*.jsonl` of the bench, by file stem.
        answers: The answer file of each model in the report (and of the baseline), by model.
        mtbench_version: The version of mtbench that computed the report.
    """

    judge: str | None
    judge_prompts: tuple[str, ...]
    bench: str
    question_file: FileDigest
    judge_prompt_file: FileDigest
    reference_answers: dict[str, FileDigest] = field(default_factory=dict)
    answers: dict[str, FileDigest] = field(default_factory=dict)
    mtbench_version: str = __version__


def data_provenance(
    paths: BenchPaths,
    rows: Iterable[SingleJudgment | PairJudgment],
    models: Sequence[str],
    judge_file: str | Path | None = None,
) -> Provenance:
    """The provenance of a report built from `rows` on the bench `paths`.

    Args:
        paths: The bench the report read.
        rows: The rows the report used (their `judge` field names the judge and its prompts).
        models: The models whose answer files count: the report's models, and its baseline.
        judge_file: The judge prompt file given with `--judge-file` (None: the bench's).

    Returns:
        The provenance; files that are not there have a `sha256` of None.
    """
    names: Counter[str] = Counter()
    prompts: set[str] = set()
    for row in rows:
        names[str(row.judge[0])] += 1
        prompts.add(str(row.judge[1]))
    references = {}
    if paths.reference_dir.is_dir():
        references = {
            path.stem: FileDigest.of(path) for path in sorted(paths.reference_dir.glob("*.jsonl"))
        }
    prompt_file = Path(judge_file) if judge_file is not None else paths.judge_prompts_file
    return Provenance(
        judge=names.most_common(1)[0][0] if names else None,
        judge_prompts=tuple(sorted(prompts)),
        bench=paths.bench_name,
        question_file=FileDigest.of(paths.question_file),
        judge_prompt_file=FileDigest.of(prompt_file),
        reference_answers=references,
        answers={model: FileDigest.of(paths.answer_dir / f"{model}.jsonl") for model in models},
    )
