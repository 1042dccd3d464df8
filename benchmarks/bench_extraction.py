"""Embedding extraction: the study's loop vs fer-bench, on the same images, in one run.

Baseline: one process, `face_recognition.load_image_file` + `face_encodings` per image, keeping
images with exactly one face (the study's extract script). fer-bench: `features/embedding` from
the JPEG files, all cores, no cache: dlib detects and aligns in worker processes, the ResNet runs
in Keras on batches. fer-bench does strictly more work: it also embeds the whole frame of every
image without exactly one face (for protocol `full`). The network is built before the timing.
"""

import json
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import data_path, timer


def sample_files(root, n, seed=0):
    files = sorted(root.glob("*/*/*.jpg"))
    files = [f for f in files if f.parts[-3] in ("Training", "PublicTest", "PrivateTest")]
    index = np.random.default_rng(seed).choice(len(files), size=n, replace=False)
    return [files[i] for i in sorted(index)]


def baseline(files):
    import face_recognition

    kept = {}
    for f in files:
        encodings = face_recognition.face_encodings(face_recognition.load_image_file(f))
        if len(encodings) == 1:
            kept[str(f)] = encodings[0]
    return kept


def fer_bench(files, jobs=None):
    from fer_bench.data import Dataset
    from fer_bench.data.loaders import read_image
    from fer_bench.parts.cache import ArrayCache
    from fer_bench.parts.features.embedding import Embedding

    images = np.stack([read_image(f) for f in files])
    n = len(files)
    dataset = Dataset(
        "bench", "files", images, np.zeros(n, int), np.array(["Training"] * n), np.array(list(map(str, files)))
    )
    with tempfile.TemporaryDirectory() as cache:
        return Embedding().embed(dataset, ArrayCache(cache), jobs=jobs)


def stage_profile(files):
    """Seconds per image of each stage, the dlib descriptor beside the Keras one fer-bench uses."""
    import dlib
    import face_recognition_models

    from fer_bench.data.loaders import read_image
    from fer_bench.parts.detectors import rgb_of
    from fer_bench.parts.features.embedding import CHIP_PADDING, CHIP_SIZE, _dlib_models, describe

    detector, landmarks = _dlib_models()
    encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    rgbs = [rgb_of(read_image(f)) for f in files]
    t = {}
    with timer(t, "HOG face detection"):
        faces = [detector(rgb, 1) for rgb in rgbs]
    boxes = [f[0] if len(f) == 1 else dlib.rectangle(0, 0, 48, 48) for f in faces]
    with timer(t, "5-point landmarks"):
        shapes = [landmarks(rgb, box) for rgb, box in zip(rgbs, boxes)]
    with timer(t, "aligned 150x150 chip"):
        chips = np.stack(
            [dlib.get_face_chip(rgb, s, size=CHIP_SIZE, padding=CHIP_PADDING) for rgb, s in zip(rgbs, shapes)]
        )
    with timer(t, "descriptor: dlib, one image per call (baseline)"):
        for rgb, shape in zip(rgbs, shapes):
            encoder.compute_face_descriptor(rgb, shape, 1)
    describe(chips[:8, None])  # build the network outside the timing
    with timer(t, "descriptor: Keras port, batched (fer-bench)"):
        describe(chips[:, None])
    return {stage: seconds / len(files) for stage, seconds in t.items()}


def full_data_seconds():
    """Seconds to embed every image of the data set (already decoded) into an empty cache."""
    from fer_bench.data import load_dataset
    from fer_bench.parts.cache import ArrayCache
    from fer_bench.parts.features.embedding import Embedding

    dataset = load_dataset(data_path())
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        Embedding().embed(dataset, ArrayCache(cache))
        return time.perf_counter() - start


def main(n=400):
    from fer_bench.parts.features._dlib_resnet import descriptor_model

    files = sample_files(data_path(), n)
    descriptor_model()
    t = {}
    with timer(t, "baseline"):
        kept = baseline(files)
    with timer(t, "fer-bench"):
        stored = fer_bench(files)
    one_face = stored["n_faces"] == 1
    ours = {str(f): e for f, e, keep in zip(files, stored["embeddings"], one_face) if keep}
    same_faces = set(ours) == set(kept)
    max_diff = max(float(np.abs(ours[k] - kept[k]).max()) for k in kept) if same_faces else None
    result = {
        "workload": "extraction",
        "images": n,
        "baseline_images_per_s": n / t["baseline"],
        "fer_bench_images_per_s": n / t["fer-bench"],
        "ratio": t["baseline"] / t["fer-bench"],
        "same_faces_detected": same_faces,
        "faces": len(kept),
        "max_abs_diff": max_diff,
        "full_data_s": full_data_seconds(),
        "profile_s_per_image": stage_profile(files[: min(n, 200)]),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
