"""The fast CNN: its precision follows the CPU and the spec, and a seed fixes its predictions."""

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from fer_bench import backend
from fer_bench.backend import in_process, load_keras
from fer_bench.errors import FerBenchError
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


@pytest.mark.parametrize(
    ("flags", "width", "expected"),
    [
        (AVX512_BF16, 32, "bfloat16"),
        (AVX512_BF16, 16, "float32"),  # too narrow to gain from it
        (AVX2, 32, "float32"),
    ],
)
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


def _fit(seed, **params):
    """A smoke-sized fast CNN fitted on random images; (the model, its history, 16 other images)."""
    from fer_bench.parts.base import FitData

    rng = np.random.default_rng(0)
    X = rng.random((96, 48, 48, 1), dtype=np.float32)
    y = np.arange(96) % 3
    model = FastCNN(**FastCNN.smoke_params | {"precision": "float32"} | params)
    history = model.fit(FitData(X[:64], y[:64], ("a", "b", "c"), seed, validation=(X[64:80], y[64:80])))
    return model, history, X[80:]


def _fit_and_predict(seed):
    model, _, X = _fit(seed)
    return model.predict_proba(X)


def test_same_seed_same_predictions_another_seed_others():
    first = _fit_and_predict(seed=3)
    np.testing.assert_array_equal(first, _fit_and_predict(seed=3))
    assert not np.array_equal(first, _fit_and_predict(seed=4))


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_same_seed_same_predictions_under_each_installed_backend(name):
    """The backend is part of the run id; under each one a seed fixes the predictions as under TensorFlow."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[{name}]')")
    code = (
        "import json; from tests import test_cnn_fast as t; "
        "print(json.dumps([t._fit_and_predict(seed=3).tolist() for _ in range(2)]))"
    )
    first, second = in_process(code, name)
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)


def test_mirror_and_random_crop_are_left_out_of_the_spec_at_their_defaults():
    """Added after cnn-fast's runs were recorded (tests/test_run_ids.py pins them)."""
    assert not {"mirror", "random_crop"} & set(PartSpec.of("model", "cnn-fast", {}).params)
    spec = PartSpec.of("model", "cnn-fast", {"mirror": False, "random_crop": False})
    assert spec.params["mirror"] is False and spec.params["random_crop"] is False


def test_weight_averaging_changes_the_model_not_its_training():
    """With `ema` the same steps are taken (the epochs' losses are the same) and the model is their
    weights' moving average; left out of the spec at its default (cnn-fast's run ids are pinned)."""
    assert "ema" not in PartSpec.of("model", "cnn-fast", {}).params
    assert PartSpec.of("model", "cnn-fast", {"ema": 0.999}).params["ema"] == 0.999
    plain, plain_history, X = _fit(seed=3)
    averaged, averaged_history, _ = _fit(seed=3, ema=0.9)
    assert averaged_history["loss"] == plain_history["loss"]
    assert averaged_history["val_accuracy"] == plain_history["val_accuracy"]  # the raw weights'
    stem = [model.model.get_layer("stem_conv").get_weights()[0] for model in (plain, averaged)]
    assert not np.array_equal(*stem)
    assert np.isfinite(averaged.predict_proba(X)).all()


def test_shifted_test_views_average_the_image_rolled_four_ways_within_the_crops_margin():
    """tta_shift: ten views (the image and its mirror, each as it is and shifted 2 pixels up, down,
    left and right), averaged; a shift past the crop's margin is refused; left out of the spec at 0."""
    assert "tta_shift" not in PartSpec.of("model", "cnn-fast", {}).params
    with pytest.raises(FerBenchError, match="tta_shift must be <= 2"):
        PartSpec.of("model", "cnn-fast", {"tta_shift": 3})
    model, _, X = _fit(seed=3)
    images = X.reshape(len(X), 48, 48, 1)
    views = [
        np.roll(image, shift, axis=(1, 2))
        for image in (images, images[:, :, ::-1])
        for shift in ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2))
    ]
    expected = np.mean([model.model.predict(np.ascontiguousarray(view), verbose=0) for view in views], axis=0)
    model.tta_shift = 2
    assert len(model.test_views()) == 10
    np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-6)


def test_without_mirror_nor_random_crop_training_sees_the_centre_crop_only():
    keras = load_keras()
    images = np.random.default_rng(0).random((8, 48, 48, 1), dtype=np.float32)
    plain = FastCNN(width=4, mirror=False, random_crop=False).network(3)
    assert "augment" not in [layer.name for layer in plain.layers]
    flip_only = FastCNN(width=4, random_crop=False).network(3).get_layer("augment")
    assert flip_only.shift == 0.0 and flip_only.mirror
    from fer_bench.parts.models._augment import FaceAugment

    still = FaceAugment(rotation=0.0, zoom=0.0, shift=0.0, mirror=False, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(still(images, training=True)), images)
    flipped = keras.ops.convert_to_numpy(FaceAugment(0.0, 0.0, 0.0, seed=1)(images, training=True))
    mirrored = [np.array_equal(f, i[:, ::-1]) and not np.array_equal(f, i) for f, i in zip(flipped, images)]
    assert all(np.array_equal(f, i) or m for f, i, m in zip(flipped, images, mirrored)) and any(mirrored)


def test_the_fast_fusion_joins_the_embedding_before_the_classifier():
    from fer_bench.parts.models.cnn_fast_fusion import FastFusion

    network = FastFusion(width=4).network(3)
    assert [tuple(i.shape[1:]) for i in network.inputs] == [(48, 48, 1), (128,)]
    assert network.get_layer("fuse").output.shape[-1] == 4 * 8 + 128  # the pooled image features + 128
    X = np.random.default_rng(0).random((5, 48 * 48 + 128), dtype=np.float32)
    pixels, embedding = FastFusion().inputs(X)
    assert pixels.shape == (5, 48, 48, 1) and embedding.shape == (5, 128)
