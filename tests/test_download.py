"""`mtbench-download` against a real HTTP mirror on 127.0.0.1 serving the official files."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REPO, run_cli, shared_file, unused_port

from mtbench import (
    BenchPaths,
    DataError,
    load_answer_file,
    load_judge_prompts,
    load_model_answers,
    load_questions,
)
from mtbench.data.manifest import (
    ANSWERS,
    GPT4O,
    JUDGMENTS,
    MANIFEST,
    OFFICIAL_MODELS,
    QUESTIONS,
    RemoteFile,
)

PR3404 = "third_party/lm-sys-FastChat-pr3404/"
PHI3 = "third_party/Stefanstud-FastChat-phi3/model_judgment/"
TWO_MODELS = ("alpaca-13b", "gpt-4")


def shared_source(file: RemoteFile) -> Path:
    """The copy in ../shared/mt_bench that the mirror serves for a manifest entry."""
    local = str(file.local_path)
    inside_bench = local.removeprefix("mt_bench/")
    if file.group == GPT4O:
        return shared_file(PR3404 + inside_bench)
    if file.group == JUDGMENTS:
        # No official judgment file is available offline; any judgment file stands in,
        # since these are fetched unverified anyway.
        return shared_file(PHI3 + file.local_path.name)
    return shared_file(inside_bench)


Reply = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Mirror:
    """A mirror of both upstream hosts: every manifest file at its URL path."""

    url: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    overrides: dict[str, Reply] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def path_of(self, file: RemoteFile) -> str:
        return "/" + file.url_path

    def args(self) -> list[str]:
        return ["--github-base-url", self.url, "--hf-base-url", self.url]


def _entry(model: str) -> RemoteFile:
    return next(f for f in MANIFEST if f.model == model and f.group == ANSWERS)


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    state = Mirror(files={"/" + f.url_path: shared_source(f) for f in MANIFEST})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlsplit(self.path).path  # a proxy request carries the absolute URL
            state.requests.append(path)
            if path in state.overrides:
                state.overrides[path](self)
            elif path in state.files:
                send(self, state.files[path].read_bytes())
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def send(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_fetches_verifies_then_skips_and_the_loaders_read_the_files(
    mirror: Mirror, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "--models", *TWO_MODELS, *mirror.args()]
    with pytest.raises(DataError, match=r"question file not found; run `mtbench-download` \(with"):
        load_questions(BenchPaths(data).question_file)

    first = run_cli("download", *args)

    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.strip().splitlines()[-1] == (
        f"{data}: 5 fetched, 0 already present, 5 of 5 verified by sha256"
    )
    paths = BenchPaths(data)
    expected = {
        paths.question_file: shared_file("question.jsonl"),
        data / "judge_prompts.jsonl": shared_file("judge_prompts.jsonl"),
        paths.reference_file("gpt-4"): shared_file("reference_answer/gpt-4.jsonl"),
        paths.answer_file("alpaca-13b"): shared_file("model_answer/alpaca-13b.jsonl"),
        paths.answer_file("gpt-4"): shared_file("model_answer/gpt-4.jsonl"),
    }
    assert all_files(data) == sorted(expected)  # nothing else: no temporary files
    for local, official in expected.items():
        assert local.read_bytes() == official.read_bytes()
    assert len(load_questions(paths.question_file)) == 80
    assert len(load_judge_prompts(paths.judge_prompts_file)) == 8
    assert len(load_answer_file(paths.reference_file("gpt-4"))) == 30
    answers = load_model_answers(paths.answer_dir)
    assert sorted(answers) == sorted(TWO_MODELS)
    assert all(len(rows) == 80 for rows in answers.values())

    mirror.requests.clear()
    second = run_cli("download", *args)

    assert second.returncode == 0, second.stderr
    assert mirror.requests == []
    assert second.stdout.strip().splitlines()[-1] == (
        f"{data}: 0 fetched, 5 already present, 5 of 5 verified by sha256"
    )


def test_all_31_answers_from_the_environment_settings(mirror: Mirror, tmp_path: Path) -> None:
    env = {"MTBENCH_GITHUB_BASE_URL": mirror.url, "MTBENCH_HF_BASE_URL": mirror.url}

    result = run_cli("download", cwd=tmp_path, env=env)  # default data dir: ./data

    assert result.returncode == 0, result.stderr
    assert "34 fetched, 0 already present, 34 of 34 verified by sha256" in result.stdout
    answers = load_model_answers(BenchPaths(tmp_path / "data").answer_dir)
    assert sorted(answers) == sorted(OFFICIAL_MODELS)
    assert len(OFFICIAL_MODELS) == 31


def flip_one_byte(body: bytes) -> bytes:
    return body[:100] + bytes([body[100] ^ 1]) + body[101:]


@pytest.mark.parametrize(
    "corrupt",
    [flip_one_byte, lambda body: body + b"\n", lambda body: body[:-10]],
    ids=["flipped-byte", "longer", "shorter"],
)
def test_a_corrupted_download_is_rejected_and_nothing_is_left(
    mirror: Mirror, tmp_path: Path, corrupt: Callable[[bytes], bytes]
) -> None:
    data = tmp_path / "data"
    bad = _entry("gpt-4")
    body = corrupt(shared_file("model_answer/gpt-4.jsonl").read_bytes())
    mirror.overrides[mirror.path_of(bad)] = lambda handler: send(handler, body)

    result = run_cli("download", "--data-dir", str(data), "--models", "gpt-4", *mirror.args())

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {mirror.url}/{bad.url_path} sent ")
    assert f"not the official file (sha256 {bad.sha256})" in lines[0]
    assert "Traceback" not in result.stderr
    # The verified files before it stay; the bad one and its temporary file are gone.
    assert [p.name for p in all_files(data)] == [
        "judge_prompts.jsonl",
        "question.jsonl",
        "gpt-4.jsonl",
    ]
    assert all_files(data)[2] == BenchPaths(data).reference_file("gpt-4")
    assert not BenchPaths(data).answer_dir.exists()


def test_a_present_file_that_differs_is_reported_and_kept_unless_forced(
    mirror: Mirror, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    paths = BenchPaths(data)
    paths.bench_dir.mkdir(parents=True)
    edited = b'{"question_id": 81}\n'
    paths.question_file.write_bytes(edited)
    args = ["--data-dir", str(data), "--what", "questions", *mirror.args()]

    reported = run_cli("download", *args)

    assert reported.returncode == 1
    assert paths.question_file.read_bytes() == edited
    assert f"{data}: 2 fetched, 0 already present, 2 of 3 verified by sha256, 1 differ" in (
        reported.stdout
    )
    error = reported.stderr.strip().splitlines()[-1]
    assert error == (
        f"Error: 1 file(s) already present differ from the official checksum and were left "
        f"unchanged: {paths.question_file}; rerun with --force to replace them with the "
        "official files"
    )
    assert f"{paths.question_file} has sha256 {hashlib.sha256(edited).hexdigest()}" in (
        reported.stderr
    )

    forced = run_cli("download", *args, "--force")

    assert forced.returncode == 0, forced.stderr
    assert "1 fetched, 2 already present, 3 of 3 verified by sha256" in forced.stdout
    assert paths.question_file.read_bytes() == shared_file("question.jsonl").read_bytes()


def test_force_keeps_the_old_file_when_the_new_download_is_bad(
    mirror: Mirror, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    paths = BenchPaths(data)
    paths.bench_dir.mkdir(parents=True)
    paths.question_file.write_bytes(b"mine\n")
    question = next(f for f in MANIFEST if f.local_path.name == "question.jsonl")
    body = flip_one_byte(shared_file("question.jsonl").read_bytes())
    mirror.overrides[mirror.path_of(question)] = lambda handler: send(handler, body)

    result = run_cli(
        "download", "--data-dir", str(data), "--what", "questions", "--force", *mirror.args()
    )

    assert result.returncode == 1
    assert f"{paths.question_file} left as it was" in result.stderr
    assert paths.question_file.read_bytes() == b"mine\n"
    assert all_files(data) == [paths.question_file]


def test_an_unreachable_host_gives_one_clear_line_and_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"http://127.0.0.1:{unused_port()}"

    result = run_cli(
        "download", "--data-dir", str(data), "--github-base-url", url, "--hf-base-url", url
    )

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: 127.0.0.1 refused the connection while fetching {url}/")
    assert f"retry, or copy the files into {data} by hand" in lines[0]
    assert not data.exists()


def test_a_host_that_never_answers_times_out_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = run_cli(
            "download",
            "--data-dir",
            str(data),
            "--timeout",
            "0.5",
            "--github-base-url",
            url,
            "--hf-base-url",
            url,
        )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: 127.0.0.1 did not answer within 0.5 s while fetching")
    assert not data.exists()


def test_a_missing_file_on_the_mirror_is_named(mirror: Mirror, tmp_path: Path) -> None:
    del mirror.files[mirror.path_of(_entry("gpt-4"))]

    result = run_cli(
        "download",
        "--data-dir",
        str(tmp_path / "data"),
        "--what",
        "answers",
        "--models",
        "gpt-4",
        *mirror.args(),
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {mirror.url}/{_entry('gpt-4').url_path} answered HTTP 404 Not Found; the "
        "server is not holding this file at that path (check --github-base-url/--hf-base-url "
        "if you use a mirror)"
    )


def test_transient_failures_are_retried(mirror: Mirror, tmp_path: Path) -> None:
    entry = _entry("gpt-4")
    body = shared_file("model_answer/gpt-4.jsonl").read_bytes()
    replies: list[Reply] = [
        lambda handler: send(handler, b"busy", status=503),
        lambda handler: drop_midway(handler, body),
        lambda handler: send(handler, body),
    ]
    mirror.overrides[mirror.path_of(entry)] = lambda handler: replies.pop(0)(handler)
    data = tmp_path / "data"

    result = download_gpt4_answers(mirror, data)

    assert result.returncode == 0, result.stderr
    assert mirror.requests.count(mirror.path_of(entry)) == 3
    assert "answered HTTP 503" in result.stderr and "broke off" in result.stderr
    assert BenchPaths(data).answer_file("gpt-4").read_bytes() == body
    assert len(all_files(data)) == 1


def download_gpt4_answers(mirror: Mirror, data: Path) -> subprocess.CompletedProcess[str]:
    """`mtbench-download --what answers --models gpt-4` from the mirror into `data`."""
    return run_cli(
        "download",
        "--data-dir",
        str(data),
        "--what",
        "answers",
        "--models",
        "gpt-4",
        *mirror.args(),
    )


def drop_midway(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """Promise the whole body, send half of it, and hang up."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def test_a_connection_that_keeps_breaking_fails_cleanly(mirror: Mirror, tmp_path: Path) -> None:
    entry = _entry("gpt-4")
    body = shared_file("model_answer/gpt-4.jsonl").read_bytes()
    mirror.overrides[mirror.path_of(entry)] = lambda handler: drop_midway(handler, body)
    data = tmp_path / "data"

    result = download_gpt4_answers(mirror, data)

    assert result.returncode == 1
    assert mirror.requests.count(mirror.path_of(entry)) == 3
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: the transfer of {mirror.url}/{entry.url_path} broke off after "
        f"{len(body) // 2} of {len(body)} bytes"
    )
    assert not data.exists()


