"""mtbench-calibrate and mtbench-show --scale gpt-4: a judge related to the published GPT-4 scale.

Every judge here is the scripted server on 127.0.0.1 behind the real `openai` client, grading
the official answer files from ../shared by a known rule of the answer's model (and item):

* linear: `ALPHA + BETA * published average + noise` (noise N(0, SIGMA) per item, seeded by
  the item): the calibration must recover ALPHA, BETA and the correlation within its intervals;
* random: 1-10 uniformly, whatever the answer: the judge must be reported not calibratable;
* per item: the synthetic official GPT-4 score of the same item plus an offset per category
  (the real per-item GPT-4 file is not in ../shared; `official_items` writes one whose averages
  are the published ones), whose offsets the per-item part must give back exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest
from conftest import run_cli, shared_file
from fake_openai_server import FakeOpenAIServer

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.calibration.fit import (
    CALIBRATED,
    NOT_CALIBRATABLE,
    WEAK,
    ModelPoint,
    fit_calibration,
)
from mtbench.calibration.published import calibration_models, published_scores
from mtbench.calibration.store import calibration_file, load_calibration
from mtbench.data.jsonl import dumps, read_jsonl
from mtbench.data.paths import BenchPaths

ALPHA, BETA, SIGMA = 1.5, 0.7, 0.8
ANSWERS = {
    1: re.compile(
        r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S
    ),
    2: re.compile(
        r"### Assistant A:\n(.*?)\n\n### User:\n.*?### Assistant A:\n(.*?)\n\n"
        r"<\|The End of Assistant A's Conversation with User\|>",
        re.S,
    ),
}
"""The graded answer(s) in the single-v1 (and math) and the multi-turn judge prompts."""
OFFSETS = {"writing": 1, "coding": -2, "math": -1}
"""The per-item judge's offset to GPT-4 per category (0 elsewhere)."""


def noise(*key: object) -> float:
    """A standard normal draw fixed by `key` (the same item always gets the same noise)."""
    seed = int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16)
    return float(np.random.default_rng(seed).standard_normal())


@pytest.fixture
def official(bench: BenchPaths) -> BenchPaths:
    """The bench with the 31 official answer files."""
    bench.answer_dir.mkdir(parents=True)
    for path in shared_file("model_answer").glob("*.jsonl"):
        shutil.copy(path, bench.answer_dir / path.name)
    return bench


class Items:
    """Who answered what: finds the (models, question, turn) a judge prompt grades.

    A judge sees only the prompt, so models whose answers are identical (short extraction
    answers often are) get one prompt and one score: `scripted` gives it the mean of their
    rule values.
    """

    def __init__(self, paths: BenchPaths):
        self.questions = {row["question_id"]: row for _, row in read_jsonl(paths.question_file)}
        self.answers: dict[int, list[tuple[str, list[str]]]] = {}
        for path in sorted(paths.answer_dir.glob("*.jsonl")):
            for _, row in read_jsonl(path):
                turns = [text.strip() for text in row["choices"][0]["turns"]]
                self.answers.setdefault(row["question_id"], []).append((path.stem, turns))

    def item(self, prompt: str) -> tuple[list[str], int, int]:
        """The graded models (several for identical answers), question and turn: the question
        by its text, the turn by whether the second question is in the prompt, the models by
        the answers after the judge prompts' answer markers (`ANSWERS`)."""
        (qid,) = [q for q, row in self.questions.items() if row["turns"][0] in prompt]
        turn = 2 if self.questions[qid]["turns"][1] in prompt else 1
        found = ANSWERS[turn].search(prompt)
        assert found is not None, prompt
        given = [text.strip() for text in found.groups()]
        models = [m for m, turns in self.answers[qid] if turns[:turn] == given]
        assert models, f"no answer to question {qid} is {given[0][:80]!r}"
        return models, qid, turn


