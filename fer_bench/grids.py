"""Grid files (`experiments/grids/NAME.toml`): many experiments from one base, run as one resumable batch.

description = "..."
base = "paper"                 # the experiment every cell starts from
seeds = [0, 1, 2]              # every cell runs once per seed

[[product]]                    # a cartesian product; the file's cells are the union of its products
axis = "batch norm"            # the report groups cells by axis
model.batch_norm = [true, false]

[[product]]
axis = "classifier"
model.name = "svm"             # a new part name starts from that part's defaults
model.C = [1.0, 10.0]

A cell identical to the base keeps the base's name (`paper`), so it shares its records with
`fer-bench run paper --seed N`; any other cell is named `GRID/LABEL`, e.g. `ablation/batch_norm=false`.
"""

import itertools
import multiprocessing
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tqdm import tqdm

from fer_bench import provenance, registry
from fer_bench.claims import claim
from fer_bench.errors import FerBenchError
from fer_bench.experiments import (
    MAX_SEED,
    Experiment,
    PartSpec,
    check_keys,
    find_file,
    is_seed,
    load_base,
    read_toml,
)
from fer_bench.runner import execute, log, recorded_ok
from fer_bench.workers import quiet_worker

GRID_KEYS = {"description", "base", "seeds", "product"}
PRODUCT_KEYS = {"axis", *registry.KINDS}


@dataclass(frozen=True)
class Cell:
    experiment: Experiment
    seed: int


@dataclass(frozen=True)
class Grid:
    name: str
    description: str
    base: Experiment
    seeds: tuple
    axes: dict  # axis -> experiments in file order (the base included where a product yields it)

    @property
    def experiments(self):
        unique = {e.name: e for settings in self.axes.values() for e in settings}
        return list(unique.values())

    @property
    def cells(self):
        return [Cell(e, seed) for e in self.experiments for seed in self.seeds]


def load_grid(name_or_path) -> Grid:
    path = find_file(name_or_path, "grid", "grids")
    return parse_grid(path.stem, read_toml(path), str(path))


def parse_grid(name, document, where) -> Grid:
    check_keys(document, GRID_KEYS, where)
    base = load_base(document, where)
    seeds = document.get("seeds", [base.seed])
    if not isinstance(seeds, list) or not seeds or not all(is_seed(s) for s in seeds):
        raise FerBenchError(f"{where}: `seeds` must be a non-empty list of integers in 0..{MAX_SEED}, got {seeds!r}")
    products = document.get("product")
    if not isinstance(products, list) or not products or not all(isinstance(p, dict) for p in products):
        raise FerBenchError(f"{where}: needs at least one [[product]] table")
    axes = {}
    for number, product in enumerate(products, start=1):
        context = f"{where}, product {number}"
        for experiment in _expand(name, base, product, context):
            settings = axes.setdefault(product.get("axis", "grid"), [])
            if experiment.name not in [e.name for e in settings]:
                settings.append(experiment)
    description = document.get("description", "")
    if not isinstance(description, str):
        raise FerBenchError(f"{where}: description must be a string")
    return Grid(name, description, base, tuple(dict.fromkeys(seeds)), axes)


def _expand(grid_name, base, product, where):
    check_keys(product, PRODUCT_KEYS, where)
    if not isinstance(product.get("axis", ""), str):
        raise FerBenchError(f"{where}: axis must be a string")
    choices = []  # (kind, key, [values])
    for kind in registry.KINDS:
        table = product.get(kind, {})
        if not isinstance(table, dict):
            raise FerBenchError(f"{where}: `{kind}` must be a table of parameters, e.g. {kind}.name = [...]")
        for key, values in table.items():
            values = values if isinstance(values, list) else [values]
            if not values:
                raise FerBenchError(f"{where}: {kind}.{key} has no values")
            choices.append((kind, key, values))
    for combination in itertools.product(*(values for _, _, values in choices)):
        assignment = [(kind, key, value) for (kind, key, _), value in zip(choices, combination)]
        yield _cell_experiment(grid_name, base, assignment, where)


