"""What a run is: an Experiment (parts, parameters, seed, test splits) and the frozen RunSpec it
becomes on a data set and a Keras backend, whose hash is the run id.

The run id names what was computed: the data set's fingerprint, every parameter (defaults
included), each part's version, the Keras backend and, for a model that splits the Training rows
(a hold-out, folds), the grouping its splits honour (`split_groups`: fer_bench/data/copies.py). A
code change that bumps a part's version, another backend or grouping is a new run id, never a
silent overwrite. The `config_id` leaves the versions, the backend and the grouping out: it is the
run id that records made before run ids named them carry, so reports can still find those
records and mark them as made by other code (or with ungrouped splits).

An experiment file (`experiments/NAME.toml`) reads as:

    description = "..."
    seed = 0
    test_splits = ["PublicTest", "PrivateTest"]
    labels = "fer2013"    # or "ferplus", with labels_mode = "majority", "crossentropy", "probability" or "multi_target"
    chosen_by = "grid distillation"   # optional: the grid whose rule chose this setting (its runs count in its cost)
    [features]            # a table per part kind: `name` picks the part, other keys set parameters
    name = "embedding"
    protocol = "detector"
    [resampler]           # optional: "none" when absent
    name = "smote"
    [model]
    name = "paper-mlp"
    [choose]              # a model that chooses among runs (an ensemble's `select = "greedy"`) declares
    split = "PublicTest"  # the split and metric it chooses on (fer_bench/specs/choice.py)
    metric = "accuracy"

Neither the rule nor `chosen_by` enters the spec: they are kept beside it, so run ids stay.
"""

import hashlib
import json
from dataclasses import dataclass, replace

from fer_bench import backend
from fer_bench.data.copies import GROUPING
from fer_bench.data.dataset import SPLITS
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import BuildsOnRuns, Part, Setup
from fer_bench.specs.choice import Rule, parse_rule
from fer_bench.specs.files import check_keys, description, find_file, read_toml

MAX_SEED = 2**32 - 1


def is_seed(value):
    """A seed numpy (and so scikit-learn, Keras and Optuna) accepts."""
    return type(value) is int and 0 <= value <= MAX_SEED


@dataclass(frozen=True)
class PartSpec:
    name: str
    params: dict  # every parameter, defaults included (but Part.added_later at theirs)
    version: str | None  # None: recorded before run ids named part versions

    @classmethod
    def of(cls, kind, name, values, lenient=False):
        """The part `kind/name` with `values` over its defaults (see `build`)."""
        return cls.describing(cls.build(kind, name, values, lenient))

    @staticmethod
    def build(kind, name, values, lenient=False) -> Part:
        """The part `kind/name` with `values` over its defaults, built once: its constructor checks
        each value, and what depends on this machine is decided (registry.RegisteredPart.built).

        `lenient` drops values the part has no parameter for (a search whose space names a
        parameter of only some of the parts it chooses between)."""
        part = registry.get(kind, name)
        if lenient:
            values = {k: v for k, v in values.items() if k in part.param_names}
        return part.built(values)

    @classmethod
    def describing(cls, part: Part) -> "PartSpec":
        """The spec of a part made by `build`, as its runs record it."""
        registered = registry.get(part.kind, part.name)
        return cls(part.name, registered.recorded(part), registered.version)

    def with_values(self, kind, values, lenient=False):
        """This part with `values` changed (see `build_with`)."""
        return PartSpec.describing(self.build_with(kind, values, lenient))

    def build_with(self, kind, values, lenient=False) -> Part:
        """This part with `values` changed, built once; a new `name` starts from that part's defaults."""
        values = dict(values)
        name = values.pop("name", self.name)
        return PartSpec.build(kind, name, {**(self.params if name == self.name else {}), **values}, lenient)

    def create(self, kind):
        return registry.get(kind, self.name).create(self.params)

    def to_dict(self):
        unversioned = self.version is None
        return {"name": self.name, "params": dict(self.params)} | ({} if unversioned else {"version": self.version})

    @classmethod
    def from_dict(cls, values):
        return cls(values["name"], values["params"], values.get("version"))


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's result; its hash is the run id."""

    experiment: str
    data: str  # dataset fingerprint
    features: PartSpec
    resampler: PartSpec
    model: PartSpec
    seed: int
    test_splits: tuple
    backend: str  # the Keras backend
    labels: str = "fer2013"  # where the labels come from (fer_bench/data/labels.py)
    versioned: bool = True  # False: recorded before run ids named the backend and part versions (config_id)
    # The grouping every split of the Training rows honours (data.copies.GROUPING), for a model that
    # splits them; "" for one that does not, and for runs recorded before splits were grouped.
    split_groups: str = ""

    def to_dict(self):
        """The spec as recorded, and hashed: an unversioned one without its backend."""
        spec = {
            "experiment": self.experiment,
            "data": self.data,
            "features": self.features.to_dict(),
            "resampler": self.resampler.to_dict(),
            "model": self.model.to_dict(),
            "seed": self.seed,
            "test_splits": list(self.test_splits),
            "backend": self.backend,
        }
        if self.split_groups:
            spec = {"split_groups": self.split_groups} | spec
        if self.labels != "fer2013":
            spec = {"labels": self.labels} | spec
        return spec if self.versioned else {key: value for key, value in spec.items() if key != "backend"}

    @classmethod
    def from_dict(cls, values, backend):
        """The spec of a `to_dict` dict; one recorded without a backend ran on `backend`."""
        parts = {kind: PartSpec.from_dict(values[kind]) for kind in registry.KINDS}
        return cls(
            values["experiment"],
            values["data"],
            **parts,
            seed=values["seed"],
            test_splits=tuple(values["test_splits"]),
            backend=values.get("backend", backend),
            labels=values.get("labels", "fer2013"),
            versioned="backend" in values,
            split_groups=values.get("split_groups", ""),
        )

    def part(self, kind) -> PartSpec:
        return getattr(self, kind)

    @property
    def run_id(self):
        return _hash(self.to_dict())

    @property
    def config_id(self):
        return config_id(self.to_dict())


