"""What every Keras network shares: targets, the progress bar, the epoch log, and how it fits: one
`model.fit` for a CNN, one compiled call per epoch for a small dense classifier."""

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from fer_bench.backend import load_keras
from fer_bench.parts.base import ExportsNetwork, FitData
from fer_bench.parts.models._compiled_epochs import fit_compiled


def targets(y, n_classes):
    """One-hot rows for labels; soft targets, (n, classes) probabilities, as they are."""
    y = np.asarray(y)
    return y.astype(np.float32) if y.ndim == 2 else np.eye(n_classes, dtype=np.float32)[y]


def progress_callback(epochs, description):
    keras = load_keras()

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            quiet = os.environ.get("TQDM_DISABLE") == "1"  # read now: grid workers set it after import
            self.bar = tqdm(total=epochs, unit="epoch", desc=description, leave=False, disable=quiet)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if "loss" in k or "acc" in k})
            self.bar.update(epoch + 1 - self.bar.n)  # a resumed fit starts past epoch 0

        def on_train_end(self, logs=None):
            self.bar.close()

    return Progress()


def epoch_log_callback(path: Path | None, description):
    """Keeps every finished epoch's metrics and seconds, and with a `path` (JSON, beside the fit's
    checkpoint) keeps them on disk, so a fit resumed from that checkpoint still reports all its
    epochs and its whole training time.

    Put it before BackupAndRestore: an epoch is logged, then backed up, and on resuming the log is
    cut back to the epoch the backup restarts from. `history()` is the fit's history over all epochs,
    with `epoch_seconds` and, for a resumed fit, `resumed_at_epoch` (epochs done before this process).
    """
    keras = load_keras()

    # mypy cannot resolve a base class through a value (Keras comes from load_keras()): Any to it
    Callback: Any = keras.callbacks.Callback

    class EpochLog(Callback):
        def on_train_begin(self, logs=None):
            self.epochs = json.loads(path.read_text()) if path and path.is_file() else []
            self.resumed_at = None

        def on_epoch_begin(self, epoch, logs=None):
            if self.resumed_at is None:
                self.resumed_at = epoch
                del self.epochs[epoch:]
                if epoch:
                    tqdm.write(f"{description}: resuming after epoch {epoch} from {path.parent}")
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = round(time.perf_counter() - self.started, 2)
            self.epochs.append({"epoch_seconds": seconds, **{k: float(v) for k, v in (logs or {}).items()}})
            if path is None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.tmp")
            partial.write_text(json.dumps(self.epochs))
            partial.replace(path)

        def history(self):
            history = {key: [epoch[key] for epoch in self.epochs] for key in self.epochs[-1]}
            if self.resumed_at:
                history["resumed_at_epoch"] = [float(self.resumed_at)]
            return history

    return EpochLog()


# Batches per compiled call for the `keras-fit` loop: the same updates as stock `fit`, fewer calls.
STEPS_PER_EXECUTION = 256


def fit_dense_classifier(model, data: FitData, params, name, callbacks=()):
    """Compile and fit a small dense classifier as the study did (Adam, cross-entropy, `epochs` of
    `batch_size`), with `early_stopping_patience` on validation loss when > 0; returns its history.

    `training_loop` "compiled" trains one compiled call per epoch (`compiled_epochs`), which is what
    makes so small a network fast; "keras-fit" is `model.fit` with `STEPS_PER_EXECUTION`, the same
    updates as the study's stock `fit` (Keras's own batch order), several times slower
    (results/benchmarks.md).
    """
    keras = load_keras()
    loop = params["training_loop"]
    steps_per_execution = STEPS_PER_EXECUTION if loop == "keras-fit" else 1
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    callbacks = list(callbacks)
    if params["early_stopping_patience"] > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["early_stopping_patience"], restore_best_weights=True
            )
        )
    if loop == "keras-fit":
        return fit_keras(model, data, params, name, callbacks)
    n_classes = len(data.classes)
    assert data.validation is not None  # a Keras network's validation plan holds images out
    X_val, y_val = data.validation
    return fit_compiled(
        model,
        np.asarray(data.X, dtype=np.float32),
        targets(data.y, n_classes),
        validation=(np.asarray(X_val, dtype=np.float32), targets(y_val, n_classes)),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        seed=data.seed,
        class_weight=data.class_weight,
        callbacks=[*_reporting(data), *callbacks, progress_callback(params["epochs"], name)],
    )


def _reporting(data: FitData):
    return [load_keras().callbacks.LambdaCallback(on_epoch_end=data.on_epoch)] if data.on_epoch else []


def fit_keras(model, data: FitData, params, name, callbacks, inputs=lambda X: X):
    """`model.fit` as every fer-bench network trains: `inputs(X)` of the fitting and validation rows,
    their targets, shuffled batches, the class weights, `data.on_epoch` after each epoch (a tuner's
    report), a progress bar; returns this process's history."""
    n_classes = len(data.classes)
    assert data.validation is not None  # a Keras network's validation plan holds images out
    X_val, y_val = data.validation
    result = model.fit(
        inputs(data.X),
        targets(data.y, n_classes),
        validation_data=(inputs(X_val), targets(y_val, n_classes)),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        shuffle=True,
        class_weight=data.class_weight,
        callbacks=[*_reporting(data), *callbacks, progress_callback(params["epochs"], name)],
        verbose=0,
    )
    return {metric: [float(v) for v in values] for metric, values in result.history.items()}


def save_dense_weights(model, path: Path):
    """A dense classifier's weights as float32, exactly those it predicts with (rounding them to
    float16, as the CNN's fit does, would change its predictions), with its input shape, so that
    `read_dense_weights` rebuilds it; written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            *[np.asarray(w, dtype=np.float32) for w in model.get_weights()],
            input_shape=np.asarray(model.input_shape[1:], dtype=np.int64),
        )
    tmp.replace(path)


def read_dense_weights(path: Path):
    """(input shape, [weights]) as `save_dense_weights` wrote them."""
    with np.load(path) as stored:
        weights = [stored[f"arr_{i}"] for i in range(len(stored.files) - 1)]
        return tuple(int(v) for v in stored["input_shape"]), weights


class DenseWeights(ExportsNetwork):
    """save/load for a dense classifier (SavesWeights): its float32 weights and input shape;
    `dense_network(input_shape, n_classes)` rebuilds the network they fill, which is exported as it is."""

    model: Any  # the Keras network
    dense_network: Callable[[tuple[int, ...], int], Any]

    def save(self, path: Path):
        save_dense_weights(self.model, path)

    def exported_network(self):
        return self.model

    def load(self, path: Path, classes):
        input_shape, weights = read_dense_weights(path)
        self.model = self.dense_network(input_shape, len(classes))
        self.model.set_weights(weights)
        return self
