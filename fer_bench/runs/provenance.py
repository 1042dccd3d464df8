"""Where a run came from: package versions, git commit, machine."""

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fer_bench import backend

PACKAGES = (
    "fer-bench",
    "numpy",
    "scikit-learn",
    "imbalanced-learn",
    "keras",
    "tensorflow-cpu",
    "tensorflow",
    "jax",
    "torch",
    "dlib-bin",
    "face_recognition",
    "face_recognition_models",
)


def versions():
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def git_commit():
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        dirty = subprocess.run(
            # results/ holds what the tool itself wrote: a run's own records make no code dirty
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top,exclude)results"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return os.environ.get("FER_BENCH_GIT_COMMIT")  # a copy of the tree without .git says it here
    if result.returncode != 0:
        return os.environ.get("FER_BENCH_GIT_COMMIT")
    commit = result.stdout.strip()
    return commit + ("-dirty" if dirty else "")


def hardware():
    info = {
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "processor": _cpu_name(),
        "isa": backend.isa_level(),
    }
    keras_backend = backend.name()
    info["keras_backend"] = keras_backend
    info["accelerator"] = _accelerator(keras_backend)
    return info


def _accelerator(keras_backend):
    """The GPU the Keras backend computes on, or None; asks only a backend already imported."""
    import sys

    try:
        if keras_backend == "jax" and "jax" in sys.modules:
            device = sys.modules["jax"].devices()[0]
            return None if device.platform == "cpu" else device.device_kind
        if keras_backend == "torch" and "torch" in sys.modules:
            torch = sys.modules["torch"]
            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if keras_backend == "tensorflow" and "tensorflow" in sys.modules:
            gpus = sys.modules["tensorflow"].config.list_physical_devices("GPU")
            return gpus[0].name if gpus else None
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return None
    return None


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