def config_id(spec: dict):
    """The hash of a recorded spec without its part versions and backend (see the module's doc)."""
    bare = {key: value for key, value in spec.items() if key not in ("backend", "split_groups")}
    for kind in registry.KINDS:
        bare[kind] = {key: value for key, value in spec[kind].items() if key != "version"}
    return _hash(bare)


def _hash(spec: dict):
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    features: PartSpec
    resampler: PartSpec
    model: PartSpec
    seed: int
    test_splits: tuple
    labels: Labels = Labels()
    rule: Rule | None = None  # the choice rule its runs are recorded under: its own file's, or its grid's
    chosen_by: str | None = None  # the grid whose rule chose this setting

    def spec(self, data_fingerprint, seed=None, keras_backend=None, model=None) -> RunSpec:
        """The run on the data set of `data_fingerprint`, labelled as this experiment says; `model`
        is its model part where the caller has created it (one is created otherwise)."""
        model = self.model.create("model") if model is None else model
        return RunSpec(
            self.name,
            data_fingerprint,
            self.features,
            self.resampler,
            self.model,
            self.seed if seed is None else seed,
            self.test_splits,
            keras_backend or backend.name(),
            self.labels.name,
            split_groups=GROUPING if model.splits_training() else "",
        )

    def part(self, kind) -> PartSpec:
        return getattr(self, kind)

    def setup(self, parts: dict[str, Part] | None = None) -> Setup:
        """Its three parts: `parts` ({kind: part}) where the caller has built them from its part
        specs and not used them yet, else built here."""
        parts = parts or {kind: self.part(kind).create(kind) for kind in registry.KINDS}
        # mypy cannot tell that each kind's part is of that kind's class
        return Setup(**parts, soft_targets=self.labels.soft)  # type: ignore[arg-type]

    def check(self, where, parts: dict[str, Part] | None = None) -> Setup:
        """Raise a FerBenchError naming `where` if its parts (`parts`, as `setup` takes them) refuse
        to run together; else the three parts, so that the caller need not build them again."""
        setup = self.setup(parts)
        problem = setup.problem()
        if problem:
            raise FerBenchError(f"{where}: {problem}")
        return setup


# --- experiment files ---------------------------------------------------------------------------

TOP_LEVEL_KEYS = {"description", "seed", "test_splits", "labels", "labels_mode", "choose", "chosen_by", *registry.KINDS}


def load_experiment(name_or_path) -> Experiment:
    return load_with_parts(name_or_path)[0]


