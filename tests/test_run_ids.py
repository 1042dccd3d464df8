"""Every shipped experiment, grid cell and search keeps its run id: a refactoring that changes what a
spec hashes to would orphan every recorded run. tests/fixtures/run_ids.json pins them, on the
real FER2013 data set's fingerprint and TensorFlow; a deliberate change (a part's version bumped)
updates the file in the same commit. A spec with a value decided by the machine (`cnn-fast-long`'s
"auto" precision: bfloat16 only on CPUs with native bfloat16) is not pinned."""

import json
from pathlib import Path

import pytest

from fer_bench.specs import files
from fer_bench.specs.experiment import load_experiment
from fer_bench.specs.grid import load_grid
from fer_bench.specs.search import load_search

FER2013 = "ae9679c8208ffa62"
PINNED = json.loads((Path(__file__).parent / "fixtures" / "run_ids.json").read_text())


def shipped_run_ids():
    ids = {}
    for name in files.names("experiment"):
        ids[f"experiment/{name}"] = load_experiment(name).spec(FER2013, keras_backend="tensorflow").run_id
    for name in files.names("grid"):
        for cell in load_grid(name).cells:
            key = f"grid/{name}/{cell.experiment.name}/seed{cell.seed}"
            ids[key] = cell.experiment.spec(FER2013, cell.seed, "tensorflow").run_id
    for name in files.names("search"):
        ids[f"search/{name}/base"] = load_search(name).base.spec(FER2013, keras_backend="tensorflow").run_id
    return ids


@pytest.fixture(scope="module")
def shipped():
    return shipped_run_ids()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_shipped_spec_keeps_its_run_id(shipped, name):
    assert name in shipped, f"{name} is no longer shipped"
    assert shipped[name] == PINNED[name]
