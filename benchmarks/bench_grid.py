"""The ablation grid (experiments/grids/ablation.toml): how much faster fer-bench runs it now.

Side by side, on a shortened copy of the grid: its cells that train the paper MLP (every axis but
the classifier one, whose knn, logistic regression and SVM no training loop touches), seed 0,
`EPOCHS` epochs instead of 300; baseline = the `keras-fit` training loop one cell at a time (the
grid as it ran before), against the compiled loop, one cell at a time and two at once (`--jobs 2`).
Then the whole grid as `fer-bench grid ablation --jobs 2` runs it: wall time and peak memory of all
its processes together. Every run writes into a temporary results folder.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.common import data_path, timed_command

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
EPOCHS = 40
MODES = {
    "keras-fit, jobs 1": ("keras-fit", 1),
    "compiled, jobs 1": ("compiled", 1),
    "compiled, jobs 2": ("compiled", 2),
}


def short_grid(folder: Path, training_loop):
    """A grid file of the ablation grid's MLP cells at EPOCHS epochs with `training_loop`."""
    base = folder / f"paper-{training_loop}.toml"
    base.write_text(
        (EXPERIMENTS / "paper.toml").read_text() + f'epochs = {EPOCHS}\ntraining_loop = "{training_loop}"\n'
    )
    head, *products = (EXPERIMENTS / "grids" / "ablation.toml").read_text().split("[[product]]")
    head = head.replace('base = "paper"', f'base = "{base}"').replace("seeds = [0, 1, 2]", "seeds = [0]")
    kept = [p for p in products if 'axis = "classifier"' not in p]
    grid = folder / f"ablation-{training_loop}.toml"
    grid.write_text("[[product]]".join([head, *kept]))
    return grid


def run_grid(grid, jobs):
    with tempfile.TemporaryDirectory() as results:
        command = [
            sys.executable,
            "-m",
            "fer_bench",
            "grid",
            str(grid),
            "--jobs",
            str(jobs),
            "--data",
            str(data_path()),
            "--results",
            results,
        ]
        wall, peak = timed_command(command, env={**os.environ, "TQDM_DISABLE": "1"})
        cells = sum(1 for _ in open(Path(results) / "runs.jsonl"))
    return {"wall_s": wall, "peak_rss_gib": peak, "cells": cells}


def main():
    short = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode, (loop, jobs) in MODES.items():
            short[mode] = run_grid(short_grid(Path(folder), loop), jobs)
    baseline = short["keras-fit, jobs 1"]["wall_s"]
    result = {
        "workload": "ablation grid",
        "short_grid_epochs": EPOCHS,
        "short_grid": short,
        "ratio": baseline / short["compiled, jobs 2"]["wall_s"],
        "ratio_compiled": baseline / short["compiled, jobs 1"]["wall_s"],
        "jobs_2_speed_up": short["compiled, jobs 1"]["wall_s"] / short["compiled, jobs 2"]["wall_s"],
        "full_grid": run_grid(EXPERIMENTS / "grids" / "ablation.toml", 2),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
