"""Optuna searches, run: trials tuned on Training only, shared by workers, then one recorded run.

PublicTest and PrivateTest are sealed: the objective is built from the Training rows' features and
labels alone (`TrainingRows`); the test splits are only ever seen by the final, ordinary run.
Search files are parsed in fer_bench/specs/search.py; Optuna is reached through fer_bench/sweeps/studies.py.
"""

import itertools
import logging
import multiprocessing
import os
import socket
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fer_bench.data.copies import GROUPING, copy_groups, grouped_folds, grouped_holdout
from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import Part
from fer_bench.runs import fitting, layout
from fer_bench.runs.records import SearchSummary
from fer_bench.specs.choice import HOLDOUT
from fer_bench.specs.experiment import Experiment, PartSpec
from fer_bench.specs.search import Search, applies
from fer_bench.sweeps import studies
from fer_bench.sweeps.workers import console_level, quiet_worker

log = logging.getLogger("fer_bench")


class TrainingRows:
    """The only data an objective gets: the Training rows' features and labels, as arrays.

    Every features variant the search can ask for is extracted up front (from the cache) and cut
    to the Training rows here; no reference to the data set is kept, so nothing an objective does
    can reach PublicTest or PrivateTest. `groups` are the rows' groups of copies, which every split
    of a trial keeps together (fer_bench/data/copies.py).
    """

    def __init__(self, dataset, cache, variants):
        train = dataset.labelled(dataset.indices(TRAIN_SPLIT))
        self.labels = dataset.labels[train]
        self.groups = copy_groups(dataset)[train]
        self.targets = None if dataset.targets is None else dataset.targets[train]  # soft labels, to train on
        self.classes = dataset.classes
        self._features = {}
        for spec in variants:
            feature_set = spec.create("features").extract(dataset, cache=cache)
            self._features[_key(spec)] = (feature_set.X[train], feature_set.covered[train])

    def features(self, spec: PartSpec):
        return self._features[_key(spec)]


def _key(spec):
    return spec.name, tuple(sorted(spec.params.items()))


def suggest(trial, search: Search) -> tuple[Experiment, dict[str, Part]]:
    """The base experiment with the trial's values, and its parts ({kind: part}) as building its
    part specs made them (unused); a part whose name changes starts from its defaults."""
    chosen: dict[str, dict[str, Any]] = {kind: {} for kind in registry.KINDS}
    for (kind, param), spec in search.space.items():
        if not applies(spec, {**search.base.part(kind).params, **chosen[kind]}):
            continue
        label = f"{kind}.{param}"
        if "choices" in spec:
            value = trial.suggest_categorical(label, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            value = trial.suggest_int(label, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            value = trial.suggest_float(label, float(spec["low"]), float(spec["high"]), log=spec.get("log", False))
        chosen[kind][param] = value
    parts = {kind: search.base.part(kind).build_with(kind, chosen[kind], lenient=True) for kind in registry.KINDS}
    specs = {kind: PartSpec.describing(part) for kind, part in parts.items()}
    description = search.description or search.base.description
    # mypy cannot tell that `specs` holds the part fields only
    experiment = replace(search.base, name=search.name, description=description, **specs)  # type: ignore[arg-type]
    return experiment, parts


def validation_score(
    experiment: Experiment, rows: TrainingRows, search: Search, seed, report=None, parts: dict[str, Part] | None = None
):
    """Mean validation metric of `experiment` over the hold-out or the k folds of Training, each
    group of copies on one side. `parts` are its parts as Experiment.setup takes them, where the
    caller has built them: the first split fits them, each other split parts of its own."""
    setup = experiment.setup(parts)
    problem = setup.problem()
    if problem:
        raise FerBenchError(problem)
    X, covered = rows.features(experiment.features)
    y = rows.labels
    if search.rule.split == HOLDOUT:
        splits = [grouped_holdout(y, rows.groups, search.holdout, seed)]
    else:
        fold = grouped_folds(y, rows.groups, search.folds, seed)
        splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(search.folds)]
    scores = []
    setups = itertools.chain([setup], (experiment.setup() for _ in splits[1:]))
    for (fit, held), setup in zip(splits, setups):
        fit = fit[covered[fit]]
        targets = y if rows.targets is None else rows.targets
        fitting.fit(
            setup.model,
            setup.resampler,
            X[fit],
            targets[fit],
            seed,
            rows.classes,
            on_epoch=report,
            groups=rows.groups[fit],
        )
        evaluated = held[covered[held]]
        hits = (setup.model.predict_proba(X[evaluated]).argmax(axis=1) == y[evaluated]).sum() if len(evaluated) else 0
        denominator = len(held) if search.metric == "accuracy_all" else max(len(evaluated), 1)
        scores.append(hits / denominator)
    return float(np.mean(scores))


def objective_for(search: Search, rows: TrainingRows):
    def objective(trial):
        experiment, parts = suggest(trial, search)

        def report(epoch, logs):
            if "val_accuracy" in (logs or {}):
                trial.report(float(logs["val_accuracy"]), epoch)
                if trial.should_prune():
                    raise studies.Pruned(f"pruned at epoch {epoch + 1}")

        return validation_score(experiment, rows, search, search.base.seed, report, parts)

    return objective


def default_storage(results_root: Path, search: Search) -> str:
    path = results_root / layout.SEARCHES / f"{search.name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_study(search: Search, storage_url: str):
    """The search's study in `storage_url`."""
    return studies.search_study(search.name, storage_url, search.sampler_seed)


def work(search: Search, storage_url: str, n_trials: int, rows: TrainingRows, max_trials=None):
    """Run trials until the study holds `n_trials` complete, pruned or running ones, or this call
    has run `max_trials`; returns how many it ran.

    Trial numbers come from the storage, so two workers never run the same trial; a worker that
    finds the budget taken by the time its trial is created marks that trial `surplus` (failed,
    never run) rather than overshoot. Each trial samples with the search's seed plus its number, so
    workers (here or on other machines) never sample alike and one worker repeats itself. A running
    trial sends heartbeats; one whose worker died is failed once its heartbeat is stale and queued
    again (at most twice).
    """
    study = open_study(search, storage_url)
    objective = objective_for(search, rows)
    ran = 0
    while max_trials is None or ran < max_trials:
        studies.fail_stale(study)
        if len(studies.counted(study)) >= n_trials:
            break
        trial = studies.ask(study, search.sampler_seed)
        ahead = [t for t in studies.counted(study) if t.number < trial.number]
        if len(ahead) >= n_trials:
            trial.set_user_attr("surplus", True)
            studies.fail(study, trial)
            break
        try:
            with studies.heartbeat(study, trial):
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
                trial.set_user_attr("splits", GROUPING)  # a study resumed from before grouping mixes both
                value = objective(trial)
        except studies.Pruned:
            studies.prune(study, trial)
            log.info(f"trial {trial.number} pruned")
        except Exception as error:  # noqa: BLE001 - a failing trial is recorded as failed; the study goes on
            trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            studies.fail(study, trial)
            log.info(f"trial {trial.number} failed: {type(error).__name__}: {error}")
        else:
            studies.complete(study, trial, value)
            log.info(f"trial {trial.number}: {search.metric} {100 * value:.2f}% on validation ({_params_text(trial)})")
        ran += 1
    return ran


def _params_text(trial):
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())


