"""The CNN track on fixture data: a smoke run end to end, saved weights, resumed training."""

from pathlib import Path

import numpy as np
import pytest

from fer_bench.cli import main
from fer_bench.data import FER2013_CLASSES
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.resamplers import NoResampling
from fer_bench.runs import fitting
from fer_bench.runs.records import RecordStore

from conftest import MINI

REPO_RESULTS = Path(__file__).resolve().parents[1] / "results"
GPU_TRAINED_RUN = "50af15b1969a"  # cnn-large seed 0: trained on an NVIDIA H200 with JAX

SMALL = {"width": 4, "blocks": 2, "head": 8, "epochs": 3, "warmup_epochs": 1, "batch_size": 16, "erasing": 0.3}


def small_cnn(**overrides):
    return registry.get("model", "cnn").create({**SMALL, **overrides})


def fixture_pixels(mini_dataset):
    X = mini_dataset.images[..., None].astype(np.float32) / 255
    return X, mini_dataset.labels


def test_cnn_experiment_runs_records_and_saves_weights_that_reproduce_it(write_experiments):
    params = "\n".join(f"{k} = {v!r}" for k, v in SMALL.items())
    write_experiments({"tiny-cnn.toml": f'[features]\nname = "pixels"\n[model]\nname = "cnn"\n{params}\n'})
    assert main(["run", "tiny-cnn"]) == 0
    record = RecordStore().find("tiny-cnn")[-1]
    assert record.metrics["PrivateTest"].n_evaluated == 42  # pixels cover every image
    assert len(record.history["val_accuracy"]) == 3 and "best_epoch" in record.history
    weights = RecordStore().root / record.artefact
    assert weights.is_file() and weights.stat().st_size < 1_000_000

    from fer_bench.data import load_dataset
    from fer_bench.scoring.metrics import decode_predictions

    dataset = load_dataset(MINI)
    model = record.model().load(weights, record.classes)
    index = dataset.indices("PrivateTest")
    X = dataset.images[index][..., None].astype(np.float32) / 255
    recorded = decode_predictions(record.predictions["PrivateTest"])
    assert np.array_equal(model.predict_proba(X).argmax(axis=1), recorded)


@pytest.mark.slow
def test_weights_trained_on_a_gpu_give_the_recorded_predictions_here(real_data, tmp_path):
    """The committed cnn-large weights, trained with JAX on a GPU, loaded on this machine's backend:
    every one of the 3,589 recorded PrivateTest predictions comes out again."""
    from fer_bench.data import load_dataset
    from fer_bench.scoring.metrics import decode_predictions

    store = RecordStore(REPO_RESULTS)
    (record,) = [r for r in store.find(GPU_TRAINED_RUN) if r.ok]
    assert record.hardware["accelerator"] and record.backend == "jax"
    (tmp_path / "PrivateTest").symlink_to((real_data / "PrivateTest").resolve())  # its images alone, in order
    dataset = load_dataset(tmp_path)
    counts = np.bincount(dataset.labels, minlength=7).tolist()
    assert counts == [sum(row) for row in record.metrics["PrivateTest"].confusion_matrix]  # the same labels
    model = record.model()
    model.load(store.root / record.artefact, record.classes)
    index = dataset.indices("PrivateTest")
    predicted = model.predict_proba(dataset.images[index][..., None].astype(np.float32) / 255).argmax(axis=1)
    recorded = decode_predictions(record.predictions["PrivateTest"])
    assert len(recorded) == 3589 and np.array_equal(predicted, recorded)


def test_an_interrupted_fit_resumes_from_its_last_epoch_and_reports_every_epoch(mini_dataset, tmp_path, monkeypatch):
    import json

    import keras

    from fer_bench.parts.models import _keras_training as keras_training

    class Crash(Exception):
        pass

    class CrashAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Crash

    X, y = fixture_pixels(mini_dataset)
    checkpoint = tmp_path / "checkpoint"
    monkeypatch.setattr(keras_training, "progress_callback", lambda *args: CrashAfterSecondEpoch())
    with pytest.raises(Crash):
        fitting.fit(small_cnn(epochs=4), NoResampling(), X, y, 0, FER2013_CLASSES, checkpoint)
    epoch_log = checkpoint / "epochs.json"
    logged = json.loads(epoch_log.read_text())
    assert len(logged) == 2  # epochs 1 and 2 are logged and backed up before the crash
    # as if a kill came between logging epoch 3 and backing it up: the resumed fit trains it again
    epoch_log.write_text(json.dumps([*logged, {**logged[-1], "epoch_seconds": -1.0}]))

    monkeypatch.undo()
    history = fitting.fit(small_cnn(epochs=4), NoResampling(), X, y, 0, FER2013_CLASSES, checkpoint)
    assert history["resumed_at_epoch"] == [2.0]
    assert len(history["loss"]) == len(history["val_accuracy"]) == 4  # the 2 logged epochs, then 3 and 4
    assert history["epoch_seconds"][:2] == [e["epoch_seconds"] for e in logged] and min(history["epoch_seconds"]) > 0
    assert 3 <= history["best_epoch"][0] <= 4  # chosen among the epochs this process trained
    assert not checkpoint.exists() or not any(checkpoint.iterdir())

    from fer_bench.runs.runner import earlier_attempts

    assert earlier_attempts(history) == {"fit_earlier_attempts": round(sum(history["epoch_seconds"][:2]), 2)}


def test_the_networks_refuse_features_they_cannot_take_before_any_work(write_experiments, capsys):
    write_experiments(
        {
            "fusion-on-pixels.toml": '[features]\nname = "pixels"\n[model]\nname = "fusion"\n',
            "cnn-on-embedding.toml": '[features]\nname = "embedding"\n[model]\nname = "cnn"\n',
        }
    )
    assert main(["run", "fusion-on-pixels"]) == 2
    assert "model/fusion takes image+embedding features; features/pixels gives image" in capsys.readouterr().err
    assert main(["run", "cnn-on-embedding"]) == 2
    assert "model/cnn takes image features; features/embedding gives vector" in capsys.readouterr().err
    with pytest.raises(FerBenchError, match="model/cnn takes image features"):
        from fer_bench.specs.experiment import load_experiment

        load_experiment("cnn-on-embedding")


def test_fusion_fits_on_pixels_and_embedding(mini_dataset, mini_embeddings):
    cache, _ = mini_embeddings
    features = registry.get("features", "pixels-embedding").create({"protocol": "detector"})
    feature_set = features.extract(mini_dataset, cache)
    assert feature_set.X.shape == (len(mini_dataset), 48 * 48 + 128)
    train = mini_dataset.indices("Training")
    train = train[feature_set.covered[train]]
    fusion = registry.get("model", "fusion").create({**SMALL, "epochs": 2})
    fitting.fit(fusion, NoResampling(), feature_set.X[train], mini_dataset.labels[train], 0, FER2013_CLASSES)
    covered = np.flatnonzero(feature_set.covered)[:5]  # an uncovered image's embedding is NaN: refused
    proba = fusion.predict_proba(feature_set.X[covered])
    assert proba.shape == (5, 7) and np.allclose(proba.sum(axis=1), 1, atol=1e-3)
    uncovered = np.flatnonzero(~feature_set.covered)[:1]
    with pytest.raises(FerBenchError, match=r"model/fusion: 1 of the 6 feature rows given hold NaN"):
        fusion.predict_proba(feature_set.X[np.concatenate([covered, uncovered])])


def test_augmentation_changes_training_batches_only():
    import keras

    from fer_bench.parts.models._augment import FaceAugment

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
