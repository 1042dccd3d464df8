"""Same run id, same features: random images of the data set embedded (faces and whole frames) twice
from empty caches, with --jobs 2 and its usual chunks, then with --jobs 1 and other chunks; are the
faces found and every bit of every embedding the same? This checkout beside a base commit
(DETERMINISM_BASE, default BASE_COMMIT: the commit before descriptors were batched the same whatever
the chunk), each timed. DETERMINISM_IMAGES sets the number of images (default IMAGES).

TensorFlow's oneDNN kernels are chosen by the CPU's instruction set, and AVX2's rounded by batch size
(issue 36): on a CPU beyond AVX2 the extractions run twice more with oneDNN capped at AVX2
(ONEDNN_MAX_CPU_ISA), as on an AVX2 machine. Each extraction runs in a process of its own, from the
checkout's folder, with the same interpreter (`git archive` of the base, as the cold-start benchmark).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.bench_coldstart import export
from benchmarks.common import data_path, timed_command
from fer_bench import backend

BASE_COMMIT = "8196e33"
IMAGES = 4000
REPOSITORY = Path(__file__).resolve().parents[1]
# name: (worker processes, images per chunk; None: the size extraction always chooses)
WAYS = {"--jobs 2, its chunks": (2, None), "--jobs 1, chunks of 97": (1, 97)}

EXTRACT = """
import sys, time
import numpy as np
from fer_bench.data import Dataset
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.features import _chunks
from fer_bench.parts.features._dlib_resnet import descriptor_model
from fer_bench.parts.features.embedding import Embedding

sample, cache, out, jobs, chunk = sys.argv[1:]
images = np.load(sample)["images"]
n = len(images)
dataset = Dataset("sample", "files", images, np.zeros(n, int), np.array(["Training"] * n), np.arange(n).astype(str))
if chunk != "None":
    _chunks.chunk_size = lambda n_items: int(chunk)
descriptor_model()  # built before the timing
start = time.perf_counter()
found = Embedding().embed(dataset, ArrayCache(cache), jobs=int(jobs))
np.savez(out, seconds=time.perf_counter() - start, **found)
"""


def isas():
    """The oneDNN levels to run at: the CPU's own, and AVX2 where the CPU's own kernels are beyond it."""
    return ["native"] + (["AVX2"] if backend.isa_level() not in ("avx2", "baseline") else [])


def extract(checkout: Path, isa, sample: Path, folder: Path, jobs, chunk):
    """{n_faces, embeddings, seconds} of the sample embedded by `checkout` into an empty cache under `folder`."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "TQDM_DISABLE": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env |= {"ONEDNN_MAX_CPU_ISA": isa} if isa != "native" else {}
    out = folder / "found.npz"
    timed_command(
        [sys.executable, "-c", EXTRACT, str(sample), str(folder / "cache"), str(out), str(jobs), str(chunk)],
        env=env,
        cwd=checkout,
    )
    with np.load(out) as found:
        return {name: found[name] for name in found.files}


def compared(first, second):
    """Whether two extractions found the same faces and the same bits, and by how much they differ."""
    difference = np.abs(first["embeddings"] - second["embeddings"])  # every row embedded: faces, else frames
    return {
        "same_faces": bool(np.array_equal(first["n_faces"], second["n_faces"])),
        "same_bits": first["embeddings"].tobytes() == second["embeddings"].tobytes(),
        "rows_differing": int((difference.max(axis=1) > 0).sum()),
        "max_abs_diff": float(difference.max()),
    }


def total(measured):
    return sum(measured["seconds"].values())


def main():
    base = os.environ.get("DETERMINISM_BASE", BASE_COMMIT)
    n = int(os.environ.get("DETERMINISM_IMAGES", IMAGES))
    from fer_bench.data import load_dataset

    dataset = load_dataset(data_path())
    index = np.sort(np.random.default_rng(0).choice(len(dataset.images), size=n, replace=False))
    measured = {}
    with tempfile.TemporaryDirectory(prefix="determinism-") as scratch:
        scratch = Path(scratch)
        sample = scratch / "sample.npz"
        np.savez(sample, images=dataset.images[index])
        checkouts = {"base": export(base, scratch / "base-checkout"), "fer_bench": REPOSITORY}
        for isa in isas():
            measured[isa] = {}
            for name, checkout in checkouts.items():
                found = {
                    way: extract(checkout, isa, sample, scratch / f"{isa}-{name}-{i}", jobs, chunk)
                    for i, (way, (jobs, chunk)) in enumerate(WAYS.items())
                }
                first, second = found.values()
                seconds = {way: float(run["seconds"]) for way, run in found.items()}
                measured[isa][name] = compared(first, second) | {"seconds": seconds}
    result = {
        "workload": "determinism",
        "images": n,
        "base_commit": base,
        "ways": list(WAYS),
        "isas": measured,
        "time_ratio": {isa: total(m["fer_bench"]) / total(m["base"]) for isa, m in measured.items()},
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
