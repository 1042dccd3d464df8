"""`fer-bench evaluate`: a saved model on a collection it was not trained on, and what the records,
the leaderboard and compare make of it."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from benchmarks.photo_collection import write_collection
from fer_bench.cli import main
from fer_bench.data import load_dataset
from fer_bench.data.collection import class_codes, emotion, match_labels
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.data.ferplus import FERPLUS_CLASSES
from fer_bench.errors import FerBenchError
from fer_bench.runs import probabilities
from fer_bench.runs.records import RecordStore
from fer_bench.scoring.calibration import measure, scaled
from fer_bench.scoring.metrics import decode_predictions

from conftest import MINI

PER_CLASS = 3


@pytest.fixture
def results(tiny_cnn_results, tmp_path):
    """A copy of the tiny CNN's results folder that a test may add records to."""
    return shutil.copytree(tiny_cnn_results, tmp_path / "results")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    out = tmp_path_factory.mktemp("photos")
    write_collection(MINI, out, per_class=PER_CLASS)
    return out


def test_folder_and_class_names_are_matched_by_emotion_never_guessed():
    assert [emotion(n) for n in ("Angry", "anger", "angry_faces", "7-Happy", "Sadness", "surprised")] == [
        "anger",
        "anger",
        "anger",
        "happiness",
        "sadness",
        "surprise",
    ]
    assert emotion("misc") is None and emotion("happy-sad") is None  # no emotion, or two
    assert len(class_codes(FER2013_CLASSES)) == 7 and len(class_codes(FERPLUS_CLASSES)) == 8
    matched, excluded = match_labels(FERPLUS_CLASSES, FER2013_CLASSES, "votes")
    assert matched["Anger"] == FER2013_CLASSES.index("Angry") and matched["Happiness"] == 3
    assert list(excluded) == ["Contempt"]
    with pytest.raises(FerBenchError, match="coll/misc: 'misc' names no emotion"):
        match_labels(["happy", "misc"], FER2013_CLASSES, "coll")


