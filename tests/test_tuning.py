"""Optuna searches: files, sealed test splits, shared studies (SQLite, PostgreSQL), resumption, report."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fer_bench.cli import main
from fer_bench.data.copies import GROUPING
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.models.sklearn_baselines import LogReg
from fer_bench.runs.records import RecordStore
from fer_bench.specs.search import feature_variants, load_search
from fer_bench.sweeps import tuning
from fer_bench.sweeps.tuning import TrainingRows, open_study, work
from fer_bench.testing import CheapCentroid

from conftest import CHEAP_EXPERIMENT, SEARCH_RULE

BASE = '[features]\nname = "embedding"\n[model]\nname = "logreg"\n'
SEARCH = """
description = "logreg C on the fixture"
base = "base-logreg"
sampler_seed = 3
choose = {split = "holdout", metric = "accuracy"}
trials = 4
[space.model]
C = {low = 0.01, high = 10.0}
[space.features]
protocol = true
"""
CHEAP_SEARCH = """
description = "the cheap test model's shrinkage and metric on simulated data"
base = "cheap"
sampler_seed = 3
trials = 4
choose = {split = "holdout", metric = "accuracy_all"}
[space.model]
shrink = true
metric = true
"""


@pytest.fixture
def experiments(write_experiments):
    return write_experiments(
        {
            "base-logreg.toml": BASE,
            "searches/tiny.toml": SEARCH,
            "cheap.toml": CHEAP_EXPERIMENT,
            "searches/cheap.toml": CHEAP_SEARCH,
        }
    )


@pytest.mark.parametrize(
    "space, message",
    [
        ("[space.model]\nmax_iter = true\n", "does not declare it tunable (tunable: C)"),
        ("[space.model]\nC = {low = 0.0001, high = 5.0}\n", "range must lie within [0.001, 100.0]"),
        ("[space.model]\nC = 3\n", "use true, {low = .., high = ..}"),
        ('[space.resampler]\nname = {choices = ["smote", "nope"]}\n', "unknown resampler 'nope'"),
        ("", "needs a [space.<kind>] table"),
    ],
)
def test_bad_search_files_name_the_file_and_the_problem(experiments, space, message):
    (experiments / "searches" / "bad.toml").write_text(f'base = "base-logreg"\n{SEARCH_RULE}{space}')
    with pytest.raises(FerBenchError, match="bad.toml") as error:
        load_search("bad")
    assert message in str(error.value)


class SpyModel(CheapCentroid):
    """Stands in for model/logreg and records every array a trial hands to a model."""

    seen = []
    parameters = {**CheapCentroid.parameters, **LogReg.parameters}

    def fit(self, data):
        SpyModel.seen += [data.X.copy(), data.validation[0].copy()]
        return super().fit(data)

    def predict_proba(self, X):
        SpyModel.seen.append(X.copy())
        return super().predict_proba(X)


def test_the_objective_only_ever_sees_training_rows(experiments, mini_dataset, mini_embeddings, tmp_path, monkeypatch):
    cache, stored = mini_embeddings
    search = load_search("tiny")
    rows = TrainingRows(mini_dataset, ArrayCache(cache.root), feature_variants(search))
    n_train = len(mini_dataset.indices("Training"))
    reachable = [v for value in vars(rows).values() for v in (value.values() if isinstance(value, dict) else [value])]
    arrays = [a for v in reachable for a in (v if isinstance(v, tuple) else (v,)) if isinstance(a, np.ndarray)]
    assert arrays and all(len(a) == n_train for a in arrays)  # nothing of the test splits is held
    assert not any(type(v).__name__ == "Dataset" for v in reachable)

    SpyModel.seen = []
    with registry.temporary("model", "logreg", SpyModel):
        work(search, f"sqlite:///{tmp_path / 'study.db'}", 3, rows)
    training = {row.tobytes() for row in stored["embeddings"][mini_dataset.indices("Training")].astype(np.float32)}
    tests = {
        row.tobytes()
        for s in ("PublicTest", "PrivateTest")
        for row in stored["embeddings"][mini_dataset.indices(s)].astype(np.float32)
    }
    tests -= training  # FER2013 repeats some images across splits (one in this fixture)
    seen = [row.tobytes() for X in SpyModel.seen for row in X]
    assert seen and set(seen) <= training and not set(seen) & tests


def test_tune_shares_one_study_between_workers_resumes_and_records_the_best(
    experiments, tmp_path, capfd, simulated_csv, monkeypatch
):
    results = tmp_path / "results"
    data = ["--data", str(simulated_csv), "--results", str(results)]
    assert main(["tune", "cheap", "--workers", "2", *data]) == 0
    study = open_study(load_search("cheap"), f"sqlite:///{results / 'searches' / 'cheap.db'}")
    counted = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 4 and len({t.number for t in counted}) == 4
    assert len({t.user_attrs["worker"] for t in counted}) == 2  # both workers ran trials
    assert {t.user_attrs["splits"] for t in counted} == {GROUPING}  # the search report tells them from older trials
    assert capfd.readouterr().err.count("on validation (model.shrink=") == 4  # worker processes report their trials

    record = RecordStore(results).find("cheap")[-1]
    assert record.search["n_trials"] == 4 and record.search["best_trial"] in {t.number for t in counted}
    assert record.spec.model.params["shrink"] == pytest.approx(record.search["best_params"]["model.shrink"])
    report = (results / "searches" / "cheap.md").read_text()
    assert "## Best trial" in report and "never seen by any trial" in report
    assert (results / "searches" / "cheap" / "history.png").is_file()
    assert (results / "searches" / "cheap" / "importance.png").is_file()

    assert main(["tune", "cheap", "--trials", "6", *data]) == 0  # continues the same study
    assert "4 of 6 trials" in capfd.readouterr().err
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == 6
    assert RecordStore(results).find("cheap")[-1].search["n_trials"] in (4, 6)  # 4: the same best, recorded before

    (results / "searches" / "cheap.md").unlink()  # a full study: its report written again, nothing extracted
    with monkeypatch.context() as patched:
        patched.setattr(tuning, "TrainingRows", lambda *a: pytest.fail("a full study extracted its features"))
        assert main(["tune", "cheap", "--trials", "6", *data]) == 0
    assert "## Best trial" in (results / "searches" / "cheap.md").read_text()


def test_an_unreachable_storage_is_one_clear_line(experiments, tmp_path, capsys):
    url = "postgresql://nobody:secret@127.0.0.1:9/none"
    assert main(["tune", "tiny", "--storage", url, "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert "storage postgresql://nobody:***@127.0.0.1:9/none cannot be opened" in err and "secret" not in err
    assert len(err.strip().splitlines()) == 1


POSTGRES = os.environ.get("FER_BENCH_TEST_POSTGRES")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_tune_processes_share_one_study(experiments, tmp_path, backend, simulated_csv):
    if backend == "postgresql" and not POSTGRES:
        pytest.skip("set FER_BENCH_TEST_POSTGRES to a PostgreSQL URL (.ci/run starts a server)")
    storage = POSTGRES if backend == "postgresql" else f"sqlite:///{tmp_path / 'shared.db'}"
    name = f"shared-{backend}-{os.getpid()}"  # a fresh study in a server that outlives the test
    (experiments / "searches" / f"{name}.toml").write_text(CHEAP_SEARCH.replace("trials = 4", "trials = 8"))
    command = [sys.executable, "-m", "fer_bench", "tune", name, "--storage", storage, "--data", str(simulated_csv)]
    workers = [
        subprocess.Popen([*command, "--results", str(tmp_path / f"r{i}")], stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=600)[1] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    study = open_study(load_search(name), storage)
    counted = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 8 and len({t.number for t in counted}) == 8  # the requested total, each trial once
    assert len({t.user_attrs["worker"] for t in counted}) == 2  # both processes ran trials
    assert not [t for t in study.trials if t.state.name == "RUNNING"]  # the study finished
    assert len({tuple(sorted(t.params.items())) for t in counted}) == 8  # no trial sampled twice


def test_a_keras_trial_reports_each_epoch_and_can_be_pruned(experiments, mini_dataset, mini_embeddings):
    import optuna

    from fer_bench.sweeps.tuning import objective_for

    (experiments / "base-mlp.toml").write_text(
        '[features]\nname = "embedding"\nprotocol = "full"\n[model]\nname = "mlp"\nepochs = 30\n'
    )
    (experiments / "searches" / "mlp.toml").write_text(f'base = "base-mlp"\n{SEARCH_RULE}[space.model]\nwidth = true\n')
    search = load_search("mlp")
    cache, _ = mini_embeddings
    rows = TrainingRows(mini_dataset, ArrayCache(cache.root), feature_variants(search))

    class PruneAtThirdEpoch(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return len(trial.intermediate_values) >= 3

    study = optuna.create_study(direction="maximize", pruner=PruneAtThirdEpoch())
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        objective_for(search, rows)(trial)
    assert sorted(study.trials[0].intermediate_values) == [0, 1, 2]


def test_a_worker_killed_mid_trial_leaves_the_study_usable(experiments, tmp_path, monkeypatch, simulated_csv):
    import signal
    import time

    (experiments / "slow.toml").write_text(CHEAP_EXPERIMENT + "epochs = 400\nseconds_per_epoch = 0.1\n")
    search = f'base = "slow"\n{SEARCH_RULE}trials = 2\n[space.model]\nshrink = true\n'
    (experiments / "searches" / "slow.toml").write_text(search)
    monkeypatch.setenv("FER_BENCH_HEARTBEAT_S", "1")
    results = tmp_path / "results"
    storage = f"sqlite:///{results / 'searches' / 'slow.db'}"
    command = [
        sys.executable,
        "-m",
        "fer_bench",
        "tune",
        "slow",
        "--results",
        str(results),
        "--data",
        str(simulated_csv),
    ]
    worker = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if (results / "searches" / "slow.db").exists():
            study = open_study(load_search("slow"), storage)
            if any(t.state.name == "RUNNING" for t in study.trials):
                break
    time.sleep(2)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    study = open_study(load_search("slow"), storage)
    assert [t.state.name for t in study.trials] == ["RUNNING"]  # killed mid-trial

    time.sleep(4)  # the dead worker's heartbeat goes stale (3 s grace)
    (experiments / "slow.toml").write_text(CHEAP_EXPERIMENT)
    assert main(["tune", "slow", "--results", str(results), "--data", str(simulated_csv)]) == 0
    states = [t.state.name for t in open_study(load_search("slow"), storage).trials]
    assert states[0] == "FAIL" and states.count("COMPLETE") == 2  # the stale trial failed, the study finished


def test_a_dead_workers_trial_in_the_last_place_of_the_budget_is_run_again(
    experiments, tmp_path, monkeypatch, simulated_csv
):
    """A study whose trials are all counted, the last one running in a worker that died, counted as
    full: `tune` skipped the trials and evaluated the best of the others (the kill loop's 5 of 6)."""
    import time

    from fer_bench.sweeps import studies

    (experiments / "searches" / "one.toml").write_text(
        f'base = "cheap"\n{SEARCH_RULE}trials = 1\n[space.model]\nshrink = true\n'
    )
    monkeypatch.setenv("FER_BENCH_HEARTBEAT_S", "1")
    results = tmp_path / "results"
    storage = f"sqlite:///{results / 'searches' / 'one.db'}"
    (results / "searches").mkdir(parents=True)
    studies.ask(open_study(load_search("one"), storage))  # its worker dies before it ends: no more beats
    time.sleep(4.5)  # stale after 3 missed beats, as SQLite's heartbeat times, in whole seconds, tell
    assert main(["tune", "one", "--results", str(results), "--data", str(simulated_csv)]) == 0
    states = [t.state.name for t in open_study(load_search("one"), storage).trials]
    assert states == ["FAIL", "COMPLETE"]  # failed, queued again and run


def test_one_worker_with_the_same_seed_gives_the_same_trials(experiments, tmp_path):
    from fer_bench.testing import simulated_dataset

    search = load_search("cheap")
    rows = TrainingRows(simulated_dataset(), ArrayCache(tmp_path / "cache"), feature_variants(search))
    sequences = []
    for attempt in range(2):
        storage = f"sqlite:///{tmp_path / f'study{attempt}.db'}"
        work(search, storage, 3, rows)
        sequences.append([t.params for t in open_study(search, storage).trials])
    assert sequences[0] == sequences[1] and len(sequences[0]) == 3


def test_a_conditional_parameter_is_tuned_only_where_it_applies(experiments):
    import optuna

    from fer_bench.sweeps.tuning import suggest

    (experiments / "base-svm.toml").write_text('[features]\nname = "embedding"\n[model]\nname = "svm"\n')
    (experiments / "searches" / "kernels.toml").write_text(
        f'base = "base-svm"\n{SEARCH_RULE}[space.model]\nkernel = true\ngamma = true\n'
        "C = {low = 1.0, high = 10.0, log = true}\n"
    )
    search = load_search("kernels")
    assert search.space[("model", "gamma")]["when"] == {"kernel": ["rbf", "poly"]}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(12):
        trial = study.ask()
        experiment, _ = suggest(trial, search)
        kernel = experiment.model.params["kernel"]
        assert ("model.gamma" in trial.params) == (kernel != "linear")
        assert 1.0 <= experiment.model.params["C"] <= 10.0
        study.tell(trial, 0.5)


def test_a_search_whose_worker_is_replaced_every_trial_runs_each_trial_once(
    experiments, tmp_path, monkeypatch, simulated_csv
):
    monkeypatch.setattr(tuning, "TRIALS_PER_WORKER", 1)  # a new worker process for every trial
    results = tmp_path / "results"
    assert main(["tune", "cheap", "--trials", "3", "--data", str(simulated_csv), "--results", str(results)]) == 0
    study = open_study(load_search("cheap"), f"sqlite:///{results / 'searches' / 'cheap.db'}")
    assert sorted(t.number for t in study.trials) == [0, 1, 2]  # none run twice, none left over
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}  # none lost
    assert len({t.user_attrs["worker"] for t in study.trials}) == 3
    assert RecordStore(results).find("cheap")[-1].search["n_trials"] == 3
