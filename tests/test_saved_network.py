"""Bring your own model: a network trained elsewhere (model `saved-network`) loaded from its file,
its classes matched to the data set's, scored without training, and refused in one line where the
file cannot serve."""

import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from fer_bench.analysis import boards
from fer_bench.analysis.yardsticks import Split, Yardsticks
from fer_bench.backend import load_keras
from fer_bench.cli import main
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.data.ferplus import FERPLUS_CLASSES
from fer_bench.errors import FerBenchError
from fer_bench.parts.models.saved_network import SavedNetwork
from fer_bench.reports import leaderboard
from fer_bench.runs import fitting
from fer_bench.runs.records import RecordStore
from fer_bench.scoring.metrics import encode_predictions, split_metrics
from fer_bench.specs.experiment import PartSpec, load_experiment
from fer_bench.testing import example_record

from conftest import MINI

THREE = ("happy", "sad", "angry")  # not FER2013's order, nor its spelling
GIVES = (0.5, 0.3, 0.2)  # what the constant network gives for them, whatever the image


def constant_network(path, size=64, channels=1, gives=GIVES):
    """A network that ignores its image and gives `gives`, saved to `path`."""
    keras = load_keras()
    image = keras.Input((size, size, channels))
    x = keras.layers.GlobalAveragePooling2D()(image)
    dense = keras.layers.Dense(len(gives), activation="softmax")
    network = keras.Model(image, dense(x))
    dense.set_weights([np.zeros((channels, len(gives)), "float32"), np.log(np.array(gives, "float32"))])
    network.save(path)
    return path


def experiment(path, **model):
    values = {"path": str(path), "size": 64, "classes": list(THREE), "trained_on": "a test", **model}
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return '[features]\nname = "pixels"\n[model]\nname = "saved-network"\n' + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return constant_network(tmp_path_factory.mktemp("networks") / "three.keras")


def ready(path, classes, **values):
    spec = PartSpec.of("model", "saved-network", {"path": str(path), "size": 64, "classes": THREE, **values})
    return spec, spec.create("model").ready(classes)


def test_probabilities_land_in_the_columns_of_the_data_sets_classes(network):
    X = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    _, model = ready(network, FER2013_CLASSES)
    proba = model.predict_proba(X)
    assert proba.shape == (5, 7)
    expected = dict(zip(("Happy", "Sad", "Angry"), GIVES))  # the classes it lacks get 0
    np.testing.assert_allclose(proba[0], [expected.get(c, 0) for c in FER2013_CLASSES], atol=1e-5)
    _, model = ready(network, FERPLUS_CLASSES)  # the same emotions, FER+'s names and order
    expected = dict(zip(("Happiness", "Sadness", "Anger"), GIVES))
    np.testing.assert_allclose(model.predict_proba(X)[0], [expected.get(c, 0) for c in FERPLUS_CLASSES], atol=1e-5)


def test_crops_are_resized_and_scaled_as_the_network_wants():
    white = np.ones((2, 48, 48, 1), dtype=np.float32)
    for scaling, value in (("0-1", 1.0), ("minus1-1", 1.0), ("0-255", 255.0)):
        images = SavedNetwork(size=64, channels=3, scaling=scaling).inputs(white)
        assert images.shape == (2, 64, 64, 3)
        np.testing.assert_allclose(images, value, rtol=1e-5)
    black = SavedNetwork(size=64, scaling="minus1-1").inputs(np.zeros((1, 48, 48, 1), dtype=np.float32))
    assert black.shape == (1, 64, 64, 1) and np.allclose(black, -1)


def test_it_trains_nothing(network):
    _, model = ready(network, FER2013_CLASSES)
    X, y = np.zeros((7, 48, 48, 1), dtype=np.float32), np.arange(7)
    resampler = PartSpec.of("resampler", "none", {}).create("resampler")
    with pytest.raises(FerBenchError, match=r"trained elsewhere \(unknown\) and cannot be fitted"):
        fitting.fit(model, resampler, X, y, 0, FER2013_CLASSES)


