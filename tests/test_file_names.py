"""One rule from a judge or model name to its files (`paths.file_stem`), in every command.

The commands run as a user runs them, in subprocesses; the judge and the answer server are the
scripted OpenAI-compatible server on 127.0.0.1, reached by the real `openai` client.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli
from fake_openai_server import FakeOpenAIServer

from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.paths import BenchPaths, file_stem
from mtbench.errors import ConfigError

# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("gpt-4", "gpt-4"),
        ("Qwen/Qwen2.5-72B-Instruct", "Qwen2.5-72B-Instruct"),
        ("org/sub/name", "name"),
        ("Org/Judge-7B/", "Judge-7B"),
        ("/models/judge.gguf", "judge"),
        ("judge.Q4.gguf", "judge.Q4"),
        ("llama3:8b", "llama3:8b"),
        ("model.GGUF", "model.GGUF"),  # only the lower-case ending, as mtbench-judge always did
    ],
)
def test_file_stem(name, stem):
    assert file_stem(name) == stem


@pytest.mark.parametrize("name", ["", "/", "org/..", "org/./", ".", "..", " ", ".gguf", "a/.gguf"])
def test_file_stem_rejects_names_that_give_no_file(name):
    with pytest.raises(ConfigError, match="gives no usable file name"):
        file_stem(name)


def test_file_stem_error_names_the_flag():
    with pytest.raises(ConfigError, match=r"^--model-list 'org/\.\.' gives no usable file name"):
        file_stem("org/..", "--model-list")


def test_every_bench_file_is_named_by_the_rule(tmp_path):
    paths = BenchPaths(tmp_path)
    single = paths.judgment_dir / "Judge-7B_single.jsonl"
    assert paths.judgment_file("Org/Judge-7B", "single") == single
    assert paths.judgment_file("Org/Judge-7B", "pairwise-all").name == "Judge-7B_pair.jsonl"
    assert paths.reference_file("openai/gpt-4o").name == "gpt-4o.jsonl"
    assert paths.answer_file("Org/Some-Model").name == "Some-Model.jsonl"
    assert paths.answer_file("Org/Some-Model").parent == paths.answer_dir


# --- end to end: a judge named org/name -------------------------------------------------------

QUESTIONS = (81, 82)  # writing questions: no reference answers involved
MARKS = {"model-a": "ZQALPHA", "model-b": "ZQBETA"}
SCORES = {"model-a": 8, "model-b": 6}
JUDGE = "org/judge-7b"


def scripted_judge(body: dict) -> str:
    """Scores by whose answer the prompt holds; in a pair, model-a's answer always wins."""
    text = json.dumps(body.get("messages", []))
    if "[[rating]]" in text:
        model = next(m for m, mark in MARKS.items() if mark in text)
        return f"Judged.\n\nRating: [[{SCORES[model]}]]"
    if "[[A]]" in text:
        verdict = "[[A]]" if text.index("ZQALPHA") < text.index("ZQBETA") else "[[B]]"
        return f"Judged.\n\n{verdict}"
    return "OK"


def write_answers(paths: BenchPaths, model: str, mark: str) -> None:
    paths.answer_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "question_id": qid,
            "answer_id": f"{model}-{qid}",
            "model_id": model,
            "choices": [{"index": 0, "turns": [f"{mark} first {qid}", f"{mark} second {qid}"]}],
            "tstamp": 1.0,
        }
        for qid in QUESTIONS
    ]
    paths.answer_file(model).write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture
def data(bench: BenchPaths) -> BenchPaths:
    """Two writing questions and two models' answers, in a fresh data dir."""
    kept = [
        line
        for line in bench.question_file.read_text().splitlines()
        if line.strip() and json.loads(line)["question_id"] in QUESTIONS
    ]
    bench.question_file.write_text("".join(line + "\n" for line in kept))
    for model, mark in MARKS.items():
        write_answers(bench, model, mark)
    return bench


