"""A run id pins its result: `fer-bench run paper --force` twice from empty caches on this machine,
extraction in 2 worker processes, then in 1 (other chunks in each worker, another order of
finishing); the same run id, the same predictions and the same stored probabilities, to the bit?
PINNED_EXPERIMENT runs another experiment (a name or a .toml path)."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.bench_coldstart import REPOSITORY, cold

JOBS = (2, 1)


def main():
    experiment = os.environ.get("PINNED_EXPERIMENT", "paper")
    runs, records, probabilities = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="pinned-") as scratch:
        for jobs in JOBS:
            folder = Path(scratch) / f"jobs{jobs}"
            runs[jobs], records[jobs] = cold(REPOSITORY, experiment, folder, jobs)
            with np.load(folder / "results" / records[jobs]["probabilities"]) as stored:
                probabilities[jobs] = {name: stored[name] for name in stored.files}
    first, second = (records[jobs] for jobs in JOBS)
    p, q = (probabilities[jobs] for jobs in JOBS)
    result = {
        "workload": "pinned",
        "experiment": experiment,
        "jobs": list(JOBS),
        "runs": {str(jobs): run for jobs, run in runs.items()},
        "same_run_id": first["run_id"] == second["run_id"],
        "same_predictions": first["predictions"] == second["predictions"],
        "same_probabilities": p.keys() == q.keys() and all(np.array_equal(p[k], q[k], equal_nan=True) for k in p),
        "private_test_accuracy_all": [r["metrics"]["PrivateTest"]["accuracy_all"] for r in (first, second)],
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
