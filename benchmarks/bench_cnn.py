"""Training throughput of the `cnn` network (experiments/cnn.toml: width 32, 4 blocks) on this CPU,
by backend, batch size and precision, on random 48x48 images, side by side with the fast CNN
(`cnn-fast` as experiments/cnn-fast.toml and cnn-fast-long.toml train it); and `fer-bench predict
--model cnn-fast` on PrivateTest crops, after its start-up.

Each setting runs in its own process (the Keras backend and dtype policy are per process): one
epoch to compile and warm up, then one timed epoch. The arithmetic per image (forward and backward,
3 x the forward multiply-adds x 2) gives the GFLOP/s each setting reaches.
"""

import json
import subprocess
import time

import numpy as np

from fer_bench.backend import in_process

IMAGES = 2560
# Today's `cnn` and the fast CNN, which the ratio compares, are timed on more images: a `fit` call
# costs ~2-3 s of its own, which is half an epoch of 2,560 images for the fast CNN.
RATIO_IMAGES = 12800
SETTINGS = [  # (backend, XLA, batch size, dtype policy, images timed) of `cnn`
    ("tensorflow", False, 64, "float32", RATIO_IMAGES),  # today's `cnn` (Keras leaves XLA off for it on TensorFlow)
    ("tensorflow", False, 128, "float32", IMAGES),
    ("tensorflow", False, 256, "float32", IMAGES),
    ("tensorflow", True, 64, "float32", IMAGES),  # XLA's kernels instead of TensorFlow's own (oneDNN)
    ("jax", True, 64, "float32", IMAGES),
    ("jax", True, 128, "float32", IMAGES),
    ("tensorflow", False, 64, "mixed_bfloat16", 640),  # emulated on CPUs without AVX-512 BF16: slow, so fewer
]


FAST_EXPERIMENTS = ("cnn-fast", "cnn-fast-long")  # the fast CNN as these experiments train it, on TensorFlow
PREDICT_CROPS = 1000


def fast_images_per_s(experiment, images=RATIO_IMAGES):
    """Training images/s of the fast CNN as `experiment` builds and compiles it (its precision as the
    spec decided on this CPU), one timed epoch after a warm-up."""
    from fer_bench.specs.experiment import load_experiment

    model = load_experiment(experiment).model.create("model")
    network = model.network(7)
    steps = -(-images // model.batch_size)
    network.compile(
        optimizer=model.optimizer(steps),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=model.batches_per_call(),
    )
    rng = np.random.default_rng(0)
    X = rng.random((images, 48, 48, 1), dtype=np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, images)]
    network.fit(X, y, batch_size=model.batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    network.fit(X, y, batch_size=model.batch_size, epochs=1, verbose=0)
    return {
        "images_per_s": images / (time.perf_counter() - start),
        "precision": model.precision,
        "parameters": network.count_params(),
    }


def fast_predict():
    """`fer-bench predict --model cnn-fast` on PREDICT_CROPS PrivateTest crops and on one: the crops
    per second after the start-up (None where no cnn-fast run with weights is recorded)."""
    from benchmarks.bench_predict import predict_command, private_files

    files = private_files(PREDICT_CROPS)
    walls = []
    for chosen in (files[:1], files):
        start = time.perf_counter()
        done = subprocess.run(
            predict_command(chosen, "--model", "cnn-fast", "--format", "csv"), capture_output=True, text=True
        )
        if done.returncode != 0:
            return None
        walls.append(time.perf_counter() - start)
    return {
        "crops": PREDICT_CROPS,
        "start_up_s": walls[0],
        "wall_s": walls[1],
        "crops_per_s_after_start_up": (PREDICT_CROPS - 1) / max(walls[1] - walls[0], 1e-9),
    }


def images_per_s(jit_compile, batch_size, policy, images):
    from fer_bench.backend import load_keras
    from fer_bench.parts.models import cnn

    keras = load_keras()
    keras.mixed_precision.set_dtype_policy(policy)
    params = cnn.CNN(width=32, epochs=18, batch_size=batch_size).get_params()
    model = cnn.build_cnn(params, 7)
    model.compile(
        optimizer=keras.optimizers.Adam(0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    rng = np.random.default_rng(0)
    X = rng.random((images, *cnn.IMAGE_SHAPE), dtype=np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, images)]
    model.fit(X[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0)
    return images / (time.perf_counter() - start)


def forward_flops():
    """Multiply-adds x 2 of one image through the network's convolutions and dense layers."""
    from fer_bench.backend import load_keras
    from fer_bench.parts.models import cnn

    keras = load_keras()
    model = cnn.build_cnn(cnn.CNN(width=32).get_params(), 7)
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, out = layer.output.shape
            flops += 2 * h * w * out * int(np.prod(layer.kernel.shape[:-1]))
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return flops


def main():
    gflop = 3 * forward_flops() / 1e9
    rows = []
    for backend, xla, batch_size, policy, images in SETTINGS:
        code = (
            f"import json; from benchmarks import bench_cnn; "
            f"print(json.dumps(bench_cnn.images_per_s({xla}, {batch_size}, {policy!r}, {images})))"
        )
        try:
            speed = in_process(code, backend)
        except subprocess.CalledProcessError:  # JAX not installed
            continue
        rows.append(
            {
                "backend": backend,
                "xla": xla,
                "batch_size": batch_size,
                "policy": policy,
                "images_per_s": speed,
                "gflop_per_s": speed * gflop,
            }
        )
    fast = []
    for experiment in FAST_EXPERIMENTS:
        code = (
            f"import json; from benchmarks import bench_cnn; "
            f"print(json.dumps(bench_cnn.fast_images_per_s({experiment!r})))"
        )
        fast.append({"experiment": experiment, **in_process(code, "tensorflow")})
    from fer_bench import backend

    flags = backend.cpu_flags()
    result = {
        "workload": "cnn training throughput",
        "gflop_per_training_image": gflop,
        "settings": rows,
        "fast": fast,
        "fast_predict": fast_predict(),
        "isa": backend.isa_level(),
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma"))),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
