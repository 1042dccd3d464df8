"""Experiment files (`experiments/NAME.toml`) and the frozen RunSpec they become.

description = "..."
seed = 0
test_splits = ["PublicTest", "PrivateTest"]
[features]            # a table per part kind: `name` picks the part, other keys set parameters
name = "embedding"
protocol = "detector"
[resampler]
name = "smote"
[model]
name = "paper-mlp"
"""

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from fer_bench import registry
from fer_bench.data.dataset import SPLITS
from fer_bench.errors import FerBenchError

TOP_LEVEL_KEYS = {"description", "seed", "test_splits", *registry.KINDS}
PACKAGE_EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class PartSpec:
    name: str
    params: dict

    def create(self, kind):
        return registry.get(kind, self.name).create(self.params)


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

    def to_dict(self):
        spec = asdict(self)
        spec["test_splits"] = list(self.test_splits)
        return spec

    @property
    def run_id(self):
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
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

    def spec(self, data_fingerprint, seed=None) -> RunSpec:
        return RunSpec(
            self.name,
            data_fingerprint,
            self.features,
            self.resampler,
            self.model,
            self.seed if seed is None else seed,
            self.test_splits,
        )


def is_seed(value):
    """A seed numpy (and so scikit-learn, Keras and Optuna) accepts."""
    return type(value) is int and 0 <= value <= MAX_SEED


def experiment_dirs():
    dirs = [Path(os.environ["FER_BENCH_EXPERIMENTS"])] if os.environ.get("FER_BENCH_EXPERIMENTS") else []
    return dirs + [Path("experiments"), PACKAGE_EXPERIMENTS]


def find_file(name_or_path, what="experiment", subfolder="") -> Path:
    """A `.toml` path as given, or NAME looked up in each experiments folder (under `subfolder`)."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if candidate.is_file():
            return candidate
        raise FerBenchError(f"{what} file not found: {candidate}")
    folders = [d / subfolder for d in experiment_dirs()]
    for folder in folders:
        if (folder / f"{name_or_path}.toml").is_file():
            return folder / f"{name_or_path}.toml"
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.toml")})
    raise FerBenchError(f"unknown {what} {name_or_path!r} (known: {', '.join(known) or 'none'})")


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FerBenchError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise FerBenchError(f"{path}: cannot be read ({error.strerror})") from None


def check_keys(document, known, where):
    unknown = sorted(set(document) - set(known))
    if unknown:
        raise FerBenchError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def load_base(document, where) -> Experiment:
    """The experiment a grid or search file builds on (its `base` key)."""
    if not isinstance(document.get("base"), str):
        raise FerBenchError(f'{where}: `base` must name an experiment, e.g. base = "paper"')
    try:
        return load_experiment(document["base"])
    except FerBenchError as error:
        raise FerBenchError(f"{where}: base: {error}") from None


def load_experiment(name_or_path) -> Experiment:
    path = find_file(name_or_path)
    return parse_experiment(path.stem, read_toml(path), str(path))


def parse_experiment(name, document: dict, where: str) -> Experiment:
    check_keys(document, TOP_LEVEL_KEYS, where)
    parts = {kind: _part(document, kind, where) for kind in registry.KINDS}
    seed = document.get("seed", 0)
    if not is_seed(seed):
        raise FerBenchError(f"{where}: seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    test_splits = document.get("test_splits", ["PublicTest", "PrivateTest"])
    if not isinstance(test_splits, list) or not test_splits or any(s not in SPLITS[1:] for s in test_splits):
        raise FerBenchError(f"{where}: test_splits must be a list drawn from {list(SPLITS[1:])}")
    description = document.get("description", "")
    if not isinstance(description, str):
        raise FerBenchError(f"{where}: description must be a string")
    return Experiment(
        name, description, parts["features"], parts["resampler"], parts["model"], seed, tuple(test_splits)
    )


def _part(document, kind, where) -> PartSpec:
    table = document.get(kind, {"name": "none"} if kind == "resampler" else None)
    if not isinstance(table, dict) or not isinstance(table.get("name"), str):
        raise FerBenchError(f"{where}: [{kind}] needs a table with a string `name`")
    params = {k: v for k, v in table.items() if k != "name"}
    try:
        part = registry.get(kind, table["name"])
        resolved = part.resolve(params)
        part.create(resolved)  # the constructor checks ranges
    except FerBenchError as error:
        raise FerBenchError(f"{where}: {error}") from None
    return PartSpec(table["name"], resolved)
