"""What every Keras model shares: seeding, the validation carve-out and a progress bar."""

import json
import math
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fer_bench.resamplers import shuffle

N_CLASSES = 7
# Batches per compiled call: the same updates as one call per batch, without the per-batch call
# overhead that dominates so small a network (measured by `make bench`, results/benchmarks.md).
STEPS_PER_EXECUTION = 256


def carve_validation(X, y, resampler, seed, validation_split, resample_first):
    """(X_fit, y_fit, X_val, y_val).

    `resample_first=True` is the study's order: resample all training data, shuffle, and hold out
    the last `validation_split` (as Keras' `validation_split` does). `False` holds out a stratified
    share of the real images first and resamples only the rest, so validation sees no synthetic data.
    """
    if resample_first:
        X, y = shuffle(*resampler.resample(X, y, seed), seed)
        n_val = int(len(y) * validation_split)
        return X[: len(y) - n_val], y[: len(y) - n_val], X[len(y) - n_val :], y[len(y) - n_val :]
    from sklearn.model_selection import train_test_split

    n_val = max(math.ceil(len(y) * validation_split), len(np.unique(y)))  # stratifying needs one per class
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=n_val, stratify=y, random_state=seed)
    X_fit, y_fit = shuffle(*resampler.resample(X_fit, y_fit, seed), seed)
    return X_fit, y_fit, X_val, y_val


def progress_callback(epochs, description):
    import keras

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
    import keras

    class EpochLog(keras.callbacks.Callback):
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


def history_of(fit_result):
    return {name: [float(v) for v in values] for name, values in fit_result.history.items()}


def one_hot(y, n_classes=7):
    return np.eye(n_classes, dtype=np.float32)[y]


def fit_embedding_classifier(model, split, resampler, params, name, callbacks=()):
    """Compile and fit a small dense classifier as the study did (Adam, cross-entropy, `epochs` of
    `batch_size`), with `early_stopping_patience` on validation loss when > 0; returns its history.

    `split` is carve_validation's (X_fit, y_fit, X_val, y_val); `steps_per_execution` batches many
    steps per compiled call, which is what makes so small a network fast (results/benchmarks.md).
    """
    import keras

    X_fit, y_fit, X_val, y_val = split
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    callbacks = list(callbacks)
    if params["early_stopping_patience"] > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["early_stopping_patience"], restore_best_weights=True
            )
        )
    return fit_keras(model, (X_fit, y_fit), (X_val, y_val), params, resampler, name, callbacks)


def fit_keras(model, fit, validation, params, resampler, name, callbacks):
    """`model.fit` as every fer-bench network trains: `fit` and `validation` are (inputs, labels),
    shuffled batches, the resampler's class weights, a progress bar; returns this process's history."""
    (fit_inputs, y_fit), (val_inputs, y_val) = fit, validation
    result = model.fit(
        fit_inputs,
        one_hot(y_fit),
        validation_data=(val_inputs, one_hot(y_val)),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        shuffle=True,
        class_weight=resampler.class_weight(y_fit),
        callbacks=[*callbacks, progress_callback(params["epochs"], name)],
        verbose=0,
    )
    return history_of(result)