def test_judgments_are_fetched_unverified_and_their_sha256_shown(
    mirror: Mirror, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "--what", "judgments", *mirror.args()]
    paths = BenchPaths(data)

    for run in range(2):
        result = run_cli("download", *args)

        assert result.returncode == 0, result.stderr
        for kind in ("single", "pair"):
            local = paths.judgment_file("gpt-4", kind)
            assert local.read_bytes() == shared_file(PHI3 + local.name).read_bytes()
            assert (
                f"unverified: {local} has sha256 {sha256(local)}; no official checksum is known"
            ) in result.stdout
        fetched, present = (2, 0) if run == 0 else (0, 2)
        assert result.stdout.strip().splitlines()[-1] == (
            f"{data}: {fetched} fetched, {present} already present, 0 of 2 verified by sha256, "
            "2 unverified (no official checksum)"
        )


def test_gpt_4o_files_from_pr_3404(mirror: Mirror, tmp_path: Path) -> None:
    data = tmp_path / "data"

    result = run_cli("download", "--data-dir", str(data), "--what", "gpt-4o", *mirror.args())

    assert result.returncode == 0, result.stderr
    assert "2 fetched, 0 already present, 2 of 2 verified by sha256" in result.stdout
    paths = BenchPaths(data)
    assert sorted(load_model_answers(paths.answer_dir)) == ["gpt-4o"]
    assert len(load_answer_file(paths.reference_file("gpt-4o"))) == 30


