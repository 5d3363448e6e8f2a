"""`mtbench.judging` as a library: light imports and `judge()` end to end.

Its `__all__` is checked with every package's in test_package.py.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace

from conftest import run_python, shared_file
from fake_openai_server import FakeOpenAIServer

from mtbench.data.judgments import load_single_judgments
from mtbench.judging import JudgeConfig, judge, make_plan


def test_judging_imports_no_sdk_until_a_judge_is_opened():
    code = (
        "import sys, mtbench.judging, mtbench.cli.judge\n"
        "names = ('openai', 'anthropic', 'torch', 'transformers', 'tqdm')\n"
        "print([m for m in names if m in sys.modules])\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_judge_as_a_library_call(bench):
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/gpt-4.jsonl"), bench.answer_file("gpt-4"))
    with FakeOpenAIServer() as server:
        options = JudgeConfig(
            paths=bench,
            judge_base_url=server.base_url,
            judge_model="gpt-4",
            first_n=2,
            parallel=2,
        )
        plan = make_plan(options)
        assert plan.models == ["gpt-4"] and len(plan.pending) == 4 and plan.calls == 4
        err = io.StringIO()
        result = judge(options, err=err)
    stats = result.stats
    assert result.status == "done" and result.plan.output == bench.judgment_file("gpt-4", "single")
    assert stats is not None and stats.judged == 4 and stats.failed == 0
    assert "mtbench-judge plan" in err.getvalue() and "judged:     4 of 4" in err.getvalue()
    rows = list(load_single_judgments(bench.judgment_file("gpt-4", "single")))
    assert sorted((r.question_id, r.turn) for r in rows) == [(81, 1), (81, 2), (82, 1), (82, 2)]
    assert make_plan(options).pending == []


def test_judge_says_how_it_ended_dry_run_cancelled_done_nothing_to_do(bench):
    bench.answer_dir.mkdir(parents=True)
    shutil.copy(shared_file("model_answer/gpt-4.jsonl"), bench.answer_file("gpt-4"))
    with FakeOpenAIServer() as server:
        config = JudgeConfig(
            paths=bench, judge_base_url=server.base_url, judge_model="gpt-4", first_n=1
        )
        out, err = io.StringIO(), io.StringIO()
        dry = judge(replace(config, dry_run=True), out=out, err=err)
        assert (dry.status, dry.stats) == ("dry_run", None)
        assert "===== judge request" in out.getvalue()
        asked = []
        cancelled = judge(config, confirm=lambda plan: asked.append(plan) or False, err=err)
        assert (cancelled.status, cancelled.stats) == ("cancelled", None)
        assert asked == [cancelled.plan] and len(cancelled.plan.pending) == 2
        assert server.completions() == [] and not cancelled.plan.output.exists()
        done = judge(config, confirm=lambda plan: True, err=err)
        assert done.status == "done" and done.stats is not None and done.stats.judged == 2
        again = judge(config, err=err)
    assert (again.status, again.stats, again.plan.pending) == ("nothing_to_do", None, [])
    assert "Nothing to do: all 2 match(es)" in err.getvalue()


def test_judge_options_is_still_the_config():
    import mtbench

    assert mtbench.JudgeOptions is mtbench.JudgeConfig is mtbench.judging.JudgeOptions
