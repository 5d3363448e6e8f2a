"""Configs are defined once: flags copy into `GenConfig`/`JudgeConfig` and take their defaults."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, FrozenInstanceError, dataclass, fields

import pytest

from mtbench.cli import gen as gen_cli
from mtbench.cli import judge as judge_cli
from mtbench.cli.common import config_from_args
from mtbench.data.paths import DATA_DIR_ENV, DEFAULT_BENCH, BenchPaths
from mtbench.errors import ConfigError
from mtbench.generation import GenConfig
from mtbench.judging import JudgeConfig

COMMANDS = [
    # The fields no flag of the same name sets: the commands build `paths` from --data-dir and
    # --bench-name, and mtbench-gen `model_path` from --model or --model-path.
    pytest.param(
        gen_cli.build_parser,
        GenConfig,
        gen_cli.RENAMED,
        {"model_path", "paths", "cache_dir"},
        id="mtbench-gen",
    ),
    pytest.param(
        judge_cli.build_parser, JudgeConfig, judge_cli.RENAMED, {"paths"}, id="mtbench-judge"
    ),
]


@pytest.mark.parametrize(("build_parser", "config", "renamed", "unflagged"), COMMANDS)
def test_every_flag_of_a_field_defaults_to_the_field_default(
    build_parser, config, renamed, unflagged
):
    flags = vars(build_parser().parse_args([]))  # no flag is required at parse time
    compared = set()
    for spec in fields(config):
        dest = renamed.get(spec.name, spec.name)
        if dest in flags and spec.default is not MISSING:
            assert flags[dest] == spec.default, f"--{dest.replace('_', '-')} vs {spec.name}"
            compared.add(spec.name)
    assert {spec.name for spec in fields(config)} - compared == unflagged
    assert flags["bench_name"] == DEFAULT_BENCH and flags["data_dir"] is None


def test_the_judge_command_without_flags_is_the_default_config(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    args = judge_cli.build_parser().parse_args([])
    assert judge_cli.make_config(args) == JudgeConfig()
    assert JudgeConfig().paths == BenchPaths(tmp_path, DEFAULT_BENCH)


def test_the_gen_command_copies_every_flag_to_its_field(tmp_path):
    parser = gen_cli.build_parser()
    args = parser.parse_args(
        ["--backend", "openai", "--model", "org/m", "--openai-api-base", "http://h/v1",
         "--parallel", "3", "--max-tokens", "64", "--data-dir", str(tmp_path),
         "--bench-name", "b"]
    )  # fmt: skip
    config = gen_cli.make_config(parser, args)
    assert config == GenConfig(
        model_path="org/m",
        backend="openai",
        api_base="http://h/v1",
        parallel=3,
        max_new_token=64,
        paths=BenchPaths(tmp_path, "b"),
    )
    assert config.resolved_model_id == "m"


def test_judge_flags_named_unlike_their_fields_reach_them():
    args = judge_cli.build_parser().parse_args(
        ["--judge-max-tokens", "99", "--judge-timeout", "7", "--no-preflight"]
    )
    config = judge_cli.make_config(args)
    assert (config.max_tokens, config.timeout, config.preflight) == (99, 7.0, False)


@dataclass(frozen=True)
class _Sample:
    required: str
    renamed: int = 1
    unflagged: float = 2.0


def test_config_from_args_copies_renames_and_fills_in():
    args = argparse.Namespace(required="r", other_name=5, log_level="INFO")
    assert config_from_args(_Sample, args, {"renamed": "other_name"}) == _Sample("r", 5, 2.0)
    assert config_from_args(_Sample, args, unflagged=3.0) == _Sample("r", 1, 3.0)
    assert config_from_args(_Sample, args, required="given") == _Sample("given", 1, 2.0)


def test_config_from_args_rejects_a_required_field_without_flag_and_unknown_names():
    with pytest.raises(TypeError, match="_Sample.required is required and no flag sets it"):
        config_from_args(_Sample, argparse.Namespace(renamed=1))
    with pytest.raises(TypeError, match="no flag sets 'nope'"):
        config_from_args(_Sample, argparse.Namespace(required="r"), {"renamed": "nope"})
    with pytest.raises(TypeError, match="_Sample has no field typo"):
        config_from_args(_Sample, argparse.Namespace(required="r"), typo=1)


def test_configs_are_frozen():
    with pytest.raises(FrozenInstanceError):
        GenConfig("m", "m").parallel = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        JudgeConfig().parallel = 1  # type: ignore[misc]


def test_the_model_id_defaults_to_the_served_models_last_part_only_for_api_backends():
    assert GenConfig("org/Model-7B/", backend="openai").resolved_model_id == "Model-7B"
    assert GenConfig("org/Model-7B", "mine", backend="openai").resolved_model_id == "mine"
    assert GenConfig("/models/local", "local").resolved_model_id == "local"
    with pytest.raises(ConfigError, match="--model-id is required for a local model"):
        GenConfig("/models/local").validate()


def test_both_configs_validate_the_same_way():
    with pytest.raises(ConfigError, match="--parallel must be at least 1, got 0"):
        GenConfig("m", backend="openai", parallel=0).validate()
    with pytest.raises(ConfigError, match="--parallel must be at least 1, got 0"):
        JudgeConfig(parallel=0).validate()


def test_a_model_list_given_as_one_string_is_refused_not_read_letter_by_letter():
    with pytest.raises(ConfigError, match="model_list must be a list of names, got the string"):
        JudgeConfig(model_list="my-model").validate()
    JudgeConfig(model_list=["my-model"]).validate()