# Trials run in worker processes replaced after this many trials each: TensorFlow keeps every program
# a fit compiles for the life of its process (~45 MB a paper-MLP trial), so a worker that ran a whole
# search would grow with its length. A worker stops between trials, so replacing it loses none and
# repeats none. One worker with no more trials than this to run runs them in this process.
TRIALS_PER_WORKER = 10


def run_workers(search, storage_url, n_trials, rows: TrainingRows, workers):
    """`workers` processes on this machine share the study, as `fer-bench tune` on other machines can;
    returns how many trials they ran."""
    remaining = n_trials - len(studies.counted(open_study(search, storage_url)))
    if workers <= 1 and remaining <= TRIALS_PER_WORKER:
        return work(search, storage_url, n_trials, rows)
    context = multiprocessing.get_context("spawn")
    show = console_level(logging.INFO)  # each trial's outcome is the progress a tune shows
    arguments = [(search, storage_url, n_trials, rows, TRIALS_PER_WORKER)] * workers
    ran = 0
    while True:  # a new pool of workers until one of them stops short: the study holds its trials
        with ProcessPoolExecutor(workers, mp_context=context, initializer=quiet_worker, initargs=(show,)) as pool:
            counts = list(pool.map(work, *zip(*arguments)))
        ran += sum(counts)
        if min(counts) < TRIALS_PER_WORKER:
            return ran


def best_experiment(search, study):
    """(the best complete trial, its experiment, its parts as checking it built them: unused, for its run)."""
    best = studies.best_complete(study)
    if best is None:
        raise FerBenchError(f"search {search.name}: no trial completed, so there is nothing to evaluate")
    experiment, parts = suggest(studies.fixed_trial(best.params, best.number), search)
    experiment = replace(experiment, rule=search.rule)
    return best, experiment, experiment.check(experiment.name, parts)


def summary(search: Search, study, best, storage_url) -> SearchSummary:
    """The `search` block of the best trial's run record."""
    return {
        "name": search.name,
        "storage": studies.redacted(storage_url),
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "metric": search.metric,
        "validation": search.validation_text,
        "sampler_seed": search.sampler_seed,
        "n_trials": len(studies.counted(study)),
    }
