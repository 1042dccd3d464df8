"""Grids, run: every cell not yet recorded, through the same runner as `fer-bench run`, resumable,
in parallel processes, or shared by machines through an Optuna storage. Grid files are parsed in
fer_bench/specs/grid.py. Each cell runs on the workspace's data under its experiment's labels (a
grid may vary them).
"""

import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_for

from tqdm import tqdm

from fer_bench.runs import runner
from fer_bench.runs.claims import claim
from fer_bench.runs.workspace import Workspace
from fer_bench.specs.grid import Grid
from fer_bench.sweeps.workers import console_level, quiet_worker

log = logging.getLogger("fer_bench")


def run_grid(grid: Grid, workspace: Workspace, jobs=1):
    """Run every cell not yet recorded; a failing cell is recorded as failed and the grid goes on.

    Returns (ran, failed, skipped) counts. Safe to interrupt at any point: each finished cell is
    one appended record, and the next call runs only the cells without an `ok` record. Several
    processes on the same results share the cells: a cell claimed by another process is put off,
    and once every other cell is done its claim is awaited and the cell run only if it still has
    no `ok` record (its process may have died).
    """
    cells = grid.cells
    recorded = {r.run_id for r in workspace.records() if r.ok}
    todo = [c for c in cells if cell_spec(c, workspace).run_id not in recorded]
    skipped = len(cells) - len(todo)
    log.info(f"grid {grid.name}: {len(cells)} cells, {skipped} already recorded, {len(todo)} to run (jobs={jobs})")
    for name, reason in grid.refused:
        log.info(f"grid {grid.name}: {name} is not run: {reason}")
    extract_once(todo, workspace)
    bar = tqdm(total=len(cells), initial=skipped, unit="cell", desc=f"grid {grid.name}", dynamic_ncols=True)
    counts = {"ok": 0, "failed": 0, "recorded": 0}

    def finished(cell, outcome):
        counts[outcome["status"]] += 1
        bar.update(1)
        bar.write(f"  {grid.label_of(cell.experiment)} seed {cell.seed}: {outcome['summary']}")

    try:
        deferred = []
        for cell, outcome in _execute(todo, workspace, jobs, wait=False):
            if outcome["status"] == "claimed":
                deferred.append(cell)
            else:
                finished(cell, outcome)
        if deferred:
            log.info(f"grid {grid.name}: waiting for {len(deferred)} cells that another process is running")
        for cell, outcome in _execute(deferred, workspace, jobs, wait=True):
            finished(cell, outcome)
    finally:
        bar.close()
    return counts["ok"], counts["failed"], skipped + counts["recorded"]


def cell_spec(cell, workspace: Workspace, model=None):
    """The run spec of `cell`: on the workspace's data under the cell's labels; `model` as
    Experiment.spec takes it."""
    return cell.experiment.spec(workspace.labelled(cell.experiment.labels).fingerprint, cell.seed, model=model)


def extract_once(cells, workspace: Workspace):
    """Fill the cache for every distinct features spec (name and parameters) of `cells`, once per grid."""
    distinct = []
    for cell in cells:
        if cell.experiment.features not in distinct:
            distinct.append(cell.experiment.features)
    for features in distinct:
        features.create("features").extract(workspace.dataset, cache=workspace.cache)


# Cells run in worker processes replaced after this many cells each: TensorFlow keeps every XLA
# program a fit compiled for the life of its process (~40-80 MB a paper-MLP cell, measured), so a
# process that ran a whole grid would grow with its length; new workers cost a few seconds of
# imports. A new pool serves every `jobs` x CELLS_PER_WORKER cells (max_tasks_per_child, and Pool's
# maxtasksperchild, hung here on Python 3.11 once workers began to be replaced). One job with no
# more cells than this runs them in this process. At 6 a serial grid of 12 cells peaked 1.105x its
# first three cells (make bench, workload memory): a worker's own growth over 6 cells.
CELLS_PER_WORKER = 3


