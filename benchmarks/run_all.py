"""Run every benchmark; write results/benchmarks.json, results/benchmarks.md and the README's table.

`python -m benchmarks.run_all --render` rewrites the markdown from the stored json only.
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from benchmarks.common import machine
from fer_bench.markdown import replace_block

RESULTS = Path(__file__).resolve().parents[1] / "results"
RAW, REPORT = RESULTS / "benchmarks.json", RESULTS / "benchmarks.md"
README = RESULTS.parent / "README.md"


def main(argv):
    """No arguments: run every workload. `--only NAME...`: rerun those workloads into the stored
    json. `--render`: only rewrite the markdown from the stored json."""
    from benchmarks import bench_extraction, bench_mlp, bench_predict, bench_run_paper

    workloads = {"extraction": bench_extraction, "paper_mlp": bench_mlp, "run_paper": bench_run_paper,
                 "predict": bench_predict}  # fmt: skip
    if "--render" not in argv:
        chosen = argv[argv.index("--only") + 1 :] if "--only" in argv else list(workloads)
        raw = json.loads(RAW.read_text()) if "--only" in argv else {}
        now = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        for name in chosen:
            raw[name] = workloads[name].main() | {"measured": now, "machine": machine()}
        raw["created"] = now
        RAW.write_text(json.dumps(raw, indent=1) + "\n")
    raw = json.loads(RAW.read_text())
    REPORT.write_text(render(raw))
    replace_block(README, "benchmarks", f"{table(raw)}\n\n{machines(raw)[0]}")
    print(REPORT, README)


def table(raw):
    """The headline table: each workload's baseline, fer-bench, ratio and target."""
    e, m, p = raw["extraction"], raw["paper_mlp"], raw["run_paper"]
    rows = [
        [
            "embedding extraction (images/s)",
            f"{e['baseline_images_per_s']:.1f}",
            f"{e['fer_bench_images_per_s']:.1f}",
            f"{e['ratio']:.2f}x",
            ">= 4x",
            f"same faces: {e['same_faces_detected']}; max abs diff {e['max_abs_diff']:.1e}",
        ],
        ["embedding extraction, all 35,887 images (min)", "", f"{e['full_data_s'] / 60:.1f}", "", "<= 5 min", ""],
        [
            "paper MLP (s per epoch, TensorFlow)",
            f"{m['baseline_s_per_epoch']:.2f}",
            f"{m['fer_bench_s_per_epoch']:.2f}",
            f"{m['ratio']:.2f}x",
            ">= 5x",
            f"max per-epoch loss difference {m['max_loss_difference']:.1e}",
        ],
    ]
    if m["jax_s_per_epoch"]:
        rows.append(
            [
                "paper MLP (s per epoch, KERAS_BACKEND=jax)",
                f"{m['baseline_s_per_epoch']:.2f}",
                f"{m['jax_s_per_epoch']:.2f}",
                f"{m['jax_ratio']:.2f}x",
                ">= 5x",
                "optional backend",
            ]
        )
    rows += [
        [
            "`fer-bench run paper`, warm cache (s)",
            "",
            f"{p['wall_s']:.0f}",
            "",
            "<= 90 s",
            f"features {p['timings']['features']:.0f} s, fit {p['timings']['fit']:.0f} s",
        ],
        ["peak resident memory of `run paper` (GiB)", "", f"{p['peak_rss_gib']:.2f}", "", "<= 4 GiB", ""],
    ]
    rows += predict_rows(raw["predict"]) if "predict" in raw else []
    headers = ["workload", "baseline", "fer-bench", "ratio", "target", "results unchanged"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def predict_rows(f):
    default = f["detection"]["hog-then-cnn"]
    photo = f["large_photo"]
    return [
        [f"`fer-bench predict` on {f['crops']:,} 48x48 crops, start-up included (images/s)",
         f"{f['baseline_images_per_s']:.1f}", f"{f['fer_bench_images_per_s']:.0f}", f"{f['ratio']:.1f}x",
         ">= 200/s", "same crops and weights; batching only"],
        ["PrivateTest images in which the default detector (hog-then-cnn) finds a face", "",
         f"{100 * default['share']:.1f}%", "", ">= 95%", f"95% interval {100 * default['low']:.1f}-"
         f"{100 * default['high']:.1f}% ({f['detection_sample']} images)"],
        ["`fer-bench predict` on a 64-megapixel photo: peak memory (GiB)", "", f"{photo['peak_rss_gib']:.2f}", "",
         "well under 4 GiB", f"{photo['wall_s']:.0f} s, exit status {photo['exit_status']}"],
    ]  # fmt: skip


def detection_table(f):
    rows = [
        [
            name,
            f"{100 * d['share']:.1f}",
            f"{100 * d['low']:.1f}-{100 * d['high']:.1f}",
            f"{1000 * d['s_per_image']:.1f}",
        ]
        for name, d in f["detection"].items()
    ]
    headers = ["detector", "finds a face (%)", "95% interval", "ms per image"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def machines(raw):
    """Where and when each workload was measured, and with which versions: a ratio holds within one
    workload's run, not across machines."""
    places, versions = {}, {}
    for name, workload in raw.items():
        if isinstance(workload, dict) and "machine" in workload:  # a workload's results, not "created"
            info = workload["machine"]
            places.setdefault(machine_line(info), []).append(f"{name} ({workload['measured']})")
            versions.setdefault(", ".join(f"{k} {v}" for k, v in info["versions"].items()), []).append(name)
    where = " ".join(f"{place} Measured there: {', '.join(names)}." for place, names in places.items())
    return where, "Versions: " + "; ".join(f"{', '.join(names)}: {v}" for v, names in versions.items()) + "."


def machine_line(info):
    return f"Machine: {info['processor']}, {info['cores']} cores, {info['memory_gib']} GiB; {info['platform']}."


def render(raw):
    e, m, p = raw["extraction"], raw["paper_mlp"], raw["run_paper"]
    per_sample = (m["ms_per_batch_of_256"] - m["ms_per_batch_of_32"]) / (256 - 32)
    fixed = m["ms_per_batch_of_32"] - 32 * per_sample
    fixed_share = 100 * fixed / m["ms_per_batch_of_32"]
    profile = [[stage, f"{1000 * s:.2f}"] for stage, s in e["profile_s_per_image"].items()]
    return "\n".join(
        [
            "# fer-bench benchmarks",
            "",
            f"Generated by `make bench` (`python -m benchmarks.run_all`), last on {raw['created']}; raw numbers",
            "and each workload's date in `benchmarks.json`. Baseline and fer-bench run in the same process,",
            "one after the other, so their ratio holds on a shared, noisy machine better than either number.",
            "",
            *machines(raw),
            "",
            table(raw),
            "",
            f"- Extraction: {e['images']} random images of the data set. Baseline: the study's loop (one process,",
            "  `face_recognition.load_image_file` + `face_encodings`). fer-bench: dlib detects and aligns faces in",
            "  worker processes; the same ResNet weights run in Keras on batches of chips (`features/dlib_resnet.py`).",
            "  fer-bench also embeds the whole frame of the images without exactly one face (protocol `full`),",
            "  work the baseline skips. The whole data set is timed from decoded images into an empty cache.",
            f"- Paper MLP: {m['fit_samples']:,} fitting samples (the SMOTE-resampled detected faces), batch 32,",
            f"  median of {m['epochs_timed']} epochs after a warm-up; baseline = stock `model.fit` (one compiled",
            "  call per batch, as the study's train.py); fer-bench = the same model and updates, 256 batches per",
            f"  compiled call. 300 epochs: {m['baseline_300_epochs_min']:.1f} min vs"
            f" {m['fer_bench_300_epochs_min']:.1f} min.",
            f"  Profile: {m['ms_per_batch_of_32']:.2f} ms per batch of 32 and {m['ms_per_batch_of_256']:.2f} ms per",
            f"  batch of 256, i.e. about {fixed:.2f} ms fixed per step (TensorFlow running the step's many small",
            f"  operations: six dense layers, batch norm, Adam on 16 variables) plus {1000 * per_sample:.1f} us per",
            f"  sample. With batch 32 fixed by the study, the fixed part is {fixed_share:.0f}% of every step.",
            "  `jit_compile` (XLA) did not lower it on this CPU.",
            "- `run paper`: the study's configuration end to end from a warm cache (PrivateTest accuracy",
            f"  {100 * p['private_accuracy']:.2f}% on the detected faces in this run).",
            "",
            "Where extraction time goes, per image (one process, 200 images):",
            "",
            tabulate(profile, ["stage", "ms per image"], tablefmt="github", disable_numparse=True),
            "",
        ]
        + (predict_section(raw["predict"]) if "predict" in raw else [])
    )


def predict_section(f):
    return [
        f"## Prediction and face detection (measured {f['measured']})",
        "",
        f"- `predict`: {f['crops']:,} random PrivateTest files with {f['model']}, predict's default; the",
        f"  command timed from start to exit ({f['fer_bench_wall_s']:.1f} s: Python, Keras and the weights loaded",
        f"  included). One image takes {f['start_up_s']:.1f} s, the start-up; after it,"
        f" {f['images_per_s_after_start_up']:.0f} images/s. Baseline:",
        "  the same model called once per image, as predict did before batching, start-up excluded.",
        f"- Detection: {f['detection_sample']} random PrivateTest images (48x48); a face found = at least one box.",
        "  hog-then-cnn runs the CNN only on the images where HOG finds none.",
        "",
        detection_table(f),
        "",
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
