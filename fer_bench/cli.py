"""`fer-bench` command line: run, grid, tune, show, list, leaderboard, compare, predict, import, cache."""

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from fer_bench import leaderboard, registry
from fer_bench.errors import FerBenchError
from fer_bench.experiments import MAX_SEED, is_seed
from fer_bench.records import RecordStore

LEADERBOARD_FILE = "LEADERBOARD.md"
GRIDS_DIR = "grids"


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "fer-bench " + shlex.join(argv)
    try:
        return args.handler(args) or 0
    except FerBenchError as error:
        one_line = " ".join(str(error).splitlines())
        print(f"fer-bench: error: {one_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fer-bench: interrupted; records already written are kept", file=sys.stderr)
        return 130


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line like any other error (argparse's status, 2, is kept)."""

    def error(self, message):
        self.exit(2, f"fer-bench: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = OneLineParser(prog="fer-bench", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--results", default=None, help="results directory (default: $FER_BENCH_RESULTS or ./results)")
    sub = parser.add_subparsers(dest="command", required=True)

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data",
        default=os.environ.get("FER_BENCH_DATA"),
        help="FER2013 images folder or csv (default: $FER_BENCH_DATA)",
    )
    data.add_argument(
        "--cache", default=None, help="feature cache directory (default: $FER_BENCH_CACHE or ~/.cache/fer-bench)"
    )

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
    grid.add_argument("--storage", default=None, help="optuna storage URL through which several machines share "
                      "the cells (each records into its own results folder)")  # fmt: skip
    grid.set_defaults(handler=cmd_grid)

    tune = sub.add_parser(
        "tune", parents=[common, data], help="run (or continue) an Optuna search, then record its best trial once"
    )
    tune.add_argument("search", help="search name (experiments/searches/NAME.toml) or a .toml path")
    tune.add_argument("--trials", type=positive_int, default=None, help="trials the study should hold in all")
    tune.add_argument("--workers", type=positive_int, default=1, help="worker processes on this machine (default 1)")
    tune.add_argument("--storage", default=None, help="optuna storage URL, e.g. postgresql://user:pw@host/db "
                      "(default: sqlite in <results>/searches/NAME.db)")  # fmt: skip
    tune.set_defaults(handler=cmd_tune)

    show = sub.add_parser("show", parents=[common], help="print the latest record of an experiment or run id")
    show.add_argument("name", help="experiment name or run id (6+ leading characters)")
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.set_defaults(handler=cmd_show)

    board = sub.add_parser("leaderboard", parents=[common], help=f"write <results>/{LEADERBOARD_FILE}")
    board.add_argument("--readme", default=None, help="also refresh the headline block of this README")
    board.set_defaults(handler=cmd_leaderboard)

    predict = sub.add_parser("predict", parents=[common], help="classify the faces in photos with a saved model")
    predict.add_argument("images", nargs="+", help="image files (any size; colour or grayscale)")
    predict.add_argument("--model", default=None, help="experiment or run id (default: the best recorded with weights)")
    predict.add_argument("--format", choices=["text", "json"], default="text")
    predict.add_argument("--annotate", default=None, help="write the image with boxes and labels here (PNG; a folder "
                         "when several images are given)")  # fmt: skip
    predict.set_defaults(handler=cmd_predict)

    merge = sub.add_parser(
        "import", parents=[common], help="add the records (and saved weights) of another results folder"
    )
    merge.add_argument("source", help="a results folder made elsewhere, e.g. on a GPU machine")
    merge.set_defaults(handler=cmd_import)

    versus = sub.add_parser(
        "compare", parents=[common, data], help="pair recorded runs with the first on shared test images (McNemar)"
    )
    versus.add_argument("runs", nargs="+", metavar="RUN", help="experiment names or run ids; first = reference")
    versus.add_argument("--split", default="PrivateTest", help="test split to compare on (default: PrivateTest)")
    versus.add_argument("--out", default=None, help="also write the table as markdown to this file")
    versus.set_defaults(handler=cmd_compare)

    cache = sub.add_parser("cache", help="what the feature cache holds, each entry checked (info), or empty it (clear)")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache", default=None, help="cache directory (default: $FER_BENCH_CACHE or ~/.cache/...)")
    cache.set_defaults(handler=cmd_cache)

    listing = sub.add_parser("list", help="list every registered part with its parameters, and the experiments")
    listing.set_defaults(handler=cmd_list)
    return parser


def cmd_run(args):
    from fer_bench.experiments import load_experiment
    from fer_bench.features.cache import ArrayCache
    from fer_bench.runner import log, run

    experiment = load_experiment(args.experiment)
    store, dataset = open_store_and_data(args)
    record = run(
        experiment,
        dataset,
        store,
        ArrayCache(args.cache),
        jobs=args.jobs,
        seed=args.seed,
        force=args.force,
        command=args.command_line,
    )
    print(summary_text(record))
    path = leaderboard.write(store.all(), store.root / LEADERBOARD_FILE)
    log(f"leaderboard updated: {path}")


