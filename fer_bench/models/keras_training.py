"""What every Keras model shares: seeding, the validation carve-out and a progress bar."""

import math
import os

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
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return Progress()


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
    callbacks = [*callbacks, progress_callback(params["epochs"], name)]
    if params["early_stopping_patience"] > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["early_stopping_patience"], restore_best_weights=True
            )
        )
    result = model.fit(
        X_fit,
        one_hot(y_fit),
        validation_data=(X_val, one_hot(y_val)),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        shuffle=True,
        class_weight=resampler.class_weight(y_fit),
        callbacks=callbacks,
        verbose=0,
    )
    return history_of(result)
