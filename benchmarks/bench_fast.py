"""The fast CNN's training images/s on this CPU by Keras backend and instruction-set level, side by side
in one run (issue 37): a reader with an AVX2-only CPU finds their speed, and a backend that wins on a
CPU kind shows here first.

Each setting runs in its own process (the backend is per process), `REPEATS` times in turn, because
this machine's speed drifts between identical processes (TensorFlow's two modes among them): the
table gives every repeat, the ratio uses the medians. The ISA levels: the CPU's own, and AVX2 where
the CPU has more, limited the way each backend's kernels can be (oneDNN for TensorFlow and PyTorch's
convolutions, ATen's dispatch for PyTorch's other kernels, XLA's code generator for JAX). A backend
not installed (`pip install -e '.[jax,torch]'`) is left out.
"""

import importlib.util
import json
import statistics

from fer_bench.backend import in_process

EXPERIMENTS = ("cnn-fast", "cnn-fast-10min")
BACKENDS = ("tensorflow", "jax", "torch")
REPEATS = 2
IMAGES = 6400

# What limits each backend's kernels to AVX2 on a CPU with more.
AVX2_LIMIT = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}


def isa_settings():
    """(level, extra environment) pairs this CPU can show: native, and AVX2-limited where native is more."""
    from fer_bench import backend

    native = backend.isa_level()
    return [(native, {})] + ([("avx2", AVX2_LIMIT)] if native not in ("avx2", "baseline") else [])


def one_process(experiment, backend, env):
    code = (
        f"import json; from benchmarks import bench_cnn; "
        f"print(json.dumps(bench_cnn.fast_images_per_s({experiment!r}, {IMAGES})))"
    )
    return in_process(code, backend, env)


def main():
    from fer_bench import backend as keras_backend

    backends = [b for b in BACKENDS if importlib.util.find_spec(b)]  # JAX and PyTorch are optional
    settings = [(e, b, level, env) for e in EXPERIMENTS for level, env in isa_settings() for b in backends]
    speeds = {i: [] for i in range(len(settings))}
    info = {}
    for _ in range(REPEATS):  # repeats interleaved, so a slow spell of the machine spreads over settings
        for i, (experiment, backend, _level, env) in enumerate(settings):
            measured = one_process(experiment, backend, env)
            speeds[i].append(measured["images_per_s"])
            info[i] = measured
    rows = [
        {
            "experiment": e,
            "backend": b,
            "isa": level,
            "images_per_s": speeds[i],
            "median": statistics.median(speeds[i]),
            "precision": info[i]["precision"],
            "parameters": info[i]["parameters"],
        }
        for i, (e, b, level, _) in enumerate(settings)
    ]
    result = {
        "workload": "fast CNN training throughput by backend and ISA level",
        "images": IMAGES,
        "repeats": REPEATS,
        "rows": rows,
        "isa": keras_backend.isa_level(),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
