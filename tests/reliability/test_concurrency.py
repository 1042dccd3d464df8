"""Processes sharing one results folder split the work through per-run claims: each run once, no record torn."""

import contextlib
import fcntl
import json
import re
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

from fer_bench.runs import claims
from fer_bench.runs.claims import claim, claim_path

from conftest import CHEAP_EXPERIMENT, GRID_RULE

SEEDS = 6  # grid cells: one cheap test model per seed
SECONDS = 2.0  # per cell: enough that a cell outlasts the other process's start-up, on a busy machine too
GRID = f'base = "cell"\n{GRID_RULE}seeds = {list(range(SEEDS))}\n[[product]]\nmodel.shrink = 0.0\n'


@pytest.fixture
def experiments(write_experiments, simulated_csv, monkeypatch):
    """An experiments folder with `cell` and the grid `pair`, on the simulated data."""
    monkeypatch.setenv("FER_BENCH_DATA", str(simulated_csv))
    cell = CHEAP_EXPERIMENT + f"epochs = 2\nseconds_per_epoch = {SECONDS / 2}\n"
    return write_experiments({"cell.toml": cell, "grids/pair.toml": GRID})


def start_together(commands):
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    return [err for _, err in outputs]


def every_line_whole(results):
    return [json.loads(line) for line in (results / "runs.jsonl").read_text().splitlines()]


def test_two_grid_processes_split_the_cells(experiments, tmp_path):
    """One process runs its cells in two pool workers, the other in itself: three runners, six cells."""
    results = tmp_path / "results"
    command = [sys.executable, "-m", "fer_bench", "grid", "pair", "--results", str(results)]
    errors = start_together([[*command, "--jobs", "2"], command])

    ran = [int(re.search(r"grid pair: (\d+) cells ran", err).group(1)) for err in errors]
    print(f"cells run per process (--jobs 2, --jobs 1): {ran}")
    assert sum(ran) == SEEDS and min(ran) >= 1  # each cell once, and both processes had work
    records = every_line_whole(results)
    assert len(records) == SEEDS and all(r["status"] == "ok" for r in records)
    assert len({r["run_id"] for r in records}) == SEEDS
    assert not list((results / "claims").iterdir())  # every claim let go


def test_two_run_processes_of_one_experiment_record_it_once(experiments, tmp_path):
    results = tmp_path / "results"
    command = [sys.executable, "-m", "fer_bench", "run", "cell", "--results", str(results)]
    errors = start_together([command, command])
    records = every_line_whole(results)
    assert len(records) == 1 and records[0]["status"] == "ok"
    assert sum("is already recorded" in err for err in errors) == 1


def test_a_claim_is_exclusive_and_let_go_when_its_holder_is_killed(tmp_path):
    with claim(tmp_path, "abc") as held:
        assert held
        with claim(tmp_path, "abc", wait=False) as again:  # another descriptor: as another process sees it
            assert not again
    assert not claim_path(tmp_path, "abc").exists()

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom fer_bench.runs.claims import claim\n"
            "with claim(sys.argv[1], 'abc'):\n    print('held', flush=True)\n    time.sleep(600)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    with claim(tmp_path, "abc", wait=False) as held:
        assert not held
    holder.kill()
    holder.wait()
    with claim(tmp_path, "abc", wait=False) as held:
        assert held  # SIGKILL released it; the file it left is reused


def test_a_claim_whose_file_is_removed_between_open_and_lock_is_not_held_twice(tmp_path, monkeypatch):
    """The race a holder's letting go opens: a claimant opens the file, the holder removes it, a third
    claimant makes and locks a new one at the path, and only then does the first lock the file it
    opened, which no one holds now. It must see that file is no longer the claim's and yield."""
    path, others = claim_path(tmp_path, "abc"), contextlib.ExitStack()
    held_by_another = []

    def flock(fd, operation):
        if not held_by_another:  # the first claimant, between its open and its lock
            held_by_another.append(None)
            path.unlink()
            held_by_another[0] = others.enter_context(claim(tmp_path, "abc", wait=False))
        fcntl.flock(fd, operation)

    monkeypatch.setattr(claims, "fcntl", SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB))
    with others, claim(tmp_path, "abc", wait=False) as held:
        assert held_by_another == [True] and not held


def test_a_waiting_claim_is_held_once_its_holder_lets_go(tmp_path):
    holder = contextlib.ExitStack()
    assert holder.enter_context(claim(tmp_path, "abc"))
    threading.Timer(0.3, holder.close).start()
    with claim(tmp_path, "abc") as held:  # waits (another descriptor: as another process sees it)
        assert held and claim_path(tmp_path, "abc").exists()


def test_a_claim_whose_file_is_removed_before_its_lock_holds_the_file_made_again(tmp_path, monkeypatch):
    """The holder removed the file as it let go and no one made a new one: the claimant makes it and
    holds that, so a later claimant finds it held."""
    path, removed = claim_path(tmp_path, "abc"), []

    def flock(fd, operation):
        if not removed:  # the holder lets go between this claimant's open and its lock
            path.unlink()
            removed.append(path)
        fcntl.flock(fd, operation)

    monkeypatch.setattr(claims, "fcntl", SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB))
    with claim(tmp_path, "abc", wait=False) as held:
        assert held and path.exists()
        with claim(tmp_path, "abc", wait=False) as again:
            assert not again
