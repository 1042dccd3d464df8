"""A run id pins its features on one kind of CPU (issue 36): from empty caches, the faces found and every
bit of every embedding are the same however extraction chunked the images, ordered them and spread them
over worker processes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_bench import backend
from fer_bench.data import Dataset, load_dataset
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.features import _chunks as chunks
from fer_bench.parts.features.embedding import Embedding

from conftest import MINI

# (images per chunk, worker processes, images in shuffled order): chunks of 3 describe chips
# alone or in pairs; one chunk of all describes them together; the shuffled order puts each chip beside others.
EXTRACTIONS = {
    "chunks of 16, 1 process": (16, 1, False),
    "chunks of 3, 2 workers": (3, 2, False),
    "one chunk": (168, 1, False),
    "shuffled, chunks of 37, 2 workers": (37, 2, True),
}


def extract_every_way(folder):
    """Embed the fixture (faces and whole frames) in each way of EXTRACTIONS, each into an empty cache;
    store each result, in the fixture's order, as `folder`/<name>.npz."""
    dataset = load_dataset(MINI)
    for name, (chunk, jobs, shuffled) in EXTRACTIONS.items():
        order = np.random.default_rng(0).permutation(len(dataset)) if shuffled else np.arange(len(dataset))
        subset = Dataset(
            dataset.source,
            dataset.layout,
            dataset.images[order],
            dataset.labels[order],
            dataset.splits[order],
            dataset.ids[order],
        )
        chunks.chunk_size = lambda n_items, chunk=chunk: chunk
        stored = Embedding(protocol="full").embed(subset, ArrayCache(Path(folder) / name), jobs=jobs)
        back = np.argsort(order)
        np.savez(Path(folder) / f"{name}.npz", **{part: array[back] for part, array in stored.items()})


@pytest.mark.parametrize("isa", ["native", "AVX2"])
def test_embeddings_are_the_same_bits_whatever_the_chunks_their_order_and_the_workers(isa, tmp_path):
    """TensorFlow's oneDNN kernels are chosen by the CPU's instruction set, and AVX2's round by batch size:
    each isa runs in a process of its own, AVX2 by capping oneDNN there (ONEDNN_MAX_CPU_ISA), so that a
    CPU beyond AVX2 checks it too."""
    if isa != "native" and backend.isa_level() in ("avx2", "baseline"):
        pytest.skip(f"this CPU's own kernels are at most {isa}'s: the native case is this case")
    here = Path(__file__).resolve().parent  # this module, and conftest beside the tests above
    path = [str(here), str(here.parent), os.environ.get("PYTHONPATH")]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, path))}
    env |= {"ONEDNN_MAX_CPU_ISA": isa} if isa != "native" else {}
    script = f"import test_same_features; test_same_features.extract_every_way({str(tmp_path)!r})"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=600)
    first, *others = EXTRACTIONS
    expected = np.load(tmp_path / f"{first}.npz")
    assert 0 < (expected["n_faces"] == 1).sum() < len(expected["n_faces"])
    for name in others:
        found = np.load(tmp_path / f"{name}.npz")
        for part in ("n_faces", "embeddings"):
            assert found[part].tobytes() == expected[part].tobytes(), f"{part}: {name} differs from {first}"
