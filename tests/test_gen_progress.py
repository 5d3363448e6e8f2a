"""Generation progress on stderr: live on a terminal, a line at most every 30 s in a log file."""

from __future__ import annotations

from pathlib import Path

from mtbench.data.questions import Question
from mtbench.generation import progress as progress_module
from mtbench.generation.plan import Plan
from mtbench.generation.progress import LOG_INTERVAL, TqdmProgress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(monkeypatch, tty: bool, total: int = 4) -> tuple[TqdmProgress, Clock]:
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    bar = TqdmProgress(tty=tty)
    todo = [Question(question_id=81 + i, category="writing", turns=("q",)) for i in range(total)]
    bar.start(Path("answers.jsonl"), Plan(todo=todo))
    bar.generation_started()
    return bar, clock


def test_in_a_log_file_token_updates_are_drawn_at_most_every_30_seconds(monkeypatch, capsys):
    bar, clock = started(monkeypatch, tty=False)
    capsys.readouterr()
    for _ in range(50):  # many batches within the interval: nothing more is written
        clock.now += 0.1
        bar.tokens(100)
    assert capsys.readouterr().err == ""
    clock.now += LOG_INTERVAL
    bar.tokens(100)
    line = capsys.readouterr().err
    assert line.count("questions:") == 1 and "0/4" in line
    assert "tok/s=145.7" in line  # 5100 tokens over 35 s
    bar.question_done(81)
    bar.close()
    assert "1/4" in capsys.readouterr().err  # the final state, whenever the run ends


def test_on_a_terminal_every_token_update_is_drawn(monkeypatch, capsys):
    bar, clock = started(monkeypatch, tty=True)
    capsys.readouterr()
    for _ in range(3):
        clock.now += 1.0
        bar.tokens(10)
    assert capsys.readouterr().err.count("questions:") == 3
    bar.close()
