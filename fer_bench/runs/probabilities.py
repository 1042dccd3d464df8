"""Each image's class probabilities from a run, kept beside its weights (`models/<run_id>.probabilities.npz`
in the results folder), so ensembles, calibration and distillation need no second pass of the model.

For each split it keeps the data set's rows of the images (`<split>/rows`), their true codes
(`<split>/labels`, UNLABELLED where the label source gives none) and their (n, classes) probabilities
as float32 (`<split>/proba`, NaN rows where the features cover no image). The splits are the test
splits the run evaluated and HOLDOUT: the Training images its fit held out for validation, where
its model holds real images out (fitting.holdout), the only images calibration may be fitted on;
and, for a teacher, Training (the images it was fitted on, whose probabilities a student learns).
Those are in-sample, unless the model gives out-of-fold ones (base.OutOfFold: a cross-fitted run
stores them as it runs, an ensemble of such too): then `Training/out_of_fold` marks them so.

A run's temperature (scoring.calibration.Temperature), the one its probabilities are used with by
`predict`, `evaluate` and ensembles, is fitted on its HOLDOUT probabilities alone, else on its
out-of-fold Training ones, when first asked for (`temperature`, kept for the process while the file
is unchanged): never on a test image. A run whose splits did not keep copies together (recorded
before they did: Record.ungrouped_splits) says so in the log when its temperature is used. A run
that stored neither (recorded before they were kept, or its fit held out no real images) has 1.0.

A run records the path of its file; a run recorded before files were kept gets one from its saved
weights (`regenerate`), at the same path, which `load` finds by its run id; `regenerate` adds
splits to a file, too.
"""

import logging
from pathlib import Path

import numpy as np

from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import (
    BuildsOnRuns,
    OutOfFold,
    RecordedRun,
    RecordedRuns,
    SavesWeights,
    SplitProbabilities,
)
from fer_bench.runs import fitting, layout
from fer_bench.runs.records import Record, saved_model
from fer_bench.runs.workspace import Workspace
from fer_bench.scoring import calibration
from fer_bench.scoring.calibration import Temperature
from fer_bench.scoring.metrics import decode_predictions

HOLDOUT = "holdout"
_STORED = (("rows", np.int64), ("labels", np.int64), ("proba", np.float32))  # as read back
OUT_OF_FOLD = "out_of_fold"  # `<split>/out_of_fold`, stored where a split's probabilities are
log = logging.getLogger("fer_bench")
_temperatures: dict[
    tuple[str, int, int], Temperature
] = {}  # (path, mtime, size) of a probabilities file -> its run's Temperature


def predict(model, X, covered, n_classes):
    """(n, n_classes) float32 probabilities of the rows `X`, NaN rows where not `covered`."""
    proba = np.full((len(X), n_classes), np.nan, dtype=np.float32)
    if covered.any():
        given = np.asarray(model.predict_proba(X[covered]))
        if given.shape != (int(covered.sum()), n_classes):
            raise FerBenchError(
                f"{model.key} gave probabilities of shape {given.shape}, expected {(int(covered.sum()), n_classes)}"
            )
        proba[covered] = given
    return proba


def holds_out(model):
    """Whether a fit of `model` holds real Training images out (its plan holds out some, before
    resampling)."""
    plan = model.validation_plan()
    return plan is not None and not plan.resample_first


def holdout_rows(model, dataset, covered, seed, grouping):
    """The data set rows a fit of `model` with `seed` held out for validation (its splits grouped as
    `grouping`, RunSpec.split_groups, says), or None where it holds none out (`holds_out`)."""
    if not holds_out(model):
        return None
    train, y = fitting.training_rows(dataset, covered)
    groups = fitting.training_groups(dataset, train, grouping)
    return np.sort(train[fitting.holdout(y, seed, model.validation_plan(), groups)[1]])


def of_splits(model, dataset, features, split_rows: dict) -> dict:
    """{split: SplitProbabilities} of `model` on the given rows of `dataset` (features: a FeatureSet)."""
    return {
        split: SplitProbabilities(
            rows, dataset.labels[rows], predict(model, features.X[rows], features.covered[rows], len(dataset.classes))
        )
        for split, rows in split_rows.items()
    }


def out_of_fold(model, dataset, features, seed, grouping) -> SplitProbabilities | None:
    """`model`'s out-of-fold probabilities of the Training images its fit with `seed` was given (it
    may be fitted, or loaded from that run's weights; its splits grouped as `grouping` says); None
    where it has none (base.OutOfFold)."""
    if not isinstance(model, OutOfFold):
        return None
    train, y = fitting.training_rows(dataset, features.covered)
    groups = fitting.training_groups(dataset, train, grouping)
    proba = model.out_of_fold_proba(train, features.X[train], y, seed, groups)
    if proba is None:
        return None
    return SplitProbabilities(train, dataset.labels[train], np.asarray(proba, dtype=np.float32), out_of_fold=True)