def _execute(cells, workspace: Workspace, jobs, wait):
    if len(cells) <= 1 or (jobs <= 1 and len(cells) <= CELLS_PER_WORKER):
        for cell in cells:
            yield cell, run_cell(cell, workspace, wait)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    initargs = (workspace, threads, console_level(logging.WARNING))
    for start in range(0, len(cells), jobs * CELLS_PER_WORKER):
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=initargs) as pool:
            pending = {
                pool.submit(_worker_cell, cell, wait): cell for cell in cells[start : start + jobs * CELLS_PER_WORKER]
            }
            while pending:
                finished, _ = wait_for(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield pending.pop(future), future.result()


def run_cell(cell, workspace: Workspace, wait=True):
    """Run one cell under its claim; on an error, append a `failed` record with the error.

    Returns the outcome: `status` is ok, failed, recorded (an `ok` record was there once the claim
    was ours: another process ran it) or claimed (held by another process, and `wait` is off).
    """
    setup = cell.experiment.setup()  # its spec asks the model whether it splits Training; its run fits it
    spec = cell_spec(cell, workspace, setup.model)
    with claim(workspace.store.root, spec.run_id, wait=wait) as held:
        if not held:
            return {"status": "claimed", "summary": "running in another process"}
        if workspace.store.ok_record(spec.run_id):
            return {"status": "recorded", "summary": "already recorded"}
        started = time.perf_counter()
        try:
            record = runner.execute(cell.experiment, spec, workspace, setup=setup)
        except Exception as error:  # noqa: BLE001 - recorded, and the grid goes on
            failed = runner.failed(cell.experiment, spec, workspace, error, time.perf_counter() - started)
            return {"status": "failed", "summary": f"FAILED ({failed.error})"}
    m = record.metrics[record.report_split]
    return {
        "status": "ok",
        "summary": f"{record.report_split} {100 * m.accuracy:.2f}% on {m.n_evaluated}/{m.n_total}, "
        f"all images {100 * m.accuracy_all:.2f}% ({record.timings['total']:.0f} s)",
    }


_WORKER: dict[str, Workspace] = {}  # what _init_worker hands a spawned worker's cells


def _init_worker(workspace: Workspace, threads, show_level):
    """Runs in each spawned worker before any framework import: share the cores, quiet the inner
    bars and messages (the parent reports each cell), warnings apart."""
    quiet_worker(show_level)
    for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[variable] = str(threads)
    _WORKER["workspace"] = workspace


def _worker_cell(cell, wait):
    return run_cell(cell, _WORKER["workspace"], wait)


# --- many machines: cells claimed through a shared Optuna storage ------------------------------------


def run_grid_shared(grid: Grid, workspace: Workspace, storage_url):
    """Take cells from a queue that every worker on `storage_url` shares, until none is left.

    Each cell is one enqueued trial of the study `grid:NAME:DATA`; asking the storage for the next
    waiting trial is the claim, so each cell runs once whichever machine takes it, and a cell whose
    worker died is queued again once its heartbeat is stale. Records stay in each worker's results
    folder (`fer-bench import` gathers them). Returns (ran, failed).
    """
    from fer_bench.sweeps import studies

    study = studies.create_or_load(f"grid:{grid.name}:{workspace.labelled(grid.base.labels).fingerprint}", storage_url)
    cells = grid.cells
    if not studies.trials(study):
        for index in range(len(cells)):
            study.enqueue_trial({"cell": index}, skip_if_exists=True)
    extract_once(cells, workspace)
    ran = failed = 0
    while True:
        studies.fail_stale(study)
        if not studies.trials(study, studies.TrialState.WAITING):
            break
        trial = studies.ask(study)
        if not studies.was_enqueued(study, trial):  # the last cell was taken meanwhile
            studies.fail(study, trial)
            break
        index = trial.suggest_int("cell", 0, len(cells) - 1)
        if studies.first_live_trial(study, "cell", index) != trial.number:  # enqueued twice by two first workers
            studies.fail(study, trial)
            continue
        cell = cells[index]
        with studies.heartbeat(study, trial):
            outcome = run_cell(cell, workspace)
        log.info(f"  {grid.label_of(cell.experiment)} seed {cell.seed}: {outcome['summary']}")
        trial.set_user_attr("status", outcome["status"])
        studies.complete(study, trial, 0.0 if outcome["status"] == "failed" else 1.0)
        ran += outcome["status"] == "ok"
        failed += outcome["status"] == "failed"
    return ran, failed