def scripted(paths: BenchPaths, rule: Callable[[str, int, int], float]) -> Callable[..., str]:
    items = Items(paths)

    def reply(body: dict[str, Any]) -> str:
        models, qid, turn = items.item(body["messages"][-1]["content"])
        score = sum(rule(model, qid, turn) for model in models) / len(models)
        return f"Graded by rule.\n\nRating: [[{score:.2f}]]"

    return reply


def linear(model: str, qid: int, turn: int) -> float:
    return ALPHA + BETA * published_scores()[model].average + SIGMA * noise(model, qid, turn)


def random_judge(model: str, qid: int, turn: int) -> float:
    return float(int(abs(noise("random", model, qid, turn)) * 1e6) % 10 + 1)


def calibrate_cli(paths: BenchPaths, server: FakeOpenAIServer, *args: str) -> Any:
    return run_cli(
        "calibrate",
        "--data-dir",
        str(paths.data_dir),
        "--judge-model",
        "judge-x",
        "--judge-base-url",
        server.base_url,
        "--parallel",
        "8",
        "--no-preflight",
        "--yes",
        *args,
        env={"OPENAI_API_KEY": "sk-test"},
    )


def official_items(paths: BenchPaths, models: Iterable[str]) -> dict[tuple[str, int, int], float]:
    """Write a synthetic official `gpt-4_single.jsonl` whose per-model sums are the published
    ones (n scored rows, one score -1 row where n is 159); returns its scores by item."""
    published = published_scores()
    qids = sorted(row["question_id"] for _, row in read_jsonl(paths.question_file))
    scores: dict[tuple[str, int, int], float] = {}
    lines = []
    for model in models:
        entry = published[model]
        items = [(q, t) for q in qids for t in (1, 2)]
        raw = {
            i: min(10, max(1, round(entry.average + 2 * noise("gpt4", model, *i)))) for i in items
        }
        scored = items[: entry.judgments]
        values = [float(raw[i]) for i in scored]
        # Move whole points (then the half point) until the sum is the published total.
        k = 0
        while sum(values) != entry.total:
            step = math.copysign(
                min(1.0, abs(entry.total - sum(values))), entry.total - sum(values)
            )
            if 1 <= values[k % len(values)] + step <= 10:
                values[k % len(values)] += step
            k += 1
        for (qid, turn), value in zip(scored, values, strict=True):
            scores[(model, qid, turn)] = value
        for qid, turn in items:
            score = scores.get((model, qid, turn), -1)
            row = {
                "question_id": qid,
                "model": model,
                "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                "user_prompt": "",
                "judgment": f"Rating: [[{score}]]",
                "score": score,
                "turn": turn,
                "tstamp": 0.0,
            }
            lines.append(dumps(row))
    path = paths.judgment_file("gpt-4", "single")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return scores


# --- The published scores that ship with the package ---


