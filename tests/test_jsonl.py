"""JSONL reading and writing: FastChat's bytes, torn lines, concurrent appends."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from conftest import REPO, SHARED, shared_file

from mtbench.data.jsonl import JsonlAppender, dumps, read_jsonl, repair_tail, write_jsonl_atomic
from mtbench.errors import DataError


@pytest.mark.parametrize(
    "relative",
    [
        "question.jsonl",
        "model_answer/gpt-4.jsonl",
        "model_answer/chatglm-6b.jsonl",
        "third_party/Stefanstud-FastChat-phi3/model_judgment/gpt-4_pair.jsonl",
    ],
)
def test_rows_are_written_byte_for_byte_as_fastchat_wrote_them(relative):
    for line in shared_file(relative).read_text(encoding="utf-8").splitlines():
        assert dumps(json.loads(line)) == line


def test_appender_writes_fastchat_lines(tmp_path):
    path = tmp_path / "sub" / "out.jsonl"
    with JsonlAppender(path) as out:
        out.append({"question_id": 81, "text": "caf\u00e9 \u4e2d"})
        out.append({"question_id": 82})
    assert path.read_bytes() == (
        b'{"question_id": 81, "text": "caf\\u00e9 \\u4e2d"}\n{"question_id": 82}\n'
    )


def test_torn_last_line_is_skipped_on_read_and_cut_before_the_next_append(tmp_path, caplog):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"question_id": 81}\n{"question_id": 8')
    assert [row for _, row in read_jsonl(path)] == [{"question_id": 81}]
    assert f"{path}:2: ignoring an incomplete last line" in caplog.text
    assert "cut short while being written or copied" in caplog.text
    with JsonlAppender(path) as out:
        out.append({"question_id": 82})
    assert path.read_bytes() == b'{"question_id": 81}\n{"question_id": 82}\n'


def test_complete_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"question_id": 81}')
    assert repair_tail(path) is True
    assert path.read_bytes() == b'{"question_id": 81}\n'
    assert repair_tail(path) is False


def test_published_file_without_final_newline_reads_whole():
    path = shared_file("third_party/lm-sys-FastChat-pr3404/reference_answer/gpt-4o.jsonl")
    assert len(list(read_jsonl(path))) == 30


def test_malformed_line_in_the_middle_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n{"a": 3}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:3: not valid JSON"):
        list(read_jsonl(path))
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: expected a JSON object, got list"):
        list(read_jsonl(path))


def test_threads_never_interleave_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    appender = JsonlAppender(path, durable=False)
    text = "x" * 50_000

    def work(worker: int) -> None:
        for i in range(25):
            appender.append({"worker": worker, "i": i, "text": text})

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    appender.close()
    rows = [row for _, row in read_jsonl(path)]
    assert sorted((r["worker"], r["i"]) for r in rows) == [
        (w, i) for w in range(8) for i in range(25)
    ]


def test_processes_never_interleave_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    script = (
        "import sys; from mtbench.data.jsonl import JsonlAppender\n"
        "out = JsonlAppender(sys.argv[1], durable=False)\n"
        "for i in range(200): out.append({'p': sys.argv[2], 'i': i, 't': 'y' * 20000})\n"
    )
    env = {"PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), str(p)], env=env)
        for p in range(3)
    ]
    assert all(proc.wait(timeout=60) == 0 for proc in procs)
    rows = [row for _, row in read_jsonl(path)]
    assert len(rows) == 600 and len({(r["p"], r["i"]) for r in rows}) == 600


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    write_jsonl_atomic(path, ['{"a": 1}', '{"a": 2}'])
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_shared_data_is_where_the_tests_expect_it():
    assert (SHARED / "question.jsonl").is_file()