def of_training(model, dataset, features, seed, grouping) -> SplitProbabilities:
    """`model`'s probabilities on the Training images it was fitted on: out of fold where it has them,
    else in-sample."""
    found = out_of_fold(model, dataset, features, seed, grouping)
    if found is None:
        rows = fitting.training_rows(dataset, features.covered)[0]
        found = of_splits(model, dataset, features, {TRAIN_SPLIT: rows})[TRAIN_SPLIT]
    return found


def save(root: Path, run_id, splits: dict, kept=None) -> str:
    """Write {split: SplitProbabilities} for `run_id` under the results folder `root`, after the
    arrays `kept` carries over from its earlier file; returns its path relative to `root`."""
    relative = layout.probabilities(run_id)
    path = Path(root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(kept or {})
    for split, p in splits.items():
        arrays |= {
            f"{split}/rows": p.rows.astype(np.int32),
            f"{split}/labels": p.labels.astype(np.int8),
            f"{split}/proba": p.proba.astype(np.float32),
        }
        arrays.pop(f"{split}/{OUT_OF_FOLD}", None)
        if p.out_of_fold:
            arrays[f"{split}/{OUT_OF_FOLD}"] = np.array(True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    tmp.replace(path)
    return relative


def stored_path(root: Path, record: Record) -> Path | None:
    path = Path(root) / (record.probabilities or layout.probabilities(record.run_id))
    return path if path.is_file() else None


def stored_splits(root: Path, record: Record) -> set:
    """The splits whose probabilities `record` stored (none if it stored none)."""
    path = stored_path(root, record)
    if path is None:
        return set()
    with np.load(path) as stored:
        return {name.split("/")[0] for name in stored.files}


def stored_out_of_fold(root: Path, record: Record) -> bool:
    """Whether `record` stored out-of-fold Training probabilities."""
    path = stored_path(root, record)
    if path is None:
        return False
    with np.load(path) as stored:
        return f"{TRAIN_SPLIT}/{OUT_OF_FOLD}" in stored.files


def load(root: Path, record: Record, splits) -> dict:
    """{split: SplitProbabilities} of `record` for the `splits` asked for, and only those; a one-line
    error where the run kept none or lacks a split."""
    path = stored_path(root, record)
    if path is None:
        raise FerBenchError(
            f"run {record.run_id} ({record.experiment}) has no stored probabilities in {root}: "
            f"`fer-bench probabilities {record.run_id}` computes them from its weights"
        )
    with np.load(path) as stored:
        found = {name.split("/")[0] for name in stored.files}
        missing = [split for split in splits if split not in found]
        if missing:
            raise FerBenchError(f"{path}: no {missing[0]} probabilities (it has {', '.join(sorted(found))})")
        return {
            split: SplitProbabilities(  # type: ignore[misc]  # mypy cannot count a generator: the three arrays of _STORED
                *(stored[f"{split}/{name}"].astype(kind) for name, kind in _STORED),
                out_of_fold=f"{split}/{OUT_OF_FOLD}" in stored.files,
            )
            for split in splits
        }


def temperature_of(held: SplitProbabilities) -> Temperature:
    """The temperature fitted (minimum NLL) on a run's held-out Training images (or its out-of-fold
    ones): those covered and labelled; 1.0 where there are none."""
    usable = held.covered & (held.labels >= 0)
    if not usable.any():
        return Temperature(why_none="no labelled held-out Training image covered")
    return Temperature(calibration.fit_temperature(held.labels[usable], held.proba[usable]), int(usable.sum()))


def temperature(root: Path, record: Record) -> Temperature:
    """The temperature of `record`'s probabilities, fitted on the held-out Training images it stored
    (HOLDOUT), else on its out-of-fold Training probabilities, and nothing else; 1.0, saying why,
    where it stored neither."""
    path = stored_path(root, record)
    if path is None:
        return Temperature(why_none=f"run {record.run_id} stored no probabilities")
    status = path.stat()
    key = (str(path.resolve()), status.st_mtime_ns, status.st_size)
    if key not in _temperatures:
        held = fitted_on(load(root, record, [s for s in (HOLDOUT, TRAIN_SPLIT) if s in stored_splits(root, record)]))
        _temperatures[key] = Temperature(why_none=_why_no_holdout(record)) if held is None else temperature_of(held)
        if held is not None and record.ungrouped_splits:
            log.info(
                f"run {record.run_id}: its temperature is fitted on Training images split before splits kept "
                "copies together: some have a copy among the images the run fitted on"
            )
    return _temperatures[key]


def fitted_on(splits: dict) -> SplitProbabilities | None:
    """Of a run's stored {split: SplitProbabilities}, those its temperature is fitted on: its
    held-out Training images', else its out-of-fold Training probabilities; None where neither."""
    if HOLDOUT in splits:
        return splits[HOLDOUT]
    training = splits.get(TRAIN_SPLIT)
    return training if training is not None and training.out_of_fold else None


def _why_no_holdout(record: Record) -> str:
    part = registry.find("model", record.spec.model.name)
    if part is not None and holds_out(record.model()):
        return (
            f"run {record.run_id} stored no held-out Training probabilities: "
            f"`fer-bench probabilities {record.run_id}` computes them"
        )
    return f"the fit of run {record.run_id} held out no Training images"


def regenerate(record: Record, workspace: Workspace, training=False, force=False) -> tuple[str, dict]:
    """Compute and store the probabilities of a recorded run on the workspace's data labelled as the
    run was (the same data fingerprint): its test splits, its held-out images and, with `training`,
    its Training images (a teacher's, for distillation: out of fold where its model gives them,
    `of_training`). Splits already stored are kept unless `force`.

    Returns (relative path, {split computed: for a test split, the share of images whose argmax is
    the recorded prediction, else None}): another backend or machine may flip a few near-ties,
    which the share shows."""
    dataset, store = workspace.labelled(Labels.named(record.data.labels)), workspace.store
    if dataset.fingerprint != record.data.fingerprint:
        raise FerBenchError(
            f"run {record.run_id} was trained on data {record.data.fingerprint}, "
            f"not {dataset.fingerprint} ({dataset.source})"
        )
    model_part = record.model()
    wanted = [*record.metrics, *([HOLDOUT] if holds_out(model_part) else []), *([TRAIN_SPLIT] if training else [])]
    earlier = stored_path(store.root, record)
    kept = {} if force or earlier is None else _arrays(earlier)  # carried over as stored, unread
    if all(f"{split}/proba" in kept for split in wanted):  # before any feature extraction
        return layout.probabilities(record.run_id), {}
    features = record.part("features")
    feature_set = features.extract(dataset, cache=workspace.cache)
    rows_of = {split: dataset.indices(split) for split in record.metrics}
    if HOLDOUT in wanted:
        rows_of[HOLDOUT] = holdout_rows(model_part, dataset, feature_set.covered, record.seed, record.spec.split_groups)
    if training:
        rows_of[TRAIN_SPLIT] = fitting.training_rows(dataset, feature_set.covered)[0]
    missing = {split: rows_of[split] for split in wanted if f"{split}/proba" not in kept}
    log.info(
        f"probabilities of {record.experiment} (run {record.run_id}) on "
        + ", ".join(f"{split} ({len(rows)})" for split, rows in missing.items())
    )
    model = recorded_model(record, workspace, features, feature_set, dataset)
    splits = of_splits(model, dataset, feature_set, {s: rows for s, rows in missing.items() if s != TRAIN_SPLIT})
    if TRAIN_SPLIT in missing:
        splits[TRAIN_SPLIT] = of_training(model, dataset, feature_set, record.seed, record.spec.split_groups)
    agreement = {
        split: float((p.predictions == decode_predictions(record.predictions[split])).mean())
        if split in record.predictions
        else None
        for split, p in splits.items()
    }
    return save(store.root, record.run_id, splits, kept), agreement


def _arrays(path):
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def recorded_model(record: Record, workspace: Workspace, features, feature_set, dataset):
    """The model of a recorded run: with its saved weights, or, for a model built on other runs
    without weights of its own (an ensemble), built again as its run built it."""
    model = record.model()
    if isinstance(model, SavesWeights) or not isinstance(model, BuildsOnRuns):
        return saved_model(record, workspace.store.root)
    model.use_runs(StoredRuns(workspace), features, dataset)
    train, y = fitting.training_rows(dataset, feature_set.covered)
    fitting.fit(
        model,
        record.part("resampler"),
        feature_set.X[train],
        y,
        record.seed,
        dataset.classes,
        groups=fitting.training_groups(dataset, train, record.spec.split_groups),
    )
    return model


class StoredRuns(RecordedRuns):
    """The runs of a workspace's record store, for the parts that build on them."""

    def __init__(self, workspace: Workspace):
        self.workspace, self.store = workspace, workspace.store
        self.where = str(self.store.root)

    def run(self, run_id):
        record = self.store.ok_record(run_id)
        if record is None:
            return None
        features = record.spec.features
        return RecordedRun(
            record.run_id,
            record.experiment,
            record.classes,
            record.data.fingerprint,
            (features.name, features.params),
            record.artefact is not None,
            stored_out_of_fold(self.store.root, record),
        )

    def model(self, run_id):
        return saved_model(self._record(run_id), self.store.root)

    def probabilities(self, run_id, split):
        record = self._record(run_id)
        if split == TRAIN_SPLIT and TRAIN_SPLIT not in stored_splits(self.store.root, record):
            log.info(f"the probabilities of {record.experiment} (run {run_id}) on Training, computed once")
            regenerate(record, self.workspace, training=True)
        return load(self.store.root, record, [split])[split]

    def temperature(self, run_id) -> Temperature:
        found = temperature(self.store.root, self._record(run_id))
        if not found.fitted:
            log.info(f"run {run_id}: probabilities used uncalibrated, {found}")
        return found

    def _record(self, run_id):
        record = self.store.ok_record(run_id)
        if record is None:
            raise FerBenchError(f"no successful run {run_id} in {self.where}")
        return record
