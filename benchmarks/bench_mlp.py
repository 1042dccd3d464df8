"""The paper MLP: stock Keras `fit` as the study's train.py vs fer-bench's training loops, in one run.

Same data (the size of the SMOTE-resampled detected-face training set), batch 32, same seed.
Baseline: stock `fit`, one compiled call per batch. `keras-fit`: fer-bench's loop until now (256
batches per call; the same updates as stock `fit`, so the same losses). `compiled`: one call per
epoch (fer_bench/parts/models/_compiled_epochs.py; its own batch order, so its losses are checked against
`train_on_batch` over the same batches instead). The default backend (TensorFlow) is timed in this
process; JAX, when installed, in a subprocess with KERAS_BACKEND=jax.
"""

import json
import sys
import time

import numpy as np

from fer_bench.backend import in_process

N_FIT = 31_388  # 7 classes x 5,605 (Happy, the majority of detected Training faces) after SMOTE, x 0.8
N_VAL = 7_847
LOOPS = ("stock", "keras-fit", "compiled")


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_FIT + N_VAL, 128)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, N_FIT + N_VAL)]
    return X[:N_FIT], y[:N_FIT], X[N_FIT:], y[N_FIT:]


def seconds_per_epoch(loop, epochs, batch_size=32, n_fit=N_FIT):
    """Median seconds per epoch (after one warm-up epoch that compiles) and the per-epoch losses of
    the paper MLP trained by `loop`: stock, keras-fit, compiled, or reference (train_on_batch over
    the compiled loop's batches)."""
    from fer_bench.backend import load_keras
    from fer_bench.parts.models import _compiled_epochs as compiled_epochs
    from fer_bench.parts.models._keras_training import STEPS_PER_EXECUTION
    from fer_bench.parts.models.paper_mlp import build_paper_mlp

    keras = load_keras()
    X, y, X_val, y_val = data()
    X, y = X[:n_fit], y[:n_fit]
    keras.utils.set_random_seed(0)
    model = build_paper_mlp()
    steps = STEPS_PER_EXECUTION if loop == "keras-fit" else 1
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps,
    )
    durations = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            durations.append(time.perf_counter() - self.start)

    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=10, min_lr=0.001)
    callbacks = [reduce_lr, EpochTimer()]
    if loop in ("stock", "keras-fit"):
        history = model.fit(
            X,
            y,
            validation_data=(X_val, y_val),
            batch_size=batch_size,
            epochs=epochs + 1,
            callbacks=callbacks,
            verbose=0,
            shuffle=True,
        ).history
    else:
        stepper = compiled_epochs.PerBatch(model) if loop == "reference" else None
        history = compiled_epochs.fit_compiled(
            model,
            X,
            y,
            validation=(X_val, y_val),
            epochs=epochs + 1,
            batch_size=batch_size,
            seed=0,
            callbacks=callbacks,
            stepper=stepper,
        )
    return float(np.median(durations[1:])), history["loss"]


def on_backend(backend, call):
    """`call` (an expression over bench_mlp) evaluated in a subprocess on another Keras backend."""
    return in_process(f"import json; from benchmarks import bench_mlp; print(json.dumps({call}))", backend)


def jax_timings(epochs):
    try:
        import jax  # noqa: F401
    except ImportError:
        return None
    return {
        loop: on_backend("jax", f"bench_mlp.seconds_per_epoch({loop!r}, {epochs})")[0] for loop in ("stock", "compiled")
    }


def flops_per_epoch():
    """Multiply-adds of one epoch, forward and backward (3 x 2 x weights per sample): the arithmetic
    the hardware cannot avoid."""
    from fer_bench.parts.models.paper_mlp import build_paper_mlp

    return 6 * build_paper_mlp().count_params() * N_FIT


def main(epochs=5):
    from fer_bench import backend

    timings, losses = {}, {}
    for loop in LOOPS:
        timings[loop], losses[loop] = seconds_per_epoch(loop, epochs)
    # Correctness on a tenth of the data, 3 epochs: the slow reference trains one call per batch.
    _, compiled_loss = seconds_per_epoch("compiled", 2, n_fit=N_FIT // 10)
    _, reference_loss = seconds_per_epoch("reference", 2, n_fit=N_FIT // 10)
    # Profile of the compiled loop: a batch 8 times larger costs ... per batch; the difference is
    # the per-step cost that batching cannot remove.
    big, _ = seconds_per_epoch("compiled", epochs, batch_size=256)
    flops = flops_per_epoch()
    result = {
        "workload": "paper-mlp",
        "backend": backend.name(),
        "epochs_timed": epochs,
        "fit_samples": N_FIT,
        "s_per_epoch": timings,
        "ratio": timings["stock"] / timings["compiled"],
        "ratio_keras_fit": timings["stock"] / timings["keras-fit"],
        "keras_fit_max_loss_difference": float(np.max(np.abs(np.subtract(losses["stock"], losses["keras-fit"])))),
        "compiled_max_loss_difference": float(np.max(np.abs(np.subtract(compiled_loss, reference_loss)))),
        "minutes_300_epochs": {loop: 300 * s / 60 for loop, s in timings.items()},
        "jax_s_per_epoch": jax_timings(epochs),
        "ms_per_batch_of_32": 1000 * timings["compiled"] / -(-N_FIT // 32),
        "ms_per_batch_of_256": 1000 * big / -(-N_FIT // 256),
        "gflop_per_epoch": flops / 1e9,
        "gflop_per_s": flops / 1e9 / timings["compiled"],
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
