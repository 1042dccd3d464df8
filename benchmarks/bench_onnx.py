"""A recorded network exported to ONNX (`fer-bench export`), run by onnxruntime beside the same
network in Keras (issue 39): does the file give fer-bench's answers, and how fast.

For each run in RUNS (the seed-0 runs of `cnn-fast` and `cnn-fast-long` that keep their weights):
export it, classify the 3,589 PrivateTest images both ways and compare each with the predictions
the run recorded. Speed is crops/s after start-up (the network loaded and one batch run first),
both ways on the same array in batches of BATCH, REPEATS times in turn; the ratio uses the medians.
Both run on every core (onnxruntime's default intra-op threads; TensorFlow's as fer-bench sets them).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import data_path

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUNS = {"cnn-fast": "eac69e484779", "cnn-fast-long": "be2bbb5538ab"}  # seed 0 of each, weights kept
BATCH, REPEATS = 512, 3


def pixels(dataset, rows):
    from fer_bench.parts.features.pixels import scaled

    return scaled(dataset.images[rows])[..., None].astype(np.float32)


def crops_per_s(classify, images):
    classify(images[:BATCH])  # start-up (graph built, kernels chosen) outside the timing
    start = time.perf_counter()
    out = np.concatenate([classify(images[i : i + BATCH]) for i in range(0, len(images), BATCH)])
    return len(images) / (time.perf_counter() - start), out


def one_run(experiment, run_id, dataset, folder):
    import onnxruntime

    from fer_bench import api
    from fer_bench.runs import probabilities
    from fer_bench.runs.records import RecordStore, latest_ok, saved_model

    record = latest_ok(RecordStore(RESULTS).all(), run_id)
    held = probabilities.load(RESULTS, record, ["PrivateTest"])["PrivateTest"]
    images, recorded = pixels(dataset, held.rows), held.proba.argmax(1)
    started = time.perf_counter()
    file = api.export(run_id, results=RESULTS, out=Path(folder) / f"{experiment}.onnx")
    export_s = time.perf_counter() - started
    session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    keras_model = saved_model(record, RESULTS)
    ways = {
        "onnxruntime": lambda batch: session.run(None, {name: batch})[0],
        "keras": keras_model.predict_proba,
    }
    speeds, answers = {way: [] for way in ways}, {}
    for _ in range(REPEATS):  # in turn, so a slow spell of the machine spreads over both
        for way, classify in ways.items():
            speed, answers[way] = crops_per_s(classify, images)
            speeds[way].append(speed)
    onnx, keras = answers["onnxruntime"], answers["keras"]
    return {
        "experiment": experiment,
        "run_id": run_id,
        "images": len(images),
        "export_s": export_s,
        "file_mb": file.stat().st_size / 1e6,
        "crops_per_s": speeds,
        "ratio": statistics.median(speeds["onnxruntime"]) / statistics.median(speeds["keras"]),
        "onnx_agrees_with_recorded": float(np.mean(onnx.argmax(1) == recorded)),
        "keras_agrees_with_recorded": float(np.mean(keras.argmax(1) == recorded)),
        "max_abs_probability_difference": float(np.abs(onnx - keras).max()),
    }


def main():
    from fer_bench.data import load_dataset

    dataset = load_dataset(data_path())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for experiment, run_id in RUNS.items():
            rows.append(one_run(experiment, run_id, dataset, folder))
            print(rows[-1], file=sys.stderr)
    return {"rows": rows, "batch": BATCH, "repeats": REPEATS}
