"""Progress bars on stderr: live on a terminal, a line at most every 30 s in a log file."""

from __future__ import annotations

import types
from pathlib import Path

from mtbench.cli.progress import LOG_INTERVAL, DownloadBar, GenerationBar, JudgeBar
from mtbench.data.manifest import MANIFEST


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(tty: bool, total: int = 4) -> tuple[GenerationBar, Clock]:
    clock = Clock()
    bar = GenerationBar(tty=tty, clock=clock)
    bar.start(Path("answers.jsonl"), types.SimpleNamespace(done=[], todo=list(range(total))))
    bar.generation_started()
    return bar, clock


def test_in_a_log_file_token_updates_are_drawn_at_most_every_30_seconds(capsys):
    bar, clock = started(tty=False)
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


def test_on_a_terminal_every_token_update_is_drawn(capsys):
    bar, clock = started(tty=True)
    capsys.readouterr()
    for _ in range(3):
        clock.now += 1.0
        bar.tokens(10)
    assert capsys.readouterr().err.count("questions:") == 3
    bar.close()


def test_the_start_of_a_generation_run_says_where_answers_go_and_what_is_done(capsys):
    bar = GenerationBar(tty=False, clock=Clock())
    bar.start(Path("answers.jsonl"), types.SimpleNamespace(done=[81, 82], todo=[83]))
    assert capsys.readouterr().err == (
        "Output to answers.jsonl\n"
        "2 question(s) already answered with these settings; generating 1\n"
    )


def stats(done: int, retries: int = 0) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        calls=10, calls_done=done, retries=retries, failed_calls=0, unparsed=1
    )


def test_judging_in_a_log_file_writes_a_line_at_most_every_30_seconds(capsys):
    clock = Clock()
    bar = JudgeBar(tty=False, clock=clock)
    bar(stats(0))
    assert "judging:" in capsys.readouterr().err  # the run has started
    for done in range(1, 6):  # calls finishing within the interval: no line
        clock.now += 1.0
        bar(stats(done))
    assert capsys.readouterr().err == ""
    clock.now += LOG_INTERVAL
    bar(stats(6, retries=2))
    line = capsys.readouterr().err
    assert line.count("judging:") == 1 and "6/10" in line
    assert "failed=0, retries=2, unparsed=1" in line
    bar(stats(7, retries=2))
    bar.close()
    assert "7/10" in capsys.readouterr().err


def test_judging_on_a_terminal_redraws_at_most_ten_times_a_second(capsys):
    clock = Clock()
    bar = JudgeBar(tty=True, clock=clock)
    bar(stats(0))
    capsys.readouterr()
    for done in range(1, 11):  # ten calls in 50 ms: one redraw at most
        clock.now += 0.005
        bar(stats(done))
    assert capsys.readouterr().err == ""
    clock.now += 0.1
    bar(stats(10))
    assert "10/10" in capsys.readouterr().err
    bar.close()


def test_a_download_draws_on_a_terminal_and_stays_silent_in_a_log_file(capsys):
    file = MANIFEST[0]
    for tty in (False, True):
        bar = DownloadBar(tty=tty, clock=Clock())
        bar.start([file])
        bar.begin(file, file.size)
        bar.advance(file.size or 0)
        bar.close()
        drawn = capsys.readouterr().err
        if tty:
            assert "mtbench-download:" in drawn and file.local_path.name in drawn
        else:
            assert drawn == ""
