"""Every registered part keeps its contract, one test per part and check (fer_bench.testing's named
checks), and the harness relies on declared capabilities only."""

import inspect

import pytest

from fer_bench.parts import registry
from fer_bench.parts.base import Model
from fer_bench.parts.params import Interval, Param, Range
from fer_bench.runs import fitting, predict, runner
from fer_bench.specs import files
from fer_bench.specs.search import load_search
from fer_bench.sweeps import grid, tuning
from fer_bench.testing import (
    CheapCentroid,
    assert_within,
    check_fit_predict,
    check_keeps_parameters,
    check_search_space,
    checks,
    parametrize_with_checks,
)


@parametrize_with_checks(registry.parts())
def test_every_registered_part_keeps_its_contract(part, check):
    check(part)


def test_detectors_and_capabilities_get_their_checks():
    names = {
        key: [c.__name__ for c in checks(registry.get(*key.split("/")))]
        for key in ("detector/hog", "model/ensemble", "model/svm", "model/cnn")
    }
    assert "check_finds_faces" in names["detector/hog"]
    assert "check_save_load" not in names["model/ensemble"]  # it saves nothing: its members hold the weights
    assert "check_save_load" in names["model/svm"] and "check_save_load" in names["model/cnn"]


@pytest.mark.parametrize("name", files.names("search"))
def test_every_shipped_search_space_lies_inside_the_declared_constraints(name):
    search = load_search(name)
    for (kind, param), space in search.space.items():
        if param != "name":  # a choice between parts, each checked by the registry
            assert_within(registry.get(kind, search.base.part(kind).name), param, space)


class Forgetful(Model):
    """Forgets its parameter and gives one column too many."""

    parameters = {"depth": Param(2, Interval(1))}

    def __init__(self, **values):
        self.levels = values.get("depth", 2)

    def fit(self, data):
        self.n = len(data.classes) + 1

    def predict_proba(self, X):
        return [[1 / self.n] * self.n] * len(X)


def test_the_checks_catch_a_part_that_breaks_its_contract(monkeypatch):
    with registry.temporary("model", "forgetful", Forgetful) as part:
        with pytest.raises(AssertionError, match="parameters must be kept as attributes"):
            check_keeps_parameters(part)
        monkeypatch.setattr(Forgetful, "__init__", Model.__init__)
        with pytest.raises(AssertionError, match="probabilities of shape"):
            check_fit_predict(part)
        monkeypatch.setattr(Forgetful, "parameters", {"depth": Param(2, Interval(1), Range(0, 4), name="depth")})
        with pytest.raises(AssertionError, match="parameter 'depth' must be >= 1, got 0"):
            check_search_space(part)
    assert registry.find("model", "forgetful") is None


@pytest.mark.parametrize("module", [runner, fitting, tuning, grid, predict])
def test_the_harness_never_probes_a_part_for_a_method(module):
    assert "hasattr(" not in inspect.getsource(module)


class Picky(CheapCentroid):
    """Will not fit after SMOTE."""

    def refuse(self, setup):
        return "model/picky refuses synthetic samples" if setup.resampler.name == "smote" else None


def test_a_part_refuses_the_other_parts_of_a_run_before_any_work(write_experiments, capsys, tmp_path):
    from fer_bench.cli import main

    with registry.temporary("model", "picky", Picky):
        experiment = '[features]\nname = "pixels"\n[resampler]\nname = "smote"\n[model]\nname = "picky"\n'
        write_experiments({"picky.toml": experiment})
        assert main(["run", "picky", "--results", str(tmp_path / "results")]) == 2
        assert "picky.toml: model/picky refuses synthetic samples" in capsys.readouterr().err
        assert not (tmp_path / "results" / "runs.jsonl").exists()  # refused before any work
