"""What the local engines (transformers, vLLM) share: mtbench renders the prompts, and one call
samples every conversation with its own parameters.

A local engine opens its model's tokenizer and `PromptFormat` with `_open_format` (so both engines
tokenize and post-process alike), implements `generate_each`, and counts the tokens it generates.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from mtbench.backends.base import Backend, Conversation, GenerationParams
from mtbench.backends.conv_templates import ConvTemplate
from mtbench.backends.prompting import PromptFormat, load_prompt_format


class LocalBackend(Backend):
    """Base of the local engines: whole batches per call, each row with its own parameters."""

    concurrent = False
    per_row_params = True
    tokens_generated: int
    """Generated tokens so far (a reply's end token included, padding excluded)."""
    tokenizer: Any
    format: PromptFormat

    def _open_format(
        self,
        model_path: str,
        model_name: str | None,
        conv_template: ConvTemplate | str | None,
        revision: str,
        trust_remote_code: bool,
        cache_dir: str | None,
        path_flag: str,
    ) -> str:
        """Set `model_name`, `tokenizer` and `format` (and zero the token count).

        `path_flag` is the running command's flag for `model_path`, named in errors.

        Returns:
            What `from_pretrained` loads for `model_path` (a GGUF file is converted first).
        """
        self.model_name = model_name or model_path
        source, self.format = load_prompt_format(
            model_path,
            conv_template,
            model_name=self.model_name,
            revision=revision,
            trust_remote_code=trust_remote_code,
            cache_dir=cache_dir,
            path_flag=path_flag,
        )
        self.tokenizer = self.format.tokenizer
        self.tokens_generated = 0
        return source

    def generate(
        self, conversations: Sequence[Conversation], params: GenerationParams
    ) -> list[str]:
        """Reply to each conversation: `generate_each` with the same parameters for all."""
        return self.generate_each(conversations, [params] * len(conversations))

    @abstractmethod
    def generate_each(
        self, conversations: Sequence[Conversation], params: Sequence[GenerationParams]
    ) -> list[str]:
        """Reply to each conversation with its own sampling parameters, in one call."""
