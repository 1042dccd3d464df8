"""The fast CNN: its precision follows the CPU and the spec, and a seed fixes its predictions."""

from dataclasses import replace

import numpy as np
import pytest

from fer_bench import backend
from fer_bench.backend import load_keras
from fer_bench.parts.models import cnn_fast
from fer_bench.parts.models.cnn_fast import FastCNN
from fer_bench.specs.experiment import PartSpec, load_experiment

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512_BF16 = AVX2 | {"avx512f", "avx512bw", "avx512_bf16"}


def test_isa_level_names_the_best_level_the_flags_give():
    assert backend.isa_level(AVX2) == "avx2"
    assert backend.isa_level(AVX2 | {"avx512f"}) == "avx512"
    assert backend.isa_level(AVX512_BF16) == "avx512-bf16"
    assert backend.isa_level(AVX512_BF16 | {"amx_bf16"}) == "amx-bf16"
    assert backend.isa_level(frozenset({"sse2"})) == "baseline"
    assert backend.native_bfloat16(AVX512_BF16) and not backend.native_bfloat16(AVX2 | {"avx512f"})


@pytest.mark.parametrize(("flags", "width", "expected"), [
    (AVX512_BF16, 32, "bfloat16"),
    (AVX512_BF16, 16, "float32"),  # too narrow to gain from it
    (AVX2, 32, "float32"),
])  # fmt: skip
def test_auto_precision_follows_the_cpu_flags_and_is_part_of_the_run_id(monkeypatch, flags, width, expected):
    monkeypatch.setattr(cnn_fast, "native_bfloat16", lambda: backend.native_bfloat16(flags))
    spec = PartSpec.of("model", "cnn-fast", {"width": width})
    assert spec.params["precision"] == expected
    experiment = load_experiment("cnn-fast-long")  # width 32
    assert experiment.model.params["precision"] == ("bfloat16" if backend.native_bfloat16(flags) else "float32")
    other = {"float32": "bfloat16", "bfloat16": "float32"}[experiment.model.params["precision"]]
    with_other = replace(experiment, model=experiment.model.with_values("model", {"precision": other}))
    assert experiment.spec("f1").run_id != with_other.spec("f1").run_id


def test_bfloat16_runs_where_asked_even_without_native_support(monkeypatch):
    monkeypatch.setattr(cnn_fast, "native_bfloat16", lambda: False)
    assert PartSpec.of("model", "cnn-fast", {"width": 32, "precision": "bfloat16"}).params["precision"] == "bfloat16"
    keras = load_keras()
    before = keras.config.dtype_policy().name
    network = FastCNN(width=4, precision="bfloat16").network(3)
    assert network.get_layer("stem_conv").dtype_policy.name == "mixed_bfloat16"
    assert network.get_layer("classes").dtype_policy.name == "float32"  # probabilities in float32
    assert keras.config.dtype_policy().name == before  # the global policy is left as it was
    assert FastCNN(width=4, precision="float32").network(3).get_layer("stem_conv").dtype_policy.name == "float32"


def _fit_and_predict(seed):
    from fer_bench.parts.base import FitData

    rng = np.random.default_rng(0)
    X = rng.random((96, 48, 48, 1), dtype=np.float32)
    y = np.arange(96) % 3
    model = FastCNN(**FastCNN.smoke_params, precision="float32")
    model.fit(FitData(X[:64], y[:64], ("a", "b", "c"), seed, validation=(X[64:80], y[64:80])))
    return model.predict_proba(X[80:])


def test_same_seed_same_predictions_another_seed_others():
    first = _fit_and_predict(seed=3)
    np.testing.assert_array_equal(first, _fit_and_predict(seed=3))
    assert not np.array_equal(first, _fit_and_predict(seed=4))
