"""The runner: rows from replies, parallel API calls under faults, batches for local judges."""

from __future__ import annotations

import pytest
from conftest import shared_file
from fake_openai_server import FakeOpenAIServer

from mtbench.backends.base import GenerationParams, Reply
from mtbench.backends.fake import FakeBackend
from mtbench.backends.openai_compat import OpenAICompatBackend
from mtbench.backends.retry import RetryPolicy
from mtbench.data.answers import load_answer_file
from mtbench.data.judge_prompts import load_judge_prompts
from mtbench.data.judgments import load_pair_judgments, load_single_judgments
from mtbench.data.questions import load_questions
from mtbench.errors import AuthError, BackendError
from mtbench.judging.matches import build_matches, make_judges
from mtbench.judging.runner import JudgeStats, judgment_row, run_matches

JUDGE = GenerationParams(max_new_tokens=2048, temperature=0.0)
MODELS = ("alpaca-13b", "vicuna-7b-v1.3")


@pytest.fixture(scope="module")
def inputs():
    questions = load_questions(shared_file("question.jsonl"))
    prompts = load_judge_prompts(shared_file("judge_prompts.jsonl"))
    answers = {m: load_answer_file(shared_file(f"model_answer/{m}.jsonl")) for m in MODELS}
    references = load_answer_file(shared_file("reference_answer/gpt-4.jsonl"))
    return questions, prompts, answers, references


def matches_for(inputs, mode, n_questions):
    questions, prompts, answers, references = inputs
    judges = make_judges(prompts, "gpt-4", mode)
    return build_matches(
        questions[:n_questions], answers, judges, mode, list(MODELS), references=references
    )


def test_rows_are_fastchats(inputs):
    single = matches_for(inputs, "single", 1)[0]
    row = judgment_row(single, ["Good. Rating: [[8.5]]"])
    assert list(row) == [
        "question_id",
        "model",
        "judge",
        "user_prompt",
        "judgment",
        "score",
        "turn",
        "tstamp",
    ]
    assert row["score"] == 8.5 and row["judge"] == ["gpt-4", "single-v1"] and row["turn"] == 1
    pair = matches_for(inputs, "pairwise-all", 1)[0]
    row = judgment_row(pair, ["[[A]]", "[[A]]"])
    assert list(row) == [
        "question_id",
        "model_1",
        "model_2",
        "g1_winner",
        "g2_winner",
        "judge",
        "g1_user_prompt",
        "g1_judgment",
        "g2_user_prompt",
        "g2_judgment",
        "turn",
        "tstamp",
    ]
    assert (row["g1_winner"], row["g2_winner"]) == ("model_1", "model_2")
    assert row["g2_user_prompt"] == pair.user_prompt(swapped=True)


def test_local_judge_gets_batches_and_pairs_split_across_batches_still_complete(inputs, tmp_path):
    matches = matches_for(inputs, "pairwise-all", 3)  # 6 matches, 12 calls
    backend = FakeBackend("[[B]]")  # a local judge: it takes batches
    output = tmp_path / "pair.jsonl"
    stats = run_matches(matches, backend, output, JUDGE, batch_size=5, parallel=8)
    assert [len(call.conversations) for call in backend.calls] == [5, 5, 2]
    rows = list(load_pair_judgments(output))
    assert len(rows) == stats.judged == 6
    assert {(r.g1_winner, r.g2_winner) for r in rows} == {("model_2", "model_1")}


def test_a_failed_local_batch_costs_only_its_matches(inputs, tmp_path):
    matches = matches_for(inputs, "single", 4)  # 16 matches
    in_second_batch = {m.user_prompt() for m in matches[4:8]}

    def reply(conversation):
        if conversation[-1]["content"] in in_second_batch:
            raise BackendError("out of memory")
        return "Rating: [[4]]"

    output = tmp_path / "single.jsonl"
    backend = FakeBackend(reply)
    stats = run_matches(matches, backend, output, JUDGE, batch_size=4)
    assert len(backend.calls) == 4
    assert (stats.judged, stats.failed, stats.failed_calls) == (12, 4, 4)
    assert stats.last_error == "out of memory"
    written = {r.key for r in load_single_judgments(output)}
    assert written == {m.key for i, m in enumerate(matches) if not 4 <= i < 8}


def test_fatal_errors_propagate_with_partial_results_kept(inputs, tmp_path):
    matches = matches_for(inputs, "single", 2)
    output = tmp_path / "single.jsonl"
    stats = JudgeStats()
    with pytest.raises(AuthError):
        run_matches(
            matches,
            FakeBackend(["Rating: [[4]]"] * 2 + [AuthError("key")]),  # the second batch fails
            output,
            JUDGE,
            batch_size=2,
            stats=stats,
        )
    assert stats.judged == 2 and len(list(load_single_judgments(output))) == 2


