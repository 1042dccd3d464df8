"""The Keras backend: which one a run uses (it is part of every run id), and Keras imported quietly.

Every module imports Keras through `load_keras()`. TensorFlow writes its start-up lines (oneDNN,
cpu_feature_guard, absl) straight to the process's stderr while its libraries load, before any log
level applies, so they are dropped by pointing file descriptor 2 at /dev/null for the import; its
later C++ log lines and Python warnings are turned down too. FER_BENCH_VERBOSE (`fer-bench
--verbose`) keeps all of it. An import that fails still raises.
"""

import functools
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

VERBOSE_VARIABLE = "FER_BENCH_VERBOSE"


def name() -> str:
    """The Keras backend of this process, as Keras itself decides it, without importing Keras."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def verbose() -> bool:
    return os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


@functools.cache
def load_keras():
    if verbose():
        import keras
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines once it runs
        with _stderr_dropped():
            import keras
        logging.getLogger("tensorflow").setLevel(logging.ERROR)  # its Python warnings (tf.function retracing)
    return keras


@contextmanager
def _stderr_dropped():
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


# --- the CPU ------------------------------------------------------------------------------------

# The instruction-set levels a record names, best first: (level, the /proc/cpuinfo flags it needs).
# TensorFlow's oneDNN kernels differ by level, so runs on different levels may differ in the last
# digits, and bfloat16 is fast only where the CPU multiplies it natively (AVX-512 BF16 or AMX).
ISA_LEVELS = (
    ("amx-bf16", {"amx_bf16"}),
    ("avx512-bf16", {"avx512_bf16"}),
    ("avx512", {"avx512f"}),
    ("avx2", {"avx2", "fma"}),
)


def cpu_flags() -> frozenset:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where it does not exist)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def isa_level(flags=None) -> str:
    """The best instruction-set level in ISA_LEVELS the CPU has, or "baseline"."""
    flags = cpu_flags() if flags is None else flags
    return next((level for level, needs in ISA_LEVELS if needs <= flags), "baseline")


def native_bfloat16(flags=None) -> bool:
    return isa_level(flags) in ("amx-bf16", "avx512-bf16")


def in_process(code: str, backend: str, env: dict[str, str] | None = None):
    """The JSON value that `code` (Python source) prints last, run in a new Python process under the
    Keras `backend` (with `env` added to its environment): the backend is chosen once per process,
    so comparing backends, or one with other CPU settings, takes a process each. A failing process
    raises subprocess.CalledProcessError."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {}), "KERAS_BACKEND": backend},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])
