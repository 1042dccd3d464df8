"""RunSpec -> RunRecord: data -> features -> resampler + model (Training only) -> test splits."""

import sys
import time
from datetime import UTC, datetime

import numpy as np

from fer_bench import provenance
from fer_bench.claims import claim
from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.features.cache import ArrayCache
from fer_bench.metrics import UNCOVERED, encode_predictions, split_metrics
from fer_bench.records import RecordStore

MODELS_DIR = "models"


def log(message):
    print(f"fer-bench: {message}", file=sys.stderr, flush=True)


def evaluation_splits(spec, dataset):
    """The spec's test splits; a train/test layout has only `Test` (PublicTest + PrivateTest)."""
    present = dataset.split_names()
    chosen = [s for s in spec.test_splits if s in present]
    if not chosen:
        chosen = [s for s in present if s != TRAIN_SPLIT]
        log(f"data has no {'/'.join(spec.test_splits)}; evaluating on {', '.join(chosen)} instead")
    return chosen


def run(experiment, dataset, store: RecordStore, cache: ArrayCache, jobs=None, seed=None, force=False, command=None,
        extra=None):  # fmt: skip
    """Run one experiment on `dataset` and append its record (with `extra` fields); returns the record.

    The run holds its spec's claim, so a second process asking for the same spec waits for the
    first and then finds its record: an identical spec already recorded is not run again unless `force`.
    """
    spec = experiment.spec(dataset.fingerprint, seed)
    with claim(store.root, spec.run_id):
        previous = None if force else recorded_ok(store, spec.run_id)
        if previous:
            log(f"{experiment.name} (run {spec.run_id}) is already recorded; pass --force to run it again")
            return previous
        return execute(experiment, spec, dataset, store, cache, jobs, command, extra)


def earlier_attempts(history):
    """{"fit_earlier_attempts": seconds} for a fit resumed from a checkpoint: the epochs that earlier,
    interrupted processes trained, which this process's timings leave out; {} otherwise."""
    if not history or "resumed_at_epoch" not in history:
        return {}
    return {"fit_earlier_attempts": round(sum(history["epoch_seconds"][: int(history["resumed_at_epoch"][0])]), 2)}


def recorded_ok(store: RecordStore, run_id):
    """The latest `ok` record of `run_id`, or None."""
    return next((r for r in reversed(store.all()) if r.get("run_id") == run_id and r.get("status") == "ok"), None)


def execute(experiment, spec, dataset, store: RecordStore, cache: ArrayCache, jobs=None, command=None, extra=None):
    """Run `spec` and append its record, unconditionally: the caller holds the spec's claim."""
    run_id = spec.run_id
    features = spec.features.create("features")
    resampler = spec.resampler.create("resampler")
    model = spec.model.create("model")
    if hasattr(model, "checkpoint_dir"):  # an interrupted fit resumes from here
        model.checkpoint_dir = cache.root / "checkpoints" / run_id

    started = time.perf_counter()
    log(f"{experiment.name} (run {run_id}): {spec.features.name} -> {spec.resampler.name} -> {spec.model.name}")
    feature_set = features.extract(dataset, cache=cache, jobs=jobs)
    t_features = time.perf_counter() - started

    train = dataset.indices(TRAIN_SPLIT)
    train = train[feature_set.covered[train]]
    log(f"fitting {spec.model.name} on {len(train)} Training images")
    t0 = time.perf_counter()
    model.fit(feature_set.X[train], dataset.labels[train], resampler, spec.seed)
    t_fit = time.perf_counter() - t0

    t0 = time.perf_counter()
    metrics, predictions = {}, {}
    for split in evaluation_splits(spec, dataset):
        index = dataset.indices(split)
        y_pred = np.full(len(index), UNCOVERED, dtype=np.int64)
        covered = feature_set.covered[index]
        if covered.any():
            y_pred[covered] = model.predict_proba(feature_set.X[index[covered]]).argmax(axis=1)
        metrics[split] = split_metrics(dataset.labels[index], y_pred)
        predictions[split] = encode_predictions(y_pred)
    t_predict = time.perf_counter() - t0

    artefact = None
    if hasattr(model, "save"):  # trained weights travel with the results, named by run id
        artefact = f"{MODELS_DIR}/{run_id}.weights.npz"
        model.save(store.root / artefact)

    record = {
        "run_id": run_id,
        "experiment": experiment.name,
        "description": experiment.description,
        "status": "ok",
        "command": command,
        "spec": spec.to_dict(),
        "seed": spec.seed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "source": dataset.source,
            "layout": dataset.layout,
            "fingerprint": dataset.fingerprint,
            "n_images": len(dataset),
            "n_train_fit": int(len(train)),
        },
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "hardware": provenance.hardware(),
        "timings": {
            "features": round(t_features, 2),
            "fit": round(t_fit, 2),
            "predict": round(t_predict, 2),
            "total": round(time.perf_counter() - started, 2),
            **earlier_attempts(model.history),
        },
        "metrics": metrics,
        "predictions": predictions,
        "history": model.history,
        "artefact": artefact,
        **(extra or {}),
    }
    store.append(record)
    return record
