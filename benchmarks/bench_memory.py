"""Memory of long searches and serial grids: does it grow with their length?

TensorFlow keeps every program a fit compiles for the life of its process, so trials and cells now
run in worker processes replaced every `TRIALS_PER_WORKER` trials / `CELLS_PER_WORKER` cells.
Side by side with the previous way (`in process`: every trial and every serial cell in the process
that runs the search or grid, got here by setting both numbers beyond the run's length):
- an `embedding-mlp` search of short trials (`EPOCHS` epochs each) at 20 and at 100 trials: peak
  resident memory of all its processes together, and trials per minute;
- `fer-bench grid --jobs 1` over 12 cells of the ablation grid (base, resamplers, batch norm and L2
  penalties; seeds 0 and 1; `EPOCHS` epochs): the peak over the whole grid and up to the end of its
  third cell, and cells per minute.
Every run writes into a temporary results folder; the features come from the usual cache.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.common import data_path, timed_command

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
EPOCHS = 5
TRIAL_COUNTS = (20, 100)
GRID_AXES = ("resampler", "batch norm", "L2 penalties")
MODES = ("in process", "replaced workers")
# Runs fer-bench with both limits beyond any run's length in the "in process" mode.
DRIVER = (
    "import sys; from fer_bench.sweeps import grid, tuning\n"
    "if sys.argv[1] == 'in process': grid.CELLS_PER_WORKER = tuning.TRIALS_PER_WORKER = 10**9\n"
    "from fer_bench.cli import main; sys.exit(main(sys.argv[2:]))"
)


def short_search(folder: Path):
    """The embedding-mlp search with its base trained `EPOCHS` epochs."""
    search = (EXPERIMENTS / "searches" / "embedding-mlp.toml").read_text()
    base = folder / "mlp-full-short.toml"
    base.write_text((EXPERIMENTS / "mlp-full.toml").read_text() + f"epochs = {EPOCHS}\n")
    path = folder / "embedding-mlp-short.toml"
    path.write_text(search.replace('base = "mlp-full"', f'base = "{base}"'))
    return path


def short_grid(folder: Path):
    """12 cells of the ablation grid: the axes GRID_AXES, seeds 0 and 1, `EPOCHS` epochs."""
    base = folder / "paper-short.toml"
    base.write_text((EXPERIMENTS / "paper.toml").read_text() + f"epochs = {EPOCHS}\n")
    head, *products = (EXPERIMENTS / "grids" / "ablation.toml").read_text().split("[[product]]")
    head = head.replace('base = "paper"', f'base = "{base}"').replace("seeds = [0, 1, 2]", "seeds = [0, 1]")
    kept = [p for p in products if any(f'axis = "{axis}"' in p for axis in GRID_AXES)]
    path = folder / "ablation-short.toml"
    path.write_text("[[product]]".join([head, *kept]))
    return path


def measure(mode, arguments, stage=None):
    """Wall time, the peak memory and, with `stage` (a function of the results folder), the peak at each stage."""
    with tempfile.TemporaryDirectory() as results:
        command = [sys.executable, "-c", DRIVER, mode, *arguments, "--data", str(data_path()), "--results", results]
        stages = {} if stage else None
        wall, peak = timed_command(
            command,
            env={**os.environ, "TQDM_DISABLE": "1"},
            stage=stage and (lambda: stage(Path(results))),
            peaks=stages,
        )
    return {"wall_s": wall, "peak_rss_gib": peak, **({"peak_by_stage": stages} if stages is not None else {})}


def cells_done(results: Path):
    runs = results / "runs.jsonl"
    return sum(1 for _ in open(runs)) if runs.is_file() else 0


# In this order, each stored as it ends (`store`): a long run stopped midway keeps what it measured.
RUNS = [
    ("replaced workers", "search", 20),
    ("replaced workers", "search", 100),
    ("in process", "search", 20),
    ("replaced workers", "grid", 12),
    ("in process", "grid", 12),
    ("in process", "search", 100),
]


def main(store=None, only=None, previous=None):
    """Every run of RUNS; with `only` ("grid", "search" or "search:20": of that kind, and size), those
    runs again, the other measurements kept from `previous` (this workload's stored result)."""
    result = {"workload": "memory of searches and serial grids", "epochs": EPOCHS, "search": {}, "grid": {}}
    kind, _, size_only = (only or "").partition(":")
    chosen = [run for run in RUNS if not only or (run[1] == kind and size_only in ("", str(run[2])))]
    if only:
        result |= {what: dict((previous or {}).get(what, {})) for what in ("search", "grid")}
    with tempfile.TemporaryDirectory() as folder:
        search, grid = short_search(Path(folder)), short_grid(Path(folder))
        for mode, what, size in chosen:
            if what == "search":
                measured = measure(mode, ["tune", str(search), "--trials", str(size)])
                result["search"][f"{mode}, {size} trials"] = measured | {"trials": size}
            else:
                measured = measure(mode, ["grid", str(grid), "--jobs", "1"], stage=cells_done)
                stages = measured.pop("peak_by_stage")
                first_three = max(peak for done, peak in stages.items() if done < 3)
                result["grid"][mode] = measured | {"cells": size, "peak_first_3_cells_gib": first_three}
            compare(result)
            if store:
                store(result)
    print(json.dumps(result, indent=1))
    return result


def compare(result):
    """The ratios of what has been measured so far."""
    search, grid = result["search"], result["grid"]
    for mode in MODES:
        short, long = (search.get(f"{mode}, {n} trials") for n in TRIAL_COUNTS)
        if short and long:
            search[f"{mode}, growth"] = long["peak_rss_gib"] / short["peak_rss_gib"]
        if mode in grid:
            grid[mode]["growth"] = grid[mode]["peak_rss_gib"] / grid[mode]["peak_first_3_cells_gib"]
    for n in TRIAL_COUNTS:
        before, now = (search.get(f"{mode}, {n} trials") for mode in MODES)
        if before and now:
            search[f"throughput ratio, {n} trials"] = before["wall_s"] / now["wall_s"]  # > 1: faster now
    if all(mode in grid for mode in MODES):
        grid["throughput ratio"] = grid[MODES[0]]["wall_s"] / grid[MODES[1]]["wall_s"]


if __name__ == "__main__":
    main()
