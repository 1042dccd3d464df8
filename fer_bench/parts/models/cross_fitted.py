"""Cross-fitting: `folds` copies of an inner model, copy i fitted on the Training images outside fold
i, so that every Training image has probabilities from a copy that never fitted on it (out of fold).
A student distilled from those learns what the teacher knows of unseen faces, not what it
memorised: an ensemble fitted on all of Training is right on 86% of Training, 73% of PrivateTest.

Folds are stratified by label and shuffled by the run's seed over the Training images in the order
the harness fits them (data set order), each group of copies in one fold (fer_bench/data/copies.py):
FER2013 repeats images, and a copy that fitted on an image under another row would be scored on
what it saw. Runs recorded before splits were grouped kept only identical inputs in one fold; their
specs say so, and their folds are made as they were. `assign_folds` gives every image's fold again
from the same rows and seed, so the out-of-fold probabilities can be checked, and computed again
from the saved copies (`out_of_fold_proba`).

Copy i is validated on fold i, the images it does not fit on. An inner model that picks its epoch
on validation (`cnn`'s best epoch) so picks it on the images it is then scored on, which flatters
its out-of-fold probabilities a little; `cnn-fast` keeps its last epoch.

On other images the copies vote (the mean of their probabilities): for PublicTest, PrivateTest,
`predict` and `evaluate` a cross-fitted run is a `folds`-member ensemble, whose weights are a
folder of the copies' files, each as its inner model saves it. An interrupted fit resumes after the last copy it
finished, and inside the next one as its inner model resumes (the run's checkpoint folder).
"""

import hashlib
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fer_bench.data.copies import grouped_folds
from fer_bench.parts import registry
from fer_bench.parts.base import (
    BuildsOnRuns,
    Model,
    OutOfFold,
    Pretrained,
    ReportsEpochs,
    Resumable,
    SavesWeights,
    Setup,
    SoftTargets,
)
from fer_bench.parts.params import Interval, Param
from fer_bench.parts.registry import Registered, register

log = logging.getLogger("fer_bench")


def assign_folds(X, y, seed, folds, groups=None) -> np.ndarray:
    """(n,) the fold of each fitting row (features `X`, labels or soft targets `y`): folds stratified
    by label and shuffled by `seed`, each group of copies (`groups`) in one fold; without groups (a
    run recorded before splits were grouped), rows with identical features in one fold."""
    if groups is None:
        rows = np.ascontiguousarray(X).reshape(len(X), -1)
        digests = np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows])
        groups = np.unique(digests, return_inverse=True)[1].ravel()
    return grouped_folds(y.argmax(axis=1) if y.ndim == 2 else y, groups, folds, seed)


