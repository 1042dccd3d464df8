"""fer-bench from Python: every `fer-bench` verb is one of these functions (the CLI only parses
arguments and prints). Paths default as on the command line: `data` to $FER_BENCH_DATA, `results`
to $FER_BENCH_RESULTS or ./results, `cache` to $FER_BENCH_CACHE or ~/.cache/fer-bench.
Progress and messages go to the `fer_bench` logger (`logging.basicConfig(level=logging.INFO)`
shows them); progress bars to stderr.
"""

import inspect
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from fer_bench.analysis import boards, pairs, yardsticks
from fer_bench.data import Dataset
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.cache import ArrayCache, CacheEntry
from fer_bench.reports import frontier, leaderboard
from fer_bench.runs import runner
from fer_bench.runs.records import Record, RecordStore
from fer_bench.runs.workspace import Workspace
from fer_bench.specs.experiment import Experiment, load_with_parts

if TYPE_CHECKING:
    import pandas

    from fer_bench.runs.predict import Predictor
    from fer_bench.runs.video import Frame

log = logging.getLogger("fer_bench")

Folder = str | os.PathLike[str] | None  # a folder or file; None: the default the docstring names
Data = str | os.PathLike[str] | Dataset | None  # a data set's path, one loaded, or None for $FER_BENCH_DATA


def run(
    experiment: str | Experiment,
    *,
    data: Data = None,
    results: Folder = None,
    cache: Folder = None,
    seed: int | None = None,
    force: bool = False,
    jobs: int | None = None,
    command: str | None = None,
) -> Record:
    """Run an experiment (a name, a .toml path or an Experiment) and record it; returns its record.

    A spec already recorded is not run again unless `force`; `seed` overrides the experiment's;
    `jobs` is the number of extraction processes (default: every core). The leaderboard in
    `results` is rewritten if a record was appended.
    """
    # A file's parts, built to check it, are the ones its run uses: each is built once
    experiment, setup = (experiment, None) if isinstance(experiment, Experiment) else load_with_parts(experiment)
    command = command or _call("run", experiment.name, seed=seed, force=force or None)
    with _open(results, cache, data, command, writable=True) as workspace:
        return runner.run(experiment, workspace, jobs, seed, force, setup=setup)


@dataclass(frozen=True)
class GridResult:
    ran: int
    failed: int
    skipped: int  # already recorded
    report: Path


def grid(
    name: str,
    *,
    data: Data = None,
    results: Folder = None,
    cache: Folder = None,
    jobs: int = 1,
    storage: str | None = None,
    report_only: bool = False,
    command: str | None = None,
) -> GridResult:
    """Run every cell of a grid (a name or a .toml path) not yet recorded, then write its report.

    `jobs` cells run in parallel processes; with `storage` (an Optuna storage URL) the cells are
    shared by every machine that runs the same grid on it. `report_only` runs nothing.
    """
    from fer_bench.reports.grid import GridReport
    from fer_bench.specs.grid import load_grid
    from fer_bench.sweeps.grid import run_grid, run_grid_shared

    grid = load_grid(name)
    command = command or _call("grid", grid.name, jobs=jobs if jobs != 1 else None, storage=storage)
    with _open(results, cache, data, command, writable=True) as workspace:
        workspace.dataset  # noqa: B018 - loaded before any cell: a bad data path fails at once
        ran = failed = skipped = 0
        if storage and not report_only:
            ran, failed = run_grid_shared(grid, workspace, storage)
            log.info(f"grid {grid.name}: {ran} cells ran here, {failed} failed; the queue in the storage is empty")
        elif not report_only:
            ran, failed, skipped = run_grid(grid, workspace, jobs)
            log.info(f"grid {grid.name}: {ran} cells ran, {failed} failed, {skipped} were already recorded")
        writer = GridReport()
        info = writer.compute(grid, workspace.dataset, workspace.records(), yardsticks.load_all(workspace.store.root))
        report = writer.write(info, workspace.store.root, command)
        workspace.boards_changed()  # they link the report
    return GridResult(ran, failed, skipped, report)


