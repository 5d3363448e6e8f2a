"""A retired or unknown judge: close names in the one-line error, shutdown-date warnings.

The real `openai` client talks HTTP to the scripted server on 127.0.0.1; the message builders
are also checked as pure functions.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone

import pytest
from conftest import shared_file
from fake_openai_server import FakeOpenAIServer, Fault

from mtbench.backends.base import GenerationParams
from mtbench.backends.fake import FakeBackend
from mtbench.backends.model_catalog import (
    close_names,
    fetch_listing,
    lister,
    shutdown_date,
    shutdown_warning,
    unknown_model_message,
)
from mtbench.backends.openai_compat import OpenAICompatBackend
from mtbench.backends.retry import RetryPolicy
from mtbench.cli.judge import main as judge_main
from mtbench.data.paths import BenchPaths
from mtbench.errors import RequestError
from mtbench.judging.judge_backend import PREFLIGHT_MESSAGES, preflight

CHAT = [{"role": "user", "content": "Rate this. [[rating]]"}]
JUDGE = GenerationParams(max_new_tokens=2048, temperature=0.0)
SERVED = ["gpt-4o-2024-08-06", "gpt-4.1"]
ADVICE = (
    "gpt-4 is mtbench's default judge, which OpenAI shut down on 2026-10-23: choose another "
    "judge with --judge-model NAME (or --judge-base-url for a served open model, "
    "--judge-model-path for a local one); scores from another judge are not on the "
    "leaderboard's GPT-4 scale"
)
URL_HINT = "that the base URL is the API root (usually ending in /v1)"


def _said(model: str) -> str:
    return f"HTTP 404: The model `{model}` does not exist or you do not have access to it."


@pytest.fixture
def backends():
    opened: list[OpenAICompatBackend] = []

    def make(server: FakeOpenAIServer, model: str, flag: str = "--judge-model"):
        backend = OpenAICompatBackend(
            model,
            base_url=server.base_url,
            timeout=5.0,
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
            model_flag=flag,
        )
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


def _refusal(backend: OpenAICompatBackend) -> str:
    with pytest.raises(RequestError) as info:
        backend.complete(CHAT, JUDGE)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- The unknown model's one-line error, over HTTP ---


@pytest.mark.parametrize(
    ("model", "closest"),
    [
        ("gpt-4.1-2025", "gpt-4.1, gpt-4o-2024-08-06"),  # the alias of a misdated snapshot first
        ("gpt4o", "gpt-4o-2024-08-06, gpt-4.1"),  # separators do not count; a snapshot first
    ],
)
def test_unknown_model_names_the_closest_models_the_server_lists(backends, model, closest):
    with FakeOpenAIServer(known_models=SERVED) as server:
        message = _refusal(backends(server, model))
        sent = server.completions()
    assert message == (
        f"{server.base_url} does not know model '{model}' ({_said(model)}); check --judge-model "
        f"and choose a name it serves (closest: {closest})"
    )
    assert len(sent) == 1  # not retried


def test_a_400_model_not_found_is_an_unknown_model_too(backends):
    with FakeOpenAIServer(models=[{"id": "gpt-4.1"}]) as server:
        server.script(Fault.http_error(400, "no such model", "model_not_found"))
        message = _refusal(backends(server, "gpt-4.1-mini", flag="--model"))
    assert message == (
        f"{server.base_url} does not know model 'gpt-4.1-mini' (HTTP 400: no such model); "
        "check --model and choose a name it serves (closest: gpt-4.1)"
    )


def test_no_close_name_says_how_many_are_served(backends):
    with FakeOpenAIServer(known_models=["llama-3-70b", "qwen2.5-72b"]) as server:
        message = _refusal(backends(server, "claude-3-opus", flag="--model"))
    assert message.endswith(
        "check --model and choose a name it serves (none of the 2 it lists is close)"
    )


def test_the_default_judge_not_served_says_how_to_choose_another(backends):
    with FakeOpenAIServer(known_models=SERVED) as server:
        message = _refusal(backends(server, "gpt-4"))
    assert message == (
        f"{server.base_url} does not know model 'gpt-4' ({_said('gpt-4')}); check --judge-model "
        f"and choose a name it serves (closest: gpt-4.1); {ADVICE}"
    )


def test_the_judge_advice_is_only_for_the_judge(backends):
    with FakeOpenAIServer(known_models=SERVED) as server:
        message = _refusal(backends(server, "gpt-4", flag="--model"))
    assert "check --model and" in message
    assert "default judge" not in message and "--judge-model" not in message


@pytest.mark.parametrize(
    "listing",
    [
        Fault.http_error(404, "no route /v1/models"),  # a proxy without the route
        Fault.server_error(500),
        Fault.malformed(),
        [],  # listed, but nothing
    ],
    ids=["404", "500", "malformed", "empty"],
)
def test_a_failed_or_empty_listing_says_nothing_about_names(backends, listing):
    with FakeOpenAIServer(known_models=SERVED) as server:
        server.models = listing
        backend = backends(server, "gpt4o")
        assert backend.served_models() == []
        message = _refusal(backend)
    assert message == (
        f"{server.base_url} does not know model 'gpt4o' ({_said('gpt4o')}); check --judge-model "
        f"and {URL_HINT}"
    )


def test_served_models_keeps_every_field_and_never_raises(backends):
    rows = [
        {"id": "gpt-4o", "object": "model", "owned_by": "openai", "shutdown_date": "2027-01-14"}
    ]
    with FakeOpenAIServer(models=rows) as server:
        backend = backends(server, "gpt-4o")
        listed = backend.served_models()
        server.models = Fault.drop()
        dropped = backend.served_models()
    assert [(r["id"], r["shutdown_date"]) for r in listed] == [("gpt-4o", "2027-01-14")]
    assert dropped == []


def test_fetch_listing_swallows_any_error_and_skips_odd_rows():
    def broken() -> list[object]:
        raise RuntimeError("boom")

    assert fetch_listing(broken) == []
    assert fetch_listing(lambda: [{"id": "a"}, "not a row", 3]) == [{"id": "a"}]


# --- The message builders, pure ---


@pytest.mark.parametrize(
    ("model", "served", "expected"),
    [
        ("gpt4o", ["gpt-4o", "gpt-4o-mini", "o3"], ["gpt-4o", "gpt-4o-mini"]),
        ("GPT-4O", ["gpt-4o"], ["gpt-4o"]),
        ("gpt-4", ["gpt-4", "gpt-4-turbo"], ["gpt-4-turbo"]),  # never the name refused
        ("gpt-4", ["claude-3-opus", "llama-3"], []),
        ("gpt-4", [], []),
        ("gpt-4o", ["gpt-4o-a", "gpt-4o-b", "gpt-4o-c", "gpt-4o-d"], 3),
    ],
)
def test_close_names(model, served, expected):
    got = close_names(model, served)
    if isinstance(expected, int):
        assert len(got) == expected
    else:
        assert got == expected


def test_unknown_model_message_without_a_listing_keeps_the_base_url_hint():
    message = unknown_model_message("gpt-4", "http://x/v1", "HTTP 404", [], "--judge-model")
    head = "http://x/v1 does not know model 'gpt-4' (HTTP 404); check --judge-model and "
    assert message == f"{head}{URL_HINT}; {ADVICE}"


TIMESTAMP_2026_10_23 = int(datetime(2026, 10, 23, 12, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"shutdown_date": "2027-01-14"}, date(2027, 1, 14)),
        ({"shutdown_date": "2027-01-14T00:00:00Z"}, date(2027, 1, 14)),
        ({"deprecation_date": TIMESTAMP_2026_10_23}, date(2026, 10, 23)),
        ({"shutdown_date": "2027-01-14", "deprecation_date": "2026-01-01"}, date(2027, 1, 14)),
        ({"shutdown_date": None, "deprecation_date": "2026-10-23"}, date(2026, 10, 23)),
        ({"shutdown_date": "soon"}, None),
        ({"shutdown_date": True}, None),
        ({"id": "gpt-4o"}, None),
    ],
)
def test_shutdown_date(row, expected):
    assert shutdown_date(row) == expected


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2027, 1, 2), "in 12 days"),
        (date(2027, 1, 13), "in 1 day"),
        (date(2026, 12, 15), "in 30 days"),
        (date(2027, 1, 14), "today"),
        (date(2027, 2, 1), "passed 18 days ago"),
        (date(2026, 12, 14), None),  # 31 days away
    ],
)
def test_shutdown_warning_window(today, status):
    rows = [{"id": "gpt-4o", "shutdown_date": "2027-01-14"}, {"id": "gpt-4.1"}]
    warning = shutdown_warning("gpt-4o", rows, today=today, where="OpenAI")
    if status is None:
        assert warning is None
    else:
        assert warning is not None
        assert warning.startswith(
            "warning: OpenAI lists a shutdown date of 2027-01-14 for judge model 'gpt-4o' "
            f"({status}); "
        )
    assert shutdown_warning("gpt-4.1", rows, today=today, where="OpenAI") is None


def test_lister_names_openai_or_the_base_url():
    assert lister("https://api.openai.com/v1") == "OpenAI"
    assert lister("http://localhost:8000/v1") == "http://localhost:8000/v1"


# --- The preflight's shutdown-date warning, over HTTP ---


def _listing(**dates: object) -> list[dict[str, object]]:
    return [{"id": "gpt-4o", "object": "model", "owned_by": "openai", **dates}, {"id": "gpt-4.1"}]


@pytest.mark.parametrize(
    ("dates", "today", "expected"),
    [
        (
            {"shutdown_date": "2027-01-14"},
            date(2027, 1, 2),
            "lists a shutdown date of 2027-01-14 for judge model 'gpt-4o' (in 12 days); after "
            "it, judge calls will fail: choose another judge with --judge-model (its scores will "
            "not be comparable with this judge's)",
        ),
        (
            {"deprecation_date": TIMESTAMP_2026_10_23},
            date(2026, 11, 1),
            "lists a shutdown date of 2026-10-23 for judge model 'gpt-4o' (passed 9 days ago); "
            "judge calls may fail at any moment: choose another judge with --judge-model (its "
            "scores will not be comparable with this judge's)",
        ),
        ({"shutdown_date": "2027-01-14"}, date(2026, 6, 1), None),  # far away
        ({}, date(2027, 1, 2), None),  # no date published
    ],
    ids=["within-30-days", "passed", "far-away", "absent"],
)
def test_preflight_warns_about_a_near_or_past_shutdown(backends, dates, today, expected):
    with FakeOpenAIServer(known_models=["gpt-4o", "gpt-4.1"], models=_listing(**dates)) as server:
        warnings = preflight(backends(server, "gpt-4o"), today=today)
        sent = server.completions()
    assert warnings == ([f"warning: {server.base_url} {expected}"] if expected else [])
    assert [r.messages for r in sent] == [PREFLIGHT_MESSAGES]  # the test call was still made


def test_preflight_without_a_listing_warns_of_nothing(backends):
    with FakeOpenAIServer(models=Fault.server_error(500)) as server:
        assert preflight(backends(server, "gpt-4o"), today=date(2027, 1, 2)) == []
        assert len(server.completions()) == 1
    assert preflight(FakeBackend(), today=date(2027, 1, 2)) == []


# --- Through mtbench-judge ---


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """One question and one official answer file: two judge calls."""
    rows = [line for line in bench.question_file.read_text().splitlines() if line.strip()]
    keep = [line for line in rows if json.loads(line)["question_id"] == 81]
    bench.question_file.write_text(keep[0] + "\n")
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/alpaca-13b.jsonl"), bench.answer_file("alpaca-13b"))
    return bench


def _judge_cli(data: BenchPaths, server: FakeOpenAIServer, *args: str) -> int:
    return judge_main(
        [
            "--data-dir",
            str(data.data_dir),
            "--judge-base-url",
            server.base_url,
            "--model-list",
            "alpaca-13b",
            "--yes",
            *(args if "--judge-model" in args else ("--judge-model", "gpt-4", *args)),
        ]
    )


def test_cli_default_judge_not_served_exits_with_one_line(data, capsys):
    with FakeOpenAIServer(known_models=SERVED) as server:
        status = _judge_cli(data, server)
        sent = server.completions()
    assert status == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"Error: {server.base_url} does not know model 'gpt-4' ({_said('gpt-4')}); check "
        f"--judge-model and choose a name it serves (closest: gpt-4.1); {ADVICE}"
    )
    assert len(sent) == 1  # the preflight call only
    assert not data.judgment_file("gpt-4", "single").exists()


def test_cli_unknown_judge_mid_run_without_preflight(data, capsys):
    with FakeOpenAIServer(known_models=SERVED) as server:
        status = _judge_cli(data, server, "--judge-model", "gpt4o", "--no-preflight")
    assert status == 1
    # Only the Error line: the in-process server may log connections the stopped run dropped.
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {server.base_url} does not know model 'gpt4o' ({_said('gpt4o')}); check "
        "--judge-model and choose a name it serves (closest: gpt-4o-2024-08-06, gpt-4.1)"
    ]


def test_cli_warns_of_a_past_shutdown_date_and_still_judges(data, capsys):
    listing = _listing(shutdown_date="2000-01-01")
    with FakeOpenAIServer(known_models=["gpt-4o"], models=listing) as server:
        status = _judge_cli(data, server, "--judge-model", "gpt-4o")
    assert status == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1
    assert warning[0].startswith(
        f"warning: {server.base_url} lists a shutdown date of 2000-01-01 for judge model "
        "'gpt-4o' (passed "
    )
    assert len(list(data.judgment_file("gpt-4o", "single").read_text().splitlines())) == 2