def test_the_files_checksum_is_in_the_run_id(tmp_path, write_experiments):
    path = constant_network(tmp_path / "net.keras")
    write_experiments({"byo.toml": experiment(path)})
    first = load_experiment("byo")
    assert first.model.params["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    constant_network(path, gives=(0.2, 0.3, 0.5))  # another network under the same name
    second = load_experiment("byo")
    assert first.spec("f1").run_id != second.spec("f1").run_id
    write_experiments({"pinned.toml": experiment(path, sha256=first.model.params["sha256"])})
    with pytest.raises(FerBenchError, match="its sha256 is .*, not .* as the spec says"):
        load_experiment("pinned")


def test_run_predict_and_evaluate_score_it_without_training(network, write_experiments, tmp_path, capsys):
    network = shutil.copy(network, tmp_path / "mine.keras")  # this test changes it at the end
    write_experiments({"byo.toml": experiment(network)})
    results = tmp_path / "results"
    assert main(["run", "byo", "--results", str(results)]) == 0
    (record,) = RecordStore(results).all()
    assert record.ok and record.history is None and record.data.n_train_fit is None
    assert record.spec.model.params["trained_on"] == "a test" and len(record.spec.model.params["sha256"]) == 64
    assert set(record.metrics) == {"PublicTest", "PrivateTest"}
    board = re.sub(" +", " ", (results / "LEADERBOARD.md").read_text())
    assert "## Trained elsewhere: usage folders `fer2013-mini`" in board and "| a test |" in board

    crop = tmp_path / "face.png"
    Image.fromarray(np.full((48, 48), 128, dtype=np.uint8)).save(crop)
    capsys.readouterr()
    assert main(["predict", str(crop), "--model", "byo", "--results", str(results), "--format", "json"]) == 0
    (face,) = json.loads(capsys.readouterr().out)["images"][0]["faces"]
    assert face["label"] == "Happy" and face["probabilities"]["Sad"] == pytest.approx(0.3, abs=1e-3)

    assert main(["evaluate", "byo", "--data", str(MINI), "--results", str(results), "--faces", "crop"]) == 0
    evaluated = RecordStore(results).all()[-1]
    assert evaluated.evaluation["of_run"] == record.run_id
    assert evaluated.metrics["PrivateTest"].accuracy_all == record.metrics["PrivateTest"].accuracy_all

    constant_network(network, gives=(0.2, 0.3, 0.5))  # the file changes under the recorded run
    assert main(["evaluate", "byo", "--data", str(MINI), "--results", str(results), "--force"]) == 2
    assert "the file changed since the spec was made" in capsys.readouterr().err


def _bad_files(tmp_path):
    not_a_network = tmp_path / "notes.keras"
    not_a_network.write_text("no network in here")
    wrong_input = constant_network(tmp_path / "wrong-input.keras", size=48)
    return {
        "not a network": (experiment(not_a_network), "notes.keras: not a saved Keras network"),
        "no such file": (experiment(tmp_path / "missing.keras"), "missing.keras: no such file"),
        "input shape": (experiment(wrong_input), r"takes input of shape \(48, 48, 1\); size and channels say"),
        "class count": (
            experiment(wrong_input, size=48, classes=list(FER2013_CLASSES)),
            r"gives output of shape \(3,\); `classes` names 7",
        ),
        "no emotion": (
            experiment(wrong_input, size=48, classes=["happy", "sad", "bored"]),
            "class 'bored' names no emotion",
        ),
        "no place": (
            experiment(wrong_input, size=48, classes=["happy", "sad", "contempt"]),
            "the network's class 'contempt' has no place in the data set's label space",
        ),
        "no path": ('[features]\nname = "pixels"\n[model]\nname = "saved-network"\n', "`path` must name"),
        "no package": (experiment("package:no_such_package_here/net.keras"), "is not installed"),
    }


@pytest.mark.parametrize(
    "case",
    ["not a network", "no such file", "input shape", "class count", "no emotion", "no place", "no path", "no package"],
)
def test_a_file_that_cannot_serve_is_one_line_and_nothing_is_recorded(case, tmp_path, write_experiments, capsys):
    text, message = _bad_files(tmp_path)[case]
    write_experiments({"bad.toml": text})
    assert main(["run", "bad", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.splitlines()  # the run's progress messages, then the error's one line
    assert [line for line in err if line.startswith("fer-bench: error: ")] == err[-1:]
    assert re.search(message, err[-1]), err[-1]
    assert not (tmp_path / "results" / "runs.jsonl").exists() or not RecordStore(tmp_path / "results").all()


def _zip_without_a_network(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "no network in here")


@pytest.mark.parametrize(
    ("name", "write", "why"),
    [
        ("notes.keras", lambda p: p.write_text("no network in here"), "not a zip archive, as a .keras file is"),
        ("archive.keras", _zip_without_a_network, "a zip archive without the config.json of a .keras file"),
        ("notes.h5", lambda p: p.write_text("no network in here"), "no HDF5 signature, as an .h5 file has"),
        (
            "network.onnx",
            lambda p: p.write_bytes(b"\x08\x07"),
            'an ONNX file, which model "onnx-network" reads',
        ),
    ],
)
def test_a_file_that_is_no_keras_network_is_refused_before_the_data_loads(
    name, write, why, tmp_path, write_experiments, capsys
):
    """Before any data loads (here there is none to load), and not with Keras's "File not found"."""
    file = tmp_path / name
    write(file)
    folder = write_experiments({"bad.toml": experiment(file)})
    assert main(["run", "bad", "--data", str(tmp_path / "no-data"), "--results", str(tmp_path / "results")]) == 2
    assert (
        capsys.readouterr().err == f"fer-bench: error: {folder}/bad.toml: {file}: not a saved Keras network ({why})\n"
    )


def test_runs_trained_elsewhere_get_their_own_board_with_copies_against_the_rest():
    y = np.arange(1000) % 7
    copied = np.arange(1000) < 200
    right_on_copies = np.where(copied, y, (y + 1) % 7)  # all 200 copies right, none of the rest
    metrics = {
        "PublicTest": split_metrics(y, y, FER2013_CLASSES),
        "PrivateTest": split_metrics(y, right_on_copies, FER2013_CLASSES),
    }
    predictions = {"PrivateTest": encode_predictions(right_on_copies)}
    ours = example_record("a" * 12, "ours", metrics=metrics, predictions=predictions, timings={"total": 1.0})
    params = {"path": "package:fer/x.h5", "trained_on": "who knows", "sha256": "0" * 64}
    peer = replace(
        example_record("b" * 12, "peer", metrics=metrics, predictions=predictions, timings={"total": 1.0}),
        spec=replace(ours.spec, model=PartSpec("saved-network", params, "1")),
    )
    found = boards.boards([peer, ours])
    assert [(b.elsewhere, [r.experiment for r in b.runs]) for b in found] == [(False, ["ours"]), (True, ["peer"])]
    yard = Yardsticks("f1", "images", {"PrivateTest": Split(y, y, copied)}, "test")
    report = leaderboard.LeaderboardReport()
    text = report.markdown(report.compute([peer, ours], [yard]), "fer-bench leaderboard")
    section = re.sub(" +", " ", text[text.index("## Trained elsewhere") :])  # tabulate's padding
    assert "| peer | who knows | 100.00 | 0.00 | +100.00 | 100.00 | 20.00 | +80.00 |" in section
    assert "copies of Training images (200)" in section and "the rest (800)" in section
