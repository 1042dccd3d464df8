import pytest

from fer_bench.errors import FerBenchError
from fer_bench.parts import registry


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


def test_parameters_come_from_the_constructor_with_defaults_and_choices():
    part = registry.get("features", "embedding")
    params = {p.name: p for p in part.params}
    assert params["protocol"].default == "detector"
    assert params["protocol"].choices == ("detector", "full")


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


def test_out_of_range_values_are_refused_by_the_constructor():
    with pytest.raises(FerBenchError, match="model/svm: C must be > 0"):
        registry.get("model", "svm").create({"C": -1.0})


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
