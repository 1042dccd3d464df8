"""Every registered part keeps its contract (fer_bench.testing.check_part), and the harness relies on
declared capabilities only."""

import inspect

import pytest

from fer_bench.parts import registry
from fer_bench.runs import fitting, predict, runner
from fer_bench.sweeps import grid, tuning
from fer_bench.testing import check_part


@pytest.mark.parametrize("key", [part.key for part in registry.parts()])
def test_every_registered_part_keeps_its_contract(key):
    check_part(key)


def test_the_check_catches_a_part_that_breaks_its_contract():
    from fer_bench.parts.base import Model
    from fer_bench.parts.registry import register

    @register("model", "forgetful")
    class Forgetful(Model):
        """Forgets its parameter and gives one column too many."""

        def __init__(self, depth: int = 2):
            self.levels = depth

        def fit(self, data):
            self.n = len(data.classes) + 1

        def predict_proba(self, X):
            return [[1 / self.n] * self.n] * len(X)

    try:
        with pytest.raises(AssertionError, match="constructor parameters must be kept as attributes"):
            check_part("model/forgetful")
        Forgetful.__init__ = lambda self, depth=2: setattr(self, "depth", depth)
        with pytest.raises(AssertionError, match="probabilities of shape"):
            check_part("model/forgetful")
    finally:
        del registry._PARTS[("model", "forgetful")]


@pytest.mark.parametrize("module", [runner, fitting, tuning, grid, predict])
def test_the_harness_never_probes_a_part_for_a_method(module):
    assert "hasattr(" not in inspect.getsource(module)


def test_a_part_refuses_the_other_parts_of_a_run_before_any_work(write_experiments, capsys, tmp_path):
    from fer_bench.cli import main
    from fer_bench.testing import CheapCentroid

    @registry.register("model", "picky")
    class Picky(CheapCentroid):
        """Will not fit after SMOTE."""

        def refuse(self, setup):
            return "model/picky refuses synthetic samples" if setup.resampler.name == "smote" else None

    try:
        experiment = '[features]\nname = "pixels"\n[resampler]\nname = "smote"\n[model]\nname = "picky"\n'
        write_experiments({"picky.toml": experiment})
        assert main(["run", "picky", "--results", str(tmp_path / "results")]) == 2
        assert "picky.toml: model/picky refuses synthetic samples" in capsys.readouterr().err
        assert not (tmp_path / "results" / "runs.jsonl").exists()  # refused before any work
    finally:
        del registry._PARTS[("model", "picky")]
