import io
import logging
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from fer_bench.data import FER2013_CLASSES, Dataset, load_dataset, loaders
from fer_bench.errors import FerBenchError
from fer_bench.parts.cache import ArrayCache

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


def write_train_test_folders(root):
    """The fixture as train/ and test/ folders of lower-case label folders."""
    for split, folder in [("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")]:
        for label_dir in (MINI / split).iterdir():
            target = root / folder / label_dir.name.lower()
            target.mkdir(parents=True, exist_ok=True)
            for f in label_dir.iterdir():
                shutil.copy(f, target / f.name)
    return root


def test_train_test_folder_layout_puts_both_test_splits_in_test(tmp_path):
    ds = load_dataset(write_train_test_folders(tmp_path))
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
    renamed = Dataset(
        *(getattr(mini_dataset, f) for f in ("source", "layout", "images", "labels", "splits", "ids")),
        classes=tuple(name.lower() for name in FER2013_CLASSES),
    )
    assert renamed.classes[3] == "happy" and renamed.fingerprint != mini_dataset.fingerprint
    with pytest.raises(FerBenchError, match="1 classes; fer-bench handles 2 to 36"):
        Dataset("x", "y", mini_dataset.images, mini_dataset.labels * 0, mini_dataset.splits, mini_dataset.ids, ("one",))


# --- decoded images kept in the cache ------------------------------------------------------------


@pytest.fixture(params=["usage folders", "train/test folders", "csv"])
def layout_copy(request, tmp_path, mini_copy, mini_dataset):
    """The fixture in a layout of its own, in a folder of its own."""
    if request.param == "usage folders":
        return mini_copy
    if request.param == "csv":
        (tmp_path / "kaggle").mkdir()
        return write_csv(tmp_path / "kaggle" / "fer2013.csv", mini_dataset)
    return write_train_test_folders(tmp_path / "train-test")


@pytest.fixture
def decodings(monkeypatch):
    """The files the loader decodes (images read, csv files parsed), as it decodes them."""
    done, read_image, read_csv_rows = [], loaders.read_image, loaders._read_csv_rows
    monkeypatch.setattr(loaders, "read_image", lambda path: done.append(path) or read_image(path))
    monkeypatch.setattr(loaders, "_read_csv_rows", lambda path, rows: done.append(path) or read_csv_rows(path, rows))
    return done


def assert_same_dataset(found, expected):
    assert (found.source, found.layout, found.fingerprint) == (expected.source, expected.layout, expected.fingerprint)
    for name in ("images", "labels", "splits", "ids", "rows"):
        np.testing.assert_array_equal(getattr(found, name), getattr(expected, name))


def test_decoded_images_are_kept_and_reused_by_the_next_load(layout_copy, tmp_path, decodings):
    cache = ArrayCache(tmp_path / "cache")
    first = load_dataset(layout_copy, cache)
    assert decodings
    decodings.clear()
    again = load_dataset(layout_copy, cache)
    assert decodings == []  # no JPEG decoded, no csv parsed
    assert_same_dataset(again, first)
    assert_same_dataset(again, load_dataset(layout_copy))  # as without a cache
    assert [e.problem for e in cache.entries()] == [None]


def test_a_damaged_decoded_entry_is_reported_and_decoded_again(mini_copy, tmp_path, decodings, caplog):
    cache = ArrayCache(tmp_path / "cache")
    first = load_dataset(mini_copy, cache)
    entry = next(cache.root.glob("decoded-*.npz"))
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    decodings.clear()
    with caplog.at_level(logging.WARNING, logger="fer_bench"):
        again = load_dataset(mini_copy, cache)
    assert [r.message.split(" (")[0] for r in caplog.records] == [f"cache entry {entry} is damaged"]
    assert len(decodings) == len(first)
    assert_same_dataset(again, first)
    decodings.clear()
    load_dataset(mini_copy, cache)
    assert decodings == []


def _rewrite_keeping_size_and_mtime(path):
    """Give a JPEG other pixels at its very size and modification time: only its ctime tells."""
    info = path.stat()
    inverted = Image.fromarray(255 - np.asarray(Image.open(path)))
    for quality in range(95, 0, -10):
        encoded = io.BytesIO()
        inverted.save(encoded, "JPEG", quality=quality)
        if encoded.tell() <= info.st_size:
            break
    path.write_bytes(encoded.getvalue().ljust(info.st_size, b"\0"))  # a decoder stops at the end-of-image marker
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)


def test_a_changed_image_makes_the_decoded_entry_stale(mini_copy, tmp_path, decodings, caplog):
    cache = ArrayCache(tmp_path / "cache")
    first = load_dataset(mini_copy, cache)
    changed = sorted((mini_copy / "PrivateTest" / "Fear").iterdir())[0]
    _rewrite_keeping_size_and_mtime(changed)
    decodings.clear()
    with caplog.at_level(logging.WARNING, logger="fer_bench"):
        again = load_dataset(mini_copy, cache)
    assert len(caplog.records) == 1 and "is stale (made from other files); recomputing" in caplog.text
    assert decodings and again.fingerprint != first.fingerprint
    row = list(again.ids).index(str(changed.relative_to(mini_copy)))
    np.testing.assert_array_equal(again.images[row], loaders.read_image(changed))
    assert_same_dataset(again, load_dataset(mini_copy))
    assert len(list(cache.root.glob("decoded-*.npz"))) == 1  # replaced, not kept beside