def test_a_photo_collection_is_evaluated_recorded_and_ranked(results, photos, capsys):
    assert main(["evaluate", "tiny-cnn", "--data", str(photos), "--results", str(results), "--detector", "hog"]) == 0
    out = capsys.readouterr().out
    assert "excluded contempt: 3 images: contempt is not in the model's label space" in out
    assert "refused happiness/corrupt.jpg" not in out  # named by its full path
    assert f"refused {photos}/happiness/corrupt.jpg: not a readable image" in out
    assert f"refused {photos}/neutral/one-pixel.png: 1x1 pixels is too small" in out
    (record,) = [r for r in RecordStore(results).all() if r.evaluation]
    assert record.experiment == f"tiny-cnn@{photos.name}" and record.data.layout == "labelled folders"
    m = record.metrics["collection"]
    assert m.n_total == 7 * PER_CLASS and record.evaluation["n_refused"] == 2
    assert record.evaluation["faces"] == "auto" and record.evaluation["detector"] == "hog"
    labels = decode_predictions(record.evaluation["labels"]["collection"])
    assert np.bincount(labels).tolist() == [PER_CLASS] * 7
    assert sum(map(sum, m.confusion_matrix)) == m.n_evaluated < m.n_total or m.coverage == 1.0

    assert main(["evaluate", "tiny-cnn", "--data", str(photos), "--results", str(results), "--faces", "crop"]) == 0
    board = (results / "LEADERBOARD.md").read_text()
    section = board[board.index("## Evaluated on labelled folders") : board.index("## The study")]
    assert section.count("tiny-cnn (`") == 2 and "| auto (hog) " in section and "| crop " in section
    details = board[board.index("### Evaluated on labelled folders") :]
    assert details.count("tiny-cnn (`") == 2 and "recall per class" in details
    assert "`contempt` (3 images" in section
    assert board.index("## usage folders") < board.index("## Evaluated on")  # training boards first

    capsys.readouterr()
    crop_run = RecordStore(results).all()[-1].run_id
    assert main(["compare", record.run_id, crop_run, "--results", str(results)]) == 0  # no --data needed
    compared = capsys.readouterr().out
    assert f"| {m.n_evaluated} " in compared and "(collection)" in compared  # the images both evaluate
    assert main(["show", crop_run, "--format", "json", "--results", str(results)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["evaluation"]["of_run"] == record.evaluation["of_run"] and shown["evaluation"]["detector"] is None

    assert main(["evaluate", "tiny-cnn", "--data", str(photos), "--results", str(results), "--faces", "crop"]) == 0
    assert len([r for r in RecordStore(results).all() if r.evaluation]) == 2  # already recorded: not again


def test_cropping_a_fer2013_layout_gives_the_trained_runs_own_predictions(results, capsys):
    """On the images it was tested on, cut as they are, an evaluation predicts what the run did; its
    probabilities are the run's, calibrated by the temperature fitted on its held-out Training images."""
    assert main(["evaluate", "tiny-cnn", "--data", str(MINI), "--results", str(results), "--faces", "crop"]) == 0
    trained, evaluated = RecordStore(results).all()
    assert set(evaluated.metrics) == {"PublicTest", "PrivateTest"} and evaluated.data.layout == "usage folders"
    temperature = probabilities.temperature(results, trained)
    assert temperature.fitted and evaluated.evaluation["temperatures"][trained.run_id]["fitted_on"] > 0
    for split in evaluated.metrics:
        assert evaluated.predictions[split] == trained.predictions[split]
        calibration = ("nll", "brier", "ece")  # of the calibrated probabilities: equal up to float rounding
        same, again = (
            replace(m, **dict.fromkeys(calibration)) for m in (trained.metrics[split], evaluated.metrics[split])
        )
        assert same == again
        stored = probabilities.load(results, trained, [split])[split]
        expected = measure(stored.labels, scaled(stored.proba, temperature.value))
        for name in calibration:
            assert getattr(evaluated.metrics[split], name) == pytest.approx(getattr(expected, name), 1e-4)


def test_a_collection_without_a_known_label_or_a_readable_image_is_one_line_and_status_2(results, tmp_path, capsys):
    odd = tmp_path / "odd"
    (odd / "happy").mkdir(parents=True)
    Image.new("L", (48, 48), 100).save(odd / "happy" / "a.png")
    (odd / "holidays").mkdir()
    assert main(["evaluate", "tiny-cnn", "--data", str(odd), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{odd}/holidays: 'holidays' names no emotion" in err

    broken = tmp_path / "broken"
    (broken / "sad").mkdir(parents=True)
    (broken / "sad" / "x.jpg").write_bytes(b"not an image")
    assert main(["evaluate", "tiny-cnn", "--data", str(broken), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no readable image to evaluate" in err and "x.jpg" in err
    assert not [r for r in RecordStore(results).all() if r.evaluation]


def test_detecting_faces_in_fer2013_crops_leaves_the_ones_without_a_face_uncovered(results, mini_embeddings):
    _, stored = mini_embeddings
    assert (
        main(
            [
                "evaluate",
                "tiny-cnn",
                "--data",
                str(MINI),
                "--results",
                str(results),
                "--faces",
                "detect",
                "--detector",
                "hog",
            ]
        )
        == 0
    )
    evaluated = RecordStore(results).all()[-1]
    index = load_dataset(MINI).indices("PrivateTest")
    m = evaluated.metrics["PrivateTest"]
    assert m.n_total == len(index) and m.n_evaluated == int((stored["n_faces"][index] >= 1).sum()) < m.n_total
    assert m.accuracy_all < m.accuracy or m.accuracy == 0


def test_a_200_megapixel_photo_in_a_collection_is_evaluated(results, photo_of_200_megapixels, tmp_path, capsys):
    """Above Pillow's own limit (179 M pixels), below fer-bench's refusal (512 M): scored like any other."""
    collection = tmp_path / "large"
    (collection / "happy").mkdir(parents=True)
    (collection / "sad").mkdir()
    shutil.copy(photo_of_200_megapixels, collection / "happy" / "huge.png")
    shutil.copy(
        MINI / "PrivateTest" / "Sad" / sorted(p.name for p in (MINI / "PrivateTest" / "Sad").iterdir())[0],
        collection / "sad" / "face.jpg",
    )
    assert main(["evaluate", "tiny-cnn", "--data", str(collection), "--results", str(results), "--faces", "crop"]) == 0
    (record,) = [r for r in RecordStore(results).all() if r.evaluation]
    assert record.metrics["collection"].n_total == 2 and record.evaluation["n_refused"] == 0


def test_a_label_folder_names_exactly_one_emotion_or_is_refused_in_one_line(results, tmp_path, capsys):
    """`not_happy` holds the word happy and is no happiness folder: a name with a word that is neither
    an emotion's, a number nor a neutral one (faces, images) names no emotion, and is refused."""
    assert [emotion(n) for n in ("not_happy", "unhappy", "happy_not", "no-fear", "angry_people")] == [None] * 5
    assert [emotion(n) for n in ("angry_faces", "3-Happy", "sad images")] == ["anger", "happiness", "sadness"]
    with pytest.raises(FerBenchError, match=r"^coll/not_happy: 'not_happy' names happiness beside other words \(not\)"):
        match_labels(["sad", "not_happy"], FER2013_CLASSES, "coll")

    collection = tmp_path / "negated"
    for folder in ("happy", "not_happy"):
        (collection / folder).mkdir(parents=True)
        Image.new("L", (48, 48), 100).save(collection / folder / "a.png")
    assert main(["evaluate", "tiny-cnn", "--data", str(collection), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{collection}/not_happy: 'not_happy' names happiness beside other words" in err
    assert not [r for r in RecordStore(results).all() if r.evaluation]
