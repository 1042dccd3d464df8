"""The Optuna adapter (fer_bench/sweeps/studies.py), the only user of Optuna's private API, against the
installed Optuna: each private piece it relies on still does what fer-bench needs."""

import subprocess
import sys
import time

import optuna

from fer_bench.sweeps import studies


def test_the_installed_optuna_is_the_major_version_the_adapter_was_checked_with():
    assert int(optuna.__version__.split(".")[0]) == studies.TESTED_MAJOR


def test_a_trial_asked_gets_a_heartbeat_at_once_and_goes_stale_when_its_worker_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_BENCH_HEARTBEAT_S", "1")
    study = studies.search_study("s", f"sqlite:///{tmp_path / 'study.db'}", sampler_seed=0)
    trial = studies.ask(study, sampler_seed=5)
    other = studies.search_study("t", f"sqlite:///{tmp_path / 'other.db'}", sampler_seed=0)
    assert trial.suggest_float("x", 0, 1) == studies.ask(other, sampler_seed=5).suggest_float("x", 0, 1)  # seeded
    with studies.heartbeat(study, trial):  # beats while the block runs
        time.sleep(1.5)
    assert [t.state for t in studies.counted(study)] == [optuna.trial.TrialState.RUNNING]
    time.sleep(3.5)  # no beat for 3 intervals: stale
    studies.fail_stale(study)
    states = [t.state.name for t in studies.trials(study)]
    assert states == ["FAIL", "WAITING"]  # failed, and queued again for another worker
    assert studies.counted(study) == []  # neither uses up the budget


def test_a_trial_whose_worker_died_before_its_first_heartbeat_goes_stale_too(tmp_path, monkeypatch):
    """Killed between `ask` creating the trial and recording its first heartbeat (the kill loop found
    it): Optuna alone would count that trial as running for ever."""
    monkeypatch.setenv("FER_BENCH_HEARTBEAT_S", "1")
    study = studies.search_study("s", f"sqlite:///{tmp_path / 'study.db'}", sampler_seed=0)
    study.ask()  # created running; the worker dies before its first beat
    studies.fail_stale(study)
    assert [t.state.name for t in studies.trials(study)] == ["RUNNING"]  # within the grace period: left alone
    time.sleep(3.5)
    studies.fail_stale(study)
    assert [t.state.name for t in studies.trials(study)] == ["FAIL", "WAITING"]  # failed, and queued again
    assert studies.counted(study) == []


def test_an_enqueued_trial_is_told_apart_from_a_fresh_one(tmp_path):
    study = studies.create_or_load("g", f"sqlite:///{tmp_path / 'grid.db'}")
    study.enqueue_trial({"cell": 3})
    queued, fresh = studies.ask(study), studies.ask(study)
    assert studies.was_enqueued(study, queued) and queued.suggest_int("cell", 0, 9) == 3
    assert not studies.was_enqueued(study, fresh)


def test_a_failed_trial_with_an_error_uses_up_the_budget(tmp_path):
    study = studies.search_study("s", f"sqlite:///{tmp_path / 'study.db'}", sampler_seed=0)
    trial = studies.ask(study)
    trial.set_user_attr("error", "ValueError: no")
    studies.fail(study, trial)
    assert len(studies.counted(study)) == 1 and studies.best_complete(study) is None


CLAIMER = """
import sys, time
from fer_bench.sweeps import studies
study = studies.create_or_load("queue", sys.argv[1])
while time.time() < float(sys.argv[2]):  # all claimers start together
    time.sleep(0.001)
claimed = []
while studies.trials(study, studies.TrialState.WAITING):
    trial = studies.ask(study)
    if not studies.was_enqueued(study, trial):
        studies.fail(study, trial)
        break
    claimed.append(trial.number)
print(*claimed)
"""


def test_workers_sharing_a_sqlite_queue_never_claim_the_same_trial(tmp_path):
    # Without BEGIN IMMEDIATE, 4 claimers took 60 queued trials 65-67 times.
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    study = studies.create_or_load("queue", url)
    for cell in range(60):
        study.enqueue_trial({"cell": cell})
    start = str(time.time() + 3)
    claimers = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, url, start], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    claimed = [int(n) for c in claimers for n in c.communicate(timeout=120)[0].split()]
    assert all(c.returncode == 0 for c in claimers)
    assert sorted(claimed) == list(range(60))


def test_of_a_cell_queued_twice_only_the_earlier_copy_is_live(tmp_path):
    study = studies.create_or_load("g", f"sqlite:///{tmp_path / 'grid.db'}")
    for cell in (1, 2, 1):
        study.enqueue_trial({"cell": cell})
    assert [studies.first_live_trial(study, "cell", c) for c in (1, 2, 5)] == [0, 1, None]
    first = studies.ask(study)
    first.suggest_int("cell", 0, 9)
    studies.fail(study, first)  # its worker died: the later copy becomes the live one
    assert studies.first_live_trial(study, "cell", 1) == 2
