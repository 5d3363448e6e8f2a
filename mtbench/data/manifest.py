"""The official MT-bench files: where each comes from, where it goes, and its sha256.

Three upstream sources, each reached as `{base URL}/{url_path}`:

* FastChat's GitHub repository (`raw.githubusercontent.com/lm-sys/FastChat`) at the pinned commit
  `FASTCHAT_COMMIT`: the questions, the judge prompts and the GPT-4 reference answers.
* The Hugging Face space `lmsys/mt-bench`: the 31 pre-generated model answers and the official
  GPT-4 judgments, at the URLs FastChat's `download_mt_bench_pregenerated.py` uses.
* FastChat pull request #3404 (unmerged, commit `GPT4O_PR_COMMIT`, same GitHub base): GPT-4o
  answers and GPT-4o reference answers, for runs with a GPT-4o judge. Third-party, opt-in.

A mirror holds the files at the same relative paths; `--github-base-url` / `--hf-base-url` (or
`MTBENCH_GITHUB_BASE_URL` / `MTBENCH_HF_BASE_URL`) point there. Local paths follow FastChat's
layout (`mtbench.data.paths.BenchPaths`), with `judge_prompts.jsonl` directly in the data directory.

The checksums were taken from the verified copies described in `shared/mt_bench/README.md`
(git blob ids equal to FastChat's for the GitHub files). No checksum is known for the official
judgment files: they are fetched unverified and their sha256 is shown to the user.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mtbench.data.paths import DEFAULT_BENCH, BenchPaths
from mtbench.errors import ConfigError

GITHUB = "github"
HF = "hf"

DEFAULT_BASE_URLS = {
    GITHUB: "https://raw.githubusercontent.com/lm-sys/FastChat",
    HF: "https://huggingface.co/spaces/lmsys/mt-bench/resolve/main",
}
BASE_URL_ENVS = {GITHUB: "MTBENCH_GITHUB_BASE_URL", HF: "MTBENCH_HF_BASE_URL"}

FASTCHAT_COMMIT = "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
"""lm-sys/FastChat `main` on 2025-04-12; its MT-bench data is unchanged since 2023-07-04."""

GPT4O_PR_COMMIT = "4026da0c2bf4b1cf2331a56d668d60550e3743f1"
"""Head of lm-sys/FastChat pull request #3404 ("Added llm-judge support for GPT-4o")."""

QUESTIONS = "questions"
ANSWERS = "answers"
JUDGMENTS = "judgments"
GPT4O = "gpt-4o"
GROUPS = (QUESTIONS, ANSWERS, JUDGMENTS, GPT4O)
"""What can be fetched: questions (with judge prompts and GPT-4 references), the 31 official
answers, the official GPT-4 judgments (unverified), GPT-4o answers and references (PR #3404)."""
DEFAULT_GROUPS = (QUESTIONS, ANSWERS)


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file.

    Attributes:
        group: Which of `GROUPS` it belongs to.
        source: `GITHUB` or `HF`: which base URL it is fetched from.
        url_path: Its path below the source's base URL.
        local_path: Where it goes, relative to the data directory.
        sha256: Its expected sha256 (hex), or None when no trusted value is known.
        size: Its size in bytes, or None when unknown.
        model: For an answer file, the model it holds (the file stem).
    """

    group: str
    source: str
    url_path: str
    local_path: PurePosixPath
    sha256: str | None
    size: int | None
    model: str | None = None

    def url(self, base_urls: Mapping[str, str]) -> str:
        """The file's URL under the given base URLs (see `resolve_base_urls`)."""
        return f"{base_urls[self.source].rstrip('/')}/{self.url_path}"

    def target(self, data_dir: Path) -> Path:
        """The file's path inside `data_dir`."""
        return Path(data_dir) / self.local_path


# The data directory's layout, relative to the data directory itself.
_LAYOUT = BenchPaths(Path(), DEFAULT_BENCH)
_FASTCHAT_DATA = "fastchat/llm_judge/data"
_HF_DATA = "data/mt_bench"

