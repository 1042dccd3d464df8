"""Experiment files (`experiments/NAME.toml`) -> Experiment.

description = "..."
seed = 0
test_splits = ["PublicTest", "PrivateTest"]
labels = "fer2013"    # or "ferplus", with labels_mode = "majority", "crossentropy", "probability" or "multi_target"
[features]            # a table per part kind: `name` picks the part, other keys set parameters
name = "embedding"
protocol = "detector"
[resampler]           # optional: "none" when absent
name = "smote"
[model]
name = "paper-mlp"
"""

from fer_bench import registry
from fer_bench.data.dataset import SPLITS
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.files import check_keys, description, find_file, read_toml
from fer_bench.specs import MAX_SEED, Experiment, PartSpec, is_seed

TOP_LEVEL_KEYS = {"description", "seed", "test_splits", "labels", "labels_mode", *registry.KINDS}


def load_experiment(name_or_path) -> Experiment:
    path = find_file(name_or_path)
    return parse_experiment(path.stem, read_toml(path), str(path))


def parse_experiment(name, document: dict, where: str) -> Experiment:
    """The experiment a document describes; refused if its parts refuse to run together."""
    check_keys(document, TOP_LEVEL_KEYS, where)
    parts = {kind: _part(document, kind, where) for kind in registry.KINDS}
    seed = document.get("seed", 0)
    if not is_seed(seed):
        raise FerBenchError(f"{where}: seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    test_splits = document.get("test_splits", ["PublicTest", "PrivateTest"])
    if (not isinstance(test_splits, list) or not test_splits or any(s not in SPLITS[1:] for s in test_splits)
            or len(set(test_splits)) < len(test_splits)):  # fmt: skip
        raise FerBenchError(f"{where}: test_splits must be a list of distinct splits from {list(SPLITS[1:])}")
    source, mode = document.get("labels", "fer2013"), document.get("labels_mode", "majority")
    if not isinstance(source, str) or not isinstance(mode, str):
        raise FerBenchError(f"{where}: labels and labels_mode must be strings")
    try:
        labels = Labels(source, mode)
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None
    experiment = Experiment(name, description(document, where), **parts, seed=seed, test_splits=tuple(test_splits),
                            labels=labels)  # fmt: skip
    experiment.check(where)
    return experiment


def load_base(document, where) -> Experiment:
    """The experiment a grid or search file builds on (its `base` key)."""
    if not isinstance(document.get("base"), str):
        raise FerBenchError(f'{where}: `base` must name an experiment, e.g. base = "paper"')
    try:
        return load_experiment(document["base"])
    except FerBenchError as error:
        raise FerBenchError(f"{where}: base: {error}") from None


def _part(document, kind, where) -> PartSpec:
    table = document.get(kind, {"name": "none"} if kind == "resampler" else None)
    if not isinstance(table, dict) or not isinstance(table.get("name"), str):
        raise FerBenchError(f"{where}: [{kind}] needs a table with a string `name`")
    try:
        return PartSpec.of(kind, table["name"], {k: v for k, v in table.items() if k != "name"})
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None
