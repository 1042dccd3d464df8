"""Fitting a model, the one way the runner and the tuner both do it: validation carved from the
training rows as the model's plan asks, each group of copies on one side (fer_bench/data/copies.py),
the resampler applied to the fitting rows only, then the model's `fit` with what its declared
capabilities use."""

from pathlib import Path

import numpy as np

from fer_bench.data.copies import copy_groups, grouped_holdout
from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.parts.base import (
    FitData,
    Model,
    ReportsEpochs,
    Resampler,
    Resumable,
    SavesWeights,
    ValidationPlan,
    refuse_uncovered_rows,
)
from fer_bench.runs import layout


def training_rows(dataset, covered):
    """(the Training images a run fits on: labelled, with features; their labels or soft targets)."""
    train = dataset.labelled(dataset.indices(TRAIN_SPLIT))
    train = train[covered[train]]
    return train, dataset.labels[train] if dataset.targets is None else dataset.targets[train]


def training_groups(dataset, rows, grouping):
    """The groups of copies of the data set `rows` a run fits on, where its spec's `grouping`
    (RunSpec.split_groups) says its splits honour them; None for a run recorded before (ungrouped)."""
    return copy_groups(dataset)[rows] if grouping else None


def fit(model: Model, resampler: Resampler, X, y, seed, classes, checkpoint_dir=None, on_epoch=None, groups=None):
    """Fit `model` on the training rows (X, y); returns its per-epoch history or None. `groups`
    (training_groups) keeps each group of copies on one side of every split of the rows.

    `checkpoint_dir` reaches only Resumable models and `on_epoch` only ReportsEpochs models.
    """
    refuse_uncovered_rows(model.key, X, "to fit on")
    plan = model.validation_plan()
    if plan is None:
        X_fit, y_fit = resampler.resample(X, y, seed)
        validation = None
        groups = groups if X_fit is X else None  # rows made by resampling belong to no group
    else:
        X_fit, y_fit, *validation = carve_validation(X, y, resampler, seed, plan, groups)
        groups = None  # the fitting rows are resampled and shuffled
    data = FitData(
        X_fit,
        y_fit,
        tuple(classes),
        seed,
        tuple(validation) if validation else None,
        resampler.class_weight(y_fit),
        checkpoint_dir if isinstance(model, Resumable) else None,
        on_epoch if isinstance(model, ReportsEpochs) else None,
        groups,
    )
    return model.fit(data)


def carve_validation(X, y, resampler: Resampler, seed, plan: ValidationPlan, groups=None):
    """(X_fit, y_fit, X_val, y_val), as ValidationPlan describes; `y` may be soft (n, classes)."""
    if plan.resample_first:
        X, y = shuffle(*resampler.resample(X, y, seed), seed)
        n_val = int(len(y) * plan.fraction)
        return X[: len(y) - n_val], y[: len(y) - n_val], X[len(y) - n_val :], y[len(y) - n_val :]
    fit_rows, held_out = holdout(y, seed, plan, groups)
    X_fit, y_fit = shuffle(*resampler.resample(X[fit_rows], y[fit_rows], seed), seed)
    return X_fit, y_fit, X[held_out], y[held_out]


def holdout(y, seed, plan: ValidationPlan, groups=None):
    """(positions fitted, positions held out) of the training rows labelled `y` (of groups of copies
    `groups`, or ungrouped), for a plan that holds real images out before resampling: the split
    `carve_validation` makes, so the held-out images of a recorded run can be found again from its seed."""
    if plan.resample_first:
        raise ValueError("a plan that resamples first holds out synthetic rows, not training images")
    return grouped_holdout(y.argmax(axis=1) if y.ndim == 2 else y, groups, plan.fraction, seed)


def shuffle(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(y))
    return X[order], y[order]


def save_weights(model: SavesWeights, results: Path, run_id) -> str:
    """Save a fitted model's weights where its run's record points (returned, relative to `results`).
    The folder is made here: a part's `save` writes one file into a folder that exists."""
    artefact = layout.weights(run_id, model.weights_suffix)
    (results / artefact).parent.mkdir(parents=True, exist_ok=True)
    model.save(results / artefact)
    return artefact
