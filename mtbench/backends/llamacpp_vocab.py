"""A GGUF file opened with llama.cpp (llama-cpp-python), and its vocabulary as a tokenizer.

`GGUFTokenizer` gives `PromptFormat` (`mtbench.backends.prompting`) what it uses of a Hugging
Face tokenizer, read from the GGUF file through llama.cpp, so that the llama.cpp backend renders
the same prompts and post-processes replies with the same code as the transformers backend:

* the chat template is the file's `tokenizer.chat_template`, rendered by transformers' own
  renderer (`render_jinja_template`, the function behind `apply_chat_template`; no torch
  needed) with the special tokens transformers passes it: `bos_token`, `eos_token`,
  `unk_token` and `pad_token`, read as transformers reads them from the file
  (`tokenizer.ggml.{bos,eos,unknown,padding}_token_id`);
* text is tokenized by llama.cpp, special tokens written in the text parsed as such; BOS is
  added only where asked (legacy templates, as FastChat tokenizes) and the vocabulary adds one,
  and never in front of a prompt that already starts with it;
* ids are decoded by llama.cpp with special tokens kept as text (FastChat decodes with them,
  then deletes the special-token strings).

llama.cpp prints its loading log to stderr; it is routed to this module's logger at DEBUG
instead, and the last error lines it printed are quoted when a file does not load.
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mtbench.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

SPECIAL_TOKEN_KEYS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
}
"""The special tokens transformers reads from a GGUF file (its name -> the file's key)."""

_log_lines: deque[str] = deque(maxlen=8)
_log_callback: Any = None  # kept alive: llama.cpp holds a pointer to it
_ERROR, _CONTINUED = 4, 5  # ggml_log_level: GGML_LOG_LEVEL_ERROR, GGML_LOG_LEVEL_CONT


def import_llama_cpp(feature: str = "--backend llamacpp") -> Any:
    """Import llama-cpp-python (routing llama.cpp's log), or say which extra provides it.

    Raises:
        MissingDependencyError: naming the `llamacpp` extra and `feature`.
    """
    try:
        import llama_cpp
    except ImportError:
        raise MissingDependencyError("llama_cpp", "llamacpp", feature) from None
    global _log_callback
    if _log_callback is None:
        last = [0]

        @llama_cpp.llama_log_callback  # type: ignore[misc]
        def route(level: int, text: bytes, user_data: Any) -> None:
            level = last[0] if level == _CONTINUED else level
            last[0] = level
            line = text.decode("utf-8", "replace").strip()
            if line:
                if level == _ERROR:
                    _log_lines.append(line)
                logger.debug("llama.cpp: %s", line)

        _log_callback = route
        llama_cpp.llama_log_set(route, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
    return llama_cpp


def check_gguf_path(model_path: str, path_flag: str = "--model-path") -> Path:
    """The `.gguf` file a llama.cpp run loads (the file is not read yet).

    Raises:
        ConfigError: naming `path_flag`, for a missing file, a folder or another kind of file.
    """
    path = Path(model_path).expanduser()
    if not path.exists():
        raise ConfigError(f"{path_flag} {model_path}: no such file")
    if path.is_dir() or path.suffix.lower() != ".gguf":
        raise ConfigError(
            f"{path_flag} {model_path}: llama.cpp runs .gguf files; this is not one (use "
            "--backend hf for a Hugging Face model folder or hub id)"
        )
    return path


class GGUFModel:
    """A GGUF file loaded by llama.cpp (`vocab_only`: just its vocabulary and metadata).

    Args:
        model_path: The `.gguf` file.
        vocab_only: Load the vocabulary and metadata only (fast: for rendering prompts).
        path_flag: The running command's flag for the path, named in errors.
        kind_flag: The running command's flag that chose llama.cpp, named when it is missing.

    Raises:
        ConfigError: a missing, non-GGUF, truncated or corrupt file (one line, quoting
            llama.cpp's reason).
        MissingDependencyError: llama-cpp-python is not installed.
    """

    def __init__(
        self,
        model_path: str,
        *,
        vocab_only: bool = False,
        path_flag: str = "--model-path",
        kind_flag: str = "--backend",
    ):
        self.lib = import_llama_cpp(f"{kind_flag} llamacpp")
        self.path = check_gguf_path(model_path, path_flag)
        params = self.lib.llama_model_default_params()
        params.vocab_only = vocab_only
        _log_lines.clear()
        self.model = self.lib.llama_model_load_from_file(str(self.path).encode(), params)
        if not self.model:
            said = _log_lines[0] if _log_lines else "llama.cpp gave no reason"
            raise ConfigError(
                f"{path_flag} {model_path}: llama.cpp cannot load this GGUF file, it may be "
                f"truncated or corrupt ({said}); download it again"
            )
        self.vocab = self.lib.llama_model_get_vocab(self.model)

    def meta(self, key: str) -> str | None:
        """A metadata value of the file as text (None when the file has no such key)."""
        size = 256
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = self.lib.llama_model_meta_val_str(self.model, key.encode(), buffer, size)
            if length < 0:
                return None
            if length < size:
                return buffer.value.decode("utf-8", "replace")
            size = length + 1

    @property
    def n_ctx_train(self) -> int:
        """The context length the model was trained with (0 when unknown)."""
        return int(self.lib.llama_model_n_ctx_train(self.model))

    @property
    def weights_type(self) -> str:
        """The weights' type as llama.cpp describes the file, e.g. `Q4_1` (`?` if it says none)."""
        buffer = ctypes.create_string_buffer(256)
        self.lib.llama_model_desc(self.model, buffer, 256)
        words = buffer.value.decode("utf-8", "replace").split()
        return words[-1] if words else "?"

    def close(self) -> None:
        """Free the model."""
        if self.model:
            self.lib.llama_model_free(self.model)
            self.model = None


class GGUFTokenizer:
    """A GGUF file's vocabulary through llama.cpp, shaped as `PromptFormat` uses a tokenizer.

    Args:
        gguf: The loaded file (its vocabulary at least).

    Attributes:
        chat_template: The file's chat template (None if it has none).
        special_tokens_map: `bos_token`, `eos_token`, `unk_token`, `pad_token` as transformers
            reads them from the file (those the file names).
        all_special_tokens: Their strings, each once, in that order.
    """

    def __init__(self, gguf: GGUFModel):
        self.gguf = gguf  # the vocabulary lives as long as the model
        self.lib = gguf.lib
        self.vocab = gguf.vocab
        self.chat_template = gguf.meta("tokenizer.chat_template")
        self.special_tokens_map: dict[str, str] = {}
        for name, key in SPECIAL_TOKEN_KEYS.items():
            value = gguf.meta(key)
            if value is not None and value.lstrip("-").isdigit() and int(value) >= 0:
                self.special_tokens_map[name] = self.token_text(int(value))
        self.all_special_tokens = list(dict.fromkeys(self.special_tokens_map.values()))
        bos = int(self.lib.llama_vocab_bos(self.vocab))
        self.bos_id = bos if bos >= 0 else None

    def token_text(self, token: int) -> str:
        """The text of one token as the vocabulary stores it (special tokens included)."""
        return bytes(self.lib.llama_vocab_get_text(self.vocab, token)).decode("utf-8", "replace")

    def apply_chat_template(
        self,
        conversation: Sequence[dict[str, str]],
        tokenize: bool = False,
        add_generation_prompt: bool = True,
    ) -> str:
        """Render the chat template as transformers' `apply_chat_template(tokenize=False)`.

        Raises:
            ValueError: when asked to tokenize (`PromptFormat` never does).
            MissingDependencyError: transformers (its renderer) is not installed.
        """
        if tokenize:
            raise ValueError("GGUFTokenizer renders text only; encode it with __call__")
        try:
            from transformers.utils import chat_template_utils
        except ImportError:
            raise MissingDependencyError(
                "transformers", "llamacpp", "rendering a GGUF file's chat template"
            ) from None
        render: Any = chat_template_utils.render_jinja_template  # returns (texts, indices)
        messages = [{k: v for k, v in m.items() if v is not None} for m in conversation]
        rendered, _ = render(
            conversations=[messages],
            chat_template=self.chat_template,
            add_generation_prompt=add_generation_prompt,
            **self.special_tokens_map,
        )
        return str(rendered[0])

    def __call__(self, text: str, add_special_tokens: bool = True) -> SimpleNamespace:
        """Tokenize `text` (see the module docstring); the ids are in `.input_ids`."""
        ids = self.encode(text, add_special_tokens)
        return SimpleNamespace(input_ids=ids)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text`: special tokens in it parsed, BOS added only as described."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        while True:
            buffer = (self.lib.llama_token * capacity)()
            count = self.lib.llama_tokenize(
                self.vocab, data, len(data), buffer, capacity, add_special_tokens, True
            )
            if count >= 0:
                break
            capacity = -count
        ids = list(buffer[:count])
        if add_special_tokens and len(ids) > 1 and ids[0] == ids[1] == self.bos_id:
            ids = ids[1:]  # the text began with BOS already: never two
        return ids

    def decode(self, token_ids: Sequence[int], spaces_between_special_tokens: bool = False) -> str:
        """The text of `token_ids`, special tokens kept (invalid UTF-8 replaced, as transformers).

        `spaces_between_special_tokens` is accepted for `PromptFormat` and has no effect: the
        pieces are joined as they are, as transformers' fast tokenizers do.
        """
        ids = list(token_ids)
        if not ids:
            return ""
        tokens = (self.lib.llama_token * len(ids))(*ids)
        size = 8 * len(ids) + 16
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = self.lib.llama_detokenize(
                self.vocab, tokens, len(ids), buffer, size, False, True
            )
            if length >= 0:
                return buffer.raw[:length].decode("utf-8", "replace")
            size = -length + 1
