"""mtbench: MT-bench end to end, faithful to FastChat's `llm_judge`, fast and resumable."""

from mtbench.answers import Answer, Choice, load_answer_file, load_model_answers
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
from mtbench.judge_prompts import JudgePrompt, load_judge_prompts
from mtbench.judgments import (
    PairJudgment,
    SingleJudgment,
    load_pair_judgments,
    load_single_judgments,
)
from mtbench.paths import BenchPaths
from mtbench.questions import CATEGORIES, Question, load_questions

__version__ = "0.1.0"

__all__ = [
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
