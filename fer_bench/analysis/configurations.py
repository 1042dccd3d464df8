"""Runs folded by configuration (everything but the seed), and what a run cost to train.

A configuration's seeds give its mean and standard deviation; its cost is what its runs took to
train on the CPU, in CPU-minutes (wall seconds of `fit` x the cores the process had), counting the
members an ensemble combines and the teacher a student learnt from, since a result built on other
runs cost their training too.
"""

from dataclasses import dataclass, replace

import numpy as np

from fer_bench.runs.records import Record


def configuration_id(record: Record) -> str:
    """The run id its spec would have with seed 0: the same for every seed of one configuration."""
    return replace(record.spec, seed=0).run_id


@dataclass
class Configuration:
    runs: list  # its records, one per seed (the latest of each)

    @property
    def first(self) -> Record:
        return self.runs[0]

    @property
    def experiment(self):
        return self.first.experiment

    @property
    def seeds(self):
        return sorted(r.seed for r in self.runs)

    def accuracies(self, split):
        """Each seed's accuracy over all images of `split`, as fractions."""
        return np.array([r.metrics[split].accuracy_all for r in self.runs if split in r.metrics])

    def mean_std(self, split):
        """(mean, standard deviation over seeds with ddof 1, or None for one seed) of the accuracy."""
        values = self.accuracies(split)
        return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)


def fold(records) -> list[Configuration]:
    """`records` grouped by configuration, in the order of their first run; one record per seed
    (the last one given)."""
    groups = {}
    for record in records:
        groups.setdefault(configuration_id(record), {})[record.seed] = record
    return [Configuration(list(by_seed.values())) for by_seed in groups.values()]


def training_cpu_minutes(record: Record, by_run_id: dict) -> float | None:
    """What `record` cost to train in CPU-minutes, its members' or teacher's included (looked up in
    `by_run_id`); None where it ran on an accelerator, or a member is not recorded."""
    if record.hardware.get("accelerator"):
        return None
    seconds = record.timings.get("fit", 0.0) + record.timings.get("fit_earlier_attempts", 0.0)
    own = seconds * record.hardware.get("cores", 1) / 60
    members = [m["run_id"] for m in (record.selection or {}).get("members", [])]
    costs = [training_cpu_minutes(by_run_id[m], by_run_id) if m in by_run_id else None for m in members]
    return None if None in costs else own + sum(costs)


def pareto_front(points) -> set:
    """The indices of `points` ((cost, accuracy) pairs) that no other point beats on both: no
    cheaper-or-equal point is more accurate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = set(), -np.inf
    for i in order:
        if points[i][1] > best:
            front.add(i)
            best = points[i][1]
    return front
