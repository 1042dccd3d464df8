"""Claims on runs: a process runs a spec only while it holds `<results>/claims/<run_id>.lock` (an flock).

The kernel drops an flock when its holder exits, SIGKILL included, so a claim never outlives its
process and there is no stale claim to clear. The holder removes the file before it lets go; a
process that then finds it locked a file no longer at that path locks the new one instead, so two
processes never hold the same claim.
"""

import fcntl
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from fer_bench.runs import layout

log = logging.getLogger("fer_bench")


def claim_path(results_root, run_id) -> Path:
    return Path(results_root) / layout.CLAIMS / f"{run_id}.lock"


@contextmanager
def claim(results_root, run_id, wait=True):
    """Hold the claim on `run_id` for the block: yields True, or False at once if another process
    holds it and `wait` is off."""
    path = claim_path(results_root, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock(path, blocking=False)
    if fd is None and wait:
        log.info(f"run {run_id} is running in another process; waiting for it")
        fd = _lock(path, blocking=True)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _lock(path, blocking):
    """An open descriptor holding the lock on the file now at `path`, or None if it is held elsewhere."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _still_at(path, fd):
            return fd
        os.close(fd)  # the holder removed this file as it let go: lock the one at the path now


def _still_at(path, fd):
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
