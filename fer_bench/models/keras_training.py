"""What every Keras model shares: seeding, the validation carve-out and a progress bar."""

import math
import os

import numpy as np
from tqdm import tqdm

from fer_bench.resamplers import shuffle


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
