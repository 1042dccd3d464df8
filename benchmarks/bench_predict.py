"""Prediction at scale, and what each face detector finds at what cost.

- `fer-bench predict` on 1,000 PrivateTest crops (48x48 JPEG files), timed from the command's
  start to its exit (Python, Keras and the model's weights loaded included), with the best
  recorded CNN (predict's default); and on one crop, which is the start-up's cost. Baseline: the
  same model called once per image, as predict did before it batched, timed on 100 of the images
  inside one process (start-up excluded, which favours the baseline).
- Detection on PrivateTest: for each detector, the share of images in which it finds a face and its
  time per image, on a fixed random sample (the CNN costs ~0.2 s a crop), with a 95% interval.
- A 64-megapixel photo (9,000 x 7,000 JPEG): predict's wall time and peak memory.
"""

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import data_path

RESULTS = Path(__file__).resolve().parents[1] / "results"
CROPS, BASELINE_CROPS, DETECTION_SAMPLE = 1000, 100, 400


def private_files(n, seed=0):
    files = sorted((data_path() / "PrivateTest").glob("*/*.jpg"))
    return [files[i] for i in sorted(np.random.default_rng(seed).choice(len(files), size=n, replace=False))]


def predict_command(images, *options):
    return [sys.executable, "-m", "fer_bench", "predict", *map(str, images), "--results", str(RESULTS), *options]


def batched(files):
    start = time.perf_counter()
    out = subprocess.run(predict_command(files, "--format", "csv"), check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    rows = out.strip().splitlines()[1:]
    return wall, len(rows)


def one_call_per_image(files):
    from fer_bench.runs.predict import Predictor, choose_record, face_crops
    from fer_bench.runs.records import RecordStore

    predictor = Predictor.load(choose_record(RecordStore(RESULTS).all()), RESULTS)
    predictor.classify(face_crops(files[0], "crop")[0][2][None])  # built and warmed up outside the timing
    start = time.perf_counter()
    for file in files:
        predictor.classify(face_crops(file, "crop")[0][2][None])
    return time.perf_counter() - start, predictor.record


def interval(hits, n, z=1.96):
    """Wilson's 95% interval of a proportion."""
    p = hits / n
    centre, half = (p + z * z / (2 * n)), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def detection(files):
    from fer_bench.data.loaders import read_gray
    from fer_bench.parts import detectors, registry

    grays = [read_gray(f) for f in files]
    found = {}
    for name in [part.name for part in registry.parts("detector")]:
        detector = detectors.get(name)
        detectors.find_faces(grays[0], detector)  # weights loaded outside the timing
        start = time.perf_counter()
        hits = sum(bool(detectors.find_faces(gray, detector)) for gray in grays)
        seconds = (time.perf_counter() - start) / len(grays)
        low, high = interval(hits, len(grays))
        found[name] = {"share": hits / len(grays), "low": low, "high": high, "s_per_image": seconds}
        print(f"{name}: {100 * hits / len(grays):.1f}% in {1000 * seconds:.1f} ms/image", file=sys.stderr)
    return found


def large_photo():
    face = Image.open(private_files(1, seed=3)[0]).convert("RGB").resize((1400, 1400), Image.BICUBIC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "64mp.jpg"
        canvas = Image.new("RGB", (9000, 7000), (70, 110, 150))
        canvas.paste(face, (4000, 2500))
        canvas.save(path, quality=90)
        del canvas
        script = (
            "import resource, subprocess, sys, time; start = time.perf_counter(); "
            "code = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
            "print(code, time.perf_counter() - start, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20)"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, *predict_command([path], "--format", "json")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    return {"exit_status": int(out[0]), "wall_s": float(out[1]), "peak_rss_gib": float(out[2])}


def main():
    files = private_files(CROPS)
    wall, classified = batched(files)
    start_up, _ = batched(files[:1])  # what every call pays before its first image
    baseline_s, record = one_call_per_image(files[:BASELINE_CROPS])
    result = {
        "workload": "predict and detection",
        "model": f"{record.experiment} (run {record.run_id})",
        "crops": CROPS,
        "classified": classified,
        "fer_bench_wall_s": wall,
        "fer_bench_images_per_s": CROPS / wall,
        "start_up_s": start_up,
        "images_per_s_after_start_up": (CROPS - 1) / max(wall - start_up, 1e-9),
        "baseline_images_per_s": BASELINE_CROPS / baseline_s,
        "ratio": (CROPS / wall) / (BASELINE_CROPS / baseline_s),
        "detection_sample": DETECTION_SAMPLE,
        "detection": detection(private_files(DETECTION_SAMPLE, seed=1)),
        "large_photo": large_photo(),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
