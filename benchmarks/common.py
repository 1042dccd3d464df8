"""Shared helpers for the benchmark scripts: timing, machine description, data location."""

import os
import platform
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from fer_bench.runs import provenance


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
        "isa": hw["isa"],
        "cores": hw["cores"],
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "versions": {k: v for k, v in versions.items() if k in keep},
    }


def timed_command(command, env=None, stage=None, peaks=None, cwd=None):
    """Run `command` (in folder `cwd`) to its end; (wall seconds, peak resident memory in GiB of it and
    all its processes together, sampled every 0.2 s). Raises with its output if it fails. With `stage`
    (a function called at each sample) and a dict `peaks`, the peak in GiB per value of `stage()`."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
        peak = 0
        while process.poll() is None:
            now = _tree_rss(process.pid)
            peak = max(peak, now)
            if stage:
                at = stage()
                peaks[at] = max(peaks.get(at, 0), now / 2**30)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{output.read()[-3000:]}")
    return wall, peak / 2**30


def _tree_rss(root):
    """Resident bytes of process `root` and its descendants (Linux /proc)."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, IndexError):
            continue
    tree, grew = {root}, True
    while grew:
        grown = tree | {pid for pid, parent in parents.items() if parent in tree}
        grew, tree = grown != tree, grown
    return sum(rss.get(pid, 0) for pid in tree)
