"""Grid files (`experiments/grids/NAME.toml`) -> Grid: many experiments from one base.

description = "..."
base = "paper"                 # the experiment every cell starts from
seeds = [0, 1, 2]              # every cell runs once per seed
[choose]                       # the rule each axis's setting is chosen by (fer_bench/specs/choice.py):
split = "PublicTest"           # PublicTest or "holdout" (the Training images each fit holds out)
metric = "accuracy_all"

[[product]]                    # a cartesian product; the file's cells are the union of its products
axis = "batch norm"            # the report groups cells by axis
model.batch_norm = [true, false]

[[product]]
axis = "classifier"
model.name = "svm"             # a new part name starts from that part's defaults
model.C = [1.0, 10.0]

[[product]]
axis = "targets"
labels = "ferplus"             # the experiment's top-level labels and labels_mode may vary too
labels_mode = ["majority", "probability"]

A cell identical to the base keeps the base's name (`paper`), so it shares its records with
`fer-bench run paper --seed N`; any other cell is named `GRID/LABEL`, e.g. `ablation/batch_norm=false`.
A cell on other labels than the base's is scored against them (its test labels differ), so the
report compares it with the cell of the same labels that changes nothing else, where there is one.
A cell whose parts refuse to run together (knn with class weights, say) is listed with the reason
and never run. Every cell records the grid's rule beside its spec (`rule`); the report applies the
file's current rule and shows where runs were recorded under another.
"""

import itertools
from dataclasses import dataclass, replace

from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import Part
from fer_bench.specs.choice import HOLDOUT, PUBLIC_TEST, Rule, parse_rule
from fer_bench.specs.experiment import MAX_SEED, Experiment, PartSpec, is_seed, load_base
from fer_bench.specs.files import check_keys, description, find_file, read_toml

GRID_KEYS = {"description", "base", "seeds", "choose", "product"}
RULE_SPLITS = (PUBLIC_TEST, HOLDOUT)  # a grid report reads the records' metrics of these
LABEL_KEYS = ("labels", "labels_mode")  # an experiment's top-level keys a product may vary
PRODUCT_KEYS = {"axis", *LABEL_KEYS, *registry.KINDS}


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
    rule: Rule  # how each axis's setting is chosen
    refused: tuple = ()  # (cell name, why its parts cannot run together)

    @property
    def experiments(self):
        unique = {e.name: e for settings in self.axes.values() for e in settings}
        return list(unique.values())

    @property
    def cells(self):
        """Each experiment on each seed, recorded under the grid's rule."""
        return [Cell(replace(e, rule=self.rule), seed) for e in self.experiments for seed in self.seeds]

    def label_of(self, experiment: Experiment):
        """The cell's setting as the report shows it: the base's name, or what the cell changes."""
        return experiment.name.removeprefix(f"{self.name}/")


def load_grid(name_or_path) -> Grid:
    path = find_file(name_or_path, "grid")
    return parse_grid(path.stem, read_toml(path), str(path))


def parse_grid(name, document, where) -> Grid:
    check_keys(document, GRID_KEYS, where)
    rule = parse_rule(document, where, RULE_SPLITS, f"grid {name}")
    base = load_base(document, where)
    seeds = document.get("seeds", [base.seed])
    if not isinstance(seeds, list) or not seeds or not all(is_seed(s) for s in seeds):
        raise FerBenchError(f"{where}: `seeds` must be a non-empty list of integers in 0..{MAX_SEED}, got {seeds!r}")
    products = document.get("product")
    if not isinstance(products, list) or not products or not all(isinstance(p, dict) for p in products):
        raise FerBenchError(f"{where}: needs at least one [[product]] table")
    axes: dict[str, list[Experiment]] = {}  # axis -> its cells
    refused: dict[str, str] = {}  # cell name -> why its parts cannot run together
    for number, product in enumerate(products, start=1):
        context = f"{where}, product {number}"
        for experiment, parts in _expand(name, base, product, context):
            problem = experiment.setup(parts).problem()
            if problem:
                refused[experiment.name] = problem
                continue
            settings = axes.setdefault(product.get("axis", "grid"), [])
            if experiment.name not in [e.name for e in settings]:
                settings.append(experiment)
    if not axes:
        name, reason = next(iter(refused.items()))
        raise FerBenchError(f"{where}: no cell can run ({name}: {reason})")
    return Grid(
        name, description(document, where), base, tuple(dict.fromkeys(seeds)), axes, rule, tuple(refused.items())
    )


def _expand(grid_name, base, product, where):
    check_keys(product, PRODUCT_KEYS, where)
    if not isinstance(product.get("axis", ""), str):
        raise FerBenchError(f"{where}: axis must be a string")
    choices = []  # (kind, key, [values]); kind None: a top-level key (labels, labels_mode)
    for key in LABEL_KEYS:
        if key in product:
            values = product[key] if isinstance(product[key], list) else [product[key]]
            if not values or not all(isinstance(v, str) for v in values):
                raise FerBenchError(f"{where}: {key} must be a string or a non-empty list of strings")
            choices.append((None, key, values))
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


def _cell_labels(base, assignment, where) -> Labels:
    """The cell's labels: the base's, with the product's `labels` and `labels_mode` over them (a new
    source starts from the majority mode, as in an experiment file)."""
    values = {key: value for kind, key, value in assignment if kind is None}
    source = values.get("labels", base.labels.source)
    mode = values.get("labels_mode", base.labels.mode if source == base.labels.source else "majority")
    try:
        return Labels(source, mode)
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None


def _cell_experiment(grid_name, base, assignment, where) -> tuple[Experiment, dict[str, Part]]:
    """The cell's experiment, and its parts as building its part specs made them (to check them)."""
    labels = _cell_labels(base, assignment, where)
    specs, built, label = {}, {}, [] if labels == base.labels else [f"labels={labels.name}"]
    for kind in registry.KINDS:
        base_part = base.part(kind)
        values = {key: value for k, key, value in assignment if k == kind}
        name = values.get("name", base_part.name)
        if not isinstance(name, str):
            raise FerBenchError(f"{where}: {kind}.name must be a string, got {name!r}")
        try:
            built[kind] = base_part.build_with(kind, values)
        except FerBenchError as error:
            raise FerBenchError(f"{where}: {error}") from None
        specs[kind] = part = PartSpec.describing(built[kind])
        if name != base_part.name:
            label.append(f"{kind}={name}")
        label += [
            f"{k}={_text(part.params.get(k, values[k]))}"
            for k in values
            if k != "name" and (name != base_part.name or base_part.params.get(k) != part.params.get(k))
        ]
    if labels == base.labels and all(specs[kind] == base.part(kind) for kind in registry.KINDS):
        return base, built
    named = ",".join(label)
    cell = replace(base, name=f"{grid_name}/{named}", description=f"{grid_name} grid: {named}", labels=labels, **specs)
    return cell, built


def _text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)
