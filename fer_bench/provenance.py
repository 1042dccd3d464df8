"""Where a run came from: package versions, git commit, machine."""

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = result.stdout.strip()
    return (commit + ("-dirty" if dirty else "")) if result.returncode == 0 else None


def hardware():
    info = {"machine": platform.machine(), "cores": len(os.sched_getaffinity(0)), "processor": _cpu_name()}
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    info["keras_backend"] = backend
    return info


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
