"""Run records: one JSON object per line in `<results>/runs.jsonl`, appended and never rewritten.

An append is one write of the whole line and an fsync, made under an exclusive flock on the file;
readers take a shared one, so no reader sees a write in progress and no two appenders interleave.
A writer killed mid-write leaves a torn last line: readers report and skip it, and the next
appender seals it with a newline before writing, so a record is there whole or not at all.
"""

import fcntl
import json
import os
import sys
from pathlib import Path

from fer_bench.errors import FerBenchError

RECORDS_FILE = "runs.jsonl"
_reported_torn = set()  # (path, line number): each torn line is reported once per process


def default_results_dir() -> Path:
    return Path(os.environ.get("FER_BENCH_RESULTS", "results"))


class RecordStore:
    def __init__(self, root=None):
        self.root = Path(root) if root else default_results_dir()
        self.path = self.root / RECORDS_FILE

    def check_writable(self):
        """Fail early, before any work, if records cannot be written here."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as error:
            raise FerBenchError(f"results directory {self.root} is not writable ({error.strerror})") from None

    def append(self, record: dict):
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise FerBenchError(f"cannot write run records to {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes, or when this process dies
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # seal a torn last line left by a killed writer
            while line:
                line = line[os.write(fd, line) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def all(self):
        """Every intact record, oldest first; a torn or unreadable line is reported (once) and skipped."""
        try:
            with open(self.path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                content = handle.read()
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(content.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                records.append(record)
            elif (self.path, number) not in _reported_torn:
                _reported_torn.add((self.path, number))
                print(f"fer-bench: {self.path}, line {number}: torn record skipped", file=sys.stderr)
        return records

    def find(self, name_or_id):
        """Records whose run id starts with (6+ characters), or whose experiment equals, `name_or_id`; oldest first."""
        return [
            r
            for r in self.all()
            if r.get("experiment") == name_or_id
            or (len(name_or_id) >= 6 and r.get("run_id", "").startswith(name_or_id))
        ]
