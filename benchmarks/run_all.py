"""Run every benchmark; write results/benchmarks.json and results/benchmarks.md (a page of the docs site).

`python -m benchmarks.run_all --render` rewrites the markdown from the stored json only.
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from tabulate import tabulate

from benchmarks.common import machine

RESULTS = Path(__file__).resolve().parents[1] / "results"
RAW, REPORT = RESULTS / "benchmarks.json", RESULTS / "benchmarks.md"
PARTIAL = ("memory",)  # workloads that store what they measured so far after each of their runs
# Workloads whose figures differ by CPU kind (ISA level): the newest measurement of each other kind is
# kept beside this machine's, so a reader with an AVX2 CPU finds their speed whichever CPU ran `make bench`.
PER_CPU = ("fast",)


def main(argv):
    """No arguments: run every workload. `--only NAME...`: rerun those workloads into the stored
    json (`memory:grid`, `memory:search` or `memory:search:20`: only those runs of the memory
    workload). `--render`: only rewrite the markdown from the stored json."""
    from benchmarks import (
        bench_cnn,
        bench_coldstart,
        bench_determinism,
        bench_extraction,
        bench_fast,
        bench_grid,
        bench_memory,
        bench_mlp,
        bench_onnx,
        bench_pinned,
        bench_predict,
        bench_run_paper,
        bench_video,
    )

    workloads = {
        "extraction": bench_extraction,
        "paper_mlp": bench_mlp,
        "run_paper": bench_run_paper,
        "grid": bench_grid,
        "memory": bench_memory,
        "cnn": bench_cnn,
        "predict": bench_predict,
        "coldstart": bench_coldstart,
        "determinism": bench_determinism,
        "pinned": bench_pinned,
        "fast": bench_fast,
        "onnx": bench_onnx,
        "video": bench_video,
    }
    if "--render" not in argv:
        chosen = argv[argv.index("--only") + 1 :] if "--only" in argv else list(workloads)
        stored = json.loads(RAW.read_text()) if RAW.exists() else {}
        raw = stored if "--only" in argv else {}
        raw["created"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        for chosen_name in chosen:  # stored as each one ends: a long run stopped midway keeps what it measured
            name, _, only = chosen_name.partition(":")

            def store(measured, name=name):
                measured = measured | {"measured": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "machine": machine()}
                if name in PER_CPU and name in stored:
                    measured["other_cpus"] = other_cpus(stored[name], measured["machine"]["isa"])
                raw[name] = measured
                RAW.write_text(json.dumps(raw, indent=1) + "\n")

            workload = workloads[name]
            if only:
                store(workload.main(store, only=only, previous=raw.get(name)))
            else:
                store(workload.main(store) if name in PARTIAL else workload.main())
    raw = json.loads(RAW.read_text())
    REPORT.write_text(render(raw))
    print(REPORT)


def other_cpus(previous, isa):
    """`previous`'s measurements by CPU kind (its own and those it kept), less this machine's `isa`."""
    kept = dict(previous.get("other_cpus", {}))
    kept[previous["machine"]["isa"]] = {k: v for k, v in previous.items() if k != "other_cpus"}
    kept.pop(isa, None)
    return kept


def by_cpu(measured):
    """This machine's measurement, then the other CPU kinds' kept beside it."""
    return [measured, *measured.get("other_cpus", {}).values()]


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
        *mlp_rows(m),
        [
            "`fer-bench run paper`, warm cache (s)",
            "",
            f"{p['wall_s']:.0f}",
            "",
            "<= 90 s",
            f"features {p['timings']['features']:.0f} s, fit {p['timings']['fit']:.0f} s",
        ],
        [
            "`fer-bench run paper`, empty feature cache (min)",
            "",
            f"{p['cold_wall_s'] / 60:.1f}",
            "",
            "<= 5 min",
            f"features {p['cold_timings']['features']:.0f} s, fit {p['cold_timings']['fit']:.0f} s",
        ],
        [
            "peak resident memory of `run paper`, warm / empty cache (GiB)",
            "",
            f"{p['peak_rss_gib']:.2f} / {p['cold_peak_rss_gib']:.2f}",
            "",
            "<= 4 GiB",
            "",
        ],
    ]
    rows += grid_rows(raw["grid"]) if "grid" in raw else []
    rows += memory_rows(raw["memory"]) if "memory" in raw else []
    rows += cnn_rows(raw["cnn"]) if "cnn" in raw else []
    rows += [row for f in by_cpu(raw["fast"]) for row in fast_rows(f)] if "fast" in raw else []
    rows += predict_rows(raw["predict"]) if "predict" in raw else []
    rows += coldstart_rows(raw["coldstart"]) if "coldstart" in raw else []
    rows += determinism_rows(raw["determinism"]) if "determinism" in raw else []
    rows += pinned_rows(raw["pinned"]) if "pinned" in raw else []
    rows += onnx_rows(raw["onnx"]) if "onnx" in raw else []
    rows += video_rows(raw["video"]) if "video" in raw else []
    headers = ["workload", "baseline", "fer-bench", "ratio", "target", "results unchanged"]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def mlp_rows(m):
    s = m["s_per_epoch"]
    rows = [
        [
            f"paper MLP (s per epoch, {m['backend']}, the default)",
            f"{s['stock']:.2f}",
            f"{s['compiled']:.3f}",
            f"{m['ratio']:.2f}x",
            ">= 5x",
            f"max per-epoch loss difference from train_on_batch over the same batches "
            f"{m['compiled_max_loss_difference']:.1e}",
        ],
        [
            f'paper MLP, fer-bench\'s loop before (`training_loop = "keras-fit"`, {m["backend"]})',
            f"{s['stock']:.2f}",
            f"{s['keras-fit']:.2f}",
            f"{m['ratio_keras_fit']:.2f}x",
            "",
            f"max per-epoch loss difference from stock `fit` {m['keras_fit_max_loss_difference']:.1e}",
        ],
        [
            "paper MLP: arithmetic it does (GFLOP/s)",
            "",
            f"{m['gflop_per_s']:.0f}",
            "",
            "moonshot: within 2x of the bound at 50 GFLOP/s",
            f"{s['compiled'] / (m['gflop_per_epoch'] / 50):.2f}x the bound's time",
        ],
    ]
    if m["jax_s_per_epoch"]:
        jax = m["jax_s_per_epoch"]
        rows.append(
            [
                "paper MLP (s per epoch, KERAS_BACKEND=jax)",
                f"{jax['stock']:.2f}",
                f"{jax['compiled']:.3f}",
                f"{jax['stock'] / jax['compiled']:.2f}x",
                "",
                "optional backend",
            ]
        )
    return rows


def grid_rows(g):
    short, full = g["short_grid"], g["full_grid"]
    baseline, ours = short["keras-fit, jobs 1"], short["compiled, jobs 2"]
    return [
        [
            f"ablation grid's {ours['cells']} MLP cells at {g['short_grid_epochs']} epochs, seed 0 (s)",
            f"{baseline['wall_s']:.0f}",
            f"{ours['wall_s']:.0f}",
            f"{g['ratio']:.2f}x",
            ">= 4x",
            f"compiled loop alone {g['ratio_compiled']:.2f}x; --jobs 2 {g['jobs_2_speed_up']:.2f}x",
        ],
        [
            f"`fer-bench grid ablation --jobs 2`, all {full['cells']} cells (min)",
            "",
            f"{full['wall_s'] / 60:.1f}",
            "",
            "<= 15 min",
            "",
        ],
        [
            "peak resident memory of the grid, all processes (GiB)",
            "",
            f"{full['peak_rss_gib']:.2f}",
            "",
            "<= 4 GiB",
            "",
        ],
    ]


def memory_rows(m):
    search, grid = m["search"], m["grid"]

    def peaks(long, short):
        return " / ".join(f"{run['peak_rss_gib']:.2f}" if run else "not measured" for run in (long, short))

    def ratio(key, where):
        return f"{where[key]:.2f}x" if key in where else "not measured"

    before, now = grid.get("in process"), grid.get("replaced workers")
    first_three = lambda run: run and {"peak_rss_gib": run["peak_first_3_cells_gib"]}  # noqa: E731
    return [
        [
            "search peak memory, 100 trials / 20 (GiB)",
            peaks(search.get("in process, 100 trials"), search.get("in process, 20 trials")),
            peaks(search.get("replaced workers, 100 trials"), search.get("replaced workers, 20 trials")),
            ratio("replaced workers, growth", search),
            "<= 1.10x, < 3 GiB",
            f"trials per minute {ratio('throughput ratio, 20 trials', search)} of before (20 trials)",
        ],
        [
            "serial grid peak memory, 12 cells / first 3 (GiB)",
            peaks(before, first_three(before)),
            peaks(now, first_three(now)),
            ratio("growth", now or {}),
            "<= 1.10x, < 3 GiB",
            f"cells per minute {ratio('throughput ratio', grid)} of before",
        ],
    ]


def memory_section(m):
    rows = [
        [f"search, {name}", f"{run['wall_s']:.0f}", f"{run['peak_rss_gib']:.2f}", ""]
        for name, run in m["search"].items()
        if isinstance(run, dict)
    ]
    rows += [
        [
            f"serial grid, {mode}, {run['cells']} cells",
            f"{run['wall_s']:.0f}",
            f"{run['peak_rss_gib']:.2f}",
            f"{run['peak_first_3_cells_gib']:.2f}",
        ]
        for mode, run in m["grid"].items()
        if isinstance(run, dict)
    ]
    return [
        f"## Memory of long searches and serial grids (measured {m['measured']})",
        "",
        "TensorFlow keeps every program a fit compiles for the life of its process; trials and serial grid cells",
        "now run in worker processes replaced every `TRIALS_PER_WORKER` trials / `CELLS_PER_WORKER` cells",
        "(`fer_bench/sweeps/`). *in process* is the way before: every trial and serial cell in the process that",
        f"runs the search or grid. Short trials and cells ({m['epochs']} epochs each) of the `embedding-mlp` search",
        "and of 12 cells of the ablation grid (`--jobs 1`); peak resident memory of all processes together:",
        "",
        tabulate(
            rows, ["run", "wall s", "peak GiB", "peak GiB, first 3 cells"], tablefmt="github", disable_numparse=True
        ),
        "",
    ]


def cnn_rows(c):
    settings = c["settings"]
    today, best = settings[0], max(settings, key=lambda row: row["images_per_s"])
    return [
        [
            "`cnn` training throughput (images/s)",
            f"{today['images_per_s']:.0f}",
            f"{best['images_per_s']:.0f}",
            f"{best['images_per_s'] / today['images_per_s']:.2f}x",
            ">= 2x",
            f"best of {len(settings)} settings: {best['backend']}, XLA {'on' if best['xla'] else 'off'}, batch "
            f"{best['batch_size']}, {best['policy']}; measured only, `cnn` unchanged",
        ],
        *[
            [
                f"`{f['experiment']}` training throughput against `cnn` (images/s)",
                f"{today['images_per_s']:.0f}",
                f"{f['images_per_s']:.0f}",
                f"{f['images_per_s'] / today['images_per_s']:.2f}x",
                ">= 5x" if f["experiment"] == "cnn-fast" else "",
                f"{f['parameters']:,} parameters, {f['precision']}",
            ]
            for f in c.get("fast", [])
        ],
        *(
            [
                [
                    "`predict --model cnn-fast`, crops/s after start-up",
                    "",
                    f"{p['crops_per_s_after_start_up']:.0f}",
                    "",
                    ">= 300",
                    f"{p['crops']:,} PrivateTest crops in {p['wall_s']:.1f} s, start-up {p['start_up_s']:.1f} s",
                ]
            ]
            if (p := c.get("fast_predict"))
            else []
        ),
    ]


def fast_rows(f):
    """Per experiment and ISA level: TensorFlow's training images/s against the fastest backend's (medians)."""
    rows = []
    for (experiment, isa), group in _fast_groups(f).items():
        tensorflow = next(r for r in group if r["backend"] == "tensorflow")
        best = max(group, key=lambda r: r["median"])
        rows.append(
            [
                f"`{experiment}` training images/s by backend, {isa}",
                f"{tensorflow['median']:.0f}",
                f"{best['median']:.0f}",
                f"{best['median'] / tensorflow['median']:.2f}x",
                "",
                f"fastest of {', '.join(r['backend'] for r in group)}: {best['backend']} (medians of "
                f"{f['repeats']}); measured only",
            ]
        )
    return rows


def _fast_groups(f):
    groups = {}
    for row in f["rows"]:
        groups.setdefault((row["experiment"], row["isa"]), []).append(row)
    return groups


def predict_rows(f):
    default = f["detection"]["hog-then-cnn"]
    photo = f["large_photo"]
    return [
        [
            f"`fer-bench predict` on {f['crops']:,} 48x48 crops, start-up included (images/s)",
            f"{f['baseline_images_per_s']:.1f}",
            f"{f['fer_bench_images_per_s']:.0f}",
            f"{f['ratio']:.1f}x",
            ">= 200/s",
            "same crops and weights; batching only",
        ],
        [
            "PrivateTest images in which the default detector (hog-then-cnn) finds a face",
            "",
            f"{100 * default['share']:.1f}%",
            "",
            ">= 95%",
            f"95% interval {100 * default['low']:.1f}-{100 * default['high']:.1f}% ({f['detection_sample']} images)",
        ],
        [
            "`fer-bench predict` on a 64-megapixel photo: peak memory (GiB)",
            "",
            f"{photo['peak_rss_gib']:.2f}",
            "",
            "well under 4 GiB",
            f"{photo['wall_s']:.0f} s, exit status {photo['exit_status']}",
        ],
    ]


def coldstart_rows(c):
    base, ours = c["base"], c["fer_bench"]
    return [
        [
            f"`fer-bench run {c['experiment']} --force`, empty caches (min)",
            f"{base['wall_s'] / 60:.1f}",
            f"{ours['wall_s'] / 60:.1f}",
            f"{c['cold_ratio']:.2f}x",
            "<= 5 min (AVX2), <= 3 min (AVX-512)",
            f"same run id: {c['same_run_id']}; same predictions: {c['same_predictions']}",
        ],
        [
            "a warm command's first progress line (s)",
            f"{base['warm_first_line_s']:.1f}",
            f"{ours['warm_first_line_s']:.1f}",
            f"{c['warm_first_line_ratio']:.1f}x",
            "<= 3 s",
            f"fit starts at {base['warm_fit_starts_s']:.1f} s / {ours['warm_fit_starts_s']:.1f} s",
        ],
    ]


def pinned_rows(p):
    first, second = (p["runs"][str(jobs)] for jobs in p["jobs"])
    return [
        [
            f"`fer-bench run {p['experiment']} --force` twice, empty caches, --jobs {p['jobs'][0]} / "
            f"--jobs {p['jobs'][1]} (min)",
            "",
            f"{first['wall_s'] / 60:.1f} / {second['wall_s'] / 60:.1f}",
            "",
            "identical predictions",
            f"same run id: {p['same_run_id']}; same predictions: {p['same_predictions']}; same probabilities: "
            f"{p['same_probabilities']}",
        ],
    ]


def onnx_rows(o):
    from statistics import median

    return [
        [
            f"`{r['experiment']}` exported (`fer-bench export`): crops/s after start-up, Keras / onnxruntime",
            f"{median(r['crops_per_s']['keras']):.0f}",
            f"{median(r['crops_per_s']['onnxruntime']):.0f}",
            f"{r['ratio']:.2f}x",
            ">= 1.5x; >= 99.9% agreement",
            f"{r['images']:,} PrivateTest images agreeing with the run's recorded predictions: ONNX "
            f"{100 * r['onnx_agrees_with_recorded']:.2f}%, Keras {100 * r['keras_agrees_with_recorded']:.2f}%; "
            f"max probability difference {r['max_abs_probability_difference']:.1e}",
        ]
        for r in o["rows"]
    ]


def video_rows(v):
    width, height = v["size"]
    return [
        [
            f"`fer-bench predict VIDEO`: {v['video_s']} s at {v['source_fps']} frames/s, {width}x{height}, "
            f"{v['sampled_fps']} sampled a second, default detector"
            + (f" for frames, {v['detector']} (s)" if "detector" in v else ", hog-then-cnn (s)"),
            "",
            f"{v['wall_s']:.0f}",
            f"{v['wall_s'] / v['video_s']:.2f}x its length",
            f"<= {v['video_s']} s",
            f"{v['sampled_frames']} frames ({v['frames_with_a_face']} with a face found): decoding "
            f"{v['decode_s']:.0f} s, detection {v['detect_s']:.0f} s, classification {v['classify_s']:.1f} s",
        ]
    ]


def determinism_rows(d):
    def verdict(m):
        same = m["same_faces"] and m["same_bits"]
        return "identical" if same else f"{m['rows_differing']} rows differ, max {m['max_abs_diff']:.1e}"

    return [
        [
            f"embedding {d['images']:,} images twice, oneDNN {isa}: {' / '.join(d['ways'])}",
            verdict(m["base"]),
            verdict(m["fer_bench"]),
            f"{d['time_ratio'][isa]:.2f}x time",
            "identical bits",
            f"same faces found: {m['base']['same_faces']} / {m['fer_bench']['same_faces']}",
        ]
        for isa, m in d["isas"].items()
    ]


def determinism_section(d):
    rows = [
        [
            isa,
            name,
            *(f"{m[name]['seconds'][way]:.1f}" for way in d["ways"]),
            str(m[name]["same_bits"]),
            str(m[name]["rows_differing"]),
            f"{m[name]['max_abs_diff']:.1e}",
        ]
        for isa, m in d["isas"].items()
        for name in ("base", "fer_bench")
    ]
    headers = ["oneDNN", "checkout", *(f"{way}: s" for way in d["ways"]), "same bits", "rows differing", "max diff"]
    return [
        f"## Same run id, same features (measured {d['measured']})",
        "",
        f"{d['images']:,} random images embedded (faces and whole frames) from an empty cache in two ways, this",
        f"checkout beside base commit {d['base_commit']}, each extraction in a process of its own; `AVX2`: oneDNN",
        "capped at AVX2 (`ONEDNN_MAX_CPU_ISA`), whose kernels round by batch size. The ratio is fer-bench's",
        "time over the base's, both ways together.",
        "",
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
        "",
    ]


def coldstart_section(c):
    rows = [
        [
            name,
            f"{run['wall_s']:.0f}",
            f"{run['timings']['features']:.0f}",
            f"{run['timings']['fit']:.0f}",
            f"{run['peak_rss_gib']:.2f}",
            f"{run['warm_first_line_s']:.1f}",
            f"{run['warm_fit_starts_s']:.1f}",
        ]
        for name, run in (("base " + c["base_commit"], c["base"]), ("fer-bench", c["fer_bench"]))
    ]
    headers = ["checkout", "cold wall s", "features s", "fit s", "peak GiB", "warm: first line s", "warm: fit starts s"]
    return [
        f"## The cold start (measured {c['measured']})",
        "",
        f"`fer-bench run {c['experiment']} --force` on {c['images']:,} images from an empty cache and results folder",
        f"(a newcomer's first `make run`), this checkout beside base commit {c['base_commit']} (`git archive` of it,",
        "run with the same interpreter); then, from the cache each filled, a warm `run` timed to its first progress",
        f"line and to the line that starts the fit (median of {c['warm_repeats']}, alternated).",
        "",
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
        "",
    ]


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
            for measured in by_cpu(workload):
                info = measured["machine"]
                places.setdefault(machine_line(info), []).append(f"{name} ({measured['measured']})")
                named = versions.setdefault(", ".join(f"{k} {v}" for k, v in info["versions"].items()), [])
                named += [name] if name not in named else []
    where = " ".join(f"{place} Measured there: {', '.join(names)}." for place, names in places.items())
    return where, "Versions: " + "; ".join(f"{', '.join(names)}: {v}" for v, names in versions.items()) + "."


def machine_line(info):
    isa = f" ({info['isa']})" if "isa" in info else ""
    return f"Machine: {info['processor']}{isa}, {info['cores']} cores, {info['memory_gib']} GiB; {info['platform']}."


def render(raw):
    e, m, p = raw["extraction"], raw["paper_mlp"], raw["run_paper"]
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
            *mlp_section(m),
            "- `run paper`: the study's configuration end to end, `--force`, from a warm feature cache (PrivateTest",
            f"  accuracy {100 * p['private_accuracy']:.2f}% on the detected faces in this run), then from an empty",
            "  one (`--cache` a new folder: every image's embedding extracted first, as in a newcomer's first",
            "  `make run`).",
            "",
            "Where extraction time goes, per image (one process, 200 images):",
            "",
            tabulate(profile, ["stage", "ms per image"], tablefmt="github", disable_numparse=True),
            "",
        ]
        + (grid_section(raw["grid"]) if "grid" in raw else [])
        + (memory_section(raw["memory"]) if "memory" in raw else [])
        + (cnn_section(raw["cnn"]) if "cnn" in raw else [])
        + ([line for f in by_cpu(raw["fast"]) for line in fast_section(f)] if "fast" in raw else [])
        + (predict_section(raw["predict"]) if "predict" in raw else [])
        + (coldstart_section(raw["coldstart"]) if "coldstart" in raw else [])
        + (determinism_section(raw["determinism"]) if "determinism" in raw else [])
    )


def mlp_section(m):
    per_sample = (m["ms_per_batch_of_256"] - m["ms_per_batch_of_32"]) / (256 - 32)
    fixed = m["ms_per_batch_of_32"] - 32 * per_sample
    minutes = m["minutes_300_epochs"]
    return [
        f"- Paper MLP: {m['fit_samples']:,} fitting samples (the SMOTE-resampled detected faces), batch 32,",
        f"  median of {m['epochs_timed']} epochs after a warm-up epoch that compiles; baseline = stock `model.fit`",
        "  (one compiled call per batch, as the study's train.py); fer-bench = one XLA-compiled call per epoch over",
        "  Keras's own `train_step` (`fer_bench/parts/models/_compiled_epochs.py`), its batches in its own order,",
        "  so its losses are compared with `train_on_batch` over the same batches (a tenth of the data, 2 epochs).",
        f"  300 epochs: {minutes['stock']:.1f} min stock, {minutes['keras-fit']:.1f} min with fer-bench's loop",
        f"  before, {minutes['compiled']:.1f} min now.",
        f"  Profile of the compiled loop: {m['ms_per_batch_of_32']:.3f} ms per batch of 32 and"
        f" {m['ms_per_batch_of_256']:.3f} ms per batch of 256, i.e. about {1000 * fixed:.0f} us fixed per step",
        f"  plus {1000 * per_sample:.1f} us per sample; an epoch is {m['gflop_per_epoch']:.1f} GFLOP (6 x weights x"
        f" samples), done at {m['gflop_per_s']:.0f} GFLOP/s.",
    ]


def grid_section(g):
    short = g["short_grid"]
    lines = [
        f"## The ablation grid (measured {g['measured']})",
        "",
        f"A shortened copy of `experiments/grids/ablation.toml`: the cells that train the paper MLP, seed 0,"
        f" {g['short_grid_epochs']} epochs",
        "(the classifier axis left out: no training loop touches knn, logistic regression or the SVM); each",
        "mode in a new results folder, timed from start to exit, with the peak memory of all its processes:",
        "",
    ]
    rows = [[mode, run["cells"], f"{run['wall_s']:.0f}", f"{run['peak_rss_gib']:.2f}"] for mode, run in short.items()]
    full = g["full_grid"]
    rows.append(
        [
            "the whole grid, 300 epochs, 3 seeds: compiled, jobs 2",
            full["cells"],
            f"{full['wall_s']:.0f}",
            f"{full['peak_rss_gib']:.2f}",
        ]
    )
    table = tabulate(rows, ["mode", "cells", "wall s", "peak GiB"], tablefmt="github", disable_numparse=True)
    return [*lines, table, ""]


def cnn_section(c):
    rows = [
        [
            r["backend"],
            "yes" if r["xla"] else "no",
            r["batch_size"],
            r["policy"],
            f"{r['images_per_s']:.1f}",
            f"{r['gflop_per_s']:.0f}",
        ]
        for r in c["settings"]
    ]
    headers = ["backend", "XLA", "batch", "precision", "images/s", "GFLOP/s"]
    return [
        f"## `cnn` training throughput (measured {c['measured']})",
        "",
        f"The `cnn` network (width 32, 4 blocks, {c['gflop_per_training_image']:.2f} GFLOP per training image) on",
        "random images, one timed epoch after a warm-up, each setting in its own process; then the fast CNN as",
        "its experiments train it. This CPU's vector extensions: "
        + ", ".join(c["cpu_flags"])
        + (f" (level {c['isa']})." if "isa" in c else "."),
        "",
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
        "",
        *(
            [
                tabulate(
                    [
                        [f["experiment"], f"{f['parameters']:,}", f["precision"], f"{f['images_per_s']:.1f}"]
                        for f in c["fast"]
                    ],
                    ["fast CNN as in", "parameters", "precision", "images/s"],
                    tablefmt="github",
                    disable_numparse=True,
                ),
                "",
            ]
            if c.get("fast")
            else []
        ),
    ]


def fast_section(f):
    rows = [
        [
            r["experiment"],
            r["isa"],
            r["backend"],
            r["precision"],
            " / ".join(f"{v:.0f}" for v in r["images_per_s"]),
            f"{r['median']:.0f}",
        ]
        for r in f["rows"]
    ]
    return [
        f"## The fast CNN by backend and ISA level, {f['isa']} CPU (measured {f['measured']})",
        "",
        f"Training images/s of the fast CNN as each experiment builds it, {f['images']:,} random images timed after",
        "a warm-up, each setting in its own process, the settings repeated in turn (`benchmarks/bench_fast.py`).",
        f"{machine_line(f['machine'])} Its level: {f['isa']}; a level below it is the same CPU limited to it.",
        "",
        tabulate(
            rows,
            ["experiment", "ISA", "backend", "precision", "images/s, each repeat", "median"],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]


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