# sha256, size in bytes, model: the 31 answer files of the lmsys/mt-bench space.
_ANSWER_TABLE = """
80f4a8bf4665839d33fa0ea7f4b58824abf88d5a0edc9e7cc68a362fca88ef98 66179 alpaca-13b
062eb0b865a8b903e0d434a59ed8a7b58c74fcf57de154858f9ca00788758e4e 176040 baize-v2-13b
2785d99500d910bf0154f64947743e12c9cf20fdba6c160c314c099e0d03dfb9 188210 chatglm-6b
e06bbf0f8c02cc56cf0508312627b8e552df1e4e5c061a9dc236f73c0d053bac 165065 claude-instant-v1
884c109de34721859bf7ffa0f7e525dfbc9fb0d99c1ee7c5488bfb2eb8f8c62c 174683 claude-v1
5b1fd3f5c56bdeab746576067412c503ee5030e89456870219fed04fd1040056 90490 dolly-v2-12b
efcabc647b32a600d845b6bc85573facf70ef566b6c4d1ad2cecfb46c897a2ea 103875 falcon-40b-instruct
4e65d40093631aa0c55703f0df528ac6d4225097e42d8694f49b11d2b89e889b 179585 fastchat-t5-3b
c3c097c21f91e4b44a554d82e5d47516daf7e8240e13b2eca79d211afc1fdfd6 158274 gpt-3.5-turbo
f65cdce00aa8567e9add118cabd34c2866291ed8f5c1d568f8da9a81d231d3e7 199046 gpt-4
d6a341c37224e166bd65c44df6c189f42e756221ad3975164934f336d1bd1bec 142831 gpt4all-13b-snoozy
5f8856d1e57c56a474e2dcd487684ff99f02cff8905ef8a2e1b6601f9d5819e9 191904 guanaco-33b
5b3123555399be437eba9fe49c2f6f09c9ac6a497f3dee96299f4565036ed2b4 182083 guanaco-65b
0cf8c355a944f791b708f834d139c87e7f4cd97a0e7e12d03e5d64b235e96204 162814 h2ogpt-oasst-open-llama-13b
f1dacd010bec3e87ec6f1160c285bfe42f1acbaa9947a4debe5360778ff1b5aa 191839 koala-13b
b96b9f1e0a7e4e669fecfecda1c33908fdc4c095e38346e84352ea254c0b2cbc 130031 llama-13b
2adb32470a79ca17060d14c6fb88ea1b9b4bc10d4589778715fe88c96cfe2aa8 161080 mpt-30b-chat
df81b38aa8b7f7d6c5f214e72ee568284f5c6bb7da74a8cb45662b7a067f5415 93609 mpt-30b-instruct
7171e42d926a99ea1d7fd804fb19ee367d00c6be81f38bb450bd90cd0df4a772 133659 mpt-7b-chat
d953f206fd86f600af32668c6b6c6785006497df8aa745d96aef2fdca5b31310 117962 nous-hermes-13b
5b22cc8495a15bbe69361bbf30782f3b2f69361321989667a8abb9fb3e73ce9e 120593 oasst-sft-4-pythia-12b
6ec66e7839da733be995feb6a5d42df315d2eda3a85bc27cad6bba429841e1d0 138342 oasst-sft-7-llama-30b
4cad39fcf55f853fc101d00950af2f8ba311def8729b076ac633f2ae70d39adf 120417 palm-2-chat-bison-001
7f5305dec94c457feaf326d28491c1aedfdd66965044c1b3f654699cebcb5071 186336 rwkv-4-raven-14b
d8f0cbb4e3292e65e6425a717644fad155d11b8feb73ee9620cd0fecfc808016 395624 stablelm-tuned-alpha-7b
3b7c238738787979606feaa3b4e154140e0dd152e01f257ef2f8749aa5bef2df 131454 tulu-30b
0a9bb7f7505d096e32b8a81f89b322cc09bb76d896484150844ce0787cc4caf5 187075 vicuna-13b-v1.3
4dbf2db582d8e9ddcc8b321c55cc40fd26487fe2a4a821e60dce10160b383f2c 232457 vicuna-33b-v1.3
1b4518114b6c20e1d648f450cf7de0ced2678456a36bea5878b1e0d8471f184d 185331 vicuna-7b-v1.3
a15b5b2521fadf1a30f71e7d906aabb123f33de499129bc26eda0e8fa1aadc80 155429 wizardlm-13b
e962ab5531c625ccf704c72396b67c4534fdf3775aeb89ea86e08c158bf18c49 161413 wizardlm-30b
"""


def _local(path: Path) -> PurePosixPath:
    return PurePosixPath(path.as_posix())


