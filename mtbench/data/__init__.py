"""FastChat's files: the data-directory layout, the records and their JSONL I/O, the official set.

    paths       `BenchPaths`: where each file of a bench lives (`--data-dir`, `--bench-name`);
                `file_stem`: the one rule from a judge or model name to its file name
    defaults    the judge, baseline and reference set every command falls back on
    jsonl       reading rows with file:line errors; crash-safe appends under a lock
    atomic      replacing a whole file in one rename
    run_lock    one run at a time per output file (`RunLock`), naming the run that holds it
    writable    checking that output can be written before any work; one line when it fails
    leftovers   temporary files a killed process left, and removing them safely
    questions, answers, judgments, judge_prompts, votes   the records, validated on load
    manifest, download   the official files, where they come from, and fetching them

Nothing here imports the rest of mtbench except `mtbench.errors` and `mtbench._version`.
"""

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

__all__ = [
    "CATEGORIES",
    "Answer",
    "BenchPaths",
    "Choice",
    "JudgePrompt",
    "PairJudgment",
    "Question",
    "SingleJudgment",
    "load_answer_file",
    "load_judge_prompts",
    "load_model_answers",
    "load_pair_judgments",
    "load_questions",
    "load_single_judgments",
]
