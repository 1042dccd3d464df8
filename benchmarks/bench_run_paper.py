"""`fer-bench run paper` end to end: with a warm feature cache (the everyday case) and with an empty
one (a newcomer's first `make run`: every image's embedding extracted); wall time and peak memory."""

import json
import os
import subprocess
import sys
import tempfile

from benchmarks.common import data_path, timed_command

WARM_FEATURES_S = 60  # reading the cached embeddings takes seconds; extracting them, minutes


def run_paper(results, cache=None):
    """(wall s, peak GiB, record) of one `fer-bench run paper --force`; `cache` None is the user's cache."""
    command = [
        sys.executable,
        "-m",
        "fer_bench",
        "run",
        "paper",
        "--force",
        "--data",
        str(data_path()),
        "--results",
        results,
        *(["--cache", cache] if cache else []),
    ]
    wall, peak = timed_command(command, env={**os.environ, "TQDM_DISABLE": "1"})
    shown = [sys.executable, "-m", "fer_bench", "show", "paper", "--format", "json", "--results", results]
    record = json.loads(subprocess.run(shown, check=True, capture_output=True, text=True).stdout)
    return wall, peak, record


def main():
    with tempfile.TemporaryDirectory() as results, tempfile.TemporaryDirectory() as empty_cache:
        for _ in range(2):  # a second time only if the first had to fill a cold cache
            wall, peak, record = run_paper(results)
            if record["timings"]["features"] < WARM_FEATURES_S:
                break
        cold_wall, cold_peak, cold_record = run_paper(results, cache=empty_cache)
    result = {
        "workload": "run paper",
        "wall_s": wall,
        "timings": record["timings"],
        "peak_rss_gib": peak,
        "private_accuracy": record["metrics"]["PrivateTest"]["accuracy"],
        "cold_wall_s": cold_wall,
        "cold_timings": cold_record["timings"],
        "cold_peak_rss_gib": cold_peak,
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
