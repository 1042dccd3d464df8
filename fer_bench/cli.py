"""`fer-bench` command line: benchmark facial emotion recognition on FER2013 and FER+.

Verbs: run, grid, tune, show, list, leaderboard, compare, labels, predict, evaluate, import, cache,
probabilities, complete, prune, export, calibration.

Each verb parses its arguments, calls the matching function of fer_bench.api and prints; bad input
is one `fer-bench: error:` line and exit status 2. Ctrl-C ends a command within STOP_WITHIN_S.
"""

import argparse
import csv
import json
import os
import shlex
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from fer_bench import api, console
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.runs import layout
from fer_bench.runs.predict import DEFAULT_DETECTOR, FACES, FRAME_DETECTOR
from fer_bench.runs.pruning import retires
from fer_bench.specs import files
from fer_bench.specs.experiment import MAX_SEED, is_seed

INTERRUPTED = "fer-bench: interrupted; records already written are kept"
STOP_WITHIN_S = 2.0  # after Ctrl-C, the seconds a command has to stop by itself before it is ended


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    reported = threading.Event()
    try:
        with ended_on_interrupt(reported):
            args = build_parser().parse_args(argv)  # --detector's choices load the parts, plugins included
            args.command_line = "fer-bench " + shlex.join(argv)
            console.show_messages(verbose=args.verbose)
            return args.handler(args) or 0
    except FerBenchError as error:
        one_line = " ".join(str(error).splitlines())
        print(f"fer-bench: error: {one_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        reported.set()
        return 130


@contextmanager
def ended_on_interrupt(reported: threading.Event):
    """The process ends STOP_WITHIN_S after a Ctrl-C in the block, if it has not stopped by then.

    Python raises KeyboardInterrupt only between bytecodes, so a main thread inside native code (a
    compiled training epoch, a long prediction call) would go on for minutes. The signal's byte
    reaches a watchdog thread through a pipe (signal.set_wakeup_fd) at once; it ends the process
    as a SIGKILL would, which records, claims and the cache are made to survive: a record is
    appended whole or sealed as torn, weights are recorded only after they are saved, and the
    kernel lets go of the claim. `reported`: the interrupt was reported already."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set the fd
        yield
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    threading.Thread(target=_end_after_interrupt, args=(read, reported), daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(write)  # the watchdog reads to the end, and ends unless an interrupt came


def _end_after_interrupt(read, reported: threading.Event):
    with open(read, "rb", buffering=0) as pipe:
        while signals := pipe.read(64):
            if signal.SIGINT in signals:
                time.sleep(STOP_WITHIN_S)
                if not reported.is_set():
                    print(f"{INTERRUPTED} (ended at once: it was inside native code)", file=sys.stderr, flush=True)
                os._exit(130)


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line like any other error (argparse's status, 2, is kept)."""

    def error(self, message):
        self.exit(2, f"fer-bench: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = OneLineParser(prog="fer-bench", description=__doc__.split("\n")[0])
    every = argparse.ArgumentParser(add_help=False)
    every.add_argument("--verbose", action="store_true", help="debug messages and the backends' start-up output")
    common = argparse.ArgumentParser(add_help=False, parents=[every])
    common.add_argument("--results", default=None, help="results directory (default: $FER_BENCH_RESULTS or ./results)")
    sub = parser.add_subparsers(dest="command", required=True)

    cache_option = argparse.ArgumentParser(add_help=False)
    cache_option.add_argument(
        "--cache",
        default=None,
        help="cache of features and decoded images (default: $FER_BENCH_CACHE or ~/.cache/fer-bench)",
    )
    data = argparse.ArgumentParser(add_help=False, parents=[cache_option])
    data.add_argument("--data", default=None, help="FER2013 images folder or csv (default: $FER_BENCH_DATA)")

    run = sub.add_parser("run", parents=[common, data], help="run one experiment and record it")
    run.add_argument("experiment", help="experiment name (experiments/NAME.toml) or a .toml path")
    run.add_argument(
        "--jobs", type=positive_int, default=None, help="worker processes for extraction (default: all cores)"
    )
    run.add_argument("--seed", type=seed_value, default=None, help="override the experiment's seed")
    run.add_argument("--force", action="store_true", help="run again even if this spec is already recorded")
    run.set_defaults(handler=cmd_run)

    grid = sub.add_parser(
        "grid", parents=[common, data], help="run every cell of a grid not yet recorded, then write its report"
    )
    grid.add_argument("grid", help="grid name (experiments/grids/NAME.toml) or a .toml path")
    grid.add_argument("--jobs", type=positive_int, default=1, help="cells run in parallel processes (default: 1)")
    grid.add_argument("--report-only", action="store_true", help="write the report from the records; run nothing")
    grid.add_argument(
        "--storage",
        default=None,
        help="optuna storage URL through which several machines share "
        "the cells (each records into its own results folder)",
    )
    grid.set_defaults(handler=cmd_grid)

    tune = sub.add_parser(
        "tune", parents=[common, data], help="run (or continue) an Optuna search, then record its best trial once"
    )
    tune.add_argument("search", help="search name (experiments/searches/NAME.toml) or a .toml path")
    tune.add_argument("--trials", type=positive_int, default=None, help="trials the study should hold in all")
    tune.add_argument("--workers", type=positive_int, default=1, help="worker processes on this machine (default 1)")
    tune.add_argument(
        "--storage",
        default=None,
        help="optuna storage URL, e.g. postgresql://user:pw@host/db (default: sqlite in <results>/searches/NAME.db)",
    )
    tune.set_defaults(handler=cmd_tune)

    show = sub.add_parser("show", parents=[common], help="print the latest record of an experiment or run id")
    show.add_argument("name", help="experiment name or run id (6+ leading characters)")
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.set_defaults(handler=cmd_show)

    board = sub.add_parser("leaderboard", parents=[common], help=f"write <results>/{layout.LEADERBOARD}")
    board.add_argument("--readme", default=None, help="also refresh the headline block of this README")
    board.set_defaults(handler=cmd_leaderboard)

    faces = argparse.ArgumentParser(add_help=False)
    faces.add_argument(
        "--faces",
        choices=FACES,
        default="auto",
        help="crop: each image is a face crop; detect: find "
        "the faces; auto: crop up to 96 pixels a side, detect above (default)",
    )
    faces.add_argument(
        "--detector",
        choices=[p.name for p in registry.parts("detector")],
        default=None,
        help=f"face detector for --faces detect/auto (default: {DEFAULT_DETECTOR}; for video and camera frames, "
        f"{FRAME_DETECTOR})",
    )

    predict = sub.add_parser("predict", parents=[common, faces], help="classify the faces in images with a saved model")
    predict.add_argument(
        "images",
        nargs="*",
        help="image files, folders or patterns (any size; colour or grayscale); videos (mp4, avi, mov, webm, mkv)",
    )
    predict.add_argument("--model", default=None, help="experiment or run id (default: the best recorded with weights)")
    predict.add_argument(
        "--format",
        choices=["text", "json", "csv"],
        default="text",
        help="csv: one row per face with every class's probability",
    )
    predict.add_argument(
        "--annotate",
        default=None,
        help="write the image with boxes and labels here (PNG; a folder when several images are given)",
    )
    predict.add_argument("--fps", type=float, default=2.0, help="video and camera frames classified a second (2)")
    predict.add_argument(
        "--video-out",
        metavar="FOLDER",
        default=".",
        help="where a video's VIDEO.frames.csv and VIDEO.timeline.png go (default: here)",
    )
    predict.add_argument(
        "--camera", type=int, metavar="N", help="classify camera N's faces live (OpenCV), a line a frame"
    )
    predict.add_argument("--seconds", type=float, help="with --camera: stop after this long (default: at Ctrl-C)")
    predict.add_argument(
        "--no-window",
        dest="window",
        action="store_false",
        help="with --camera: print only, even where a screen could show the frames with their faces",
    )
    predict.set_defaults(handler=cmd_predict)

    judge = sub.add_parser(
        "evaluate",
        parents=[common, faces, cache_option],
        help="run a saved model on a labelled collection, without training, and record it",
    )
    judge.add_argument("model", help="experiment name or run id of a recorded run with saved weights")
    judge.add_argument("--data", required=True, help="a FER2013 layout, or <label>/<image> folders of any images")
    judge.add_argument("--force", action="store_true", help="evaluate again even if already recorded")
    judge.set_defaults(handler=cmd_evaluate)

    merge = sub.add_parser(
        "import", parents=[common], help="add the records (and saved weights) of another results folder"
    )
    merge.add_argument("source", help="a results folder made elsewhere, e.g. on a GPU machine")
    merge.set_defaults(handler=cmd_import)

    versus = sub.add_parser(
        "compare", parents=[common, data], help="pair recorded runs with the first on shared test images (McNemar)"
    )
    versus.add_argument("runs", nargs="+", metavar="RUN", help="experiment names or run ids; first = reference")
    versus.add_argument(
        "--split",
        default=None,
        help="test split to compare on (default: the first run's report "
        "split: PrivateTest, or an evaluated collection's)",
    )
    versus.add_argument("--out", default=None, help="also write the table as markdown to this file")
    versus.set_defaults(handler=cmd_compare)

    proba = sub.add_parser(
        "probabilities",
        parents=[common, data],
        help="store each test image's class "
        "probabilities for recorded runs with saved weights (ensembles, calibration)",
    )
    proba.add_argument("runs", nargs="+", metavar="RUN", help="experiment names or run ids")
    proba.add_argument(
        "--training", action="store_true", help="the Training images' too (a teacher's, for distillation)"
    )
    proba.add_argument("--force", action="store_true", help="compute them again even if stored")
    proba.set_defaults(handler=cmd_probabilities)

    done = sub.add_parser(
        "complete",
        parents=[common, data],
        help="save the weights of a run recorded without them: fit it again, kept only if it predicts as recorded",
    )
    done.add_argument("run", metavar="RUN", help="experiment name or run id")
    done.set_defaults(handler=cmd_complete)

    prune = sub.add_parser(
        "prune",
        parents=[common],
        help="remove the saved weights of runs that nothing is to use, keeping their records and probabilities",
    )
    prune.add_argument("runs", nargs="+", metavar="RUN", help="experiment names or run ids")
    prune.set_defaults(handler=cmd_prune)

    exported = sub.add_parser(
        "export",
        parents=[common],
        help="write a run's network as an ONNX file, its classes, input and temperature in its metadata",
    )
    exported.add_argument("run", metavar="RUN", help="experiment name or run id (a run with saved weights)")
    exported.add_argument("--format", choices=["onnx"], default="onnx", help="the file's format (default: onnx)")
    exported.add_argument(
        "--out",
        metavar="FILE",
        help="where to write it (default: EXPERIMENT-RUNID.onnx here; an ensemble: the folder EXPERIMENT-RUNID)",
    )
    exported.set_defaults(handler=cmd_export)

    calibrated = sub.add_parser(
        "calibration",
        parents=[common],
        help="calibration before and after temperature "
        "scaling, from stored probabilities: <results>/calibration/calibration.md",
    )
    calibrated.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="experiment names or run ids (default: every run on the leaderboard with stored probabilities)",
    )
    calibrated.set_defaults(handler=cmd_calibration)

    noise = sub.add_parser(
        "labels",
        parents=[common, cache_option],
        help="FER+ against FER2013's labels and "
        "the test images copied from Training: reports in <results>/labels, new leaderboard "
        "columns",
    )
    noise.add_argument("--data", default=None, help="FER2013 usage folders or csv (default: $FER_BENCH_DATA)")
    noise.set_defaults(handler=cmd_labels)

    cache = sub.add_parser(
        "cache",
        parents=[every],
        help="what the cache of features and decoded images holds, each entry checked (info), or empty it (clear)",
    )
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache", default=None, help="cache directory (default: $FER_BENCH_CACHE or ~/.cache/...)")
    cache.set_defaults(handler=cmd_cache)

    listing = sub.add_parser(
        "list", parents=[every], help="list every registered part with its parameters, and the experiments"
    )
    listing.set_defaults(handler=cmd_list)
    return parser


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def seed_value(text):
    value = int(text)
    if not is_seed(value):
        raise argparse.ArgumentTypeError(f"must be an integer in 0..{MAX_SEED}, got {value}")
    return value


def workspace_options(args) -> dict:
    """What a recording verb's workspace is made of, as given: --data, --results, --cache, and the
    command line its records carry."""
    return {"data": args.data, "results": args.results, "cache": args.cache, "command": args.command_line}


def cmd_run(args):
    record = api.run(
        args.experiment,
        seed=args.seed,
        force=args.force,
        jobs=args.jobs,
        **workspace_options(args),
    )
    print(summary_text(record))


def cmd_grid(args):
    result = api.grid(
        args.grid,
        jobs=args.jobs,
        storage=args.storage,
        report_only=args.report_only,
        **workspace_options(args),
    )
    print(result.report)
    return 1 if result.failed else 0


def cmd_tune(args):
    record = api.tune(
        args.search,
        trials=args.trials,
        workers=args.workers,
        storage=args.storage,
        **workspace_options(args),
    )
    print(summary_text(record))


def cmd_show(args):
    record = api.latest_record(args.name, args.results)
    print(json.dumps(record.to_dict(), indent=2) if args.format == "json" else summary_text(record))


def cmd_leaderboard(args):
    print(api.write_leaderboard(args.results, args.readme))
    if args.readme:
        print(args.readme)


def cmd_predict(args):
    from fer_bench.runs.video import is_video

    if args.camera is not None:
        if args.images:
            raise FerBenchError("--camera classifies the camera's frames: give no images beside it")
        return watch(args)
    if not args.images:
        raise FerBenchError("predict needs images, folders, patterns or videos, or --camera N")
    videos = [item for item in args.images if is_video(item)]
    for video in videos:
        found = api.predict_video(video, fps=args.fps, out=args.video_out, **model_options(args))
        without = sum(not frame.faces for frame in found.frames)
        print(f"{video}: {len(found.frames)} frames at {args.fps:g}/s, {without} without a face")
        print(f"  {found.csv}\n  {found.figure}")
    args.images = [item for item in args.images if not is_video(item)]
    return classify_images(args) if args.images else 0


def model_options(args) -> dict:
    """The model predict uses and how it finds faces, as given: --model, --results, --faces, --detector."""
    return {"model": args.model, "results": args.results, "faces": args.faces, "detector": args.detector}


def watch(args):
    """predict --camera: a line per sampled frame, its faces' labels, until --seconds or Ctrl-C; where
    a screen exists (and not --no-window), the frames in a window with boxes and labels, until it closes."""
    from fer_bench.runs.video import Window, has_screen

    frames = api.watch_camera(args.camera, fps=args.fps, seconds=args.seconds, **model_options(args))
    window = None
    try:
        for frame in frames:
            faces = "; ".join(
                f"{face.label} {100 * face.probabilities[face.label]:.0f}% at {face.box}" for face in frame.faces
            )
            print(f"{frame.seconds:8.1f} s: {faces or 'no face'}", flush=True)
            if window is None and args.window and has_screen():
                window = Window()
            if window is not None and not window.show(frame):
                break
    finally:
        frames.close()  # the camera released
        if window is not None:
            window.close()
    return 0


def classify_images(args):
    predictions = api.predict(args.images, **model_options(args))
    record, outcomes = predictions.record, predictions.images
    found = [(image, faces) for image, faces in outcomes if not isinstance(faces, FerBenchError)]
    if args.annotate:
        for image, faces in found:
            out = Path(args.annotate)
            annotate_to(args.annotate, image, faces, out / (Path(image).stem + ".png") if len(outcomes) > 1 else out)
    if args.format == "json":
        images = [{"image": image, "faces": [face.to_dict() for face in faces]} for image, faces in found]
        refused = [{"image": image, "error": str(e)} for image, e in outcomes if isinstance(e, FerBenchError)]
        model = {
            "run_id": record.run_id,
            "experiment": record.experiment,
            "calibration": predictions.calibration,
            "temperatures": predictions.temperatures,
        }
        print(json.dumps({"model": model, "images": images, "refused": refused}, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["image", "face", "left", "top", "right", "bottom", "whole_image", "label", *record.classes])
        for image, faces in found:
            for number, face in enumerate(faces):
                writer.writerow(
                    [
                        image,
                        number,
                        *face.box,
                        face.whole_image,
                        face.label,
                        *(face.probabilities[name] for name in record.classes),
                    ]
                )
    else:
        print(f"model: {record.experiment} (run {record.run_id})")
        print(predictions.calibration)
        for image, faces in found:
            for face in faces:
                left, top, right, bottom = face.box
                top3 = sorted(face.probabilities.items(), key=lambda kv: -kv[1])[:3]
                where = "whole image" if face.whole_image else f"box ({left}, {top})-({right}, {bottom})"
                print(
                    f"{image}: {where}: {face.label}  (" + ", ".join(f"{name} {100 * p:.1f}%" for name, p in top3) + ")"
                )
    errors = [error for _, error in outcomes if isinstance(error, FerBenchError)]
    for error in errors:
        print(f"fer-bench: error: {error}", file=sys.stderr)
    return 2 if errors else 0


def annotate_to(option, image, faces, out: Path):
    """predict's annotate, a destination it cannot write refused in one line naming --annotate."""
    from fer_bench.runs.predict import annotate

    try:
        annotate(image, faces, out)
    except OSError as error:
        in_the_way = next((folder for folder in out.parents if folder.is_file()), None)
        why = f"{in_the_way} is a file, not a folder" if in_the_way else error.strerror or str(error)
        raise FerBenchError(f"--annotate {option}: {why}") from None


def cmd_evaluate(args):
    record = api.evaluate(
        args.model,
        faces=args.faces,
        detector=args.detector,
        force=args.force,
        **workspace_options(args),
    )
    print(summary_text(record))
    calibration = record.evaluation.get("calibration") or "probabilities as the model gave them (uncalibrated)"
    print(f"  {calibration}")
    for split, m in record.metrics.items():
        print(f"  {split} recall: {m.recall_text()}")
    for label, why in record.evaluation["excluded"].items():
        print(f"  excluded {label}: {why}")
    for line in record.evaluation["refused"]:
        print(f"  refused {line}")
    hidden = record.evaluation["n_refused"] - len(record.evaluation["refused"])
    if hidden:
        print(f"  ... and {hidden} more refused files (all counted in the record)")


def cmd_import(args):
    added, known = api.import_records(args.source, results=args.results)
    print(f"imported {added} record(s) from {args.source}; {known} were already here")


def cmd_compare(args):
    from fer_bench.reports.comparison import ComparisonReport

    comparison = api.compare(args.runs, data=args.data, results=args.results, cache=args.cache, split=args.split)
    report = ComparisonReport()
    print(report.text(comparison, args.command_line))
    if args.out:
        report.write(comparison, args.results, args.command_line, path=args.out)


def cmd_probabilities(args):
    done = api.compute_probabilities(
        args.runs, data=args.data, results=args.results, cache=args.cache, training=args.training, force=args.force
    )
    for record, path, computed in done:
        shown = [
            split if share is None else f"{split} (argmax = recorded prediction: {100 * share:.2f}%)"
            for split, share in computed.items()
        ]
        print(
            f"{record.experiment} (run {record.run_id}): {path}  "
            + (f"computed {', '.join(shown)}" if computed else "already stored")
        )


def cmd_complete(args):
    record, saved = api.complete(
        args.run, data=args.data, results=args.results, cache=args.cache, command=args.command_line
    )
    print(
        f"{record.experiment} (run {record.run_id}): weights {record.artefact}"
        + (" saved; fitted again, it predicts every test image as recorded" if saved else " (saved already)")
    )


def cmd_prune(args):
    for record in api.prune(args.runs, results=args.results, command=args.command_line):
        done = "retired, its members free to prune" if retires(record) else "weights removed"
        print(f"{record.experiment} (run {record.run_id}): {done}; record and probabilities kept")


def cmd_export(args):
    print(api.export(args.run, results=args.results, out=args.out, format=args.format))


def cmd_calibration(args):
    print(api.write_calibration(args.runs or None, results=args.results, command=args.command_line))


def cmd_labels(args):
    for path in api.labels(data=args.data, results=args.results, cache=args.cache, command=args.command_line):
        print(path)


def cmd_cache(args):
    from fer_bench.parts.cache import ArrayCache

    root = ArrayCache(args.cache).root
    if args.action == "clear":
        print(f"removed {root} ({api.clear_cache(args.cache) / 1e6:.1f} MB)")
        return 0
    entries = api.cache_entries(args.cache)
    damaged = [e for e in entries if e.problem]
    print(
        f"{root}: {len(entries)} entries, {sum(e.size for e in entries) / 1e6:.1f} MB"
        + (f", {len(damaged)} damaged (recomputed when next needed)" if damaged else "")
    )
    for entry in entries:
        inputs = entry.inputs or {}
        shown = {k: v for k, v in inputs.items() if k != "versions"}
        if "versions" in inputs:  # features: the backend that computed them
            shown["backend"] = inputs["versions"].get("keras_backend", "?")
        what = ", ".join(f"{k}={v}" for k, v in shown.items()) if inputs else "unreadable metadata"
        status = f"DAMAGED ({entry.problem})" if entry.problem else "ok"
        print(f"  {entry.key}  {entry.size / 1e6:8.1f} MB  {status}  {what}")
    return 1 if damaged else 0


def cmd_list(args):
    parts = api.list_parts()
    for kind in registry.PART_KINDS:
        print(f"{kind}:")
        for part in parts[parts.kind == kind].itertuples():
            capabilities = f"  [{', '.join(part.capabilities)}]" if part.capabilities else ""
            print(f"  {part.name:<16} v{part.version}  {part.summary}{capabilities}")
            for param, default in part.params.items():
                tunable = part.tunable.get(param)
                shown = f"  ({part.constraints[param]})"
                if tunable:
                    shown += "  tunable: " + (
                        f"{tunable['choices']}"
                        if "choices" in tunable
                        else f"[{tunable['low']}, {tunable['high']}]" + (" log" if tunable.get("log") else "")
                    )
                print(f"      {param} = {default!r}{shown}")
    for title, what in (("experiments", "experiment"), ("grids", "grid"), ("searches", "search")):
        print(f"{title}:\n  " + "  ".join(files.names(what)))


def summary_text(record):
    lines = [f"{record.experiment}  run {record.run_id}  ({record.created}, {record.timings['total']:.0f} s)"]
    if record.error:
        lines.append(f"  failed: {record.error}")
    for split, m in record.metrics.items():
        lines.append(
            f"  {split:<12} accuracy {100 * m.accuracy:.2f}% on {m.n_evaluated}/{m.n_total} evaluated"
            + (f" ({m.n_unlabelled} without a label)" if m.n_unlabelled else "")
            + f" | accuracy_all {100 * m.accuracy_all:.2f}% | macro-F1 {100 * m.macro_f1:.2f}%"
        )
    if record.held_out:  # what a choice between runs may read
        lines.append(
            f"  {'held out':<12} accuracy {100 * record.held_out.accuracy:.2f}% on "
            f"{record.held_out.n_evaluated} Training images its fit held out"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