def test_a_local_judge_that_keeps_failing_stops_after_three_batches(inputs, tmp_path):
    def broken(conversation):
        raise BackendError("CUDA error")

    backend = FakeBackend(broken)
    stats = JudgeStats()
    with pytest.raises(BackendError, match="the last 3 batches of judge calls all failed"):
        run_matches(
            matches_for(inputs, "single", 4), backend, tmp_path / "s.jsonl", JUDGE, batch_size=2,
            stats=stats,
        )  # fmt: skip
    assert len(backend.calls) == 3 and stats.failed_calls == 6 and stats.judged == 0


def test_parallel_run_under_faults_loses_nothing(inputs, tmp_path):
    matches = matches_for(inputs, "pairwise-all", 10)  # 20 matches, 40 calls
    progress = []
    with FakeOpenAIServer(
        latency=0.01, rate_limit_rate=0.2, server_error_rate=0.1, retry_after=0.01, seed=3
    ) as server:
        backend = OpenAICompatBackend(
            "gpt-4", base_url=server.base_url, retry=RetryPolicy(max_attempts=10, base_delay=0.01)
        )
        output = tmp_path / "pair.jsonl"
        stats = run_matches(
            matches,
            backend,
            output,
            JUDGE,
            parallel=6,
            on_progress=lambda s: progress.append(s.calls_done),
        )
        faults = sum(server.faults_sent.values())
    rows = list(load_pair_judgments(output))
    assert len(rows) == 20 and len({r.key for r in rows}) == 20
    assert stats.judged == 20 and stats.failed == 0 and stats.calls_done == 40
    assert faults > 0 and stats.retries == faults
    assert stats.tokens_reported and stats.prompt_tokens > 0
    assert progress[0] == 0 and progress[-1] == 40 and progress == sorted(progress)
    sent = {r.messages[1]["content"] for r in server.completions()}
    assert all(r.g1_user_prompt in sent and r.g2_user_prompt in sent for r in rows)


def test_parallel_bounds_requests_in_flight_while_backoffs_free_their_slots(inputs, tmp_path):
    matches = matches_for(inputs, "single", 6)  # 24 calls
    with FakeOpenAIServer(latency=0.05, rate_limit_rate=0.3, retry_after=0.2, seed=1) as server:
        backend = OpenAICompatBackend(
            "gpt-4", base_url=server.base_url, retry=RetryPolicy(max_attempts=10, base_delay=0.01)
        )
        stats = run_matches(matches, backend, tmp_path / "s.jsonl", JUDGE, parallel=3)
        peak = server.max_in_flight
    assert stats.judged == 24 and stats.retries > 0
    assert peak == 3


class RoomyJudge(FakeBackend):
    """A local judge whose replies to some prompts are cut unless the limit is at least `fits`."""

    def __init__(self, cut: set[str], fits: dict[str, int]):
        super().__init__()
        self.cut, self.fits = cut, fits

    def generate(self, conversations, params):
        super().generate(conversations, params)  # recorded
        replies = []
        for conversation in conversations:
            prompt = conversation[-1]["content"]
            if prompt in self.cut and params.max_new_tokens < self.fits[prompt]:
                replies.append(Reply("", "length"))
            else:
                replies.append(Reply("Rating: [[6]]", "stop"))
        return replies


def test_a_local_judge_asks_again_with_more_room_then_gives_up(inputs, tmp_path):
    matches = matches_for(inputs, "single", 1)  # 4 matches
    prompts = [m.user_prompt() for m in matches]
    backend = RoomyJudge({prompts[1], prompts[2]}, {prompts[1]: 4096, prompts[2]: 10**6})
    stats = run_matches(matches, backend, tmp_path / "s.jsonl", JUDGE, batch_size=4)
    limits = [(len(c.conversations), c.params.max_new_tokens) for c in backend.calls]
    assert limits == [(4, 2048), (2, 4096), (1, 8192)]
    assert (stats.judged, stats.reasked, stats.failed, stats.no_verdict) == (3, 3, 1, 1)
    written = {r.user_prompt: r for r in load_single_judgments(tmp_path / "s.jsonl")}
    assert sorted(written) == sorted({prompts[0], prompts[1], prompts[3]})
    assert all(row.score == 6 for row in written.values())
    assert written[prompts[1]].extra["judge_meta"]["params"]["max_new_tokens"] == 4096
