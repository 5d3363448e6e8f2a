"""Answer generation (`mtbench-gen`): FastChat's gen_model_answer, batched, resumable, on Ray."""

from mtbench.generation.config import GenConfig
from mtbench.generation.pipeline import (
    FailedQuestionsError,
    GenerationStoppedError,
    GenSummary,
    generate_answers,
    show_prompt,
)
from mtbench.generation.sampling import TEMPERATURE_CONFIG, question_temperature

__all__ = [
    "TEMPERATURE_CONFIG",
    "FailedQuestionsError",
    "GenConfig",
    "GenerationStoppedError",
    "GenSummary",
    "generate_answers",
    "question_temperature",
    "show_prompt",
]
