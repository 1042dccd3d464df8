"""Bring your own ONNX model (model `onnx-network`): a network exported from another framework,
run by onnxruntime under saved-network's contract, and refused in one line where the file cannot
serve. The networks are written here with the `onnx` package's helper API; nothing is downloaded."""

import json
import re

import numpy as np
import pytest

from fer_bench.backend import load_keras
from fer_bench.cli import main
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.errors import FerBenchError
from fer_bench.parts.models.onnx_network import write_example
from fer_bench.runs.records import RecordStore
from fer_bench.specs.experiment import PartSpec, load_experiment

THREE = ("happy", "sad", "angry")
GIVES = (0.5, 0.3, 0.2)


def constant_network(path, gives=GIVES, *, softmax=True, size=64, channels=1, channels_first=True, batch=None):
    """An ONNX network that ignores its image and gives `gives` (as logits where not `softmax`); its
    batch dimension open, or fixed at `batch`."""
    write_example(
        path,
        len(gives),
        softmax=softmax,
        channels_first=channels_first,
        size=size,
        channels=channels,
        weights=np.zeros((channels, len(gives))),
        bias=np.log(gives),
        batch=batch,
    )
    return path


def experiment(path, **model):
    values = {"path": str(path), "size": 64, "classes": list(THREE), "trained_on": "a test", **model}
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return '[features]\nname = "pixels"\n[model]\nname = "onnx-network"\n' + "\n".join(lines) + "\n"


def ready(path, **values):
    spec = PartSpec.of("model", "onnx-network", {"path": str(path), "size": 64, "classes": THREE, **values})
    return spec.create("model").ready(FER2013_CLASSES)


IMAGES = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)


@pytest.mark.parametrize(
    ("softmax", "outputs", "channels_first"),
    [(True, "probabilities", True), (False, "logits", True), (True, "probabilities", False)],
)
def test_probabilities_land_in_the_columns_of_the_data_sets_classes(tmp_path, softmax, outputs, channels_first):
    path = constant_network(tmp_path / "three.onnx", softmax=softmax, channels_first=channels_first)
    proba = ready(path, outputs=outputs).predict_proba(IMAGES)
    expected = dict(zip(("Happy", "Sad", "Angry"), GIVES))  # the classes it lacks get 0
    np.testing.assert_allclose(proba, [[expected.get(c, 0) for c in FER2013_CLASSES]] * 5, atol=1e-5)


def test_it_scores_images_as_the_same_keras_network_does(tmp_path):
    """Resized, channels repeated and scaled as saved-network's inputs are, in either layout."""
    weights = np.random.default_rng(1).normal(size=(3, 7)).astype(np.float32)
    keras = load_keras()
    image = keras.Input((64, 64, 3))
    dense = keras.layers.Dense(7, activation="softmax")
    network = keras.Model(image, dense(keras.layers.GlobalAveragePooling2D()(image)))
    dense.set_weights([weights, np.zeros(7, np.float32)])
    network.save(tmp_path / "same.keras")
    common = {"size": 64, "channels": 3, "scaling": "minus1-1", "classes": FER2013_CLASSES}
    spec = PartSpec.of("model", "saved-network", {"path": str(tmp_path / "same.keras"), **common})
    expected = spec.create("model").ready(FER2013_CLASSES).predict_proba(IMAGES)
    for channels_first in (True, False):
        path = tmp_path / f"same-{channels_first}.onnx"
        write_example(path, 7, softmax=True, channels_first=channels_first, size=64, channels=3, weights=weights)
        spec = PartSpec.of("model", "onnx-network", {"path": str(path), **common})
        np.testing.assert_allclose(
            spec.create("model").ready(FER2013_CLASSES).predict_proba(IMAGES), expected, atol=1e-5
        )


@pytest.mark.parametrize("channels_first", [True, False])
def test_a_file_exported_for_one_image_at_a_time_scores_them_one_at_a_time(tmp_path, channels_first):
    """torch.onnx.export without dynamic_axes fixes the batch at its example's size, often 1: such a
    file gives what the same network with an open batch gives (onnxruntime refused the batch of 5)."""
    weights = np.random.default_rng(2).normal(size=(3, 7))
    common = {"softmax": True, "channels_first": channels_first, "size": 64, "channels": 3, "weights": weights}
    write_example(tmp_path / "open.onnx", 7, **common)
    write_example(tmp_path / "one.onnx", 7, **common, batch=1)
    values = {"size": 64, "channels": 3, "classes": FER2013_CLASSES}
    given = [
        PartSpec.of("model", "onnx-network", {"path": str(tmp_path / name), **values})
        .create("model")
        .ready(FER2013_CLASSES)
        .predict_proba(IMAGES)
        for name in ("open.onnx", "one.onnx")
    ]
    np.testing.assert_allclose(given[1], given[0], atol=1e-6)


