"""Embedding extraction: the study's loop vs fer-bench, on the same images, in one run.

Baseline: one process, `face_recognition.load_image_file` + `face_encodings` per image, keeping
images with exactly one face (the study's extract script). fer-bench: `features/embedding` from
the JPEG files, all cores, no cache. fer-bench does strictly more work: it also embeds the whole
frame of every image without exactly one face (for protocol `full`).
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
    from fer_bench.features.cache import ArrayCache
    from fer_bench.features.embedding import Embedding

    images = np.stack([read_image(f) for f in files])
    n = len(files)
    dataset = Dataset(
        "bench", "files", images, np.zeros(n, int), np.array(["Training"] * n), np.array(list(map(str, files)))
    )
    with tempfile.TemporaryDirectory() as cache:
        return Embedding().embed(dataset, ArrayCache(cache), jobs=jobs)


def stage_profile(files):
    """Seconds per image of each dlib stage, one process, on detected faces."""
    import dlib

    from fer_bench.data.loaders import read_image
    from fer_bench.features.embedding import _dlib_models

    detector, landmarks, encoder = _dlib_models()
    rgbs = [np.ascontiguousarray(np.repeat(read_image(f)[:, :, None], 3, axis=2)) for f in files]
    t = {}
    with timer(t, "detect"):
        faces = [detector(rgb, 1) for rgb in rgbs]
    boxes = [f[0] if len(f) == 1 else dlib.rectangle(0, 0, 48, 48) for f in faces]
    with timer(t, "landmarks"):
        shapes = [landmarks(rgb, box) for rgb, box in zip(rgbs, boxes)]
    with timer(t, "descriptor, one call per image"):
        for rgb, shape in zip(rgbs, shapes):
            encoder.compute_face_descriptor(rgb, shape, 1)
    with timer(t, "descriptor, one batched call"):
        encoder.compute_face_descriptor(rgbs, [dlib.full_object_detections([s]) for s in shapes], 1)
    return {stage: seconds / len(files) for stage, seconds in t.items()}


def main(n=int(sys.argv[1]) if len(sys.argv) > 1 else 400):
    files = sample_files(data_path(), n)
    t = {}
    with timer(t, "baseline"):
        kept = baseline(files)
    with timer(t, "fer-bench"):
        stored = fer_bench(files)
    with timer(t, "fer-bench, 1 process"):
        fer_bench(files, jobs=1)
    one_face = stored["n_faces"] == 1
    ours = {str(f): e for f, e, keep in zip(files, stored["embeddings"], one_face) if keep}
    same_faces = set(ours) == set(kept)
    max_diff = max(float(np.abs(ours[k] - kept[k]).max()) for k in kept) if same_faces else None
    result = {
        "workload": "extraction",
        "images": n,
        "baseline_images_per_s": n / t["baseline"],
        "fer_bench_images_per_s": n / t["fer-bench"],
        "fer_bench_1proc_images_per_s": n / t["fer-bench, 1 process"],
        "ratio": t["baseline"] / t["fer-bench"],
        "same_faces_detected": same_faces,
        "faces": len(kept),
        "max_abs_diff": max_diff,
        "full_data_estimate_s": 35887 / (n / t["fer-bench"]),
        "profile_s_per_image": stage_profile(files[: min(n, 200)]),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    start = time.time()
    main()
