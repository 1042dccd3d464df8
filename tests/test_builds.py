"""Each concept once (issue 38): a run builds each of its parts once and checks each parameter
once, the parts that checking its experiment built being the ones it fits; a search trial and a
grid cell build only the parts they fit. Counted by wrapping Part's constructor and Param.check."""

import collections

import optuna
import pytest

from fer_bench.cli import main
from fer_bench.parts.base import Part
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.params import Param
from fer_bench.runs.workspace import Workspace
from fer_bench.specs.grid import load_grid
from fer_bench.specs.search import feature_variants, load_search
from fer_bench.sweeps import tuning
from fer_bench.sweeps.grid import run_cell
from fer_bench.testing import simulated_dataset

from conftest import CHEAP_EXPERIMENT, GRID_RULE

CHEAP_PARTS = ("features/test-profile", "resampler/none", "model/test-centroid")  # CHEAP_EXPERIMENT's


@pytest.fixture
def builds(monkeypatch):
    """{part key: parts of it built} from here on."""
    counts: collections.Counter = collections.Counter()
    build = Part.__init__

    def counted(self, **values):
        counts[self.key] += 1
        build(self, **values)

    monkeypatch.setattr(Part, "__init__", counted)
    return counts


@pytest.fixture
def checks(monkeypatch):
    """{(part key, parameter): values of it checked} from here on."""
    counts: collections.Counter = collections.Counter()
    check = Param.check

    def counted(self, where, value):
        counts[(where, self.name)] += 1
        return check(self, where, value)

    monkeypatch.setattr(Param, "check", counted)
    return counts


def test_a_run_builds_each_part_once_and_checks_each_parameter_once(
    write_experiments, simulated_csv, tmp_path, builds, checks
):
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT + "epochs = 2\n"})
    assert main(["run", "cheap", "--data", str(simulated_csv), "--results", str(tmp_path / "results")]) == 0
    assert dict(builds) == dict.fromkeys(CHEAP_PARTS, 1)  # the leaderboard written after it builds none
    assert checks[("model/test-centroid", "epochs")] == 1


def test_the_fast_cnn_is_built_and_its_width_checked_once_before_its_data_loads(tmp_path, builds, checks, capsys):
    """cnn-fast's run built each part 3 times before it trained, and checked `width` 4 times."""
    assert main(["run", "cnn-fast", "--data", str(tmp_path / "no-data"), "--results", str(tmp_path / "results")]) == 2
    assert "data path does not exist" in capsys.readouterr().err  # the parts were built and checked before
    assert dict(builds) == dict.fromkeys(("features/pixels", "resampler/none", "model/cnn-fast"), 1)
    assert checks[("model/cnn-fast", "width")] == 1


@pytest.mark.parametrize("split, folds", [("holdout", 1), ("out-of-fold", 3)])
def test_a_search_trial_builds_the_parts_of_each_fit_and_no_more(write_experiments, tmp_path, builds, split, folds):
    write_experiments(
        {
            "cheap.toml": CHEAP_EXPERIMENT,
            "searches/cheap.toml": f'base = "cheap"\nfolds = 3\nchoose = {{split = "{split}", metric = "accuracy"}}\n'
            "[space.model]\nshrink = true\n",
        }
    )
    search = load_search("cheap")
    rows = tuning.TrainingRows(simulated_dataset(), ArrayCache(tmp_path / "cache"), feature_variants(search))
    builds.clear()
    score = tuning.objective_for(search, rows)(optuna.create_study().ask())
    assert 0 <= score <= 1
    assert dict(builds) == dict.fromkeys(CHEAP_PARTS, folds)  # the first fit's parts are those the check built


def test_a_grid_builds_each_cell_once_to_check_it_and_once_to_run_it(write_experiments, tmp_path, builds):
    grid = 'base = "cheap"\n' + GRID_RULE + "[[product]]\nmodel.shrink = [0.1, 0.2]\n"
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "grids/g.toml": grid})
    cells = load_grid("g").cells
    assert dict(builds) == dict.fromkeys(CHEAP_PARTS, 1 + len(cells))  # the base, then each cell
    builds.clear()
    outcome = run_cell(cells[0], Workspace(tmp_path / "results", tmp_path / "cache", simulated_dataset()))
    assert outcome["status"] == "ok" and dict(builds) == dict.fromkeys(CHEAP_PARTS, 1)
