"""`fer-bench predict` on a photo that is not from FER2013, on a 48x48 crop, and on bad input."""

import csv
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_bench.cli import main
from fer_bench.data import FER2013_CLASSES, load_dataset
from fer_bench.parts import registry
from fer_bench.runs.records import RecordStore

from conftest import CHEAP_EXPERIMENT, MINI, constant_png

FACE = MINI / "PrivateTest" / "Angry" / "00032433.jpg"


@pytest.fixture
def trained(tiny_cnn_results):
    return tiny_cnn_results


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
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "runs.jsonl").write_text("")  # a results folder with no run yet
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
    store = RecordStore(results)
    (record,) = store.all()
    store.path.unlink()
    store.append(replace(record, artefact=None))  # as recorded before logreg saved its weights
    assert main(["predict", str(photo), "--results", str(results), "--model", "no-weights"]) == 2
    assert "no recorded run of 'no-weights' has saved weights" in capsys.readouterr().err
    assert main(["run", "cheap", "--results", str(results)]) == 0
    capsys.readouterr()
    assert main(["predict", str(photo), "--results", str(results), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"]["experiment"] == "cheap" and len(result["images"][0]["faces"]) == 1


def test_a_folder_of_mixed_images_is_classified_in_one_call_with_one_line_per_refused_file(
    trained, photo, tmp_path, capsys
):
    folder = tmp_path / "mixed"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(photo, folder / "photo.png")
    shutil.copy(FACE, folder / "nested" / "crop.jpg")
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (folder / "notes.txt").write_text("not an image, and not named: skipped")
    missing = tmp_path / "nowhere.jpg"
    assert main(["predict", str(folder), str(missing), "--results", str(trained), "--format", "json"]) == 2
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert [Path(i["image"]).name for i in result["images"]] == ["crop.jpg", "photo.png"]
    assert {Path(r["image"]).name for r in result["refused"]} == {"corrupt.jpg", "dot.png", "nowhere.jpg"}
    errors = [line for line in captured.err.splitlines() if line.startswith("fer-bench: error: ")]
    assert len(errors) == 3  # besides the progress bar
    assert any("dot.png: 1x1 pixels is too small to show a face" in line for line in errors)
    assert any(f"{missing}: no such file or folder" in line for line in errors)

    pattern = str(folder / "nested" / "*.jpg")  # as quoted on a command line: fer-bench expands it
    assert main(["predict", pattern, str(photo), "--results", str(trained), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [Path(r["image"]).name for r in rows] == ["crop.jpg", "photo.png"]
    assert rows[0]["whole_image"] == "True" and rows[1]["whole_image"] == "False"
    assert all(abs(sum(float(r[c]) for c in FER2013_CLASSES) - 1) < 1e-3 for r in rows)
    assert all(r["label"] == max(FER2013_CLASSES, key=lambda c: float(r[c])) for r in rows)


def test_a_crop_is_cut_and_classified_as_the_run_saw_its_test_images(trained):
    """`--faces crop` on FER2013's own test files gives the recorded predictions, batch or not."""
    from fer_bench.runs.predict import Predictor, predict_images
    from fer_bench.runs.records import RecordStore

    record = RecordStore(trained).all()[0]
    dataset = load_dataset(MINI)
    index = dataset.indices("PrivateTest")
    files = [MINI / i for i in dataset.ids[index]]
    outcomes = predict_images(files, Predictor.load(record, trained), faces="crop", progress=False)
    predicted = "".join(str(FER2013_CLASSES.index(faces[0].label)) for _, faces in outcomes)
    assert predicted == record.predictions["PrivateTest"]


def test_a_photo_too_large_to_scan_is_read_at_a_reduced_size_with_its_boxes_in_its_own_pixels(tmp_path):
    from fer_bench.runs.predict import face_crops, read_photo

    face = Image.open(FACE).convert("RGB").resize((1200, 1200), Image.BICUBIC)
    canvas = Image.new("RGB", (9000, 6000), (90, 120, 160))
    canvas.paste(face, (5000, 3000))
    path = tmp_path / "large.jpg"
    canvas.save(path, quality=85)
    gray, scale = read_photo(path)
    assert max(gray.size) <= 4096 and scale < 0.5
    (box, whole, crop), *_ = face_crops(path, detector="hog")
    left, top, right, bottom = box
    assert not whole and crop.shape == (48, 48)
    assert 5000 < (left + right) / 2 < 6200 and 3000 < (top + bottom) / 2 < 4200  # in the 9000x6000 image's pixels


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_200_megapixel_photo_is_classified_and_annotated_beside_the_others(
    trained, photo, photo_of_200_megapixels, tmp_path, capsys
):
    """Above Pillow's own limit (179 M pixels) and below fer-bench's refusal (512 M): read, classified,
    drawn on, and no Pillow warning (fer-bench raised the limit on purpose)."""
    from fer_bench.runs.predict import read_photo

    out = tmp_path / "annotated"
    argv = [
        "predict",
        str(photo_of_200_megapixels),
        str(photo),
        "--results",
        str(trained),
        "--format",
        "json",
        "--faces",
        "crop",
        "--annotate",
        str(out),
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert [Path(i["image"]).name for i in result["images"]] == ["200-megapixels.png", "photo.png"]
    assert result["images"][0]["faces"][0]["box"] == [1750, 0, 14250, 12500]  # in the photo's own pixels
    with Image.open(out / "photo.png") as annotated:
        assert annotated.size == (480, 320)
    assert (out / "200-megapixels.png").stat().st_size > 0
    gray, scale = read_photo(constant_png(tmp_path / "100-megapixels.png", 10_000, 10_000))  # warned before
    assert max(gray.size) == 4096 and scale == pytest.approx(0.4096)


@pytest.mark.parametrize("several", [False, True], ids=["one-image", "a-folder-of-them"])
def test_annotate_to_a_path_under_a_file_is_refused_in_one_line(trained, photo, tmp_path, capsys, several):
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    images = [photo, FACE] if several else [photo]
    argv = ["predict", *map(str, images), "--results", str(trained), "--annotate", str(in_the_way / "out.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("fer-bench: error: ")]
    assert errors == [f"fer-bench: error: --annotate {in_the_way / 'out.png'}: {in_the_way} is a file, not a folder"]
    assert "Traceback" not in err and in_the_way.read_text() == "not a folder"


def test_after_its_latest_run_is_pruned_an_experiment_predicts_with_a_run_that_has_weights(
    write_experiments, tmp_path, photo, capsys
):
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT})
    results = str(tmp_path / "results")
    assert main(["run", "cheap", "--results", results]) == 0
    assert main(["run", "cheap", "--seed", "1", "--results", results]) == 0
    first, latest = RecordStore(results).all()
    assert main(["prune", "cheap", "--results", results]) == 0
    capsys.readouterr()
    for model in (["--model", "cheap"], []):  # named, and the default: the best run with weights
        assert main(["predict", str(photo), "--results", results, "--format", "json", *model]) == 0
        assert json.loads(capsys.readouterr().out)["model"]["run_id"] == first.run_id

    assert main(["prune", first.run_id, "--results", results]) == 0
    capsys.readouterr()
    assert main(["predict", str(photo), "--results", results, "--model", "cheap"]) == 2
    assert capsys.readouterr().err == (
        "fer-bench: error: no recorded run of 'cheap' has saved weights to predict "
        "with: `fer-bench complete cheap` fits it again and saves them\n"
    )
    assert main(["predict", str(photo), "--results", results]) == 2
    assert "no recorded run has saved weights" in capsys.readouterr().err