def tune(
    search: str,
    *,
    data: Data = None,
    results: Folder = None,
    cache: Folder = None,
    trials: int | None = None,
    workers: int = 1,
    storage: str | None = None,
    command: str | None = None,
) -> Record:
    """Run (or continue) an Optuna search (a name or a .toml path) until its study holds `trials`
    trials, then evaluate its best trial once as an ordinary run; returns that run's record.

    Trials see only Training rows. `workers` processes share the study here; `storage` (a URL,
    default SQLite in `results/searches/NAME.db`) lets workers on other machines share it too.
    """
    from fer_bench.reports.search import SearchReport
    from fer_bench.specs.search import feature_variants, load_search
    from fer_bench.sweeps import studies, tuning

    spec = load_search(search)
    command = command or _call("tune", spec.name, trials=trials, workers=workers if workers != 1 else None)
    with _open(results, cache, data, command, writable=True) as workspace:
        if storage:
            tuning.open_study(spec, storage)  # a storage that cannot be reached fails before the data loads
        dataset = workspace.labelled(spec.base.labels)
        storage = storage or tuning.default_storage(workspace.store.root, spec)  # made once the input is known good
        study = tuning.open_study(spec, storage)
        studies.fail_stale(study)  # a dead worker's trial holds no place: a full study would never run it again
        n_trials = trials or spec.trials
        log.info(
            f"search {spec.name}: {len(studies.counted(study))} of {n_trials} trials in {studies.redacted(storage)}"
        )
        ran = 0
        if len(studies.counted(study)) < n_trials:  # a full study rewrites its report without extracting
            rows = tuning.TrainingRows(dataset, workspace.cache, feature_variants(spec))
            ran = tuning.run_workers(spec, storage, n_trials, rows, workers)
        best, experiment, setup = tuning.best_experiment(spec, study)
        log.info(
            f"search {spec.name}: {ran} trials ran here; best #{best.number} ({100 * best.value:.2f}% on validation)"
        )
        summary = tuning.summary(spec, study, best, storage)
        record = runner.run(experiment, workspace, extra={"search": summary}, setup=setup)
        writer = SearchReport()
        info = writer.compute(spec, study, summary, record, workspace.records(), dataset)
        report = writer.write(info, workspace.store.root, command)
        workspace.boards_changed()  # they link the report
        log.info(f"report: {report}")
    return record


def list_parts(kind: str | None = None) -> "pandas.DataFrame":
    """Every registered part (of `kind`: features, resampler, model or detector), one row each: its
    key, version, summary, parameters with their defaults, choices, type and constraint, what a
    search may tune, and the capabilities it declares."""
    rows = [
        {
            "key": part.key,
            "kind": part.kind,
            "name": part.name,
            "version": part.version,
            "summary": part.summary,
            "params": {p.name: p.default for p in part.params},
            "choices": {p.name: list(p.choices) for p in part.params if p.choices},
            "constraints": {p.name: p.describe() for p in part.params},
            "tunable": dict(part.search_space),
            "capabilities": part.capabilities,
        }
        for part in registry.parts(kind)
    ]
    import pandas as pd

    return pd.DataFrame(
        rows,
        columns=[
            "key",
            "kind",
            "name",
            "version",
            "summary",
            "params",
            "choices",
            "constraints",
            "tunable",
            "capabilities",
        ],
    )


def load_records(results: Folder = None) -> "pandas.DataFrame":
    """Every record in `results`, one row each, oldest first: identity, parts and parameters
    (`model.epochs`, ...), timings (`timings.fit`, ...), and per test split its figures
    (`PrivateTest.accuracy_all`, `PrivateTest.recall.Happy`, ...). `current` is False for a run
    whose parts have changed since it was recorded."""
    import pandas as pd

    return pd.DataFrame([_row(record) for record in RecordStore(results).with_records().all()])


def _row(record: Record) -> dict:
    outdated = record.outdated_parts()
    row = {
        "run_id": record.run_id,
        "experiment": record.experiment,
        "status": record.status,
        "seed": record.seed,
        "created": record.created,
        "backend": record.backend,
        "current": not outdated,
        "outdated": "; ".join(outdated),
        "data": record.data.fingerprint,
        "git_commit": record.git_commit,
        "command": record.command,
        "error": record.error,
    }
    for kind in registry.KINDS:
        row[kind] = record.spec.part(kind).name
        row.update({f"{kind}.{param}": value for param, value in record.spec.part(kind).params.items()})
    row.update({f"timings.{name}": seconds for name, seconds in record.timings.items()})
    for split, m in record.metrics.items():
        for name in ("n_total", "n_evaluated", "coverage", "accuracy", "accuracy_all", "macro_f1"):
            row[f"{split}.{name}"] = getattr(m, name)
        row.update({f"{split}.recall.{label}": recall for label, recall in m.per_class_recall.items()})
    return row


