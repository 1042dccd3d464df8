"""Run records: one JSON object per line in `<results>/runs.jsonl`, appended and never rewritten."""

import json
import os
import sys
from pathlib import Path

from fer_bench.errors import FerBenchError

RECORDS_FILE = "runs.jsonl"


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
        """Append one record with a single write + fsync, so it lands whole or (on a crash) torn."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise FerBenchError(f"cannot write run records to {self.path}: {error.strerror}") from None
        try:
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = "\n" + line  # seal a torn last line left by a crash
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self):
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def all(self):
        """Every intact record, oldest first; a torn or unreadable line is reported and skipped."""
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
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
