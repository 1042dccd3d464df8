"""Experiment -> Record: data -> features -> resampler + model (Training only) -> test splits.

A model trained elsewhere (base.Pretrained) is not fitted: it is made ready for the data set's
label space before any work, and the rest of the run is the same.
"""

import logging
import time
import traceback

from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.parts.base import BuildsOnRuns, Pretrained, SavesWeights, Setup
from fer_bench.runs import fitting, layout, probabilities
from fer_bench.runs.claims import claim
from fer_bench.runs.records import FAILED, OK, Record, RunData, new_record
from fer_bench.runs.workspace import Workspace
from fer_bench.scoring.metrics import encode_predictions, split_metrics
from fer_bench.specs.experiment import Experiment, RunSpec

log = logging.getLogger("fer_bench")


def evaluation_splits(spec: RunSpec, dataset):
    """The spec's test splits; a train/test layout has only `Test` (PublicTest + PrivateTest)."""
    present = dataset.test_splits()
    chosen = [s for s in spec.test_splits if s in present]
    if not chosen:
        chosen = present
        log.info(f"data has no {'/'.join(spec.test_splits)}; evaluating on {', '.join(chosen)} instead")
    return chosen


def run(
    experiment: Experiment,
    workspace: Workspace,
    jobs=None,
    seed=None,
    force=False,
    extra=None,
    setup: Setup | None = None,
) -> Record:
    """Run one experiment on the workspace's data and append its record (with `extra` fields);
    returns the record. `setup` is the experiment's parts where the caller has built and checked
    them (Experiment.check, as loading its file does) and not used them yet; they are built and
    checked here otherwise.

    The run holds its spec's claim, so a second process asking for the same spec waits for the
    first and then finds its record: an identical spec already recorded is not run again unless `force`.
    """
    setup = experiment.check(experiment.name) if setup is None else setup
    spec = experiment.spec(workspace.labelled(experiment.labels).fingerprint, seed, model=setup.model)
    with claim(workspace.store.root, spec.run_id):
        previous = None if force else workspace.store.ok_record(spec.run_id)
        if previous:
            log.info(f"{experiment.name} (run {spec.run_id}) is already recorded; pass --force to run it again")
            return previous
        return execute(experiment, spec, workspace, jobs, extra, setup)


def execute(
    experiment: Experiment, spec: RunSpec, workspace: Workspace, jobs=None, extra=None, setup: Setup | None = None
) -> Record:
    """Run `spec` and append its record, unconditionally: the caller holds the spec's claim. `setup`
    is the experiment's parts where the caller has created them and not used them yet (they are
    created otherwise)."""
    dataset, store, cache = workspace.labelled(experiment.labels), workspace.store, workspace.cache
    setup = experiment.setup() if setup is None else setup
    started = time.perf_counter()
    log.info(
        f"{experiment.name} (run {spec.run_id}): {spec.features.name} -> {spec.resampler.name} -> {spec.model.name}"
    )
    if isinstance(setup.model, BuildsOnRuns):
        setup.model.use_runs(probabilities.StoredRuns(workspace), setup.features, dataset)
    pretrained, t_load = isinstance(setup.model, Pretrained), 0.0
    if isinstance(
        setup.model, Pretrained
    ):  # loaded before any work, so a file that cannot serve this data set fails at once
        log.info(f"{spec.model.name} was trained elsewhere ({setup.model.trained_on}): loaded, not fitted")
        t0 = time.perf_counter()
        setup.model.ready(dataset.classes)
        t_load = time.perf_counter() - t0
    feature_set = setup.features.extract(dataset, cache=cache, jobs=jobs)
    t_features = time.perf_counter() - started - t_load

    history, train, t_fit = None, None, 0.0
    if not pretrained:
        train, y = fitting.training_rows(dataset, feature_set.covered)
        log.info(f"fitting {spec.model.name} on {len(train)} Training images ({dataset.labels_name} labels)")
        t0 = time.perf_counter()
        history = fitting.fit(
            setup.model,
            setup.resampler,
            feature_set.X[train],
            y,
            spec.seed,
            dataset.classes,
            checkpoint_dir=cache.root / layout.CHECKPOINTS / spec.run_id,
            groups=fitting.training_groups(dataset, train, spec.split_groups),
        )
        t_fit = time.perf_counter() - t0

    t0 = time.perf_counter()
    split_rows = {split: dataset.indices(split) for split in evaluation_splits(spec, dataset)}
    held_out = probabilities.holdout_rows(setup.model, dataset, feature_set.covered, spec.seed, spec.split_groups)
    if held_out is not None:  # the images calibration may be fitted on
        split_rows[probabilities.HOLDOUT] = held_out
    by_split = probabilities.of_splits(setup.model, dataset, feature_set, split_rows)
    metrics, predictions, held_out_metrics = {}, {}, None
    for split, kept in by_split.items():
        scored = split_metrics(kept.labels, kept.predictions, dataset.classes, kept.proba)
        if split == probabilities.HOLDOUT:  # what a choice between runs may read: no test image
            held_out_metrics = scored
        else:
            metrics[split] = scored
            predictions[split] = encode_predictions(kept.predictions)
    out_of_fold = probabilities.out_of_fold(setup.model, dataset, feature_set, spec.seed, spec.split_groups)
    if out_of_fold is not None:  # what a student of this run learns
        by_split[TRAIN_SPLIT] = out_of_fold
    t_predict = time.perf_counter() - t0

    artefact = None
    if isinstance(setup.model, SavesWeights):  # trained weights travel with the results, named by run id
        artefact = fitting.save_weights(setup.model, store.root, spec.run_id)

    record = new_record(
        spec,
        experiment.name,
        experiment.description,
        OK,
        RunData.of(dataset, n_train_fit=None if train is None else int(len(train))),
        workspace.command,
        timings={
            "features": round(t_features, 2),
            "fit": round(t_fit, 2),
            **({"load": round(t_load, 2)} if pretrained else {}),
            "predict": round(t_predict, 2),
            "total": round(time.perf_counter() - started, 2),
            **earlier_attempts(history),
        },
        metrics=metrics,
        predictions=predictions,
        history=history,
        held_out=held_out_metrics,
        artefact=artefact,
        probabilities=probabilities.save(store.root, spec.run_id, by_split),
        selection=setup.model.choice() if isinstance(setup.model, BuildsOnRuns) else None,
        rule=experiment.rule.recorded() if experiment.rule else None,
        **(extra or {}),
    )
    store.append(record)
    return record


def failed(experiment: Experiment, spec: RunSpec, workspace: Workspace, error: Exception, seconds: float) -> Record:
    """Append the record of a run that raised `error` (a grid records it and goes on)."""
    record = new_record(
        spec,
        experiment.name,
        experiment.description,
        FAILED,
        RunData.of(workspace.labelled(experiment.labels)),
        workspace.command,
        error=f"{type(error).__name__}: {error}",
        traceback="".join(traceback.format_exception(error, limit=8)),
        timings={"total": round(seconds, 2)},
    )
    workspace.store.append(record)
    return record


def earlier_attempts(history):
    """{"fit_earlier_attempts": seconds} for a fit resumed from a checkpoint: the epochs that earlier,
    interrupted processes trained, which this process's timings leave out; {} otherwise."""
    if not history or "resumed_at_epoch" not in history or "epoch_seconds" not in history:
        return {}
    return {"fit_earlier_attempts": round(sum(history["epoch_seconds"][: int(history["resumed_at_epoch"][0])]), 2)}
