"""Run records are appended whole, never rewritten, and survive torn lines and concurrent appenders."""

import fcntl
import json
import multiprocessing
import os
import signal

import pytest

from fer_bench.cli import main
from fer_bench.errors import FerBenchError
from fer_bench.runs.records import RecordStore
from fer_bench.testing import example_record

APPENDERS = 4
APPENDS_EACH = 200
PAYLOAD_SIZES = (10, 5_000, 70_000)  # bytes: under a page, over 4 KiB, over 64 KiB (a pipe's buffer)


def record(run_id, experiment="paper", **extra):
    return example_record(run_id, experiment, extra=extra)


def test_records_append_and_read_back_in_order(tmp_path):
    store = RecordStore(tmp_path)
    for i in range(3):
        store.append(record(f"abcdef{i:06d}", i=i))
    assert [r.extra["i"] for r in store.all()] == [0, 1, 2]
    assert [r.extra["i"] for r in store.find("paper")] == [0, 1, 2]
    assert [r.extra["i"] for r in store.find("abcdef000001")] == [1]
    assert store.find("abc") == []  # ids need 6+ characters
    assert store.all()[1] == record("abcdef000001", i=1)  # a record reads back as written


def test_a_record_whose_writer_died_before_its_newline_is_kept_once_sealed(tmp_path):
    store = RecordStore(tmp_path)
    store.append(record("a" * 12))
    whole = store.path.read_bytes()
    store.path.write_bytes(whole + whole.rstrip(b"\n").replace(b"a" * 12, b"b" * 12))  # no newline
    store.append(record("c" * 12))
    assert [r.run_id for r in store.all()] == ["a" * 12, "b" * 12, "c" * 12]


def test_a_blank_line_between_records_is_passed_over(tmp_path):
    store = RecordStore(tmp_path)
    store.append(record("a" * 12))
    with open(store.path, "a") as handle:
        handle.write("\n")
    store.append(record("b" * 12))
    assert [r.run_id for r in store.all()] == ["a" * 12, "b" * 12]


def test_a_torn_last_line_is_reported_once_skipped_and_sealed(tmp_path, caplog):
    store = RecordStore(tmp_path)
    store.append(record("a" * 12))
    with open(store.path, "a") as handle:
        handle.write('{"run_id": "bbbb')  # a crash mid-write
    assert [r.run_id for r in store.all()] == ["a" * 12]
    assert [r.run_id for r in store.all()] == ["a" * 12]
    assert caplog.text.count("line 2: torn record skipped") == 1

    store.append(record("c" * 12))
    assert [r.run_id for r in store.all()] == ["a" * 12, "c" * 12]
    lines = store.path.read_text().splitlines()
    assert lines[1] == '{"run_id": "bbbb\x18' and json.loads(lines[2])["run_id"] == "c" * 12  # sealed


@pytest.mark.parametrize("line", ["{oops", '{"run_id": "not a record"}'], ids=["not-json", "not-a-record"])
def test_a_corrupt_line_before_the_last_is_refused_naming_the_file_and_line(tmp_path, capsys, line):
    """Not a crash's doing (a writer's torn line is its last, and then sealed): an edit or damage. A
    benchmark does not drop a record silently: every command that reads the records refuses."""
    store = RecordStore(tmp_path)
    store.append(record("a" * 12))
    with open(store.path, "a") as handle:
        handle.write(line + "\n")
    store.append(record("c" * 12))
    before = store.path.read_bytes()
    with pytest.raises(FerBenchError, match=rf"^{store.path}, line 2: not a whole record, and not torn by a crash"):
        store.all()
    assert main(["leaderboard", "--results", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and f"{store.path}, line 2:" in err and "delete the line" in err
    assert store.path.read_bytes() == before and not (tmp_path / "LEADERBOARD.md").exists()


def _append_many(root, writer):
    store = RecordStore(root)
    for i in range(APPENDS_EACH):
        size = PAYLOAD_SIZES[(i + writer) % len(PAYLOAD_SIZES)]
        store.append(record(f"{writer}-{i}", payload=chr(ord("a") + writer) * size))


def test_concurrent_appenders_never_interleave_and_never_rewrite(tmp_path):
    store = RecordStore(tmp_path)
    store.append(record("first"))
    prefix = store.path.read_bytes()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(tmp_path, w)) for w in range(APPENDERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0] * APPENDERS

    content = store.path.read_bytes()
    assert content.startswith(prefix)  # earlier bytes untouched
    lines = content.decode().splitlines()
    assert len(lines) == 1 + APPENDERS * APPENDS_EACH
    written = [json.loads(line) for line in lines[1:]]  # every line whole
    assert sorted(r["run_id"] for r in written) == sorted(
        f"{w}-{i}" for w in range(APPENDERS) for i in range(APPENDS_EACH)
    )
    for line in written:
        writer, i = map(int, line["run_id"].split("-"))
        assert line["payload"] == chr(ord("a") + writer) * PAYLOAD_SIZES[(i + writer) % len(PAYLOAD_SIZES)]
    assert max(len(line) for line in lines) > 64 * 1024


def _die_mid_write(path, locked):
    """A writer that takes the records lock, writes half a line and is SIGKILLed holding it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b'{"run_id": "torn", "status": "o')
    locked.set()
    os.kill(os.getpid(), signal.SIGSTOP)  # the test kills it here, lock held


def test_an_appender_waiting_on_a_killed_writer_seals_its_torn_line(tmp_path, caplog):
    store = RecordStore(tmp_path)
    store.append(record("before"))
    context = multiprocessing.get_context("spawn")
    locked = context.Event()
    dying = context.Process(target=_die_mid_write, args=(store.path, locked))
    dying.start()
    assert locked.wait(60)
    waiting = context.Process(target=_append_many, args=(tmp_path, 0))
    waiting.start()  # blocks on the lock the dying writer holds
    waiting.join(timeout=1)
    assert waiting.exitcode is None
    os.kill(dying.pid, signal.SIGKILL)
    dying.join()
    waiting.join(timeout=120)
    assert waiting.exitcode == 0

    lines = store.path.read_text().splitlines()
    assert lines[1] == '{"run_id": "torn", "status": "o\x18'  # sealed, not glued to the next record
    assert [r.run_id for r in store.all()] == ["before"] + [f"0-{i}" for i in range(APPENDS_EACH)]
    assert "line 2: torn record skipped" in caplog.text