def latest_record(name_or_id: str, results: Folder = None) -> Record:
    """The latest record (ok or failed) of an experiment name or a run id (6+ leading characters)."""
    matches = RecordStore(results).with_records().find(name_or_id)
    if not matches:
        raise FerBenchError(f"no recorded run matches {name_or_id!r}")
    return matches[-1]


def write_leaderboard(results: Folder = None, readme: Folder = None) -> Path:
    """Rewrite `results/LEADERBOARD.md` from the records (and the headline block of `readme`)."""
    store = RecordStore(results).with_records()
    records = store.all()
    writer = leaderboard.LeaderboardReport()
    links = leaderboard.linked_reports(store.root)
    frontier_report = frontier.write_with_leaderboard(records, store.root)
    if frontier_report:
        links[frontier.TITLE] = [frontier_report.relative_to(store.root).as_posix()]
    info = writer.compute(
        records, yardsticks.load_all(store.root), links, boards.listed_params(), frontier=frontier_report is not None
    )
    path = writer.write(info, store.root, "fer-bench leaderboard")
    if readme:
        leaderboard.update_readme(info, Path(readme), store.root)
    return path


def compare(
    runs: Sequence[str], *, data: Data = None, results: Folder = None, cache: Folder = None, split: str | None = None
) -> pairs.Comparison:
    """Each of `runs[1:]` (names or run ids) paired with `runs[0]` on the `split` images both
    evaluate (McNemar's exact test; default split: the first run's report split); returns the
    comparison: its base record, split, and a row of numbers per other run. Evaluations of saved
    models carry their labels; other runs need `data`."""
    from fer_bench.runs.records import latest_ok
    from fer_bench.scoring.metrics import decode_predictions

    if len(runs) < 2:
        raise FerBenchError("compare needs at least two runs: the reference, then the runs to pair with it")
    workspace = Workspace(results, cache, data, needs_records=True)
    chosen = [latest_ok(workspace.records(), name) for name in runs]  # before a data load
    base = chosen[0]
    split = split or base.report_split
    if base.evaluation:
        if split not in base.evaluation["labels"]:
            raise FerBenchError(f"run {base.run_id} ({base.experiment}) has no {split} predictions")
        return pairs.compare(chosen, decode_predictions(base.evaluation["labels"][split]), base.scored_against, split)
    dataset = workspace.labelled(Labels.named(base.data.labels))
    return pairs.compare(chosen, dataset.labels[dataset.indices(split)], dataset.scored_against, split)


def labels(
    *, data: Data = None, results: Folder = None, cache: Folder = None, command: str | None = None
) -> list[Path]:
    """Measure the label noise and the leakage of a FER2013 data set whose images have their Kaggle
    rows (usage folders or the csv) and FER+ votes: store its yardsticks (FER+ majority and copies in
    Training of every test image) in `results/labels/`, write `ferplus.md` and `duplicates.md` there,
    and rewrite the leaderboard, which gains the FER+ and clean columns. Returns the files written."""
    from fer_bench.analysis import duplicates
    from fer_bench.data import ferplus
    from fer_bench.data.labels import votes_of
    from fer_bench.reports.labels import DuplicatesReport, FerplusReport

    command = command or f"fer_bench.labels(data={data!r})"
    with _open(results, cache, data, command, writable=True) as workspace:
        dataset, root, records = workspace.dataset, workspace.store.root, workspace.records()
        outcomes = ferplus.majority_outcomes(*votes_of(dataset))  # refuses data FER+ cannot label, before the copies
        log.info("finding test images copied from Training")
        copies = duplicates.find_copies(dataset)
        measured = yardsticks.compute(dataset, outcomes, copies, command)
        agreement, copied = FerplusReport(), DuplicatesReport()
        written = [
            measured.save(root),
            agreement.write(agreement.compute(dataset, outcomes, records, measured), root, command),
            copied.write(copied.compute(dataset, records, measured, copies), root, command),
        ]
        workspace.boards_changed()  # they gain the FER+ and clean columns
        leaderboard_file = workspace.close()
        assert leaderboard_file is not None  # the boards changed, so they were written
        return written + [leaderboard_file]


class Predictions(NamedTuple):
    record: Record  # the run whose model classified the faces (or the ensemble whose members did)
    images: list  # [(image, its faces or the FerBenchError that refused it)], in the order given
    calibration: str = ""  # one line: the temperature(s) its probabilities were calibrated with
    temperatures: dict = {}  # {run id: {temperature, fitted_on: held-out Training images}} of each model used


