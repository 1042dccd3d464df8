"""Runs folded by configuration (everything but the seed), and what a run cost to train.

A configuration's seeds give its mean and standard deviation; its cost is what its runs took to
train on the CPU, in CPU-minutes (wall seconds of `fit` x the cores the process had), counting the
members an ensemble combines and the teacher a student learnt from, since a result built on other
runs cost their training too, and the runs of the grid whose rule chose its setting (its experiment
file's `chosen_by`), since the choice cost them: each run once. A configuration carries the recorded
runs its seeds build on (analysis/provenance.py), so that what is true of them shows on it.
"""

from dataclasses import dataclass, field, replace

import numpy as np

from fer_bench.analysis.provenance import builds_on, lineage
from fer_bench.parts import registry
from fer_bench.parts.base import Model
from fer_bench.runs.records import Record
from fer_bench.specs.experiment import chosen_by
from fer_bench.specs.files import names
from fer_bench.specs.grid import load_grid


def configuration_id(record: Record) -> str:
    """The run id its spec would have with seed 0: the same for every seed of one configuration."""
    return replace(record.spec, seed=0).run_id


@dataclass
class Configuration:
    runs: list  # its records, one per seed (the latest of each)
    lineage: list = field(default_factory=list)  # the recorded runs its seeds build on, directly or through them

    @property
    def first(self) -> Record:
        return self.runs[0]

    @property
    def experiment(self):
        return self.first.experiment

    @property
    def seeds(self):
        return sorted(r.seed for r in self.runs)

    @property
    def older_code(self) -> bool:
        """Whether the code of its parts, or of a recorded run it builds on, changed since they were recorded."""
        return any(r.outdated_parts() for r in (*self.runs, *self.lineage))

    @property
    def ungrouped_splits(self) -> bool:
        """Whether its runs, or the recorded runs they build on, split Training without keeping copies
        together (Record.ungrouped_splits): their held-out figures and temperatures are flattered."""
        return any(r.ungrouped_splits for r in (*self.runs, *self.lineage))

    @property
    def accelerators(self) -> list[str]:
        """The accelerators its runs, or the recorded runs they build on, trained on, each once."""
        return list(dict.fromkeys(a for r in (*self.runs, *self.lineage) if (a := r.hardware.get("accelerator"))))

    def accuracies(self, split):
        """Each seed's accuracy over all images of `split`, as fractions."""
        return np.array([r.metrics[split].accuracy_all for r in self.runs if split in r.metrics])

    def mean_std(self, split):
        """(mean, standard deviation over seeds with ddof 1, or None for one seed) of the accuracy."""
        values = self.accuracies(split)
        return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)


def fold(records, by_run_id=None) -> list[Configuration]:
    """`records` grouped by configuration, in the order of their first run; one record per seed
    (the last one given). Evaluations of a saved model are grouped by how they cut the faces too.
    `by_run_id`: the records the runs may build on, by run id (each configuration's lineage)."""
    groups: dict[tuple[str, tuple[str, str | None] | None], dict[int, Record]] = {}
    for record in records:
        groups.setdefault((configuration_id(record), faces_cut(record)), {})[record.seed] = record
    folded = [list(by_seed.values()) for by_seed in groups.values()]
    return [Configuration(runs, _lineage(runs, by_run_id or {})) for runs in folded]


def _lineage(runs, by_run_id) -> list[Record]:
    """The recorded runs that any of `runs` builds on, directly or through them, each once."""
    return list({r.run_id: r for run in runs for r in lineage(run, by_run_id)}.values())


def faces_cut(record: Record) -> tuple[str, str | None] | None:
    """How an evaluation of a saved model cut the faces (faces, detector); None for a run."""
    how = record.evaluation
    return (how["faces"], how["detector"]) if how else None


