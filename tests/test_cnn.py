"""The CNN track on fixture data: a smoke run end to end, saved weights, resumed training."""

import numpy as np
import pytest

from fer_bench import registry
from fer_bench.cli import main
from fer_bench.errors import FerBenchError
from fer_bench.records import RecordStore
from fer_bench.resamplers import NoResampling

from conftest import MINI

SMALL = {"width": 4, "blocks": 2, "head": 8, "epochs": 3, "warmup_epochs": 1, "batch_size": 16, "erasing": 0.3}


def small_cnn(**overrides):
    return registry.get("model", "cnn").create({**SMALL, **overrides})


def fixture_pixels(mini_dataset):
    X = mini_dataset.images[..., None].astype(np.float32) / 255
    return X, mini_dataset.labels


def test_cnn_experiment_runs_records_and_saves_weights_that_reproduce_it(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    params = "\n".join(f"{k} = {v!r}" for k, v in SMALL.items())
    (folder / "tiny-cnn.toml").write_text(f'[features]\nname = "pixels"\n[model]\nname = "cnn"\n{params}\n')
    monkeypatch.setenv("FER_BENCH_EXPERIMENTS", str(folder))
    assert main(["run", "tiny-cnn"]) == 0
    record = RecordStore().find("tiny-cnn")[-1]
    assert record["metrics"]["PrivateTest"]["n_evaluated"] == 42  # pixels cover every image
    assert len(record["history"]["val_accuracy"]) == 3 and "best_epoch" in record["history"]
    weights = RecordStore().root / record["artefact"]
    assert weights.is_file() and weights.stat().st_size < 1_000_000

    from fer_bench.data import load_dataset
    from fer_bench.metrics import decode_predictions

    dataset = load_dataset(MINI)
    model = registry.get("model", "cnn").create(record["spec"]["model"]["params"]).load(weights)
    index = dataset.indices("PrivateTest")
    X = dataset.images[index][..., None].astype(np.float32) / 255
    recorded = decode_predictions(record["predictions"]["PrivateTest"])
    assert np.array_equal(model.predict_proba(X).argmax(axis=1), recorded)


def test_an_interrupted_fit_resumes_from_its_last_epoch(mini_dataset, tmp_path, monkeypatch):
    import keras

    from fer_bench.models import cnn

    class Crash(Exception):
        pass

    class CrashAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Crash

    X, y = fixture_pixels(mini_dataset)
    first = small_cnn(epochs=4)
    first.checkpoint_dir = tmp_path / "checkpoint"
    monkeypatch.setattr(cnn, "progress_callback", lambda *args: CrashAfterFirstEpoch())
    with pytest.raises(Crash):
        first.fit(X, y, NoResampling(), seed=0)
    assert any(first.checkpoint_dir.iterdir())  # epoch 1 (index 0) is backed up

    monkeypatch.undo()
    resumed = small_cnn(epochs=4)
    resumed.checkpoint_dir = first.checkpoint_dir
    resumed.fit(X, y, NoResampling(), seed=0)
    assert len(resumed.history["loss"]) == 3  # epochs 2..4 only
    assert not first.checkpoint_dir.exists() or not any(first.checkpoint_dir.iterdir())


def test_fusion_needs_pixels_and_embedding_columns(mini_dataset):
    X, y = fixture_pixels(mini_dataset)
    fusion = registry.get("model", "fusion").create(SMALL)
    with pytest.raises(FerBenchError, match="pixels-embedding"):
        fusion.fit(X.reshape(len(X), -1), y, NoResampling(), seed=0)


def test_fusion_fits_on_pixels_and_embedding(mini_dataset, mini_embeddings):
    cache, _ = mini_embeddings
    features = registry.get("features", "pixels-embedding").create({"protocol": "detector"})
    feature_set = features.extract(mini_dataset, cache)
    assert feature_set.X.shape == (len(mini_dataset), 48 * 48 + 128)
    train = mini_dataset.indices("Training")
    train = train[feature_set.covered[train]]
    fusion = registry.get("model", "fusion").create({**SMALL, "epochs": 2})
    fusion.fit(feature_set.X[train], mini_dataset.labels[train], NoResampling(), seed=0)
    proba = fusion.predict_proba(feature_set.X[:5])
    assert proba.shape == (5, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-3)


def test_augmentation_changes_training_batches_only():
    import keras

    from fer_bench.models.augment import FaceAugment

    x = np.random.default_rng(0).random((6, 48, 48, 1)).astype(np.float32)
    layer = FaceAugment(rotation=0.04, zoom=0.1, shift=0.1, erasing=0.5, seed=1)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    augmented = keras.ops.convert_to_numpy(layer(x, training=True))
    assert augmented.shape == x.shape and not np.allclose(augmented, x)
    assert augmented.min() >= 0 and augmented.max() <= 1
    mirror = FaceAugment(rotation=0, zoom=0, shift=0, seed=2)
    out = keras.ops.convert_to_numpy(mirror(x, training=True))
    for original, image in zip(x, out):  # with no other change, each image is itself or its mirror
        assert np.array_equal(image, original) or np.array_equal(image, original[:, ::-1])
