"""`fer-bench predict` on a photo that is not from FER2013, on a 48x48 crop, and on bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from fer_bench import registry
from fer_bench.cli import main
from fer_bench.data import FER2013_CLASSES, load_dataset
from fer_bench.features.cache import ArrayCache
from fer_bench.files.experiment import parse_experiment
from fer_bench.records import RecordStore
from fer_bench.runner import run

from conftest import CHEAP_EXPERIMENT, MINI

FACE = MINI / "PrivateTest" / "Angry" / "00032433.jpg"
TINY_CNN = {"width": 4, "blocks": 2, "head": 8, "epochs": 2, "warmup_epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_cache):
    """A results folder holding one tiny CNN run and its weights."""
    results = tmp_path_factory.mktemp("predict-results")
    document = {"features": {"name": "pixels"}, "model": {"name": "cnn", **TINY_CNN}}
    experiment = parse_experiment("tiny-cnn", document, "test")
    run(experiment, load_dataset(MINI), RecordStore(results), ArrayCache(shared_cache))
    return results


@pytest.fixture
def photo(tmp_path):
    """A FER2013 face scaled up 4x and pasted on a larger colour background."""
    face = Image.open(FACE).convert("RGB").resize((192, 192), Image.BICUBIC)
    canvas = Image.new("RGB", (480, 320), (90, 120, 160))
    canvas.paste(face, (200, 60))
    path = tmp_path / "photo.png"
    canvas.save(path)
    return path


def test_a_face_in_a_larger_colour_photo_is_found_and_classified(trained, photo, tmp_path, capsys):
    out = tmp_path / "annotated.png"
    assert main(["predict", str(photo), "--results", str(trained), "--format", "json", "--annotate", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"]["experiment"] == "tiny-cnn"
    (face,) = result["images"][0]["faces"]
    left, top, right, bottom = face["box"]
    assert 250 < (left + right) / 2 < 340 and 110 < (top + bottom) / 2 < 200  # centred on the pasted face
    assert 120 < right - left < 300 and 120 < bottom - top < 300
    assert set(face["probabilities"]) == set(FER2013_CLASSES) and face["whole_image"] is False
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
    with Image.open(out) as annotated:
        assert annotated.size == (480, 320) and annotated.format == "PNG"
        assert np.asarray(annotated)[top + 1, (left + right) // 2].tolist() != [90, 120, 160]  # a box was drawn


def test_a_48x48_crop_without_a_detectable_face_is_classified_whole(trained, mini_embeddings, capsys):
    _, stored = mini_embeddings
    dataset = load_dataset(MINI)
    no_face = MINI / dataset.ids[np.flatnonzero(stored["n_faces"] == 0)[0]]
    assert main(["predict", str(no_face), "--results", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "whole image" in out and "tiny-cnn" in out


def test_bad_images_are_reported_and_the_others_still_classified(trained, photo, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 300), 128).save(blank)
    assert main(["predict", str(broken), str(photo), str(blank), "--results", str(trained)]) == 2
    captured = capsys.readouterr()
    assert f"{broken}: not a readable image" in captured.err
    assert f"{blank}: no face found" in captured.err
    assert str(photo) in captured.out


def test_without_saved_weights_predict_says_what_to_do(tmp_path, photo, capsys):
    assert main(["predict", str(photo), "--results", str(tmp_path / "empty")]) == 2
    assert "fer-bench run cnn" in capsys.readouterr().err


def test_registry_lists_the_cnn_parameters():
    names = {p.name for p in registry.get("model", "cnn").params}
    assert {"width", "epochs", "erasing", "tta", "patience", "learning_rate"} <= names


def test_any_model_that_saves_weights_on_features_of_crops_can_predict(write_experiments, tmp_path, photo, capsys):
    """predict chooses by declared capabilities (SavesWeights, DescribesCrops), not by part names."""
    write_experiments(
        {"cheap.toml": CHEAP_EXPERIMENT, "no-weights.toml": '[features]\nname = "pixels"\n[model]\nname = "logreg"\n'}
    )
    results = tmp_path / "results"
    assert main(["run", "no-weights", "--results", str(results)]) == 0
    assert main(["predict", str(photo), "--results", str(results), "--model", "no-weights"]) == 2
    assert "no recorded run of 'no-weights' has saved weights" in capsys.readouterr().err
    assert main(["run", "cheap", "--results", str(results)]) == 0
    capsys.readouterr()
    assert main(["predict", str(photo), "--results", str(results), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"]["experiment"] == "cheap" and len(result["images"][0]["faces"]) == 1