def family(record: Record) -> str:
    """The family its model part puts the run in (base.Model.family_of); the model's name where this
    installation lacks the part."""
    model = record.spec.model
    part = registry.find("model", model.name)
    if part is None:
        return model.name
    factory = part.factory
    assert issubclass(factory, Model)  # register() refuses a model part that does not derive from it
    return factory.family_of(model.params)


def distinct_names(configurations) -> list[str]:
    """Each configuration's experiment name, followed where several share it by what tells them apart:
    the Keras backend, parts and parameters whose values differ among them (of those all of them name:
    a parameter added to a part later is no difference to tell)."""
    by_name: dict[str, list[Configuration]] = {}
    for c in configurations:
        by_name.setdefault(c.experiment, []).append(c)
    names = []
    for c in configurations:
        alike = by_name[c.experiment]
        if len(alike) == 1:
            names.append(c.experiment)
            continue
        settings = [_settings(other.first) for other in alike]
        differ = [
            key for key in settings[0] if all(key in s for s in settings) and len({repr(s[key]) for s in settings}) > 1
        ]
        own = _settings(c.first)
        shown = [
            str(own[key]) if key in ("backend", *registry.KINDS) else f"{key.split('.')[-1]}={own[key]}"
            for key in differ
        ]
        names.append(f"{c.experiment} ({', '.join(shown)})" if shown else c.experiment)
    return names


def _settings(record: Record) -> dict:
    """The backend, how its splits of Training were grouped, each part's name and its parameters
    (`kind.param`), as one flat dict."""
    spec = record.spec
    flat = {"backend": spec.backend, "splits": spec.split_groups or "ungrouped"}
    for kind in registry.KINDS:
        part = spec.part(kind)
        flat[kind] = part.name
        flat.update({f"{kind}.{key}": value for key, value in part.params.items()})
    return flat


def training_seconds(record: Record) -> float:
    """The wall seconds its own fit took, with those of interrupted attempts a resumed fit continued."""
    return record.timings.get("fit", 0.0) + record.timings.get("fit_earlier_attempts", 0.0)


def chosen_among(record: Record, records) -> list[Record]:
    """The runs of the grid whose rule chose `record`'s setting (its experiment file's `chosen_by`):
    the latest ok record of each of the grid's cells on the same data set; [] where it declares none."""
    if record.experiment not in names("experiment"):
        return []
    grid_name = chosen_by(record.experiment)
    if grid_name is None:
        return []
    grid = load_grid(grid_name)
    cells = {e.name: e for e in grid.experiments}
    found = {}
    for r in records:
        cell = cells.get(r.experiment)
        if (
            r.ok
            and not r.evaluation
            and cell is not None
            and r.seed in grid.seeds
            and r.data.name == record.data.name
            and cell.spec(r.data.fingerprint, r.seed, r.backend).config_id == r.config_id
        ):
            found[(r.experiment, r.seed)] = r
    return list(found.values())


def _consumed(record: Record, by_run_id: dict, chose_among=()) -> dict | None:
    """run id -> record of every run `record` consumed: itself, the runs it builds on, the runs its
    setting was chosen among, and theirs, each once; None where one it builds on is not recorded."""
    runs, pending = {}, [record, *chose_among]
    while pending:
        run = pending.pop()
        if run.run_id in runs:
            continue
        runs[run.run_id] = run
        if any(m not in by_run_id for m in builds_on(run)):
            return None
        pending += [by_run_id[m] for m in builds_on(run)]
    return runs


def training_cpu_minutes(record: Record, by_run_id: dict, chose_among=()) -> float | None:
    """What `record` cost to train in CPU-minutes: every run it consumed (`_consumed`, looked up in
    `by_run_id`) once; None where one ran on an accelerator or is not recorded."""
    runs = _consumed(record, by_run_id, chose_among)
    if runs is None or any(r.hardware.get("accelerator") for r in runs.values()):
        return None
    return sum(training_seconds(r) * r.hardware.get("cores", 1) / 60 for r in runs.values())


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