def cmd_grid(args):
    from fer_bench.features.cache import ArrayCache
    from fer_bench.grid_report import write_report
    from fer_bench.grids import load_grid, run_grid, run_grid_shared
    from fer_bench.runner import log

    grid = load_grid(args.grid)
    store, dataset = open_store_and_data(args)
    failed = 0
    if args.storage and not args.report_only:
        ran, failed = run_grid_shared(grid, dataset, store, ArrayCache(args.cache), args.storage, args.command_line)
        log(f"grid {grid.name}: {ran} cells ran here, {failed} failed; the queue in the storage is empty")
    elif not args.report_only:
        ran, failed, skipped = run_grid(grid, dataset, store, ArrayCache(args.cache), args.jobs, args.command_line)
        log(f"grid {grid.name}: {ran} cells ran, {failed} failed, {skipped} were already recorded")
    records = store.all()
    report = write_report(grid, dataset, records, store.root / GRIDS_DIR, args.command_line)
    leaderboard.write(records, store.root / LEADERBOARD_FILE)
    print(report)
    return 1 if failed else 0


def cmd_predict(args):
    from fer_bench.predict import annotate, choose_record, load_model, predict_image

    store = RecordStore(args.results)
    record = choose_record(store.all(), args.model)
    model = load_model(record, store.root)
    features = record["spec"]["features"]["name"]
    results, failures = [], []
    for image in args.images:
        try:
            faces = predict_image(image, model, features)
        except FerBenchError as error:
            failures.append(str(error))
            continue
        results.append({"image": image, "faces": [face.to_dict() for face in faces]})
        if args.annotate:
            out = Path(args.annotate)
            out = out / (Path(image).stem + ".png") if len(args.images) > 1 else out
            annotate(image, faces, out)
    if args.format == "json":
        print(json.dumps({"model": {"run_id": record["run_id"], "experiment": record["experiment"]},
                          "images": results}, indent=2))  # fmt: skip
    else:
        print(f"model: {record['experiment']} (run {record['run_id']})")
        for result in results:
            for face in result["faces"]:
                left, top, right, bottom = face["box"]
                top3 = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])[:3]
                where = "whole image" if face["whole_image"] else f"box ({left}, {top})-({right}, {bottom})"
                print(f"{result['image']}: {where}: {face['label']}  ("
                      + ", ".join(f"{name} {100 * p:.1f}%" for name, p in top3) + ")")  # fmt: skip
    for failure in failures:
        print(f"fer-bench: error: {failure}", file=sys.stderr)
    return 2 if failures else 0