def predict(
    images: Sequence[str | os.PathLike[str]],
    *,
    model: str | None = None,
    results: Folder = None,
    faces: str = "auto",
    detector: str | None = None,
    progress: bool = True,
) -> Predictions:
    """Classify the faces in images with a recorded model that saved its weights, or a recorded
    ensemble of such models (`model`: an experiment name or run id; default the best single run),
    its probabilities calibrated by the temperature fitted on its held-out Training images.
    `images`: files, folders (searched recursively) or glob patterns; `faces`: auto, crop or detect
    (fer_bench.runs.predict); `detector`: a name of fer_bench.parts.detectors (default hog-then-cnn).
    An input that names nothing, an unreadable or too small image, or one without a face gives its
    error; the others go on."""
    from fer_bench.runs.predict import DEFAULT_DETECTOR, image_files, predict_images

    predictor = _predictor(model, results)
    files, refused = image_files(images)
    outcomes = predict_images(files, predictor, faces, detector or DEFAULT_DETECTOR, progress)
    return Predictions(
        predictor.record,
        refused + [(str(path), found) for path, found in outcomes],
        predictor.calibration,
        predictor.temperatures,
    )


class VideoPredictions(NamedTuple):
    record: Record  # the run whose model classified the faces (or the ensemble whose members did)
    frames: list["Frame"]  # each sampled frame: its time and its faces, largest first
    csv: Path  # a row per face per frame (time, frame, face, box, label, probabilities)
    figure: Path  # the largest face's emotions over time


def predict_video(
    video: str | os.PathLike[str],
    *,
    model: str | None = None,
    results: Folder = None,
    fps: float = 2.0,
    faces: str = "auto",
    detector: str | None = None,
    out: Folder = None,
    progress: bool = True,
) -> VideoPredictions:
    """Classify the faces in a video (mp4, avi, mov, webm, mkv), `fps` frames a second, with a
    recorded model as `predict` does (but `detector` hog by default: FRAME_DETECTOR); write
    `VIDEO.frames.csv` and `VIDEO.timeline.png` into the folder `out` (default: here)
    (fer_bench/runs/video.py)."""
    from tqdm import tqdm

    from fer_bench.reports import figures
    from fer_bench.runs.predict import FRAME_DETECTOR
    from fer_bench.runs.video import check_fps, classify_frames, video_frames, write_csv

    check_fps(fps)
    path = Path(video).expanduser()
    predictor = _predictor(model, results)
    sampled = tqdm(video_frames(path, fps), unit="frame", desc="video", disable=not progress, leave=False)
    frames = list(classify_frames(sampled, predictor, faces, detector or FRAME_DETECTOR))
    folder, classes = Path(out or "."), predictor.record.classes
    record = predictor.record
    csv = write_csv(frames, classes, folder / f"{path.stem}.frames.csv")
    title = f"{path.name}: {record.experiment} (run {record.run_id}), {fps:g} frames/s"
    figure = folder / f"{path.stem}.timeline.png"
    figures.save(figures.emotion_timeline(frames, classes, title), figure)
    return VideoPredictions(record, frames, csv, figure)


def watch_camera(
    camera: int = 0,
    *,
    model: str | None = None,
    results: Folder = None,
    fps: float = 2.0,
    faces: str = "auto",
    detector: str | None = None,
    seconds: float | None = None,
) -> Iterator["Frame"]:
    """The faces of a live camera (OpenCV's device `camera`), classified `fps` frames a second as
    `predict_video` classifies a video's, each frame (its `image` kept) as soon as it is classified,
    for `seconds` or until interrupted."""
    from fer_bench.runs.predict import FRAME_DETECTOR
    from fer_bench.runs.video import camera_frames, check_fps, classify_frames

    check_fps(fps)
    predictor = _predictor(model, results)
    frames = camera_frames(camera, fps, seconds)
    return classify_frames(frames, predictor, faces, detector or FRAME_DETECTOR, batch=1, keep_images=True)


