"""Shared helpers for the benchmark scripts: timing, machine description, data location."""

import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path

from fer_bench import provenance


def data_path():
    path = Path(os.environ.get("FER_BENCH_DATA") or Path(__file__).resolve().parents[1] / "../shared/fer2013")
    if not (path / "PrivateTest").is_dir():
        raise SystemExit(f"benchmarks need the FER2013 images: set FER_BENCH_DATA (looked in {path})")
    return path.resolve()


@contextmanager
def timer(results, name):
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def machine():
    hw = provenance.hardware()
    versions = provenance.versions()
    keep = ("python", "numpy", "keras", "tensorflow-cpu", "tensorflow", "jax", "dlib-bin")
    return {
        "processor": hw["processor"],
        "cores": hw["cores"],
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "versions": {k: v for k, v in versions.items() if k in keep},
    }
