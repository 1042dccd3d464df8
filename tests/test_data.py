import shutil

import numpy as np
import pytest

from fer_bench.data import FER2013_CLASSES, Dataset, load_dataset
from fer_bench.errors import FerBenchError

from conftest import MINI


def write_csv(path, dataset, header=("emotion", "pixels", "Usage")):
    lines = [",".join(header)]
    for image, label, split in zip(dataset.images, dataset.labels, dataset.splits):
        fields = {"emotion": str(label), "pixels": " ".join(map(str, image.ravel())), "usage": split}
        lines.append(",".join(fields[h.strip().lower()] for h in header))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_usage_folders_load_with_labels_and_splits(mini_dataset):
    ds = mini_dataset
    assert ds.layout == "usage folders"
    assert ds.images.shape == (168, 48, 48) and ds.images.dtype == np.uint8
    assert {s: int((ds.splits == s).sum()) for s in ds.split_names()} == {
        "Training": 84,
        "PublicTest": 42,
        "PrivateTest": 42,
    }
    assert np.bincount(ds.labels).tolist() == [24] * 7 and ds.classes == FER2013_CLASSES
    first_happy = ds.ids[ds.labels == FER2013_CLASSES.index("Happy")][0]
    assert first_happy.startswith("PrivateTest/Happy/") or "/Happy/" in first_happy


@pytest.mark.parametrize("header", [("emotion", "pixels", "Usage"), ("emotion", " Usage", " pixels")])
def test_kaggle_csv_and_its_icml_twin_give_the_same_dataset(tmp_path, mini_dataset, header):
    path = write_csv(tmp_path / "fer2013.csv", mini_dataset, header)
    ds = load_dataset(path)
    np.testing.assert_array_equal(ds.images, mini_dataset.images)
    np.testing.assert_array_equal(ds.labels, mini_dataset.labels)
    assert ds.fingerprint == mini_dataset.fingerprint
    assert load_dataset(tmp_path).fingerprint == ds.fingerprint  # a folder holding the csv


def test_train_test_folder_layout_puts_both_test_splits_in_test(tmp_path):
    for split, folder in [("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")]:
        for label_dir in (MINI / split).iterdir():
            target = tmp_path / folder / label_dir.name.lower()
            target.mkdir(parents=True, exist_ok=True)
            for f in label_dir.iterdir():
                shutil.copy(f, target / f.name)
    ds = load_dataset(tmp_path)
    assert ds.layout == "train/test folders"
    assert ds.split_names() == ["Training", "Test"]
    assert (ds.splits == "Test").sum() == 84


def test_fingerprint_changes_with_one_pixel(mini_dataset, tmp_path):
    path = write_csv(tmp_path / "fer2013.csv", mini_dataset)
    text = path.read_text().splitlines()
    emotion, pixels, usage = text[1].split(",")
    values = pixels.split()
    values[0] = str((int(values[0]) + 1) % 256)
    text[1] = ",".join([emotion, " ".join(values), usage])
    path.write_text("\n".join(text) + "\n")
    assert load_dataset(path).fingerprint != mini_dataset.fingerprint


def _corrupt_csv(tmp_path, mini_dataset, line, field, value):
    path = write_csv(tmp_path / "fer2013.csv", mini_dataset)
    lines = path.read_text().splitlines()
    fields = lines[line - 1].split(",")
    fields[field] = value
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "field, value, message",
    [
        (1, "1 2 3", r"fer2013.csv, line 5: 3 pixel values, expected 2304"),
        (1, " ".join(["7"] * 2303 + ["x"]), r"line 5: pixels contain a non-integer"),
        (1, " ".join(["300"] * 2304), r"line 5: pixel values must lie in 0..255"),
        (0, "9", r"line 5: emotion 9 is outside 0..6"),
        (0, "sad", r"line 5: emotion 'sad' is not an integer"),
        (2, "Validation", r"line 5: Usage 'Validation' is not one of"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path, mini_dataset, field, value, message):
    path = _corrupt_csv(tmp_path, mini_dataset, 5, field, value)
    with pytest.raises(FerBenchError, match=message):
        load_dataset(path)


def test_csv_with_a_missing_column(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,Usage\n0,Training\n")
    with pytest.raises(FerBenchError, match="missing column"):
        load_dataset(tmp_path / "fer2013.csv")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nope", "data path does not exist"),
        (lambda p: p, "is not a FER2013 data set"),
        (lambda p: (p / "Training" / "Angry").mkdir(parents=True) or p, "no images found"),
    ],
)
def test_missing_or_empty_or_foreign_data_paths(tmp_path, make, message):
    with pytest.raises(FerBenchError, match=message):
        load_dataset(make(tmp_path))


def test_no_data_path_at_all():
    with pytest.raises(FerBenchError, match="--data"):
        load_dataset(None)


def test_an_unreadable_image_is_named(mini_copy):
    bad = next((mini_copy / "PrivateTest" / "Fear").iterdir())
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(FerBenchError, match=f"{bad.name}: not a readable image"):
        load_dataset(mini_copy)


def test_a_truncated_image_is_refused_even_after_face_recognition_was_imported(mini_copy):
    import face_recognition  # noqa: F401  (it sets Pillow's LOAD_TRUNCATED_IMAGES on import)

    from fer_bench.data.loaders import read_gray

    bad = next((mini_copy / "PrivateTest" / "Fear").iterdir())
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    with pytest.raises(FerBenchError, match=f"{bad.name}: not a readable image"):
        read_gray(bad)


def test_colour_and_large_images_are_converted(mini_copy):
    from PIL import Image

    target = next((mini_copy / "Training" / "Happy").iterdir())
    Image.open(target).convert("RGB").resize((96, 96)).save(target)
    ds = load_dataset(mini_copy)
    assert ds.images.shape[1:] == (48, 48)


def test_the_label_space_travels_with_the_data_and_names_its_identity(mini_dataset):
    renamed = Dataset(*(getattr(mini_dataset, f) for f in ("source", "layout", "images", "labels", "splits", "ids")),
                      classes=tuple(name.lower() for name in FER2013_CLASSES))  # fmt: skip
    assert renamed.classes[3] == "happy" and renamed.fingerprint != mini_dataset.fingerprint
    with pytest.raises(FerBenchError, match="1 classes; fer-bench handles 2 to 36"):
        Dataset("x", "y", mini_dataset.images, mini_dataset.labels * 0, mini_dataset.splits, mini_dataset.ids, ("one",))
