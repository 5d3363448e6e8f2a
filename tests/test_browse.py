"""`mtbench-browse`: the static HTML report, opened from disk in headless Chromium.

The report is generated from real files (the 31 official answer files, the third-party phi-3
answers and their GPT-4 judgments) and driven with selenium through Debian's chromium and
chromedriver. The tests that open the page are marked `browser`: without Chromium they are
skipped, except under MTBENCH_TEST_STRICT=1 (CI, which installs it), where that is a failure.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CHROMEDRIVER, CHROMIUM, require_files, require_modules, run_cli, shared_file

from mtbench.data.jsonl import dumps
from mtbench.data.judge_prompts import load_judge_prompts
from mtbench.data.paths import BenchPaths
from mtbench.data.questions import load_questions
from mtbench.reports.browse import build_page_data, script_json

# Without these the browser tries to reach the network at start-up and stalls on a closed one.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
PHI3 = "third_party/Stefanstud-FastChat-phi3"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module, with a fresh profile."""
    require_files(CHROMIUM, CHROMEDRIVER)
    require_modules("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A data dir with the official questions, GPT-4 references and 31 answer files, plus the
    third-party phi-3 answers and their GPT-4 single and pairwise judgments."""
    paths = BenchPaths(tmp_path_factory.mktemp("browse") / "data")
    for folder in (paths.answer_dir, paths.reference_dir, paths.judgment_dir):
        folder.mkdir(parents=True)
    shutil.copy(shared_file("question.jsonl"), paths.question_file)
    shutil.copy(shared_file("reference_answer/gpt-4.jsonl"), paths.reference_file("gpt-4"))
    for answers in (shared_file("model_answer"), shared_file(f"{PHI3}/model_answer")):
        for path in answers.glob("*.jsonl"):
            shutil.copy(path, paths.answer_dir / path.name)
    for path in shared_file(f"{PHI3}/model_judgment").glob("*.jsonl"):
        shutil.copy(path, paths.judgment_dir / path.name)
    return paths


@pytest.fixture(scope="module")
def report(official):
    """The report as a user makes it: `mtbench-browse --data-dir ...`."""
    result = run_cli("browse", "--data-dir", str(official.data_dir), "--bootstrap", "200")
    assert result.returncode == 0, result.stderr
    path = official.bench_dir / "report.html"
    assert result.stdout.strip() == str(path)
    assert "33 models, 80 questions" in result.stderr
    return path


def _open(driver, path: Path, fragment: str = ""):
    driver.get("about:blank")
    driver.get(path.as_uri() + fragment)
    assert driver.find_element("css selector", "body").get_attribute("data-ready") == "1"
    return driver


def _all(driver, selector):
    return driver.find_elements("css selector", selector)


def _one(driver, selector):
    return driver.find_element("css selector", selector)


def _text(element) -> str:
    return element.get_attribute("textContent")


def _select_models(driver, *models):
    _one(driver, "#models-none").click()
    for model in models:
        _one(driver, f'#model-checkboxes input[data-model="{model}"]').click()


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _severe_logs(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.browser
def test_leaderboard_shows_fastchat_numbers_with_intervals(browser, report, tmp_path, capsys):
    size = report.stat().st_size
    html = report.read_text()
    # Self-contained: nothing is fetched from anywhere.
    assert "http://" not in html.split("<script type=")[0] and "<link" not in html
    assert size < 8_000_000, size
    _open(browser, report)
    assert not _severe_logs(browser)
    row = _one(browser, '#single-table tr[data-model="phi-3-dpo"]')
    cells = [_text(c) for c in row.find_elements("css selector", "td")]
    assert cells[1].strip() == "phi-3-dpo" and cells[2] == "8.20"
    values = [c.get_attribute("data-value") for c in row.find_elements("css selector", "td")]
    assert values[2] == "8.2" and "8.3625" in values and "8.0375" in values and "160" in values
    lower, upper = (float(v) for v in cells[3].split(" – "))
    assert 7.0 < lower < 8.2 < upper < 9.0
    pair = _one(browser, '#pair-table tr[data-model="phi-3-dpo"]')
    pair_cells = [_text(c) for c in pair.find_elements("css selector", "td")]
    assert pair_cells[2] == "0.514" and pair_cells[-3:] == ["20", "18", "35"]
    assert "75 rows read, 73 used" in _text(_one(browser, "#pair-board"))
    # The category table and radar chart draw the selected models.
    math_row = _one(browser, '#category-tables tr[data-category="math"]')
    assert "6.15" in _text(math_row)
    assert _all(browser, '#radar polygon[data-model="phi-3-dpo"]')
    # The model filter lists every answer file (31 official + 2 third-party).
    assert len(_all(browser, "#model-checkboxes input")) == 33

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(height, 2200))
    shot = tmp_path / "mtbench-browse.png"
    assert browser.save_screenshot(str(shot))
    browser.set_window_size(1400, 1000)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with capsys.disabled():
        print(f"\nmtbench-browse report: {report} ({size / 1e6:.1f} MB); screenshot: {shot}")


@pytest.mark.browser
def test_category_filter_narrows_questions_and_adds_a_column(browser, report):
    _open(browser, report)
    assert len(_all(browser, "#question-list a")) == 80
    from selenium.webdriver.support.select import Select

    Select(_one(browser, "#category-filter")).select_by_value("math")
    ids = [int(a.get_attribute("data-qid")) for a in _all(browser, "#question-list a")]
    assert ids == list(range(111, 121))
    assert _one(browser, "#question-view").get_attribute("data-qid") == "111"
    header = [_text(th) for th in _all(browser, "#single-table th")]
    assert header[-1] == "math"
    last = _all(browser, '#single-table tr[data-model="phi-3-dpo"] td')[-1]
    assert _text(last) == "6.15"
    assert "current" in _one(browser, '#category-tables tr[data-category="math"]').get_attribute(
        "class"
    )


@pytest.mark.browser
def test_model_filter_changes_columns_rows_and_pairs(browser, report):
    _open(browser, report, "#q=111")
    _select_models(browser, "phi-3")
    cards = _all(browser, '#question-view section[data-turn="1"] .answer-card')
    assert [c.get_attribute("data-model") for c in cards] == ["phi-3"]
    # phi-3 has no single judgments and its pair partner is not selected.
    assert "No single-grading judgment." in _text(cards[0])
    assert not _all(browser, "#question-view .pair")
    _one(browser, '#model-checkboxes input[data-model="gpt-4"]').click()
    cards = _all(browser, '#question-view section[data-turn="1"] .answer-card')
    assert {c.get_attribute("data-model") for c in cards} == {"phi-3", "gpt-4"}
    _one(browser, '#model-checkboxes input[data-model="phi-3-dpo"]').click()
    assert len(_all(browser, '#question-view section[data-turn="1"] .pair')) == 1
    # "Show only selected" hides the leaderboard rows of the other models.
    _one(browser, '#model-checkboxes input[data-model="phi-3-dpo"]').click()
    _one(browser, "#only-selected").click()
    assert not _one(browser, '#single-table tr[data-model="phi-3-dpo"]').is_displayed()
    assert _one(browser, '#pair-table tr[data-model="phi-3"]').is_displayed()


@pytest.mark.browser
def test_question_view_shows_turns_answers_references_and_judgments(browser, report, official):
    _open(browser, report, "#q=111")
    _select_models(browser, "phi-3-dpo", "phi-3")
    question = next(q for q in _rows(official.question_file) if q["question_id"] == 111)
    answers = {
        m: next(r for r in _rows(official.answer_file(m)) if r["question_id"] == 111)
        for m in ("phi-3-dpo", "phi-3")
    }
    singles = {
        r["turn"]: r
        for r in _rows(official.judgment_file("gpt-4", "single"))
        if r["question_id"] == 111 and r["model"] == "phi-3-dpo"
    }
    pairs = {
        r["turn"]: r
        for r in _rows(official.judgment_file("gpt-4", "pair"))
        if r["question_id"] == 111
    }
    reference = next(r for r in _rows(official.reference_file("gpt-4")) if r["question_id"] == 111)
    turns = _all(browser, "#question-view section.turn")
    assert len(turns) == 2
    for turn, section in enumerate(turns, start=1):
        assert (
            _text(section.find_element("css selector", ".user-msg .prose"))
            == (question["turns"][turn - 1])
        )
        human = section.find_element("css selector", ".reference.human .prose")
        assert _text(human) == question["reference"][turn - 1]
        judge_ref = _text(section.find_element("css selector", ".judge-ref"))
        assert reference["choices"][0]["turns"][turn - 1].strip()[:200] in judge_ref
        for model, answer in answers.items():
            card = section.find_element("css selector", f'.answer-card[data-model="{model}"]')
            shown = _text(card.find_element("css selector", ".answer"))
            first_line = answer["choices"][0]["turns"][turn - 1].strip().splitlines()[0]
            assert first_line in shown
        card = section.find_element("css selector", '.answer-card[data-model="phi-3-dpo"]')
        judged = singles[turn]
        assert _text(card.find_element("css selector", ".score")) == str(judged["score"])
        judgment = _text(card.find_element("css selector", ".judgment"))
        assert judged["judgment"].strip() in judgment
        assert f"score {judged['score']}" in judgment
    # Turn 1 has a pairwise row: both games, verdicts named by model, the judge's texts.
    pair_row = pairs[1]
    pair = turns[0].find_element("css selector", ".pair")
    names = {"model_1": pair_row["model_1"], "model_2": pair_row["model_2"], "tie": "tie"}
    games = pair.find_elements("css selector", ".game")
    for game, winner, text in zip(
        games,
        (pair_row["g1_winner"], pair_row["g2_winner"]),
        (pair_row["g1_judgment"], pair_row["g2_judgment"]),
        strict=True,
    ):
        assert _text(game.find_element("css selector", ".verdict")) == names[winner]
        assert text.strip() in _text(game)
    assert f"Assistant A = {pair_row['model_2']}" in _text(games[1])


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps(r) + "\n" for r in rows))


EVIL = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    "</script><script>window.__pwned = 3</script> {{DATA}} \u2028 & <!-- done"
)


@pytest.mark.browser
def test_hostile_text_is_shown_not_run_and_gaps_are_reported(browser, bench, tmp_path):
    """A `<script>` in an answer, judgment or model name is text; missing files are notes."""
    evil_model = "x<img src=y onerror=window.__pwned=4>"
    _write(
        bench.answer_file(evil_model),
        [
            {
                "question_id": 81,
                "answer_id": "a",
                "model_id": "m",
                "tstamp": 1.0,
                "choices": [{"index": 0, "turns": [EVIL, "```html\n" + EVIL + "\n```"]}],
            },
        ],
    )
    _write(
        bench.answer_file("partial"),
        [
            {
                "question_id": 82,
                "answer_id": "b",
                "model_id": "p",
                "tstamp": 1.0,
                "choices": [{"index": 0, "turns": ["only 82", "turn two"]}],
            },
        ],
    )
    _write(
        bench.judgment_file("my-judge", "single"),
        [
            {
                "question_id": 81,
                "model": evil_model,
                "judge": ["my-judge", "single-v1"],
                # The prompt the judge graded, so that the row is current (not stale).
                "user_prompt": load_judge_prompts(bench.judge_prompts_file)["single-v1"].render(
                    question=load_questions(bench.question_file)[0].turns[0], answer=EVIL
                ),
                "judgment": EVIL + " Rating: [[3]]",
                "score": 3,
                "turn": 1,
                "tstamp": 1.0,
            },
        ],
    )
    out = tmp_path / "out" / "evil.html"
    result = run_cli(
        "browse",
        "--data-dir",
        str(bench.data_dir),
        "--judge-model",
        "my-judge",
        "--output",
        str(out),
        "--bootstrap",
        "0",
    )
    assert result.returncode == 0, result.stderr
    assert "No pairwise judgments" in result.stderr
    assert "partial: no answer to 79 of 80 questions" in result.stderr
    html = out.read_text()
    assert "<script>window.__pwned" not in html and "<img src" not in html
    _open(browser, out, "#q=81")
    assert browser.execute_script("return window.__pwned === undefined")
    view = _one(browser, "#question-view")
    assert not view.find_elements("css selector", "script, img")
    card = _one(browser, 'section[data-turn="1"] .answer-card[data-model="' + evil_model + '"]')
    assert _text(card.find_element("css selector", ".answer")) == EVIL
    assert _text(card.find_element("css selector", ".score")) == "3"
    assert EVIL in _text(card.find_element("css selector", ".judgment"))
    code = _one(browser, f'section[data-turn="2"] .answer-card[data-model="{evil_model}"] pre')
    assert _text(code) == EVIL
    partial = _one(browser, 'section[data-turn="1"] .answer-card[data-model="partial"]')
    assert "No answer to this question." in _text(partial)
    notes = _text(_one(browser, "#notes"))
    assert "No pairwise judgments" in notes and "my-judge_pair.jsonl" in notes
    assert "my-judge" in _text(_one(browser, "#single-board h3"))
    # No judge reference for this judge: the block is left out rather than broken.
    _open(browser, out, "#q=111")
    assert not _all(browser, ".judge-ref")
    assert browser.execute_script("return window.__pwned === undefined")
    assert not _severe_logs(browser)


def test_script_json_cannot_close_its_script_element():
    data = {"a": "</script><!-- \u2028 \u2029 & >", "b": "\ud800 lone surrogate"}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": data["a"], "b": "\ufffd lone surrogate"}


def test_model_list_and_a_missing_question_file(bench, tmp_path):
    bench.answer_dir.mkdir()
    shutil.copy(shared_file(f"{PHI3}/model_answer/phi-3.jsonl"), bench.answer_file("phi-3"))
    data = build_page_data(bench, model_list=["phi-3", "nobody"], bootstrap=None)
    assert data["models"] == ["phi-3"] and list(data["answers"]) == ["phi-3"]
    assert "nobody: no answers or judgments found" in data["meta"]["notes"]
    assert data["single"] is None and data["pairwise"] is None
    assert data["judge_reference"]["101"]

    result = run_cli("browse", "--data-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "question file not found" in result.stderr and "mtbench-download" in result.stderr
    assert result.stderr.strip().count("\n") == 0

    result = run_cli("browse", "--data-dir", str(bench.data_dir), "--model-list", "nobody")
    assert result.returncode == 1
    assert "no model answers or judgments found for --model-list nobody" in result.stderr


def test_pairwise_against_a_baseline_found_in_the_file(official):
    data = build_page_data(official, baseline_model="phi-3", bootstrap=None)
    pair = data["pairwise"]
    assert pair["mode"] == "pairwise-baseline" and pair["report"]["baseline"] == "phi-3"
    [row] = pair["report"]["models"]
    assert (row["model"], row["win"], row["loss"], row["tie"]) == ("phi-3-dpo", 20, 18, 35)
    # The default baseline (gpt-3.5-turbo) is not in this file: all pairs are shown.
    assert build_page_data(official, bootstrap=None)["pairwise"]["mode"] == "pairwise-all"


def test_each_judgment_file_is_read_once_and_scored_as_mtbench_show_scores_it(
    official, monkeypatch
):
    import mtbench.data.judgments as judgments_module
    from mtbench.analysis.scores import build_report

    opened: list[str] = []
    read_jsonl = judgments_module.read_jsonl

    def counting(path):
        opened.append(Path(path).name)
        return read_jsonl(path)

    monkeypatch.setattr(judgments_module, "read_jsonl", counting)
    data = build_page_data(official, baseline_model="phi-3", bootstrap=None)
    assert sorted(opened) == ["gpt-4_pair.jsonl", "gpt-4_single.jsonl"]
    shown = build_report(official, "pairwise-baseline", baseline_model="phi-3", bootstrap=None)
    [row] = data["pairwise"]["report"]["models"]
    assert row["win_rate_adjusted"] == shown.summary.loc["phi-3-dpo", "win_rate_adjusted"]
    single = build_report(official, "single", bootstrap=None).summary
    assert data["single"]["report"]["models"][0]["score"] == single.loc["phi-3-dpo", "score"]