def cmd_import(args):
    store = writable_store(args.results)
    source = RecordStore(args.source)
    if not source.path.is_file():
        raise FerBenchError(f"{source.path}: no run records to import")
    known = {(r.get("run_id"), r.get("created")) for r in store.all()}
    new = [r for r in source.all() if (r.get("run_id"), r.get("created")) not in known]
    for record in new:  # check everything before writing anything
        if record.get("artefact") and not (source.root / record["artefact"]).is_file():
            raise FerBenchError(f"{source.root / record['artefact']}: weights of run {record['run_id']} are missing")
    for record in new:
        if record.get("artefact"):
            (store.root / record["artefact"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source.root / record["artefact"], store.root / record["artefact"])
        store.append(record)
    added = len(new)
    print(f"imported {added} record(s) from {source.path}; {len(source.all()) - added} were already here")
    leaderboard.write(store.all(), store.root / LEADERBOARD_FILE)


def cmd_compare(args):
    from fer_bench import compare
    from fer_bench.data import load_dataset

    if len(args.runs) < 2:
        raise FerBenchError("compare needs at least two runs: the reference, then the runs to pair with it")
    records = RecordStore(args.results).all()
    for name in args.runs:  # before loading the data: a typo should not cost a minute
        compare.latest_ok(records, name)
    base, rows = compare.compare(records, args.runs, load_dataset(args.data), args.split)
    text = compare.markdown(base, rows, args.split, args.command_line)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


def cmd_cache(args):
    from fer_bench.features.cache import ArrayCache

    cache = ArrayCache(args.cache)
    if args.action == "clear":
        print(f"removed {cache.root} ({cache.clear() / 1e6:.1f} MB)")
        return 0
    entries = cache.entries()
    damaged = [e for e in entries if e.problem]
    print(f"{cache.root}: {len(entries)} entries, {sum(e.size for e in entries) / 1e6:.1f} MB"
          + (f", {len(damaged)} damaged (recomputed when next needed)" if damaged else ""))  # fmt: skip
    for entry in entries:
        inputs = entry.inputs or {}
        shown = {k: v for k, v in inputs.items() if k != "versions"} | {
            "backend": inputs.get("versions", {}).get("keras_backend", "?")
        }
        what = ", ".join(f"{k}={v}" for k, v in shown.items()) if inputs else "unreadable metadata"
        status = f"DAMAGED ({entry.problem})" if entry.problem else "ok"
        print(f"  {entry.key}  {entry.size / 1e6:8.1f} MB  {status}  {what}")
    return 1 if damaged else 0


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


def cmd_tune(args):
    from fer_bench import tuning
    from fer_bench.features.cache import ArrayCache
    from fer_bench.runner import log, run
    from fer_bench.search_report import write_search_report

    search = tuning.load_search(args.search)
    store = writable_store(args.results)  # before the default storage is made inside it
    if args.storage:
        tuning.open_study(search, args.storage)  # a storage that cannot be reached fails before the data loads
    dataset = load_data(args)
    storage_url = args.storage or tuning.default_storage(store.root, search)  # made once the input is known good
    study = tuning.open_study(search, storage_url)
    cache = ArrayCache(args.cache)
    n_trials = args.trials or search.trials
    log(f"search {search.name}: {tuning.counted_trials(study)} of {n_trials} trials in {tuning.redacted(storage_url)}")
    rows = tuning.TrainingRows(dataset, cache, tuning.feature_variants(search))
    ran = tuning.run_workers(search, storage_url, n_trials, rows, args.workers)
    best, experiment = tuning.best_experiment(search, study)
    log(f"search {search.name}: {ran} trials ran here; best #{best.number} ({100 * best.value:.2f}% on validation)")
    extra = {
        "search": {
            "name": search.name,
            "storage": tuning.redacted(storage_url),
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": best.params,
            "metric": search.metric,
            "validation": f"{search.validation} ({search.holdout:g} of Training)"
            if search.validation == "holdout"
            else f"{search.folds}-fold cross-validation on Training",
            "sampler_seed": search.sampler_seed,
            "n_trials": tuning.counted_trials(study),
        }
    }
    record = run(experiment, dataset, store, cache, command=args.command_line, extra=extra)
    if "search" not in record:  # the same best spec was recorded by an earlier, untuned run
        record = {**record, **extra}
    print(summary_text(record))
    report = write_search_report(search, study, record, store.root / tuning.SEARCHES_DIR, args.command_line,
                                 storage_url, store.all(), dataset)  # fmt: skip
    leaderboard.write(store.all(), store.root / LEADERBOARD_FILE)
    log(f"report: {report}")


def open_store_and_data(args):
    """A writable record store (checked before any work) and the data set, for the verbs that run."""
    return writable_store(args.results), load_data(args)


def writable_store(results):
    """The record store, refused before any work unless its records file and its folder (leaderboard,
    reports, weights) can be written."""
    store = RecordStore(results)
    store.check_writable()
    if not os.access(store.root, os.W_OK | os.X_OK):
        raise FerBenchError(f"results directory {store.root} is not writable (read-only folder)")
    return store


def load_data(args):
    from fer_bench.data import load_dataset
    from fer_bench.runner import log

    dataset = load_dataset(args.data)
    log(dataset.summary())
    return dataset


def cmd_show(args):
    matches = RecordStore(args.results).find(args.name)
    if not matches:
        raise FerBenchError(f"no recorded run matches {args.name!r}")
    record = matches[-1]
    print(json.dumps(record, indent=2) if args.format == "json" else summary_text(record))


def cmd_leaderboard(args):
    store = RecordStore(args.results)
    records = store.all()
    print(leaderboard.write(records, store.root / LEADERBOARD_FILE))
    if args.readme:
        leaderboard.update_readme(records, Path(args.readme))
        print(args.readme)


def cmd_list(args):
    from fer_bench.experiments import experiment_dirs

    for kind in registry.KINDS:
        print(f"{kind}:")
        for part in registry.parts(kind):
            print(f"  {part.name:<12} {part.summary}")
            for p in part.params:
                choices = f"  one of {list(p.choices)}" if p.choices else ""
                tunable = part.search_space.get(p.name)
                if tunable:
                    choices += "  tunable: " + (
                        f"{tunable['choices']}"
                        if "choices" in tunable
                        else f"[{tunable['low']}, {tunable['high']}]" + (" log" if tunable.get("log") else "")
                    )
                print(f"      {p.name} = {p.default!r}{choices}")
    for title, sub in (("experiments", ""), ("grids", "grids"), ("searches", "searches")):
        names = sorted({f.stem for d in experiment_dirs() if (d / sub).is_dir() for f in (d / sub).glob("*.toml")})
        print(f"{title}:\n  " + "  ".join(names))


def summary_text(record):
    lines = [
        f"{record['experiment']}  run {record['run_id']}  ({record['created']}, {record['timings']['total']:.0f} s)"
    ]
    for split, m in record["metrics"].items():
        lines.append(
            f"  {split:<12} accuracy {100 * m['accuracy']:.2f}% on {m['n_evaluated']}/{m['n_total']} evaluated"
            f" | accuracy_all {100 * m['accuracy_all']:.2f}% | macro-F1 {100 * m['macro_f1']:.2f}%"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
