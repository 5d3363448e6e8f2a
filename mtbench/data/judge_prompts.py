"""Judge prompts (`judge_prompts.jsonl`): loaded as data, never edited.

Scores are comparable with the public leaderboard only if the prompts are byte-identical to
FastChat's, so they are read from the data directory as they are (see `mtbench-download`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from mtbench.data._rows import RowReader
from mtbench.data.jsonl import read_jsonl
from mtbench.data.paths import require_file

PROMPT_TYPES = ("single", "pairwise")


@dataclass(frozen=True)
class JudgePrompt:
    """One judge prompt.

    Attributes:
        name: e.g. `single-v1`, `pair-math-v1-multi-turn`.
        type: `single` or `pairwise`.
        system_prompt: The system message sent to the judge.
        prompt_template: A `str.format` template for the user message.
        description: Free text.
        category: Free text (inconsistent in FastChat's file; not used).
        output_format: `[[rating]]`, `[[A]]` or `[[rating_a,rating_b]]`.
    """

    name: str
    type: str
    system_prompt: str
    prompt_template: str
    description: str
    category: str
    output_format: str

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the template expects, e.g. `{"question", "answer"}`."""
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.prompt_template) if name
        )

    def render(self, **values: str) -> str:
        """Fill the template exactly as FastChat does (`str.format`; unused values are ignored)."""
        return self.prompt_template.format(**values)


def load_judge_prompts(path: str | Path) -> dict[str, JudgePrompt]:
    """Load a judge prompt file keyed by name (a later prompt with the same name wins).

    Raises:
        DataError: naming the file and line of a malformed prompt.
    """
    path = require_file(Path(path), "judge prompt file")
    prompts: dict[str, JudgePrompt] = {}
    for line, row in read_jsonl(path):
        fields = RowReader(row, path, line)
        prompt = JudgePrompt(
            name=fields.string("name"),
            type=fields.string("type"),
            system_prompt=fields.string("system_prompt"),
            prompt_template=fields.string("prompt_template"),
            description=fields.string("description", optional=True) or "",
            category=fields.string("category", optional=True) or "",
            output_format=fields.string("output_format"),
        )
        if prompt.type not in PROMPT_TYPES:
            raise fields.fail(f"field 'type' must be 'single' or 'pairwise', got {prompt.type!r}")
        try:
            _ = prompt.placeholders
        except ValueError as exc:
            raise fields.fail(f"prompt_template is not a valid format string ({exc})") from None
        prompts[prompt.name] = prompt
    return prompts
