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
    assert line.count("generating:") == 1 and "0/8 turns" in line  # 4 questions, 2 turns each
    assert "0/4 questions, 5100 tokens, 145.7 tok/s" in line  # 5100 tokens over 35 s
    bar.turns_done(2)
    bar.question_done(81)
    bar.close()
    final = capsys.readouterr().err
    assert "2/8 turns" in final and "1/4 questions" in final  # the final state, whenever it ends


def last_draw(capsys) -> str:
    """The bar as a terminal shows it now (tqdm redraws the line after a carriage return)."""
    return capsys.readouterr().err.split("\r")[-1]


def test_tokens_move_within_a_call_and_the_time_left_follows_them(capsys):
    clock = Clock()
    bar = GenerationBar(tty=True, clock=clock)
    bar.start(Path("answers.jsonl"), types.SimpleNamespace(done=[], todo=[81, 82, 83]))
    bar.generation_started(turns=6, max_new_tokens=100)
    assert "0/6 turns" in last_draw(capsys)
    for _ in range(10):  # turn 1 of the three questions in one batch: 3 tokens a step, 1 s each
        clock.now += 1.0
        bar.tokens_in_flight(3)
    # Nothing finished yet: the bound is every reply running to 100 tokens, 570 more at 3/s.
    assert "0/6 turns [" in (line := last_draw(capsys))
    assert "0/3 questions, 30 tokens, 3.0 tok/s, at most 03:10 left" in line
    bar.tokens(30)  # the call ends: its total replaces the live count
    clock.now += 0.1  # a terminal redraws at most every 0.1 s
    bar.turns_done(3)
    # Three turns took 10 tokens each: three more are about 30 tokens, 10 s.
    line = last_draw(capsys)
    assert "3/6 turns" in line and "30 tokens, 3.0 tok/s, ~00:10 left" in line
    clock.now += 9.9
    bar.tokens(30)
    bar.turns_done(3)
    for question in (81, 82, 83):
        bar.question_done(question)
    bar.close()  # draws the final state
    line = last_draw(capsys)
    assert "6/6 turns" in line and "3/3 questions, 60 tokens, 3.0 tok/s]" in line


def test_in_a_refilled_batch_each_reply_moves_its_tokens_from_live_to_done(capsys):
    clock = Clock()
    bar = GenerationBar(tty=True, clock=clock)
    bar.start(Path("answers.jsonl"), types.SimpleNamespace(done=[], todo=[81, 82]))
    bar.generation_started(turns=4, max_new_tokens=100)
    for _ in range(10):  # two rows, 1 s a step
        clock.now += 1.0
        bar.tokens_in_flight(2)
    bar.tokens(6)  # one reply ended at 6 tokens; the other row's 10 tokens are still live
    bar.turns_done(1)
    clock.now += 0.1
    bar.tokens_in_flight(-4)  # rows restarted after running out of memory
    line = last_draw(capsys)
    assert "1/4 turns" in line and "16 tokens, 1.6 tok/s" in line
    bar.close()


def test_without_token_counts_the_time_left_comes_from_turns(capsys):
    bar, clock = started(tty=True)  # 4 questions: 8 turns
    clock.now += 10.0
    bar.turns_done(2)
    line = last_draw(capsys)
    assert "2/8 turns" in line and "0/4 questions, ~00:30 left" in line and "tok" not in line
    bar.close()


def test_a_failed_question_counts_its_turns_as_gone(capsys):
    bar, clock = started(tty=True, total=2)
    bar.turns_done(2)  # a failed question: its two turns will not come
    clock.now += 0.1
    bar.question_failed(81)
    assert "2/4 turns" in (line := last_draw(capsys)) and "0/2 questions, 1 failed" in line
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