@pytest.fixture
def judged(data: BenchPaths) -> BenchPaths:
    """Single and pairwise-all judgments of `org/judge-7b`, written by mtbench-judge."""
    with FakeOpenAIServer(reply=scripted_judge) as server:
        for mode in ("single", "pairwise-all"):
            result = run_cli(
                "judge",
                *("--data-dir", str(data.data_dir), "--judge-model", JUDGE, "--mode", mode),
                *("--judge-base-url", server.base_url, "--yes"),
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
    return data


def reader(command: str, data: BenchPaths, *args: str):
    result = run_cli(*command.split(), "--data-dir", str(data.data_dir), *args, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_the_judge_files_its_judgments_under_the_last_part(judged):
    single = list(load_single_judgments(judged.judgment_dir / "judge-7b_single.jsonl"))
    pair = list(load_pair_judgments(judged.judgment_dir / "judge-7b_pair.jsonl"))
    assert len(single) == 2 * 2 * 2 and len(pair) == 2 * 2  # questions x models|pairs x turns
    # FastChat's rows: judge = [name, prompt]; the name is the file's.
    assert {row.judge[0] for row in single + pair} == {"judge-7b"}
    assert sorted(p.name for p in judged.judgment_dir.iterdir()) == [
        "judge-7b_pair.jsonl",
        "judge-7b_single.jsonl",
    ]


def test_show_finds_the_files_with_the_same_judge_model(judged):
    single = reader("show", judged, "--judge-model", JUDGE).stdout
    first = single.split("########## First turn ##########")[1].split("##########")[0]
    assert re.search(r"^model-a\s+1\s+8\.0$", first, re.M), single
    assert re.search(r"^model-b\s+1\s+6\.0$", first, re.M), single
    assert f"Input file: {judged.judgment_dir / 'judge-7b_single.jsonl'}" in single

    pair = reader("show", judged, "--judge-model", JUDGE, "--mode", "pairwise-all").stdout
    assert f"Input file: {judged.judgment_dir / 'judge-7b_pair.jsonl'}" in pair
    # model-a won all 4 matches in both orders: 4 wins, no loss, no tie.
    assert re.search(r"^model-a\s+4\s+0\s+0\s+1\.0", pair, re.M), pair
    assert re.search(r"^model-b\s+0\s+4\s+0\s+0\.0", pair, re.M), pair


def test_show_model_list_takes_the_names_the_way_the_judge_does(judged):
    out = reader("show", judged, "--judge-model", JUDGE, "--model-list", "Org/model-b").stdout
    assert re.search(r"^model-b\s+1\s+6\.0$", out, re.M) and "model-a" not in out


def test_compare_takes_the_judge_and_model_names_the_same_way(judged):
    args = ("--judge-model", JUDGE, "--format", "json", "--bootstrap", "0")
    bare = json.loads(reader("show", judged, *args, "--compare", "model-a", "model-b").stdout)
    # JUDGE:MODEL, with the judge and the model named with a slash (another org, same file).
    named = reader(
        "show", judged, *args, "--compare", f"{JUDGE}:model-a", "other/judge-7b:org/model-b"
    )
    assert json.loads(named.stdout) == bare
    single = str(judged.judgment_dir / "judge-7b_single.jsonl")
    assert bare["a"] == {"file": single, "model": "model-a"}
    assert bare["b"] == {"file": single, "model": "model-b"}
    assert (bare["compared"], bare["diff"]) == (4, -2.0)


def test_agreement_position_and_single_pair_find_the_files(judged):
    args = ("--judge-model", JUDGE, "--format", "json")
    position = json.loads(reader("agreement position", judged, *args).stdout)
    assert position["input_file"] == str(judged.judgment_dir / "judge-7b_pair.jsonl")
    # model-a wins whichever place its answer is shown in: every row is consistent.
    (overall,) = position["all"]
    assert (overall["rows"], overall["consistent"], overall["inconsistent"]) == (4, 4, 0)
    single_pair = reader("agreement single-pair", judged, "--judge-model", JUDGE).stdout
    assert str(judged.judgment_dir / "judge-7b_single.jsonl") in single_pair
    assert "Agree on 4 of 4 verdicts (100.0%)" in single_pair


def test_browse_shows_the_judgments_of_the_same_judge_model(judged, tmp_path):
    output = tmp_path / "report.html"
    result = reader("browse", judged, "--judge-model", JUDGE, "--output", str(output))
    assert "not found" not in result.stderr, result.stderr
    html = output.read_text()
    start = html.index('id="mtbench-data">') + len('id="mtbench-data">')
    page = json.loads(html[start : html.index("</script>", start)])
    assert page["single"]["file"] == str(judged.judgment_dir / "judge-7b_single.jsonl")
    assert page["pairwise"]["file"] == str(judged.judgment_dir / "judge-7b_pair.jsonl")
    scores = page["single"]["judgments"]
    assert {m: scores[m]["81"]["1"]["score"] for m in scores} == SCORES


# --- end to end: a served model named org/name, from mtbench-gen to mtbench-judge -----------


def test_a_served_model_with_a_slash_is_judged_by_the_name_given_to_gen(bench):
    kept = [line for line in bench.question_file.read_text().splitlines() if line.strip()][:1]
    bench.question_file.write_text(kept[0] + "\n")
    write_answers(bench, "model-b", "ZQBETA")
    with FakeOpenAIServer(reply=lambda body: "ZQALPHA answer") as server:
        gen = run_cli(
            "gen",
            *("--backend", "openai", "--model", "Org/model-a", "--openai-api-base"),
            *(server.base_url, "--data-dir", str(bench.data_dir)),
            timeout=120,
        )
        assert gen.returncode == 0, gen.stderr
        assert bench.answer_file("model-a").is_file()
    with FakeOpenAIServer(reply=scripted_judge) as server:
        judge = run_cli(
            "judge",
            *("--data-dir", str(bench.data_dir), "--judge-base-url", server.base_url, "--yes"),
            *("--judge-model", "gpt-4"),
            *("--mode", "pairwise-all", "--model-list", "Org/model-a", "model-b"),
            timeout=120,
        )
        assert judge.returncode == 0, judge.stderr
    rows = list(load_pair_judgments(bench.judgment_file("gpt-4", "pairwise-all")))
    # Rows name the model as its answer file does, so a later run by file name resumes them.
    assert {(r.model_1, r.model_2) for r in rows} == {("model-a", "model-b")}
    again = run_cli(
        "judge",
        *("--data-dir", str(bench.data_dir), "--mode", "pairwise-all", "--dry-run"),
        *("--judge-base-url", "http://127.0.0.1:9/v1", "--model-list", "model-a", "model-b"),
        *("--judge-model", "gpt-4"),
    )
    assert again.returncode == 0, again.stderr
    assert "2 (2 already judged, 0 to judge)" in again.stdout + again.stderr


def test_model_list_names_that_meet_in_one_file_are_one_model(data):
    result = run_cli(
        "judge",
        *("--data-dir", str(data.data_dir), "--judge-base-url", "http://127.0.0.1:9/v1"),
        *("--judge-model", "gpt-4", "--model-list", "org/model-a", "other/model-a", "--dry-run"),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: --model-list names the model model-a twice ('org/model-a' and 'other/model-a': "
        "a name is known by its last '/' part)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--judge-name", "judge.gguf"], "--judge-name 'judge.gguf' must be usable as a file name"),
        (["--judge-model", "org/.."], "'org/..' gives the judge no file name; give it one with"),
        (["--model-list", "org/."], "--model-list 'org/.' gives no usable file name"),
    ],
)
def test_names_that_give_no_file_are_one_line_errors(data, args, message):
    result = run_cli(
        "judge",
        *("--data-dir", str(data.data_dir), "--judge-base-url", "http://127.0.0.1:9/v1"),
        *("--judge-model", "gpt-4", *args),  # the last --judge-model given wins
        "--dry-run",
    )
    assert result.returncode == 1
    assert message in result.stderr.strip().splitlines()[-1]