def load_with_parts(name_or_path) -> tuple[Experiment, Setup]:
    """The experiment of a file, and its parts as checking it built them: unused, for its run (so
    that a run builds each part once)."""
    path = find_file(name_or_path)
    return _parsed(path.stem, read_toml(path), str(path))


def parse_experiment(name, document: dict, where: str) -> Experiment:
    """The experiment a document describes; refused if its parts refuse to run together."""
    return _parsed(name, document, where)[0]


def chosen_by(name_or_path) -> str | None:
    """The grid an experiment file says chose its setting (`chosen_by`), read without building its
    parts: the boards ask it of every experiment they show."""
    path = find_file(name_or_path)
    return _chosen_by(read_toml(path), str(path))


def _parsed(name, document: dict, where: str) -> tuple[Experiment, Setup]:
    """The experiment a document describes, and the parts that checking it built, once each."""
    check_keys(document, TOP_LEVEL_KEYS, where)
    parts = {kind: _part(document, kind, where) for kind in registry.KINDS}
    seed = document.get("seed", 0)
    if not is_seed(seed):
        raise FerBenchError(f"{where}: seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    test_splits = document.get("test_splits", ["PublicTest", "PrivateTest"])
    if (
        not isinstance(test_splits, list)
        or not test_splits
        or any(s not in SPLITS[1:] for s in test_splits)
        or len(set(test_splits)) < len(test_splits)
    ):
        raise FerBenchError(f"{where}: test_splits must be a list of distinct splits from {list(SPLITS[1:])}")
    source, mode = document.get("labels", "fer2013"), document.get("labels_mode", "majority")
    if not isinstance(source, str) or not isinstance(mode, str):
        raise FerBenchError(f"{where}: labels and labels_mode must be strings")
    try:
        labels = Labels(source, mode)
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None
    specs = {kind: PartSpec.describing(part) for kind, part in parts.items()}
    experiment = Experiment(
        name,
        description(document, where),
        **specs,  # type: ignore[arg-type]  # mypy cannot tell it holds the part fields only
        seed=seed,
        test_splits=tuple(test_splits),
        labels=labels,
        chosen_by=_chosen_by(document, where),
    )
    setup = experiment.check(where, parts)
    return replace(experiment, rule=_rule(document, experiment, setup.model, where)), setup


def _rule(document, experiment, model, where) -> Rule | None:
    """The rule its `model` (created) chooses among runs on, which the file must declare as the model
    applies it; None where the model chooses nothing."""
    applied = model.chooses_on() if isinstance(model, BuildsOnRuns) else None
    if applied is None:
        if "choose" in document:
            raise FerBenchError(f"{where}: choose: model/{experiment.model.name} chooses nothing among runs")
        return None
    rule = parse_rule(document, where, (applied[0],), f"experiment {experiment.name}")
    if (rule.split, rule.metric) != applied:
        raise FerBenchError(
            f"{where}: choose: model/{experiment.model.name} chooses on {applied[0]} {applied[1]}, "
            f'so declare split = "{applied[0]}", metric = "{applied[1]}"'
        )
    return rule


def _chosen_by(document, where) -> str | None:
    """The grid named by `chosen_by = "grid NAME"`, which must exist."""
    value = document.get("chosen_by")
    if value is None:
        return None
    kind, _, name = value.partition(" ") if isinstance(value, str) else ("", "", "")
    if kind != "grid" or not name:
        raise FerBenchError(f'{where}: chosen_by must name the grid that chose it, e.g. "grid distillation"')
    try:
        find_file(name, "grid")
    except FerBenchError as error:
        raise FerBenchError(f"{where}: chosen_by: {error}") from None
    return name


def load_base(document, where) -> Experiment:
    """The experiment a grid or search file builds on (its `base` key)."""
    if not isinstance(document.get("base"), str):
        raise FerBenchError(f'{where}: `base` must name an experiment, e.g. base = "paper"')
    try:
        return load_experiment(document["base"])
    except FerBenchError as error:
        raise FerBenchError(f"{where}: base: {error}") from None


def _part(document, kind, where) -> Part:
    table = document.get(kind, {"name": "none"} if kind == "resampler" else None)
    if not isinstance(table, dict) or not isinstance(table.get("name"), str):
        raise FerBenchError(f"{where}: [{kind}] needs a table with a string `name`")
    try:
        return PartSpec.build(kind, table["name"], {k: v for k, v in table.items() if k != "name"})
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None