def _cell_experiment(grid_name, base, assignment, where) -> Experiment:
    parts, label = {}, []
    for kind in registry.KINDS:
        base_part = getattr(base, kind)
        values = {key: value for k, key, value in assignment if k == kind}
        name = values.pop("name", base_part.name)
        if not isinstance(name, str):
            raise FerBenchError(f"{where}: {kind}.name must be a string, got {name!r}")
        try:
            part = registry.get(kind, name)
            params = part.resolve({**(base_part.params if name == base_part.name else {}), **values})
            part.create(params)
        except FerBenchError as error:
            raise FerBenchError(f"{where}: {error}") from None
        parts[kind] = PartSpec(name, params)
        if name != base_part.name:
            label.append(f"{kind}={name}")
        label += [
            f"{k}={_text(params[k])}" for k in values if name != base_part.name or base_part.params[k] != params[k]
        ]
    if all(parts[kind] == getattr(base, kind) for kind in registry.KINDS):
        return base
    label = ",".join(label)
    return replace(base, name=f"{grid_name}/{label}", description=f"{grid_name} grid: {label}", **parts)


def _text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def label_of(grid: Grid, experiment: Experiment):
    """The cell's setting as the report shows it: the base's name, or what the cell changes."""
    return experiment.name.removeprefix(f"{grid.name}/")


# --- execution -------------------------------------------------------------------------------------


def run_grid(grid: Grid, dataset, store, cache, jobs=1, command=None):
    """Run every cell not yet recorded; a failing cell is recorded as failed and the grid goes on.

    Returns (ran, failed, skipped) counts. Safe to interrupt at any point: each finished cell is
    one appended record, and the next call runs only the cells without an `ok` record. Several
    processes on the same results share the cells: a cell claimed by another process is put off,
    and once every other cell is done its claim is awaited and the cell run only if it still has
    no `ok` record (its process may have died).
    """
    cells = grid.cells
    recorded = {r["run_id"] for r in store.all() if r.get("status") == "ok"}
    todo = [c for c in cells if c.experiment.spec(dataset.fingerprint, c.seed).run_id not in recorded]
    skipped = len(cells) - len(todo)
    log(f"grid {grid.name}: {len(cells)} cells, {skipped} already recorded, {len(todo)} to run (jobs={jobs})")
    extract_once(todo, dataset, cache)
    bar = tqdm(total=len(cells), initial=skipped, unit="cell", desc=f"grid {grid.name}", dynamic_ncols=True)
    counts = {"ok": 0, "failed": 0, "recorded": 0}

    def finished(cell, outcome):
        counts[outcome["status"]] += 1
        bar.update(1)
        bar.write(f"  {label_of(grid, cell.experiment)} seed {cell.seed}: {outcome['summary']}")

    try:
        deferred = []
        for cell, outcome in _execute(todo, dataset, store, cache, jobs, command, wait=False):
            if outcome["status"] == "claimed":
                deferred.append(cell)
            else:
                finished(cell, outcome)
        if deferred:
            log(f"grid {grid.name}: waiting for {len(deferred)} cells that another process is running")
        for cell, outcome in _execute(deferred, dataset, store, cache, jobs, command, wait=True):
            finished(cell, outcome)
    finally:
        bar.close()
    return counts["ok"], counts["failed"], skipped + counts["recorded"]


def extract_once(cells, dataset, cache):
    """Fill the cache for every distinct features spec (name and parameters) of `cells`, once per grid."""
    distinct = []
    for cell in cells:
        if cell.experiment.features not in distinct:
            distinct.append(cell.experiment.features)
    for features in distinct:
        features.create("features").extract(dataset, cache=cache)


