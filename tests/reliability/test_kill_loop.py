"""SIGKILL `fer-bench run`, `grid` and `tune` at random moments, again and again; the next run completes,
every record is whole and unique, and the results equal those of a run never killed.

Each kill lands at a uniform random moment of the command's uncut duration in its current state: the
first measured once (from the same starting state, in a scratch folder), later ones the last attempt
that ran to its end before its kill came. An attempt that ends before its kill does not count: the
loop goes on until KILLS[command] kills have landed.

The commands run the cheap test parts (fer_bench.testing) on simulated data: the same harness
(data loading, chunked extraction in worker processes, fits reporting epochs, records, claims, the
cache, studies) without a framework's start-up, so the kills land in fer-bench's own work.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fer_bench.parts.cache import ArrayCache
from fer_bench.runs.records import SEAL, RecordStore

from conftest import GRID_RULE, SEARCH_RULE

pytestmark = pytest.mark.kill

KILLS = {"run": 7, "grid": 7, "tune": 6}  # landed kills per command: 20 in all
MAX_ATTEMPTS = 3  # per wanted kill, before the test gives up
SEED = 20261127
TRIALS = 6
GRID_CELLS = 4
HEARTBEAT_S = 1  # a killed trial goes stale after 3 heartbeats

BASE = """
[features]
name = "test-profile"
seconds_per_chunk = 0.1
[model]
name = "test-centroid"
seconds_per_epoch = 0.1
"""
CELL = '[features]\nname = "test-profile"\n[model]\nname = "test-centroid"\n'  # a cell's time: its report
GRID = 'base = "cell"\n' + GRID_RULE + "seeds = [0, 1]\n[[product]]\nmodel.shrink = [0.0, 0.5]\n"
SEARCH = f'base = "cell"\n{SEARCH_RULE}sampler_seed = 0\ntrials = {TRIALS}\n[space.model]\nshrink = true\n'


@pytest.fixture
def experiments(write_experiments, monkeypatch, simulated_csv):
    monkeypatch.setenv("FER_BENCH_HEARTBEAT_S", str(HEARTBEAT_S))
    monkeypatch.setenv("FER_BENCH_DATA", str(simulated_csv))
    return write_experiments(
        {"base.toml": BASE, "cell.toml": CELL, "grids/loop.toml": GRID, "searches/loop.toml": SEARCH}
    )


def live_members(group):
    """Processes (zombies apart) still in process group `group`."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, process_group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # gone while we looked
        if int(process_group) == group and state not in "ZX":
            live.append(int(stat.parent.name))
    return live


def run_uncut(command, timeout=600):
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return time.monotonic() - started, finished.stderr


def kill_loop(command, kills, duration, rng):
    """Start `command` in its own process group and SIGKILL the group at a random moment, until `kills`
    kills have landed. Returns (kills landed, attempts that ran to their end first)."""
    landed = ended = 0
    while landed < kills:
        assert landed + ended < MAX_ATTEMPTS * kills, f"only {landed} kills landed in {landed + ended} attempts"
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        started = time.monotonic()
        try:
            process.wait(timeout=rng.uniform(0, duration))
            duration = time.monotonic() - started  # ended before its kill: the command is this quick now
            ended += 1
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the leader is at worst a zombie: the group is there
            process.wait()
            landed += 1
        deadline = time.monotonic() + 10
        while live_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not live_members(process.pid), "a killed command left processes running"
    return landed, ended


def check_records(results, final_stderr):
    """Every line of runs.jsonl is a whole record, or a torn one that readers report and skip."""
    store = RecordStore(results)
    lines = store.path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # sealed
    whole, torn = 0, 0
    for number, line in enumerate(lines[:-1], start=1):
        try:
            json.loads(line.removesuffix(SEAL))  # a whole line, sealed as torn though it was not
            whole += 1
        except ValueError:
            torn += 1
            assert f"line {number}: torn record skipped" in final_stderr
    records = store.all()
    assert len(records) == whole
    ok = [r.run_id for r in records if r.ok]
    assert len(ok) == len(set(ok))  # no run recorded twice
    return records, torn