def evaluate(
    model: str,
    *,
    data: str | os.PathLike[str],
    results: Folder = None,
    cache: Folder = None,
    faces: str = "auto",
    detector: str | None = None,
    force: bool = False,
    command: str | None = None,
    progress: bool = True,
) -> Record:
    """Run a recorded model with saved weights, or an ensemble of such models (`model`: experiment
    name or run id), its probabilities calibrated as `predict`'s are, on the labelled collection
    `data` (a FER2013 layout, or `<label>/<image>` folders), without training; append the
    evaluation's record and rewrite the leaderboard, which gets a board per collection. An
    evaluation already recorded is returned as it is unless `force`."""
    from fer_bench.runs import evaluation
    from fer_bench.runs.predict import DEFAULT_DETECTOR, Predictor, choose_record

    detector = detector or DEFAULT_DETECTOR
    command = command or _call("evaluate", model, data=str(data), faces=faces, detector=detector)
    with _open(results, cache, None, command, writable=True, needs_records=True) as workspace:
        store = workspace.store
        source = choose_record(store.all(), model)
        found = evaluation.target(data, source.classes, workspace.cache)
        for label, why in found.excluded.items():
            log.info(f"excluded {label}: {why}")
        run_id = evaluation.run_id(source, found.fingerprint, faces, detector)
        previous = None if force else store.ok_record(run_id)
        if previous:
            log.info(f"{previous.experiment} (run {run_id}) is already recorded; pass --force to evaluate again")
            return previous
        predictor = Predictor.load(source, store.root)
        record = evaluation.evaluate(predictor, found, faces, detector, command, progress)
        store.append(record)
        return record


class StoredProbabilities(NamedTuple):
    record: Record
    path: str  # relative to the results folder
    computed: dict  # {split computed: for a test split, the share of argmaxes equal to the recorded predictions}


def compute_probabilities(
    runs: Sequence[str],
    *,
    data: Data = None,
    results: Folder = None,
    cache: Folder = None,
    training: bool = False,
    force: bool = False,
) -> list[StoredProbabilities]:
    """Compute and store each test image's class probabilities (and its held-out Training images';
    with `training`, every Training image's, as a teacher's) for recorded runs with saved weights,
    or ensembles of them (names or run ids), where not stored yet, or all again with `force`."""
    from fer_bench.runs import probabilities as kept
    from fer_bench.runs.records import latest_ok

    workspace = Workspace(results, cache, data, writable=True, needs_records=True)
    chosen = [latest_ok(workspace.records(), name) for name in runs]  # a typo should not cost a data load
    return [StoredProbabilities(record, *kept.regenerate(record, workspace, training, force)) for record in chosen]


class Completed(NamedTuple):
    record: Record  # with its weights
    saved: bool  # whether they were saved now (False: the run had them already)


def complete(
    run: str, *, data: Data = None, results: Folder = None, cache: Folder = None, command: str | None = None
) -> Completed:
    """Save the weights of a recorded run (an experiment name or run id) that ran before its model
    could save them, so predict, evaluate and probabilities can use it: its model is fitted again
    from the recorded spec and seed, and its weights are saved, and its record appended again with
    them, only if its predictions on the test splits all equal the recorded ones; otherwise a
    FerBenchError says how many differ and nothing is saved. A run that has its weights is left
    as it is."""
    from fer_bench.runs import completion
    from fer_bench.runs.records import latest_ok

    command = command or _call("complete", run)
    workspace = Workspace(results, cache, data, command, writable=True, needs_records=True)
    record = latest_ok(workspace.records(), run)
    if completion.has_weights(record, workspace.store.root):
        return Completed(record, False)
    completion.check_completable(record)  # before a data load
    return Completed(*completion.complete(record, workspace))


def prune(runs: Sequence[str], *, results: Folder = None, command: str | None = None) -> list[Record]:
    """Remove the saved weights of recorded runs (experiment names or run ids; each name's latest
    run), keeping their records and probabilities: the records are appended again without them
    (fer_bench/runs/pruning.py); an ensemble is retired, holding its members no more. A run that
    another recorded run builds on is refused, and then nothing is removed. Returns the appended records."""
    from fer_bench.runs import pruning
    from fer_bench.runs.records import latest_ok

    workspace = Workspace(results, writable=True, needs_records=True)
    records = workspace.records()
    chosen = list({r.run_id: r for r in (latest_ok(records, run) for run in runs)}.values())
    return pruning.prune(chosen, workspace.store, command or _call("prune", list(runs)))


def export(run: str, *, results: Folder = None, out: Folder = None, format: str = "onnx") -> Path:
    """Write the network of a recorded run with saved weights (an experiment name or run id) as an
    ONNX file, `out` (default `EXPERIMENT-RUNID.onnx` here), its classes, input and temperature in
    the file's metadata; an ensemble as its members' files and their vote, `ensemble.json`, in the
    folder `out` (default `EXPERIMENT-RUNID`) (fer_bench/runs/export.py); returns its path."""
    from fer_bench.runs.export import default_out
    from fer_bench.runs.export import export as write
    from fer_bench.runs.records import latest_ok

    workspace = Workspace(results, needs_records=True)
    record = latest_ok(workspace.records(), run)
    return write(record, workspace.store.root, Path(out) if out else default_out(record), format)