def _execute(cells, dataset, store, cache, jobs, command, wait):
    if jobs <= 1 or len(cells) <= 1:
        for cell in cells:
            yield cell, run_cell(cell, dataset, store, cache, command, wait)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(dataset, store, cache, threads)
    ) as pool:
        pending = {pool.submit(_worker_cell, cell, command, wait): cell for cell in cells}
        while pending:
            finished, _ = wait_for(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()


def run_cell(cell, dataset, store, cache, command, wait=True):
    """Run one cell under its claim; on an error, append a `failed` record with the error.

    Returns the outcome: `status` is ok, failed, recorded (an `ok` record was there once the claim
    was ours: another process ran it) or claimed (held by another process, and `wait` is off).
    """
    spec = cell.experiment.spec(dataset.fingerprint, cell.seed)
    with claim(store.root, spec.run_id, wait=wait) as held:
        if not held:
            return {"status": "claimed", "summary": "running in another process"}
        if recorded_ok(store, spec.run_id):
            return {"status": "recorded", "summary": "already recorded"}
        started = time.perf_counter()
        try:
            record = execute(cell.experiment, spec, dataset, store, cache, command=command)
        except Exception as error:  # noqa: BLE001 - recorded, and the grid goes on
            message = f"{type(error).__name__}: {error}"
            store.append(
                {
                    "run_id": spec.run_id,
                    "experiment": cell.experiment.name,
                    "status": "failed",
                    "error": message,
                    "traceback": traceback.format_exc(limit=8),
                    "command": command,
                    "spec": spec.to_dict(),
                    "seed": cell.seed,
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "git_commit": provenance.git_commit(),
                    "timings": {"total": round(time.perf_counter() - started, 2)},
                }
            )
            return {"status": "failed", "summary": f"FAILED ({message})"}
    split = "PrivateTest" if "PrivateTest" in record["metrics"] else next(iter(record["metrics"]))
    m = record["metrics"][split]
    return {
        "status": "ok",
        "summary": f"{split} {100 * m['accuracy']:.2f}% on {m['n_evaluated']}/{m['n_total']}, "
        f"all images {100 * m['accuracy_all']:.2f}% ({record['timings']['total']:.0f} s)",
    }


_WORKER = {}


def _init_worker(dataset, store, cache, threads):
    """Runs in each spawned worker before any framework import: share the cores, quiet the inner bars."""
    quiet_worker()
    for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[variable] = str(threads)
    _WORKER.update(dataset=dataset, store=store, cache=cache)


def _worker_cell(cell, command, wait):
    return run_cell(cell, _WORKER["dataset"], _WORKER["store"], _WORKER["cache"], command, wait)


# --- many machines: cells claimed through a shared Optuna storage ------------------------------------


def run_grid_shared(grid: Grid, dataset, store, cache, storage_url, command=None):
    """Take cells from a queue that every worker on `storage_url` shares, until none is left.

    Each cell is one enqueued trial of the study `grid:NAME:DATA`; asking the storage for the next
    waiting trial is the claim, so each cell runs once whichever machine takes it, and a cell whose
    worker died is queued again once its heartbeat is stale. Records stay in each worker's results
    folder (`fer-bench import` gathers them). Returns (ran, failed).
    """
    import optuna
    from optuna.storages import fail_stale_trials
    from optuna.storages._heartbeat import get_heartbeat_thread
    from optuna.trial import TrialState

    from fer_bench.tuning import create_or_load

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = create_or_load(f"grid:{grid.name}:{dataset.fingerprint}", storage_url)
    cells = grid.cells
    if not study.get_trials(deepcopy=False):
        for index in range(len(cells)):
            study.enqueue_trial({"cell": index}, skip_if_exists=True)
    extract_once(cells, dataset, cache)
    ran = failed = 0
    while True:
        fail_stale_trials(study)
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            break
        trial = study.ask()
        if "fixed_params" not in study._storage.get_trial_system_attrs(trial._trial_id):  # the last cell was taken
            study.tell(trial, state=TrialState.FAIL)
            break
        index = trial.suggest_int("cell", 0, len(cells) - 1)
        taken = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
                 if t.params.get("cell") == index and t.number != trial.number]  # fmt: skip
        if taken:  # enqueued twice by two first workers: run it once
            study.tell(trial, state=TrialState.FAIL)
            continue
        cell = cells[index]
        with get_heartbeat_thread(trial._trial_id, study._storage):
            outcome = run_cell(cell, dataset, store, cache, command)
        log(f"  {label_of(grid, cell.experiment)} seed {cell.seed}: {outcome['summary']}")
        trial.set_user_attr("status", outcome["status"])
        study.tell(trial, 0.0 if outcome["status"] == "failed" else 1.0)
        ran += outcome["status"] == "ok"
        failed += outcome["status"] == "failed"
    return ran, failed