def published_table() -> dict[str, list[str]]:
    """../shared's published-scores.md, first table: model -> cells."""
    text = shared_file("published-scores.md").read_text()
    rows = {}
    for line in text.split("## Per turn")[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("model", "---"):
            rows[cells[0]] = cells
    return rows


def test_published_scores_hold_the_published_values():
    shipped = published_scores()
    table = published_table()
    assert list(shipped) == list(table)  # the same 34 models, best first
    for model, (_, average, n, total, blog) in table.items():
        entry = shipped[model]
        assert entry.average == float(average)
        assert entry.judgments == int(n) and entry.total == float(total)
        assert entry.total / entry.judgments == pytest.approx(entry.average, abs=5e-7)
        assert entry.blog == (None if blog == "—" else float(blog))
    turns = shared_file("published-scores.md").read_text().split("## Per turn")[1]
    quoted = 0
    for line in turns.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in shipped:
            first = float(cells[1].split()[0])
            second = float(cells[2].split()[0])
            assert (shipped[cells[0]].turn_1, shipped[cells[0]].turn_2) == (first, second)
            quoted += 1
    assert quoted == 9
    # The 31 official answer files all have a published score.
    answers = {p.stem for p in shared_file("model_answer").glob("*.jsonl")}
    assert len(answers) == 31 and answers <= set(shipped)


def test_spread_spans_the_range():
    models = calibration_models(list(published_scores()), spread=6)
    averages = [published_scores()[m].average for m in models]
    assert len(models) == 6 and models[0] == "gpt-4" and models[-1] == "llama-13b"
    assert averages == sorted(averages, reverse=True)
    gaps = np.diff(averages)
    assert gaps.min() < -0.8  # spread over the range, not bunched at the top


# --- The fit on known data (no judge) ---


def test_fit_recovers_noisy_linear_judges_at_the_stated_coverage():
    """Over 100 simulated judges `ALPHA + BETA * GPT-4 + N(0, 0.15)` per model, the truth lies
    in the 95% intervals about 95% of the time (at least 88 of 100: below that, the intervals
    claim more than they hold); so does a new model's GPT-4 score in its mapped interval."""
    averages = np.array([p.average for p in published_scores().values()])
    truth_r = BETA * averages.std() / math.sqrt(BETA**2 * averages.var() + 0.15**2)
    covered = {"slope": 0, "intercept": 0, "pearson": 0, "estimate": 0}
    for k in range(100):
        rng = np.random.default_rng(1000 + k)
        points = [
            ModelPoint(m, p.average, ALPHA + BETA * p.average + rng.normal(0, 0.15), 160)
            for m, p in published_scores().items()
        ]
        fit = fit_calibration(points, BootstrapSpec(1000, k))
        assert fit.verdict == CALIBRATED
        covered["slope"] += fit.slope.lower < BETA < fit.slope.upper
        covered["intercept"] += fit.intercept.lower < ALPHA < fit.intercept.upper
        covered["pearson"] += fit.pearson.lower < truth_r < fit.pearson.upper
        unseen = rng.uniform(3, 9)  # a new model's GPT-4 score, and its judge's
        estimate = fit.estimate(ALPHA + BETA * unseen + rng.normal(0, 0.15))
        covered["estimate"] += estimate.lower < unseen < estimate.upper
    assert min(covered.values()) >= 88, covered
    assert max(covered.values()) <= 100


def test_gpt4_against_itself_is_the_identity():
    points = [
        ModelPoint(m, p.average, p.average, p.judgments) for m, p in published_scores().items()
    ]
    fit = fit_calibration(points)
    assert fit.verdict == CALIBRATED
    assert fit.slope.value == pytest.approx(1) and fit.intercept.value == pytest.approx(
        0, abs=1e-12
    )
    assert fit.spearman.value == pytest.approx(1) and fit.residual_sd == pytest.approx(0, abs=1e-12)
    estimate = fit.estimate(7.25)
    assert (estimate.value, estimate.lower, estimate.upper) == pytest.approx((7.25,) * 3)


def test_a_random_judge_is_not_calibratable():
    rng = np.random.default_rng(3)
    points = [
        ModelPoint(m, p.average, float(rng.uniform(1, 10, 160).mean()), 160)
        for m, p in published_scores().items()
    ]
    fit = fit_calibration(points)
    assert fit.verdict == NOT_CALIBRATABLE and not fit.mappable
    assert "No evidence" in fit.reasons[0]
    with pytest.raises(Exception, match="not calibratable"):
        fit.estimate(5.0)


def test_few_models_make_a_weak_calibration():
    points = [
        ModelPoint(m, p.average, ALPHA + BETA * p.average, 160)
        for m, p in list(published_scores().items())[::5]
    ]
    fit = fit_calibration(points)
    assert len(points) == 7 and fit.verdict == WEAK
    assert "Only 7 models" in fit.reasons[0]


# --- mtbench-calibrate end to end (the real openai client, the scripted server) ---


def test_calibrate_recovers_the_linear_judge_and_show_maps_onto_gpt4(official: BenchPaths):
    with FakeOpenAIServer(reply=scripted(official, linear)) as server:
        result = calibrate_cli(official, server, "--spread", "10")
        assert result.returncode == 0, result.stderr
        calls = len(server.completions())
        # Resumable: the same command judges nothing again.
        again = calibrate_cli(official, server, "--spread", "10")
        assert again.returncode == 0, again.stderr
        assert len(server.completions()) == calls == 10 * 80 * 2
    out = result.stdout
    assert "Calibration of judge judge-x" in out and "Verdict: calibrated." in out
    assert "replacing one of 10 models" in again.stderr
    saved = json.loads(calibration_file(official, "judge-x").read_text())
    fit = saved["fit"]
    assert fit["slope"]["lower"] < BETA < fit["slope"]["upper"]
    assert fit["intercept"]["lower"] < ALPHA < fit["intercept"]["upper"]
    assert len(saved["models"]) == 10 and saved["questions"] == 80
    assert saved["judge_snapshots"]  # the scripted server names the model that answered
    assert load_calibration(calibration_file(official, "judge-x")).fit.slope.value == pytest.approx(
        fit["slope"]["value"]
    )

    shown = run_cli(
        "show", "--data-dir", str(official.data_dir), "--judge-model", "judge-x",
        "--scale", "gpt-4", "--format", "json",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    scale = report["gpt4_scale"]
    assert scale["calibration"]["verdict"] == "calibrated"
    for entry in scale["models"]:
        truth = published_scores()[entry["model"]].average
        assert entry["lower"] < entry["estimate"] < entry["upper"]
        assert abs(entry["estimate"] - truth) < 0.8  # noise of 20 items per model
    text = run_cli(
        "show", "--data-dir", str(official.data_dir), "--judge-model", "judge-x",
        "--scale", "gpt-4",
    ).stdout  # fmt: skip
    assert "Estimated GPT-4-scale scores" in text and "not a GPT-4 judgment" in text

    # A model the judge scores above every calibration model: an extrapolation, said so.
    judgments = official.judgment_file("judge-x", "single")
    rows = [
        {"question_id": q, "model": "hi-model", "judge": ["judge-x", "single-v1"],
         "user_prompt": "", "judgment": "[[10]]", "score": 10, "turn": turn, "tstamp": 0.0}
        for q in range(81, 161) for turn in (1, 2)
    ]  # fmt: skip
    with judgments.open("a") as handle:
        handle.writelines(dumps(row) + "\n" for row in rows)
    high = run_cli(
        "show", "--data-dir", str(official.data_dir), "--judge-model", "judge-x",
        "--scale", "gpt-4", "--model-list", "hi-model", "--format", "json",
    )  # fmt: skip
    assert high.returncode == 0, high.stderr
    (estimate,) = json.loads(high.stdout)["gpt4_scale"]["models"]
    assert estimate["estimate"] > 10
    (warning,) = json.loads(high.stdout)["gpt4_scale"]["warnings"]
    assert warning.startswith("hi-model: score outside the judge averages")
    # Another judge's scores through this calibration: mapped, with a warning naming both.
    other = official.judgment_file("judge-y", "single")
    shutil.copy(judgments, other)
    crossed = run_cli(
        "show", "--data-dir", str(official.data_dir), "--input-file", str(other),
        "--calibration", str(calibration_file(official, "judge-x")), "--scale", "gpt-4",
    )  # fmt: skip
    assert crossed.returncode == 0, crossed.stderr
    assert "this calibration is of judge judge-x, these scores are judge judge-y's" in (
        crossed.stdout.replace("\n", " ")
    )


def test_calibrate_reports_a_random_judge_and_show_refuses(official: BenchPaths):
    with FakeOpenAIServer(reply=scripted(official, random_judge)) as server:
        result = calibrate_cli(official, server, "--spread", "10", "--first-n", "6")
    assert result.returncode == 0, result.stderr
    assert "Verdict: not calibratable. No evidence" in result.stdout
    assert "On the GPT-4 scale" not in result.stdout
    shown = run_cli(
        "show", "--data-dir", str(official.data_dir), "--judge-model", "judge-x",
        "--scale", "gpt-4",
    )  # fmt: skip
    assert shown.returncode == 1
    assert "not calibratable" in shown.stderr and "Traceback" not in shown.stderr


def test_show_scale_without_a_calibration_says_how_to_make_one(official: BenchPaths):
    with FakeOpenAIServer() as server:
        run = run_cli(
            "judge", "--data-dir", str(official.data_dir), "--judge-model", "other",
            "--judge-base-url", server.base_url, "--model-list", "alpaca-13b", "--first-n", "2",
            "--no-preflight", "--yes", env={"OPENAI_API_KEY": "sk-test"},
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    shown = run_cli(
        "show", "--data-dir", str(official.data_dir), "--judge-model", "other",
        "--scale", "gpt-4",
    )  # fmt: skip
    assert shown.returncode == 1
    assert "no calibration for judge 'other'" in shown.stderr
    assert "mtbench-calibrate --judge-model other" in shown.stderr


def test_per_item_agreement_against_the_official_judgments(official: BenchPaths):
    models = calibration_models([p.stem for p in official.answer_dir.glob("*.jsonl")], spread=8)
    gpt4 = official_items(official, published_scores())
    categories = {
        row["question_id"]: row["category"] for _, row in read_jsonl(official.question_file)
    }

    def per_item(model: str, qid: int, turn: int) -> float:
        base = gpt4.get((model, qid, turn), 5.0)
        return base + OFFSETS.get(categories[qid], 0)

    with FakeOpenAIServer(reply=scripted(official, per_item)) as server:
        result = calibrate_cli(official, server, "--model-list", *models, "--first-n", "12")
    assert result.returncode == 0, result.stderr
    saved = json.loads(calibration_file(official, "judge-x").read_text())
    items = saved["items"]
    judged = [(m, q, t) for (m, q, t) in gpt4 if m in models and q in sorted(categories)[:12]]
    assert items["items"] == len(judged)
    offsets = [OFFSETS.get(categories[q], 0) for _, q, _ in judged]
    assert items["exact"] == pytest.approx(sum(o == 0 for o in offsets) / len(offsets))
    assert items["within_one"] == pytest.approx(sum(abs(o) <= 1 for o in offsets) / len(offsets))
    for category, offset in items["by_category"].items():
        assert offset == pytest.approx(OFFSETS.get(category, 0))
    assert {m["reference_source"] for m in saved["models"]} == {"official judgments"}
    assert "a rough look" not in result.stdout  # compared on the same items
    assert "Per item" in result.stdout


def test_official_judgments_against_themselves_give_the_identity(official: BenchPaths):
    official_items(official, published_scores())
    path = official.judgment_file("gpt-4", "single")
    result = run_cli(
        "calibrate", "--data-dir", str(official.data_dir), "--input-file", str(path),
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout)
    assert saved["verdict"] == "calibrated" and len(saved["models"]) == 34  # with Llama-2-chat
    assert saved["fit"]["slope"]["value"] == pytest.approx(1)
    assert saved["fit"]["intercept"]["value"] == pytest.approx(0, abs=1e-9)
    assert saved["fit"]["spearman"]["value"] == pytest.approx(1)
    assert saved["items"]["exact"] == 1.0 and saved["items"]["offset"] == 0.0
    for entry in saved["models"]:  # the synthetic file's averages are the published ones
        assert entry["gpt4"] == pytest.approx(published_scores()[entry["model"]].average, abs=1e-6)
        assert entry["residual"] == pytest.approx(0, abs=1e-9)


def test_calibrate_errors_are_one_line(official: BenchPaths):
    calibrate = ["calibrate", "--data-dir", str(official.data_dir), "--judge-model", "j"]
    bad = run_cli(*calibrate, "--model-list", "my-model")
    assert bad.returncode == 1
    assert "no published GPT-4 score for my-model" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    both = run_cli(
        "calibrate", "--data-dir", str(official.data_dir), "--spread", "5", "--model-list",
        "gpt-4",
    )  # fmt: skip
    assert both.returncode == 1 and "either --spread or --model-list" in both.stderr
    empty = BenchPaths(official.data_dir.parent / "empty")
    empty.bench_dir.mkdir(parents=True)
    shutil.copy(official.question_file, empty.question_file)
    none = run_cli("calibrate", "--data-dir", str(empty.data_dir), "--judge-backend", "fake")
    assert none.returncode == 1 and "mtbench-download --what answers" in none.stderr
    # The default judge name would append to the official GPT-4 judgments: refused.
    official_items(official, ["gpt-4", "alpaca-13b"])
    before = official.judgment_file("gpt-4", "single").read_bytes()
    for judge in ([], ["--judge-model", "gpt-4"]):
        refused = run_cli("calibrate", "--data-dir", str(official.data_dir), *judge, "--yes")
        assert refused.returncode == 1, refused.stderr
        assert "holds the official GPT-4 judgments" in refused.stderr
    assert official.judgment_file("gpt-4", "single").read_bytes() == before
    assert run_cli(*calibrate, "--spread", "4").stderr.startswith(
        "Error: --spread needs at least 5 models"
    )
    assert "at least 100" in run_cli(*calibrate, "--bootstrap", "0").stderr


def test_show_warns_for_a_weak_calibration_and_another_snapshot(official: BenchPaths):
    with FakeOpenAIServer(reply=scripted(official, linear)) as server:
        result = calibrate_cli(official, server, "--spread", "6", "--first-n", "4")
    assert result.returncode == 0, result.stderr
    assert "Verdict: weak. Only 6 models" in result.stdout
    # Four questions, all writing, against averages over all 80: weak whatever the fit.
    assert "The judged questions cover 1 of 8 categories (writing)" in result.stdout
    assert "compared with their published average over all 160 judgments" in result.stdout
    show = ["show", "--data-dir", str(official.data_dir), "--judge-model", "judge-x"]
    shown = run_cli(*show, "--scale", "gpt-4")
    assert shown.returncode == 0, shown.stderr
    assert "warning: the calibration is weak: Only 6 models" in shown.stdout
    assert "another" not in shown.stdout and "may not hold" not in shown.stdout
    # A calibration made with another snapshot of the judge than the scores shown.
    path = calibration_file(official, "judge-x")
    document = json.loads(path.read_text())
    document["judge_snapshots"] = {"judge-x-2025-01-01": 48}
    path.write_text(json.dumps(document))
    shown = run_cli(*show, "--scale", "gpt-4", "--format", "json")
    warnings = json.loads(shown.stdout)["gpt4_scale"]["warnings"]
    assert any(
        "the calibration from judge-x-2025-01-01: the mapping may not hold" in w for w in warnings
    )
    # An edited fit is refused, not used.
    document["fit"]["slope"]["value"] = 1.0
    path.write_text(json.dumps(document))
    edited = run_cli(*show, "--scale", "gpt-4")
    assert edited.returncode == 1 and "not what its models give" in edited.stderr


def test_a_judge_giving_one_score_is_not_calibratable(official: BenchPaths):
    result = run_cli(
        "calibrate", "--data-dir", str(official.data_dir), "--judge-backend", "fake",
        "--spread", "5", "--first-n", "2", "--yes", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout)
    assert saved["verdict"] == NOT_CALIBRATABLE
    assert saved["reasons"] == [
        "The judge gives every model the same average (5.00): nothing to relate."
    ]
    assert all(entry["gpt4_scale"] is None for entry in saved["models"])


def test_input_file_errors_name_the_file(official: BenchPaths, tmp_path):
    calibrate = ["calibrate", "--data-dir", str(official.data_dir), "--input-file"]
    pair = tmp_path / "judge_pair.jsonl"
    pair.write_text(
        shared_file(
            "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_pair.jsonl"
        ).read_text()
    )
    result = run_cli(*calibrate, str(pair))
    assert result.returncode == 1 and "holds pairwise judgments" in result.stderr
    own = tmp_path / "own_single.jsonl"
    row = {"question_id": 81, "model": "my-model", "judge": ["j", "single-v1"],
           "user_prompt": "", "judgment": "[[5]]", "score": 5, "turn": 1}  # fmt: skip
    own.write_text(dumps(row) + "\n")
    result = run_cli(*calibrate, str(own))
    assert result.returncode == 1 and f"{own} scores none of the official models" in result.stderr
    gpt4 = official_items(official, ["gpt-4", "alpaca-13b", "koala-13b", "llama-13b", "tulu-30b"])
    assert gpt4
    path = official.judgment_file("gpt-4", "single")
    result = run_cli(*calibrate, str(path), "--model-list", "gpt-4", "vicuna-13b-v1.3")
    assert result.returncode == 1
    assert f"vicuna-13b-v1.3 not scored in {path}" in result.stderr
    # Two judges' rows in one file: their scales differ, so no calibration.
    mixed = tmp_path / "mixed_single.jsonl"
    other = path.read_text().replace('"judge": ["gpt-4"', '"judge": ["judge-z"')
    mixed.write_text(path.read_text() + other)
    result = run_cli(*calibrate, str(mixed))
    assert result.returncode == 1 and "holds the rows of 2 judges (gpt-4, judge-z)" in result.stderr
    # A calibration that cannot be written fails before any judging, in one line.
    (official.bench_dir / "calibration").write_text("in the way")
    result = run_cli(
        "calibrate", "--data-dir", str(official.data_dir), "--judge-backend", "fake", "--yes"
    )
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "expected a folder for the calibration" in result.stderr
    assert not official.judgment_file("fake", "single").exists()


def test_rank_correlations_are_scipys():
    from scipy import stats

    from mtbench.calibration.fit import _kendall_rows, _spearman_rows

    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, (40, 12)).astype(float)  # ties, as resampled models give
    y = x + rng.integers(-3, 4, (40, 12))
    kendall = [stats.kendalltau(a, b).statistic for a, b in zip(x, y, strict=True)]
    spearman = [stats.spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    assert _kendall_rows(x, y) == pytest.approx(kendall)
    assert _spearman_rows(x, y, stats) == pytest.approx(spearman)


def test_calibrate_through_the_batch_api_at_half_price(official: BenchPaths):
    """A calibration's 800 calls as one OpenAI batch: the same rows as live, half the estimate."""
    with FakeOpenAIServer(reply=scripted(official, linear)) as server:
        result = calibrate_cli(
            official, server, "--spread", "5", "--batch", "--poll-interval", "0.2",
            "--price-per-1k-input", "0.001", "--price-per-1k-output", "0.002",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert server.batches.creates == 1 and not server.completions()  # no live call
        assert "halved by --batch" in result.stderr
        status = calibrate_cli(official, server, "--spread", "5", "--batch-status")
        assert status.returncode == 0, status.stderr
    saved = json.loads(calibration_file(official, "judge-x").read_text())
    assert [m["judgments"] for m in saved["models"]] == [160] * 5
    assert saved["verdict"] == "weak" and saved["reasons"][0].startswith("Only 5 models")
    rows = official.judgment_file("judge-x", "single").read_text().splitlines()
    assert len(rows) == 5 * 160
