"""Fitting a model, the one way the runner and the tuner both do it: validation carved from the
training rows as the model's plan asks, the resampler applied to the fitting rows only, then the
model's `fit` with what its declared capabilities use."""

import math
from pathlib import Path

import numpy as np

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


def fit(model: Model, resampler: Resampler, X, y, seed, classes, checkpoint_dir=None, on_epoch=None):
    """Fit `model` on the training rows (X, y); returns its per-epoch history or None.

    `checkpoint_dir` reaches only Resumable models and `on_epoch` only ReportsEpochs models.
    """
    refuse_uncovered_rows(model.key, X, "to fit on")
    plan = model.validation_plan()
    if plan is None:
        X_fit, y_fit = resampler.resample(X, y, seed)
        validation = None
    else:
        X_fit, y_fit, *validation = carve_validation(X, y, resampler, seed, plan)
    data = FitData(
        X_fit,
        y_fit,
        tuple(classes),
        seed,
        tuple(validation) if validation else None,
        resampler.class_weight(y_fit),
        checkpoint_dir if isinstance(model, Resumable) else None,
        on_epoch if isinstance(model, ReportsEpochs) else None,
    )
    return model.fit(data)


def carve_validation(X, y, resampler, seed, plan: ValidationPlan):
    """(X_fit, y_fit, X_val, y_val), as ValidationPlan describes; `y` may be soft (n, classes)."""
    if plan.resample_first:
        X, y = shuffle(*resampler.resample(X, y, seed), seed)
        n_val = int(len(y) * plan.fraction)
        return X[: len(y) - n_val], y[: len(y) - n_val], X[len(y) - n_val :], y[len(y) - n_val :]
    fit_rows, held_out = holdout(y, seed, plan)
    X_fit, y_fit = shuffle(*resampler.resample(X[fit_rows], y[fit_rows], seed), seed)
    return X_fit, y_fit, X[held_out], y[held_out]


def holdout(y, seed, plan: ValidationPlan):
    """(positions fitted, positions held out) of the training rows labelled `y`, for a plan that
    holds real images out before resampling: the split `carve_validation` makes, so the held-out
    images of a recorded run can be found again from its seed."""
    from sklearn.model_selection import train_test_split

    if plan.resample_first:
        raise ValueError("a plan that resamples first holds out synthetic rows, not training images")
    strata = y.argmax(axis=1) if y.ndim == 2 else y
    n_val = max(math.ceil(len(y) * plan.fraction), len(np.unique(strata)))  # stratifying needs one per class
    return train_test_split(np.arange(len(y)), test_size=n_val, stratify=strata, random_state=seed)


def shuffle(X, y, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    return X[order], y[order]


def save_weights(model: SavesWeights, results: Path, run_id) -> str:
    """Save a fitted model's weights where its run's record points (returned, relative to `results`).
    The folder is made here: a part's `save` writes one file into a folder that exists."""
    artefact = layout.weights(run_id, model.weights_suffix)
    (results / artefact).parent.mkdir(parents=True, exist_ok=True)
    model.save(results / artefact)
    return artefact
