"""The compiled epoch loop (fer_bench/parts/models/_compiled_epochs.py) must train exactly what one
`train_on_batch` per batch trains: same batches, same updates, same logs, callbacks included."""

import importlib.util

import numpy as np
import pytest

from fer_bench.backend import in_process
from fer_bench.parts.models import _compiled_epochs as compiled_epochs

CLASS_WEIGHT = {0: 2.0, 3: 0.5, 5: 1.5}


def problem(n=1000, seed=0):
    """Separable-ish 7-class data with a short last batch (1000 = 31 x 32 + 8)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n + 300)
    X = (rng.normal(size=(n + 300, 128)) + 0.6 * np.eye(7, 128)[labels] * 4).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[labels]
    return X[:n], y[:n], (X[n:], y[n:])


def train(stepper_kind, epochs=4):
    """Histories and final weights of the paper MLP trained with the compiled loop or the reference."""
    from fer_bench.backend import load_keras
    from fer_bench.parts.models.paper_mlp import build_paper_mlp

    keras = load_keras()
    X, y, validation = problem()
    keras.utils.set_random_seed(0)
    model = build_paper_mlp()
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=10.0, min_lr=1e-5),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=10.0, restore_best_weights=True),
    ]
    stepper = compiled_epochs.PerBatch(model) if stepper_kind == "reference" else None
    history = compiled_epochs.fit_compiled(
        model,
        X,
        y,
        validation=validation,
        epochs=epochs,
        batch_size=32,
        seed=3,
        class_weight=CLASS_WEIGHT,
        callbacks=callbacks,
        stepper=stepper,
    )
    return history, [w.tolist() for w in model.get_weights()]


def assert_same_training(compiled, reference):
    (history, weights), (expected_history, expected_weights) = compiled, reference
    assert history.keys() == expected_history.keys() >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # ReduceLROnPlateau halved the rate after each epoch but the first (each epoch logs the rate it
    # trained at) and EarlyStopping stopped after 3: the callbacks saw the logs and acted on the model
    assert history["learning_rate"] == pytest.approx([0.001, 0.001, 0.0005])
    for metric, values in expected_history.items():
        np.testing.assert_allclose(history[metric], values, rtol=1e-5, atol=1e-6, err_msg=metric)
    for got, expected in zip(weights, expected_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_the_compiled_loop_trains_as_one_train_on_batch_per_batch():
    assert_same_training(train("compiled"), train("reference"))


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install -e '.[jax]')")
def test_the_compiled_loop_trains_as_one_train_on_batch_per_batch_on_jax():
    code = (
        "import json; from tests import test_compiled_epochs as t; "
        "print(json.dumps([t.train(kind) for kind in ('compiled', 'reference')]))"
    )
    assert_same_training(*in_process(code, "jax"))


def test_an_epoch_is_every_row_once_in_batches_in_the_seeded_order():
    X = np.arange(70, dtype=np.float32)[:, None]
    targets = np.eye(7, dtype=np.float32)[np.arange(70) % 7]
    weights = compiled_epochs.class_sample_weights(targets, CLASS_WEIGHT)
    groups = compiled_epochs.epoch_batches(X, targets, weights, 32, np.random.default_rng(5))
    assert [group[0].shape for group in groups] == [(2, 32, 1), (1, 6, 1)]
    rows = np.concatenate([group[0].reshape(-1) for group in groups]).astype(int)
    np.testing.assert_array_equal(rows, np.random.default_rng(5).permutation(70))
    for x, y, w in groups:  # targets and weights travel with their rows
        np.testing.assert_array_equal(y.argmax(-1), x[..., 0].astype(int) % 7)
        np.testing.assert_array_equal(w, [[CLASS_WEIGHT.get(int(r) % 7, 1.0) for r in batch] for batch in x[..., 0]])
    unshuffled = compiled_epochs.epoch_batches(X, targets, None, 64, rng=None)
    assert [len(group) for group in unshuffled] == [2, 2]  # no weights: (x, y) batches
    np.testing.assert_array_equal(np.concatenate([g[0].reshape(-1) for g in unshuffled]), X[:, 0])


@pytest.mark.parametrize("name", ["paper-mlp", "mlp"])
def test_both_training_loops_fit_through_the_harness_with_the_same_history(name):
    from fer_bench.data import FER2013_CLASSES
    from fer_bench.parts import registry
    from fer_bench.runs import fitting

    X, y, _ = problem(n=400)
    histories = {}
    for loop in ("compiled", "keras-fit"):
        model = registry.get("model", name).create({"epochs": 2, "training_loop": loop})
        histories[loop] = fitting.fit(
            model, registry.get("resampler", "none").create({}), X, y.argmax(1), 0, FER2013_CLASSES
        )
        assert model.predict_proba(X[:3]).shape == (3, 7)
    assert histories["compiled"].keys() == histories["keras-fit"].keys()
    assert all(len(values) == 2 for values in histories["compiled"].values())