def check_cache(root):
    """Every entry checks out and loads; temporary files of killed writers are never entries."""
    cache = ArrayCache(root)
    entries = cache.entries()
    assert entries and all(e.problem is None for e in entries), [(e.key, e.problem) for e in entries]
    assert all(cache.load(e.key) is not None for e in entries)
    return len(list(Path(root).rglob("*.tmp")))


def predictions(records):
    return {r.run_id: r.predictions for r in records if r.ok}


def report(command, duration, landed, ended, torn, leftovers):
    print(
        f"\n{command}: uncut {duration:.1f} s; {landed} kills survived ({ended} attempts ended first); "
        f"{torn} torn record lines reported; {leftovers} temporary files of killed writers left unused"
    )


def test_run_survives_kills(experiments, tmp_path):
    """From a cold cache, so kills land in the extraction's chunk and entry writes as well as in the fit."""
    command = [sys.executable, "-m", "fer_bench", "run", "base"]
    duration, _ = run_uncut([*command, "--results", str(tmp_path / "uncut"), "--cache", str(tmp_path / "uncut-cache")])
    command += ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache")]
    landed, ended = kill_loop(command, KILLS["run"], duration, random.Random(SEED))

    _, stderr = run_uncut(command)
    records, torn = check_records(tmp_path / "results", stderr)
    assert [r.status for r in records] == ["ok"]
    assert predictions(records) == predictions(RecordStore(tmp_path / "uncut").all())
    report("run", duration, landed, ended, torn, check_cache(tmp_path / "cache"))


def test_grid_survives_kills(experiments, tmp_path):
    command = [sys.executable, "-m", "fer_bench", "grid", "loop"]
    duration, _ = run_uncut([*command, "--results", str(tmp_path / "uncut"), "--cache", str(tmp_path / "cache")])
    command += ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache")]
    landed, ended = kill_loop(command, KILLS["grid"], duration, random.Random(SEED + 1))

    _, stderr = run_uncut(command)
    records, torn = check_records(tmp_path / "results", stderr)
    assert len(predictions(records)) == GRID_CELLS
    assert predictions(records) == predictions(RecordStore(tmp_path / "uncut").all())
    assert (tmp_path / "results" / "grids" / "loop.md").is_file()
    report("grid", duration, landed, ended, torn, check_cache(tmp_path / "cache"))


def test_tune_survives_kills(experiments, tmp_path, simulated_csv):
    from fer_bench.data import load_dataset
    from fer_bench.specs.search import load_search
    from fer_bench.sweeps.tuning import best_experiment, open_study

    command = [sys.executable, "-m", "fer_bench", "tune", "loop"]
    duration, _ = run_uncut([*command, "--results", str(tmp_path / "uncut"), "--cache", str(tmp_path / "cache")])
    results = tmp_path / "results"
    command += ["--results", str(results), "--cache", str(tmp_path / "cache")]
    landed, ended = kill_loop(command, KILLS["tune"], duration, random.Random(SEED + 2))

    time.sleep(3 * HEARTBEAT_S + 0.5)  # the last killed trial's heartbeat goes stale
    _, stderr = run_uncut(command)
    records, torn = check_records(results, stderr)
    search = load_search("loop")
    study = open_study(search, f"sqlite:///{results / 'searches' / 'loop.db'}")
    # The budget is of complete and pruned trials: a trial queued again after a kill shifts the later
    # trials' numbers, so their sampled parameters, so whether the median pruner stops one.
    states = [(t.number, t.state.name, t.user_attrs) for t in study.trials]
    # A text, not a tuple: pytest shortens the repr of any other message to a line, hiding the states.
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == TRIALS, f"{states}\n{stderr[-3000:]}"
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    best_run = best_experiment(search, study)[1].spec(load_dataset(simulated_csv).fingerprint).run_id
    assert [r.run_id for r in records if r.ok].count(best_run) == 1
    assert re.search(rf"best #{study.best_trial.number} ", stderr)
    report("tune", duration, landed, ended, torn, check_cache(tmp_path / "cache"))