def test_proxies_from_the_environment_are_used(mirror: Mirror, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HTTP_PROXY": mirror.url, "http_proxy": mirror.url, "NO_PROXY": "", "no_proxy": ""}

    result = run_cli(
        "download",
        "--data-dir",
        str(data),
        "--what",
        "questions",
        "--github-base-url",
        "http://mirror.invalid",
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert "3 fetched" in result.stdout
    assert len(mirror.requests) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--models", "my-model"],
            "Error: --models: no official answers for my-model; the "
            "official models are alpaca-13b, baize-v2-13b, ",
        ),
        (
            ["--what", "questions", "--models", "gpt-4"],
            "Error: --models picks answer files, but --what does not include answers",
        ),
    ],
)
def test_bad_selections_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("download", "--data-dir", str(tmp_path / "data"), *args)

    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert not (tmp_path / "data").exists()


def test_list_shows_every_file_and_fetches_nothing(tmp_path: Path) -> None:
    result = run_cli("download", "--list", "--what", "all", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(MANIFEST) == 3 + 31 + 2 + 2
    assert lines[0].split() == [
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
        "mt_bench/question.jsonl",
        "https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d"
        "/fastchat/llm_judge/data/mt_bench/question.jsonl",
    ]
    assert (
        "https://huggingface.co/spaces/lmsys/mt-bench/resolve/main/data/mt_bench/model_judgment/"
        "gpt-4_pair.jsonl"
    ) in lines[-3]
    assert lines[-3].startswith("unverified ")
    assert not (tmp_path / "data").exists()


def test_the_manifest_checksums_match_the_shared_copies() -> None:
    """Guards against a typo in the embedded table: every known checksum and size is right."""
    for file in MANIFEST:
        if file.group in (QUESTIONS, ANSWERS, GPT4O):
            source = shared_source(file)
            assert (file.sha256, file.size) == (sha256(source), source.stat().st_size), file
        else:
            assert file.sha256 is None


def test_an_unwritable_data_dir_is_one_clear_line(mirror: Mirror, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file where the data directory should be\n")

    result = run_cli("download", "--data-dir", str(not_a_dir), *mirror.args())

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {BenchPaths(not_a_dir).question_file}: cannot read or write this file (Not a "
        "directory); check the permissions and free space, or choose another --data-dir\n"
    )


def test_a_progress_bar_is_drawn_on_a_terminal(mirror: Mirror, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    args = ["--data-dir", str(tmp_path / "data"), "--what", "questions", "judgments"]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mtbench.cli.download", *args, *mirror.args()],
            stderr=follower,
            stdout=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    finally:
        os.close(follower)
    reader.join(timeout=5)
    os.close(leader)
    drawn = b"".join(chunks).decode()

    assert result.returncode == 0
    assert "mtbench-download:" in drawn and "question.jsonl" in drawn and "B/s" in drawn
    assert "5 fetched" in result.stdout  # the bar went to the terminal, the summary to stdout
