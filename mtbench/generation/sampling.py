"""How each question is sampled: FastChat's per-category temperatures and per-choice seeds.

Seeds follow FastChat's two scripts: `gen_model_answer` seeds torch with the choice index, and
`gen_api_answer` sends no seed at all; `GenConfig.choice_seed` decides which one a run follows
(and `--seed N` opts into `N + choice` for both).
"""

from __future__ import annotations

from typing import Literal

from mtbench.backends.base import GenerationParams
from mtbench.data.questions import Question

TEMPERATURE_CONFIG: dict[str, float] = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
"""FastChat's `temperature_config`: the sampling temperature of each category."""

DEFAULT_TEMPERATURE = 0.7
"""The temperature of a category missing from the table."""


def question_temperature(question: Question, force_temperature: float | None = None) -> float:
    """The temperature for a question.

    Precedence: a forced temperature, then the question's own `required_temperature`, then the
    category table, then 0.7. (FastChat's local generator ignores `required_temperature`; no
    shipped question has one, and a question that asks for a temperature should get it.)
    """
    if force_temperature is not None:
        return force_temperature
    if question.required_temperature is not None:
        return float(question.required_temperature)
    return TEMPERATURE_CONFIG.get(question.category, DEFAULT_TEMPERATURE)


def choice_params(
    question: Question,
    choice: int,
    max_new_tokens: int,
    force_temperature: float | None = None,
    *,
    seed: int | None | Literal["choice"] = "choice",
) -> GenerationParams:
    """The sampling parameters of one choice.

    A temperature below 1e-4 means greedy decoding (`GenerationParams.greedy`).

    Args:
        question: The question.
        choice: The choice index.
        max_new_tokens: The token limit of a turn.
        force_temperature: One temperature for every question (`--force-temperature`).
        seed: The choice's seed (`GenConfig.choice_seed`), None for no seed; `choice` (the
            default): the choice index, as FastChat's `gen_model_answer` seeds a local model.
    """
    return GenerationParams(
        max_new_tokens=max_new_tokens,
        temperature=question_temperature(question, force_temperature),
        seed=choice if seed == "choice" else seed,
    )
