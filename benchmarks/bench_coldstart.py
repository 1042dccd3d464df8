"""The first ten minutes: `fer-bench run paper --force` from empty caches (a newcomer's first `make run`),
and a warm command's time to its first progress line, for this checkout and a base commit side by side.

The base is COLDSTART_BASE (default BASE_COMMIT, the commit before the cold-start work: whole-frame
embeddings for every image, every JPEG decoded by every command), exported with `git archive` into a
temporary folder and run from there with the same interpreter; COLDSTART_EXPERIMENT runs another
experiment (a name or a .toml path: `paper`'s SMOTE needs more images per class than a small fixture
has). Each cold run gets an empty cache and results folder; the warm runs then start from the cache it
filled and are stopped (SIGINT, as Ctrl-C) at the line that starts the fit, the command's features read.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchmarks.common import data_path, timed_command

BASE_COMMIT = "68e58e2"
WARM_REPEATS = 3
REPOSITORY = Path(__file__).resolve().parents[1]
FIRST_LINE, WORK_LINE = "fer-bench: ", "fer-bench: fitting "


def export(commit, folder: Path) -> Path:
    """The tree of `commit` of this repository, written into `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", "--format=tar", commit], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryFile() as handle:
        handle.write(archive)
        handle.seek(0)
        with tarfile.open(fileobj=handle) as tar:
            tar.extractall(folder, filter="data")
    return folder


def command(experiment, cache, results, jobs=None):
    return [
        sys.executable,
        "-m",
        "fer_bench",
        "run",
        experiment,
        "--force",
        "--data",
        str(data_path()),
        "--cache",
        str(cache),
        "--results",
        str(results),
        *(["--jobs", str(jobs)] if jobs else []),
    ]


def environment(checkout: Path):
    """The environment that runs `checkout`'s fer-bench (its package first on the path), progress bars off."""
    return {**os.environ, "PYTHONPATH": str(checkout), "TQDM_DISABLE": "1"}


def cold(checkout: Path, experiment, folder: Path, jobs=None):
    """`run --force` from an empty cache and results folder under `folder` (extraction in `jobs` worker
    processes; None: as many as cores): its wall time, peak memory and record."""
    cache, results = folder / "cache", folder / "results"
    wall, peak = timed_command(command(experiment, cache, results, jobs), env=environment(checkout), cwd=checkout)
    shown = [
        sys.executable,
        "-m",
        "fer_bench",
        "show",
        Path(experiment).stem,
        "--format",
        "json",
        "--results",
        str(results),
    ]
    record = json.loads(
        subprocess.run(
            shown, check=True, capture_output=True, text=True, env=environment(checkout), cwd=checkout
        ).stdout
    )
    return {"wall_s": wall, "peak_rss_gib": peak, "timings": record["timings"], "run_id": record["run_id"]}, record


def warm(checkout: Path, experiment, folder: Path):
    """Seconds from the start of `run --force` on the cache `folder` holds to its first progress line and
    to the line that starts the fit; the command is stopped there."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command(experiment, folder / "cache", folder / "results"),
        env=environment(checkout),
        cwd=checkout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen, lines = {}, []
    for line in process.stderr:
        lines.append(line)
        if line.startswith(FIRST_LINE):
            seen.setdefault("first_line_s", time.perf_counter() - started)
        if line.startswith(WORK_LINE):
            seen["fit_starts_s"] = time.perf_counter() - started
            break
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if "fit_starts_s" not in seen:
        raise RuntimeError(f"{checkout}: no '{WORK_LINE}' line:\n{''.join(lines)[-3000:]}")
    return seen


def main():
    base = os.environ.get("COLDSTART_BASE", BASE_COMMIT)
    experiment = os.environ.get("COLDSTART_EXPERIMENT", "paper")
    if experiment.endswith(".toml"):
        experiment = str(Path(experiment).resolve())  # each checkout runs in its own folder
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        scratch = Path(scratch)
        checkouts = {"base": export(base, scratch / "base-checkout"), "fer_bench": REPOSITORY}
        measured, records = {}, {}
        for name, checkout in checkouts.items():
            measured[name], records[name] = cold(checkout, experiment, scratch / name)
        warm_runs = {name: [] for name in checkouts}
        for _ in range(WARM_REPEATS):  # alternated, so that a slower moment of the machine costs both
            for name, checkout in checkouts.items():
                warm_runs[name].append(warm(checkout, experiment, scratch / name))
    for name, runs in warm_runs.items():
        for stage in ("first_line_s", "fit_starts_s"):
            measured[name][f"warm_{stage}"] = statistics.median(run[stage] for run in runs)
    ours, theirs = measured["fer_bench"], measured["base"]
    result = {
        "workload": "cold start",
        "experiment": Path(experiment).stem,
        "base_commit": base,
        "warm_repeats": WARM_REPEATS,
        "images": records["fer_bench"]["data"]["n_images"],
        **measured,
        "cold_ratio": theirs["wall_s"] / ours["wall_s"],
        "warm_first_line_ratio": theirs["warm_first_line_s"] / ours["warm_first_line_s"],
        "same_run_id": ours["run_id"] == theirs["run_id"],
        "same_predictions": records["fer_bench"]["predictions"] == records["base"]["predictions"],
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