def write_calibration(runs: Sequence[str] | None = None, *, results: Folder = None, command: str | None = None) -> Path:
    """Write `results/calibration/calibration.md` (with reliability diagrams) for `runs` (names or
    run ids; default: every run on the leaderboard that stored probabilities); returns its path."""
    from fer_bench.runs import probabilities as kept
    from fer_bench.runs.records import latest_ok

    workspace = Workspace(results, writable=True, needs_records=True)
    records, root = workspace.records(), workspace.store.root
    if runs:
        chosen = [latest_ok(records, name) for name in runs]
    else:
        ranked = [r for board in boards.boards(records) if not board.evaluated for r in board.runs]
        chosen = [r for r in ranked if kept.stored_path(root, r) is not None]
    command = command or _call("write_calibration", runs)
    from fer_bench.reports.calibration import CalibrationReport, stored

    writer = CalibrationReport()
    return writer.write(writer.compute(chosen, stored(chosen, root)), root, command)


class Imported(NamedTuple):
    added: int
    already_here: int


def import_records(source: str | os.PathLike[str], *, results: Folder = None) -> Imported:
    """Append the records of another results folder (made on another machine) that are not here,
    with their saved weights and probabilities."""
    workspace = _open(results, None, None, "", writable=True)
    store, origin = workspace.store, RecordStore(source)
    if not origin.path.is_file():
        raise FerBenchError(f"{origin.path}: no run records to import")
    line = lambda r: (r.run_id, r.created, *(after and after["created"] for after in (r.completed, r.pruned)))  # noqa: E731
    known = {line(r) for r in store.all()}
    offered = origin.all()
    new = [r for r in offered if line(r) not in known]
    last = {r.run_id: r for r in offered}  # an earlier line of a run names the files it had then (before a prune)
    files = lambda r: filter(None, (r.artefact, r.probabilities)) if last[r.run_id] is r else ()  # noqa: E731
    for record in new:  # check everything before writing anything
        for artefact in files(record):
            if not (origin.root / artefact).exists():
                raise FerBenchError(f"{origin.root / artefact}: a file of run {record.run_id} is missing")
    for record in new:
        for artefact in files(record):
            (store.root / artefact).parent.mkdir(parents=True, exist_ok=True)
            if (origin.root / artefact).is_dir():  # a weights folder (cross-fitted copies)
                shutil.copytree(origin.root / artefact, store.root / artefact, dirs_exist_ok=True)
            else:
                shutil.copyfile(origin.root / artefact, store.root / artefact)
        store.append(record)
    workspace.close()
    return Imported(len(new), len(offered) - len(new))


def cache_entries(cache: Folder = None) -> list[CacheEntry]:
    """What the feature cache (`cache`, default $FER_BENCH_CACHE or ~/.cache/fer-bench) holds: a
    CacheEntry per entry, each checked (`problem` says what is wrong with a damaged one)."""
    return ArrayCache(cache).entries()


def clear_cache(cache: Folder = None) -> int:
    """Empty the feature cache; returns the bytes it held."""
    return ArrayCache(cache).clear()


def _predictor(model: str | None, results: Folder) -> "Predictor":
    """The recorded model predict, predict_video and watch_camera classify with, loaded."""
    from fer_bench.runs.predict import Predictor, choose_record

    workspace = Workspace(results, needs_records=True)
    return Predictor.load(choose_record(workspace.records(), model), workspace.store.root)


def _open(
    results: Folder, cache: Folder, data: Data, command: str, *, writable: bool = False, needs_records: bool = False
) -> Workspace:
    """The workspace of a verb that records: its boards are rewritten when it closes, if stale."""
    return Workspace(
        results, cache, data, command, writable=writable, needs_records=needs_records, boards=write_leaderboard
    )


def _call(verb: str, name: object, **options: object) -> str:
    """How a run made from Python is recorded: the call, as one would type it."""
    arguments = [repr(name)] + [f"{key}={value!r}" for key, value in options.items() if value is not None]
    return f"fer_bench.{verb}({', '.join(arguments)})"


# The verbs: every public function of this module, which `fer_bench` re-exports and the CLI calls.
__all__ = sorted(
    name
    for name, value in list(globals().items())
    if inspect.isfunction(value) and value.__module__ == __name__ and not name.startswith("_")
)
