import numpy as np
import pytest

from fer_bench.data import FER2013_CLASSES
from fer_bench.parts import registry
from fer_bench.parts.base import Resampler, ValidationPlan
from fer_bench.runs import fitting


def blobs(n_per_class=(60, 10, 40, 80, 50, 30, 45), dim=16, seed=0):
    """Seven well separated Gaussian classes, imbalanced like FER2013."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(7, dim))
    X = np.concatenate([c + rng.normal(size=(n, dim)) for c, n in zip(centres, n_per_class)]).astype(np.float32)
    y = np.repeat(np.arange(7), n_per_class)
    return X, y


@pytest.mark.parametrize("name", ["smote", "random-over"])
def test_oversamplers_raise_every_class_to_the_majority(name):
    X, y = blobs()
    X_res, y_res = registry.get("resampler", name).create({}).resample(X, y, seed=0)
    assert np.bincount(y_res).tolist() == [80] * 7
    assert X_res.shape[1:] == X.shape[1:] and X_res.dtype == X.dtype


def test_no_resampling_leaves_data_alone():
    X, y = blobs()
    X_res, y_res = registry.get("resampler", "none").create({}).resample(X, y, seed=0)
    assert X_res is X and y_res is y


def test_study_order_resamples_then_holds_out_the_last_fifth():
    X, y = blobs()
    smote = registry.get("resampler", "smote").create({})
    X_fit, y_fit, X_val, y_val = fitting.carve_validation(X, y, smote, 0, ValidationPlan(0.2, resample_first=True))
    assert len(y_fit) + len(y_val) == 7 * 80 and len(y_val) == int(7 * 80 * 0.2)


def test_clean_order_keeps_synthetic_samples_out_of_validation():
    X, y = blobs()
    smote = registry.get("resampler", "smote").create({})
    X_fit, y_fit, X_val, y_val = fitting.carve_validation(X, y, smote, 0, ValidationPlan(0.2))
    real = {row.tobytes() for row in X}
    assert all(row.tobytes() in real for row in X_val)
    assert len(set(np.bincount(y_fit))) == 1  # balanced after resampling
    assert len(y_val) == round(0.2 * len(y))


@pytest.mark.parametrize("name, params", [("svm", {"C": 10.0}), ("knn", {}), ("logreg", {})])
def test_sklearn_baselines_learn_separable_classes(name, params):
    X, y = blobs()
    X_test, y_test = blobs(n_per_class=(20,) * 7, seed=0)
    model = registry.get("model", name).create(params)
    fitting.fit(model, registry.get("resampler", "none").create({}), X, y, 0, FER2013_CLASSES)
    proba = model.predict_proba(X_test)
    assert proba.shape == (140, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert (proba.argmax(axis=1) == y_test).mean() > 0.9


def test_paper_mlp_learns_and_keeps_its_history():
    X, y = blobs(dim=128)
    X_test, y_test = blobs(n_per_class=(20,) * 7, dim=128, seed=0)
    model = registry.get("model", "paper-mlp").create({"epochs": 15, "batch_size": 16})
    history = fitting.fit(model, registry.get("resampler", "smote").create({}), X, y, 0, FER2013_CLASSES)
    assert (model.predict_proba(X_test).argmax(axis=1) == y_test).mean() > 0.8
    assert len(history["loss"]) == 15 and len(history["val_loss"]) == 15


def test_paper_mlp_layers_match_the_study():
    from fer_bench.parts.models.paper_mlp import build_paper_mlp

    model = build_paper_mlp()
    dense = [layer for layer in model.layers if layer.name.startswith("dense")]
    assert [layer.units for layer in dense] == [128, 86, 64, 32, 16, 7]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "relu", "tanh", "relu", "softmax"]
    assert [round(float(layer.kernel_regularizer.l2), 6) if layer.kernel_regularizer else None for layer in dense] == [
        0.003,
        0.002,
        None,
        None,
        None,
        None,
    ]
    assert round(float(dense[4].bias_regularizer.l2), 6) == 0.001
    assert model.layers[2].name == "batch_normalization"
    assert model.count_params() == 128 * 4 + (128 * 128 + 128) + (128 * 86 + 86) + (86 * 64 + 64) + (64 * 32 + 32) + (
        32 * 16 + 16
    ) + (16 * 7 + 7)


def test_paper_mlp_flattens_image_shaped_input():
    rng = np.random.default_rng(0)
    X, y = rng.random((70, 48, 48, 1), dtype=np.float32), np.arange(70) % 7
    model = registry.get("model", "paper-mlp").create({"epochs": 1})
    fitting.fit(model, registry.get("resampler", "none").create({}), X, y, 0, FER2013_CLASSES)
    assert model.predict_proba(X[:5]).shape == (5, 7)


def test_many_batches_per_compiled_call_train_exactly_as_stock_fit():
    """The `keras-fit` training loop (steps_per_execution) must not change a single update of stock `fit`."""
    import keras

    from fer_bench.parts.models._keras_training import STEPS_PER_EXECUTION
    from fer_bench.parts.models.paper_mlp import build_paper_mlp

    X, y = blobs(n_per_class=(150,) * 7, dim=128)
    y = np.eye(7, dtype=np.float32)[y]
    losses = []
    for steps in (1, STEPS_PER_EXECUTION):
        keras.utils.set_random_seed(0)
        model = build_paper_mlp()
        model.compile(
            optimizer=keras.optimizers.Adam(0.001), loss="categorical_crossentropy", steps_per_execution=steps
        )
        losses.append(model.fit(X, y, batch_size=32, epochs=3, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


class SpyResampler(Resampler):
    """Keeps what it is given, and weights classes."""

    gives_class_weights = True
    seen = []

    def resample(self, X, y, seed):
        SpyResampler.seen.append(X.copy())
        return X, y

    def class_weight(self, y):
        return {int(c): 2.0 for c in np.unique(y)}


def test_the_harness_resamples_the_fitting_rows_only_and_hands_the_model_its_weights():
    from fer_bench.testing import CheapCentroid

    X, y = blobs()
    seen_by_model = []

    class Spy(CheapCentroid):
        def validation_plan(self):
            return ValidationPlan(0.25)  # real images held out first

        def fit(self, data):
            seen_by_model.append(data)
            return super().fit(data)

    SpyResampler.seen = []
    report = []
    fitting.fit(Spy(), SpyResampler(), X, y, 0, FER2013_CLASSES, "checkpoints", on_epoch=lambda *e: report.append(e))
    (data,) = seen_by_model
    (resampled,) = SpyResampler.seen
    validation = {row.tobytes() for row in data.validation[0]}
    assert len(resampled) == len(data.X) and not validation & {row.tobytes() for row in resampled}
    assert len(validation) + len(resampled) == len(X) and data.class_weight == {c: 2.0 for c in range(7)}
    assert data.checkpoint_dir is None  # it does not declare Resumable
    assert len(report) == 3  # it declares ReportsEpochs: one report per epoch


def test_a_class_missing_from_the_fitting_rows_still_gets_its_column():
    X, y = blobs()
    model = registry.get("model", "logreg").create({})
    fitting.fit(model, registry.get("resampler", "none").create({}), X[y != 3], y[y != 3], 0, FER2013_CLASSES)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 7) and (proba[:, 3] == 0).all()
    assert (proba.argmax(axis=1) == y)[y != 3].mean() > 0.9  # columns line up with the label space
