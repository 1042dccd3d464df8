"""The paper MLP: stock Keras `fit` as the study's train.py vs fer-bench's training, in one run.

Same data (the size of the SMOTE-resampled detected-face training set), batch 32, same seed.
Both train the same updates in the same order, so their per-epoch losses must agree; the
benchmark checks that and reports seconds per epoch. The JAX backend is timed in a subprocess
when JAX is installed (KERAS_BACKEND=jax); TensorFlow stays the default.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

N_FIT = 31_388  # 7 classes x 5,605 (Happy, the majority of detected Training faces) after SMOTE, x 0.8
N_VAL = 7_847


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_FIT + N_VAL, 128)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, N_FIT + N_VAL)]
    return X[:N_FIT], y[:N_FIT], X[N_FIT:], y[N_FIT:]


def seconds_per_epoch(steps_per_execution, epochs, batch_size=32):
    """Median seconds per epoch and the per-epoch losses of the paper MLP trained as fer-bench
    does, with the given batches per compiled call."""
    import keras

    from fer_bench.models.paper_mlp import build_paper_mlp

    X, y, X_val, y_val = data()
    keras.utils.set_random_seed(0)
    model = build_paper_mlp()
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    durations = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            durations.append(time.perf_counter() - self.start)

    callbacks = [
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=10, min_lr=0.001),
        EpochTimer(),
    ]
    model.fit(X[:3200], y[:3200], batch_size=batch_size, epochs=1, verbose=0)  # compile outside the timing
    history = model.fit(
        X,
        y,
        validation_data=(X_val, y_val),
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
        shuffle=True,
    )
    return float(np.median(durations)), history.history["loss"]


def jax_seconds_per_epoch(steps_per_execution, epochs):
    try:
        import jax  # noqa: F401
    except ImportError:
        return None
    call = f"bench_mlp.seconds_per_epoch({steps_per_execution}, {epochs})"
    code = f"import json; from benchmarks import bench_mlp; print(json.dumps({call}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])[0]


def main(epochs=6):
    from fer_bench.models.keras_training import STEPS_PER_EXECUTION

    baseline, baseline_loss = seconds_per_epoch(1, epochs)
    ours, our_loss = seconds_per_epoch(STEPS_PER_EXECUTION, epochs)
    jax = jax_seconds_per_epoch(STEPS_PER_EXECUTION, epochs)
    # Profile: if a batch 8 times larger costs about as much per batch, the cost is per batch
    # (framework overhead), not arithmetic.
    big, _ = seconds_per_epoch(STEPS_PER_EXECUTION, epochs, batch_size=256)
    batches = -(-N_FIT // 32)
    result = {
        "workload": "paper-mlp",
        "epochs_timed": epochs,
        "fit_samples": N_FIT,
        "baseline_s_per_epoch": baseline,
        "fer_bench_s_per_epoch": ours,
        "ratio": baseline / ours,
        "max_loss_difference": float(np.max(np.abs(np.array(baseline_loss) - np.array(our_loss)))),
        "baseline_300_epochs_min": 300 * baseline / 60,
        "fer_bench_300_epochs_min": 300 * ours / 60,
        "jax_s_per_epoch": jax,
        "jax_ratio": baseline / jax if jax else None,
        "ms_per_batch_of_32": 1000 * ours / batches,
        "ms_per_batch_of_256": 1000 * big / -(-N_FIT // 256),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