@register("model", "cross-fitted")
class CrossFitted(Model, SavesWeights, Resumable, ReportsEpochs, SoftTargets, OutOfFold):
    """`folds` copies of an inner model, each fitted without one fold of Training: out-of-fold Training
    probabilities (a teacher's for distillation), the copies' mean elsewhere."""

    weights_suffix = "folds"  # a folder, a file per copy

    smoke_params = {"folds": 2, "inner_params": {"width": 4, "epochs": 2, "batch_size": 16}}
    family = "ensemble"  # its copies vote on every image they did not fit on
    parameters = {
        "inner": Param("cnn-fast", Registered("model")),
        "inner_params": Param({}),  # the inner model's parameters, as its own table in an experiment
        "folds": Param(4, Interval(2)),
        # Set when a spec is made (on_this_machine): the inner part's version, so the run id changes
        # with its code as with this part's.
        "inner_version": Param(""),
    }
    folds: int
    # The fitted or loaded copies, copy i without fold i: each a Model that SavesWeights, which no one type says.
    _copies: list[Any]

    @classmethod
    def on_this_machine(cls, params):
        """The inner model's parameters as its own spec would record them (its defaults and this
        machine's choices, such as `cnn-fast`'s precision), and its version."""
        inner = registry.get("model", params["inner"])
        return params | {"inner_params": inner.specified(params["inner_params"]), "inner_version": inner.version}

    def splits_training(self):
        return True  # into its folds

    def validate(self):
        copy = self._new_copy()
        if isinstance(copy, Pretrained) or not (isinstance(copy, SavesWeights) and isinstance(copy, ReportsEpochs)):
            raise ValueError(
                f"inner must be a model fitted here that saves its weights and reports its epochs "
                f"(a network); {copy.key} is not"
            )
        if isinstance(copy, BuildsOnRuns) and getattr(copy, copy.runs_param):
            raise ValueError(f"inner_params must name no runs ({copy.runs_param}): each copy learns from the labels")

    def refuse(self, setup):
        if setup.resampler.name != "none" and not setup.resampler.gives_class_weights:
            return (
                f"{self.key}: its folds are of the Training images as they are, and {setup.resampler.key} adds "
                "samples (a copy of an image in another fold would be fitted on); use none or class-weights"
            )
        return Setup(setup.features, setup.resampler, self._new_copy(), setup.soft_targets).problem()

    def _new_copy(self):
        return registry.get("model", self.inner).create(self.inner_params)

    def fit(self, data):
        fold = assign_folds(data.X, data.y, data.seed, self.folds, data.groups)
        self._copies, histories, trained_before = [], [], 0
        for i in range(self.folds):
            copy, history, earlier = self._fit_copy(i, data, fold == i, sum(map(_epochs, histories)))
            self._copies.append(copy)
            histories.append(history)
            if earlier is not None:  # trained, wholly or up to `earlier` epochs, by interrupted processes
                trained_before = sum(map(_epochs, histories[:-1])) + earlier
        for path in data.checkpoint_dir.glob("copy*") if data.checkpoint_dir else ():  # the copies are fitted
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        return _joined(histories, trained_before)

    def _fit_copy(self, i, data, held_out, epochs_before):
        """(copy i, its history, the epochs of it that earlier processes trained or None): loaded
        where an earlier process finished it, else fitted on the rows outside `held_out`."""
        copy = self._new_copy()
        folder = data.checkpoint_dir
        weights = folder and folder / f"copy{i}.weights.{copy.weights_suffix}"
        finished = folder and folder / f"copy{i}.history.json"  # written last: the copy is whole
        if finished and finished.is_file():
            history = json.loads(finished.read_text())
            return copy.load(weights, data.classes), history, _epochs(history)
        log.info(
            f"{self.key}: copy {i + 1} of {self.folds}, {copy.key} on {int((~held_out).sum())} images "
            f"({int(held_out.sum())} held out)"
        )
        history = copy.fit(
            replace(
                data,
                X=data.X[~held_out],
                y=data.y[~held_out],
                validation=(data.X[held_out], data.y[held_out]),
                checkpoint_dir=folder / f"copy{i}" if folder and isinstance(copy, Resumable) else None,
                on_epoch=data.on_epoch and (lambda epoch, logs: data.on_epoch(epochs_before + epoch, logs)),
            )
        )
        if folder:
            copy.save(weights)
            partial = finished.with_name(f".{finished.name}.tmp")
            partial.write_text(json.dumps(history))
            partial.replace(finished)
        return copy, history, history.get("resumed_at_epoch", [None])[0]

    def predict_proba(self, X):
        return np.mean([copy.predict_proba(X) for copy in self._copies], axis=0)

    def out_of_fold_proba(self, rows, X, y, seed, groups=None):
        fold = assign_folds(X, y, seed, self.folds, groups)
        held = [(fold == i, copy.predict_proba(X[fold == i])) for i, copy in enumerate(self._copies)]
        proba = np.empty((len(X), held[0][1].shape[1]), dtype=np.float32)
        for where, given in held:
            proba[where] = given
        return proba

    def save(self, path: Path):
        """Every copy's weights, each as its inner model saves them, in a folder at `path`
        (`copy<i>.<suffix>`): one file per copy keeps each file the size of one network's; the
        folder is written whole or not at all."""
        partial = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for i, copy in enumerate(self._copies):
            copy.save(partial / _copy_file(i, copy))
        shutil.rmtree(path, ignore_errors=True)
        partial.rename(path)

    def load(self, path: Path, classes):
        self._copies = []
        for i in range(self.folds):
            copy = self._new_copy()
            self._copies.append(copy.load(path / _copy_file(i, copy), classes))
        return self


def _copy_file(i, copy):
    return f"copy{i}.{copy.weights_suffix}"


def _epochs(history):
    """The epochs a copy's history covers."""
    return max(len(values) for metric, values in history.items() if metric not in ("best_epoch", "resumed_at_epoch"))


def _joined(histories, trained_before):
    """The copies' histories end to end, one entry per epoch (`best_epoch`: one per copy), with
    `resumed_at_epoch` where earlier processes trained the first `trained_before` epochs."""
    metrics = dict.fromkeys(metric for history in histories for metric in history if metric != "resumed_at_epoch")
    joined = {metric: [v for history in histories for v in history.get(metric, [])] for metric in metrics}
    return joined | ({"resumed_at_epoch": [float(trained_before)]} if trained_before else {})