def test_outputs_that_are_no_probabilities_are_refused_unless_declared_logits(tmp_path):
    path = constant_network(tmp_path / "logits.onnx", gives=(3.0, 1.0, 0.5), softmax=False)
    with pytest.raises(FerBenchError, match="no probabilities"):
        ready(path).predict_proba(IMAGES)
    assert ready(path, outputs="logits").predict_proba(IMAGES).sum(axis=1) == pytest.approx(np.ones(5))


def test_the_files_checksum_is_in_the_run_id(tmp_path, write_experiments):
    path = constant_network(tmp_path / "net.onnx")
    write_experiments({"byo.toml": experiment(path)})
    first = load_experiment("byo")
    constant_network(path, gives=(0.2, 0.3, 0.5))
    assert first.spec("f1").run_id != load_experiment("byo").spec("f1").run_id


def test_run_records_it_without_training(tmp_path, write_experiments):
    write_experiments({"byo.toml": experiment(constant_network(tmp_path / "three.onnx"))})
    results = tmp_path / "results"
    assert main(["run", "byo", "--results", str(results)]) == 0
    (record,) = RecordStore(results).all()
    assert record.ok and record.history is None and record.data.n_train_fit is None
    assert record.spec.model.name == "onnx-network" and len(record.spec.model.params["sha256"]) == 64
    assert "| a test |" in re.sub(" +", " ", (results / "LEADERBOARD.md").read_text())


def _bad_files(tmp_path):
    (tmp_path / "notes.onnx").write_text("no network in here")
    wrong_input = constant_network(tmp_path / "wrong-input.onnx", size=48)
    fixed_batch = constant_network(tmp_path / "fixed-batch.onnx", batch=8)
    return {
        "not onnx": (experiment(tmp_path / "notes.onnx"), "notes.onnx: not an ONNX network"),
        "input shape": (experiment(wrong_input), r"takes input of shape \(batch, 1, 48, 48\); size and channels say"),
        "fixed batch": (
            experiment(fixed_batch),
            r"fixed-batch.onnx: the network takes input of shape \(8, 1, 64, 64\), a fixed batch of 8; "
            r"its batch dimension must be dynamic",
        ),
        "class count": (
            experiment(wrong_input, size=48, classes=list(FER2013_CLASSES)),
            r"gives output of shape \(batch, 3\); `classes` names 7",
        ),
        "no emotion": (experiment(wrong_input, size=48, classes=["happy", "sad", "bored"]), "'bored' names no emotion"),
        "no place": (
            experiment(wrong_input, size=48, classes=["happy", "sad", "contempt"]),
            "the network's class 'contempt' has no place in the data set's label space",
        ),
    }


@pytest.mark.parametrize("case", ["not onnx", "input shape", "fixed batch", "class count", "no emotion", "no place"])
def test_a_file_that_cannot_serve_is_one_line_and_nothing_is_recorded(case, tmp_path, write_experiments, capsys):
    text, message = _bad_files(tmp_path)[case]
    write_experiments({"bad.toml": text})
    assert main(["run", "bad", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("fer-bench: error: ")] == err[-1:]
    assert re.search(message, err[-1]), err[-1]
    assert not (tmp_path / "results" / "runs.jsonl").exists() or not RecordStore(tmp_path / "results").all()


def test_a_file_that_is_no_onnx_is_refused_before_the_data_loads(tmp_path, write_experiments, capsys):
    (tmp_path / "notes.onnx").write_bytes(b"\x08\x07 not a protobuf of a model")
    write_experiments({"bad.toml": experiment(tmp_path / "notes.onnx")})
    assert main(["run", "bad", "--data", str(tmp_path / "no-data-here"), "--results", str(tmp_path / "r")]) == 2
    assert "notes.onnx: not an ONNX network" in capsys.readouterr().err