def _github(
    group: str,
    commit: str,
    repo_path: str,
    local: Path,
    sha256: str,
    size: int,
    model: str | None = None,
) -> RemoteFile:
    return RemoteFile(
        group, GITHUB, f"{commit}/{_FASTCHAT_DATA}/{repo_path}", _local(local), sha256, size, model
    )


def _answer(sha256: str, size: str, model: str) -> RemoteFile:
    return RemoteFile(
        ANSWERS,
        HF,
        f"{_HF_DATA}/model_answer/{model}.jsonl",
        _local(_LAYOUT.answer_file(model)),
        sha256,
        int(size),
        model,
    )


def _judgment(mode: str) -> RemoteFile:
    local = _LAYOUT.judgment_file("gpt-4", mode)
    return RemoteFile(
        JUDGMENTS, HF, f"{_HF_DATA}/model_judgment/{local.name}", _local(local), None, None
    )


MANIFEST: tuple[RemoteFile, ...] = (
    _github(
        QUESTIONS,
        FASTCHAT_COMMIT,
        "mt_bench/question.jsonl",
        _LAYOUT.question_file,
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
        48929,
    ),
    _github(
        QUESTIONS,
        FASTCHAT_COMMIT,
        "judge_prompts.jsonl",
        _LAYOUT.data_dir / "judge_prompts.jsonl",
        "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6",
        10449,
    ),
    _github(
        QUESTIONS,
        FASTCHAT_COMMIT,
        "mt_bench/reference_answer/gpt-4.jsonl",
        _LAYOUT.reference_file("gpt-4"),
        "f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f",
        51109,
    ),
    *(_answer(*line.split()) for line in _ANSWER_TABLE.split("\n") if line),
    _judgment("single"),
    _judgment("pair"),
    _github(
        GPT4O,
        GPT4O_PR_COMMIT,
        "mt_bench/model_answer/gpt-4o.jsonl",
        _LAYOUT.answer_file("gpt-4o"),
        "f3c7df3aa4dd55de559e8cf9f60ecc934b313cf843108741743c8279cccb8cf9",
        282722,
        "gpt-4o",
    ),
    _github(
        GPT4O,
        GPT4O_PR_COMMIT,
        "mt_bench/reference_answer/gpt-4o.jsonl",
        _LAYOUT.reference_file("gpt-4o"),
        "e705be8b5fc2221d43966a5bcc13220b10acd1fd5ca1f44f7f738694bf5bc58a",
        83109,
    ),
)
"""Every file `mtbench-download` knows, in download order."""

OFFICIAL_MODELS: tuple[str, ...] = tuple(
    f.model for f in MANIFEST if f.group == ANSWERS and f.model is not None
)
"""The 31 models whose MT-bench answers lmsys published (file stems, as FastChat names them)."""


def select_files(
    groups: Iterable[str] = DEFAULT_GROUPS, models: Sequence[str] | None = None
) -> list[RemoteFile]:
    """The manifest entries of the chosen groups, in download order.

    Args:
        groups: Names from `GROUPS`, or `all`.
        models: Restrict the `answers` group to these official models (None: all 31).

    Raises:
        ConfigError: for an unknown group or model, or models given without the answers group.
    """
    chosen = set(GROUPS) if "all" in groups else set(groups)
    unknown = chosen - set(GROUPS)
    if unknown:
        raise ConfigError(
            f"unknown --what {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)} or all"
        )
    if models is not None:
        if ANSWERS not in chosen:
            raise ConfigError("--models picks answer files, but --what does not include answers")
        bad = [m for m in models if m not in OFFICIAL_MODELS]
        if bad:
            raise ConfigError(
                f"--models: no official answers for {', '.join(bad)}; the "
                f"official models are {', '.join(OFFICIAL_MODELS)}"
            )
    wanted_models = set(models) if models is not None else None
    return [
        f
        for f in MANIFEST
        if f.group in chosen
        and (f.group != ANSWERS or wanted_models is None or f.model in wanted_models)
    ]


def resolve_base_urls(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Base URL per source: the given override (a flag), else its environment variable, else
    the official host."""
    overrides = overrides or {}
    return {
        source: overrides.get(source) or os.environ.get(BASE_URL_ENVS[source]) or default
        for source, default in DEFAULT_BASE_URLS.items()
    }
