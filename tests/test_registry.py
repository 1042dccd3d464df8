import inspect

import pytest

from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import Resampler


def test_every_kind_has_the_parts_the_study_needs():
    keys = {p.key for p in registry.parts()}
    assert {
        "features/embedding",
        "features/pixels",
        "resampler/none",
        "resampler/smote",
        "model/paper-mlp",
        "model/svm",
        "model/knn",
        "model/logreg",
    } <= keys


def test_parameters_are_declared_with_defaults_and_choices():
    part = registry.get("features", "embedding")
    params = {p.name: p for p in part.params}
    assert params["protocol"].default == "detector"
    assert params["protocol"].choices == ("detector", "full")
    assert params["detector"].choices == tuple(p.name for p in registry.parts("detector"))  # from the registry
    assert str(inspect.signature(part.factory)) == "(*, protocol='detector', upsample=1, jitters=1, detector='hog')"


def test_a_part_declares_its_parameters_not_its_constructor():
    class OldStyle(Resampler):
        """Takes its parameter as a constructor argument."""

        def __init__(self, k: int = 3):
            self.k = k

    with pytest.raises(TypeError, match="declare its parameters in a `parameters` table"):
        registry.register("resampler", "old-style")(OldStyle)
    assert registry.find("resampler", "old-style") is None


def test_a_temporary_part_is_gone_after_its_block_and_a_stand_in_gives_the_part_back():
    class Quiet(Resampler):
        """A stand-in."""

    smote = registry.get("resampler", "smote")
    with registry.temporary("resampler", "smote", Quiet) as part:
        assert registry.get("resampler", "smote") is part and part.factory is Quiet
    with registry.temporary("resampler", "quiet", Quiet):
        assert registry.find("resampler", "quiet") is not None
    assert registry.get("resampler", "smote") is smote and registry.find("resampler", "quiet") is None


def test_resolve_fills_defaults_and_converts_int_to_float():
    resolved = registry.get("model", "svm").resolve({"C": 10})
    assert resolved["C"] == 10.0 and isinstance(resolved["C"], float)
    assert resolved["gamma"] == "scale"


@pytest.mark.parametrize(
    "kind, name, params, message",
    [
        ("model", "paper-mlp", {"epoch": 3}, "unknown parameter 'epoch'"),
        ("model", "paper-mlp", {"epochs": "many"}, "'epochs' must be int"),
        ("model", "paper-mlp", {"batch_norm": 1}, "'batch_norm' must be bool"),
        ("features", "embedding", {"protocol": "haar"}, "must be one of ['detector', 'full']"),
    ],
)
def test_bad_parameters_are_named(kind, name, params, message):
    with pytest.raises(FerBenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        registry.get(kind, name).resolve(params)


def test_out_of_range_values_are_refused_with_the_declared_range():
    with pytest.raises(FerBenchError, match=r"model/svm: parameter 'C' must be > 0, got -1.0"):
        registry.get("model", "svm").create({"C": -1.0})
    with pytest.raises(FerBenchError, match=r"model/cnn: parameter 'dropout' must be in \[0, 1\), got 1.0"):
        registry.get("model", "cnn").resolve({"dropout": 1})


def test_rules_between_parameters_are_the_parts_validate_hook():
    with pytest.raises(FerBenchError, match="model/cnn: warmup_epochs must be < epochs"):
        registry.get("model", "cnn").create({"epochs": 2, "warmup_epochs": 2})


def test_unknown_part_lists_the_known_ones():
    with pytest.raises(FerBenchError, match=r"unknown model 'cnnn' \(known: .*paper-mlp"):
        registry.get("model", "cnnn")


def test_a_part_must_derive_from_its_kinds_base():
    class NotAModel:
        def fit(self, data): ...

    with pytest.raises(TypeError, match="must derive from fer_bench.parts.base.Model"):
        registry.register("model", "not-a-model")(NotAModel)
    assert registry.find("model", "not-a-model") is None


def test_plugins_named_in_the_environment_register_their_parts(tmp_path, monkeypatch):
    (tmp_path / "my_parts.py").write_text(
        "from fer_bench.parts.base import Resampler\nfrom fer_bench.parts.registry import register\n\n"
        '@register("resampler", "my-identity")\nclass MyIdentity(Resampler):\n    """Leaves the data alone."""\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FER_BENCH_PLUGINS", "fer_bench.testing, my_parts")
    assert registry.get("resampler", "my-identity").summary == "Leaves the data alone."

    monkeypatch.setenv("FER_BENCH_PLUGINS", "no_such_module")
    with pytest.raises(FerBenchError, match=r"plugin 'no_such_module' \(\$FER_BENCH_PLUGINS\) cannot be imported"):
        registry.parts()
