"""Loaders for the three layouts users bring; each returns a validated `Dataset`.

- usage folders: `<root>/<Usage>/<Label>/<row>.jpg` (Training, PublicTest, PrivateTest)
- train/test folders: `<root>/train/<label>/*` and `<root>/test/<label>/*`; its `Test` split is
  Kaggle's PublicTest and PrivateTest together
- csv: Kaggle's `fer2013.csv` (emotion,pixels,Usage) or `icml_face_data.csv` (emotion, Usage, pixels)

Decoding FER2013's 35,887 JPEGs (or parsing its csv) takes seconds that every command would pay
again: given a cache (fer_bench.parts.cache.ArrayCache, which the caller passes, as this layer
imports no other), the decoded arrays are kept in it, one entry per data folder or csv, and reused
while its files are unchanged (`_files_digest`). A damaged or stale entry is reported in one line
and decoded again. A labelled collection of the user's own (collection.py) is not kept: evaluate
reads each of its images at its own size to find the faces, so there is nothing decoded to keep.
"""

import csv
import functools
import hashlib
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageFile, UnidentifiedImageError

from fer_bench.data.dataset import FER2013_CLASSES, IMAGE_SIZE, SPLITS, TRAIN_SPLIT, Dataset
from fer_bench.errors import FerBenchError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff"}
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
TRAIN_TEST_SPLITS = {"train": "Training", "test": "Test"}
MAX_PIXELS = 256_000_000  # read up to this (Pillow's own limit is 179 M); refused beyond twice it
_LABEL_CODES = {name.lower(): code for code, name in enumerate(FER2013_CLASSES)}
# Bump when what read_image or the csv parser makes of a file changes: the decoded arrays kept in a
# cache then go stale and are decoded again.
DECODING_VERSION = 1
log = logging.getLogger("fer_bench")


def load_dataset(path, cache=None) -> Dataset:
    """The data set at `path`; `cache` (an ArrayCache) keeps its decoded images for later loads."""
    if path is None or str(path) == "":
        raise FerBenchError("no data path: pass --data PATH or set FER_BENCH_DATA")
    root = Path(path).expanduser()
    if not root.exists():
        raise FerBenchError(f"data path does not exist: {root}")
    load = _loader(root)
    if load is None:
        raise FerBenchError(
            f"{root} is not a FER2013 data set: expected Training/PublicTest/PrivateTest folders, "
            f"train/ and test/ folders, or one of {', '.join(CSV_NAMES)}"
        )
    return load(cache)


def is_fer2013(path) -> bool:
    """Whether `path` is in one of the three FER2013 layouts."""
    return Path(path).expanduser().exists() and _loader(Path(path).expanduser()) is not None


def _loader(root: Path):
    """The loader of `root`'s layout, or None."""
    if root.is_file():
        return functools.partial(load_csv, root)
    for name in CSV_NAMES:
        if (root / name).is_file():
            return functools.partial(load_csv, root / name)
    children = {p.name for p in root.iterdir() if p.is_dir()}
    if any(s in children for s in SPLITS):
        return functools.partial(_load_folders, root, "usage folders", {s: s for s in SPLITS if s in children})
    lowered = {c.lower(): c for c in children}
    if "train" in lowered and "test" in lowered:
        mapping = {lowered[k]: v for k, v in TRAIN_TEST_SPLITS.items()}
        return functools.partial(_load_folders, root, "train/test folders", mapping)
    return None


def read_gray(path, max_side=None) -> Image.Image:
    """One image file of any size as 8-bit grayscale (read_scaled)."""
    return read_scaled(path, max_side)[0]


def read_scaled(path, max_side=None) -> tuple[Image.Image, tuple]:
    """(the image as 8-bit grayscale, its size as stored) of one image file of any size; colour and
    16-bit images are converted.

    16-bit values are scaled from 0..65535 to 0..255, so a picture keeps its brightness whatever
    its bit depth; Pillow reads some 16-bit formats (PGM) as 32-bit mode `I` on the 16-bit scale.
    Floating-point images and values beyond 16 bits have no such scale and are refused, and so is a
    truncated file, also in a process where face_recognition (which turns Pillow's
    LOAD_TRUNCATED_IMAGES on when imported) was imported first. With `max_side`, a larger image
    comes back scaled to it (a JPEG is decoded at the reduced size directly). A phone's 200-megapixel
    photo is read; Pillow refuses one beyond twice MAX_PIXELS as a decompression bomb. The stored
    size is read in the same opening, under the same limit, so a caller need not open it again.
    """
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with raised_pixel_limit(), Image.open(path) as image:
            stored_size = image.size
            if max_side and max(image.size) > max_side:
                image.draft("L", _fitted(image.size, max_side))
            image.load()
            if image.mode.startswith("I"):
                gray = _sixteen_bit_to_gray(np.asarray(image), path)
            elif image.mode == "F":
                raise FerBenchError(f"{path}: floating-point images are not supported; save it as 8- or 16-bit")
            else:
                gray = image.convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise FerBenchError(f"{path}: not a readable image ({error})") from None
    if max_side and max(gray.size) > max_side:
        gray = gray.resize(_fitted(gray.size, max_side), Image.Resampling.BILINEAR)
    return gray, stored_size


@contextmanager
def raised_pixel_limit():
    """Pillow's decompression-bomb limit raised to MAX_PIXELS for the block, and its warning below
    that limit off: fer-bench reads photos of up to MAX_PIXELS on purpose."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _fitted(size, max_side):
    scale = max_side / max(size)
    return tuple(max(1, round(v * scale)) for v in size)


def _sixteen_bit_to_gray(array, path) -> Image.Image:
    if array.min() < 0 or array.max() > 65535:
        raise FerBenchError(f"{path}: pixel values outside 0..65535; only 8- and 16-bit images are supported")
    return Image.fromarray(np.rint(array / 257).astype(np.uint8))


def read_image(path) -> np.ndarray:
    """One image file as a 48x48 uint8 grayscale array."""
    gray = read_gray(path)
    if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
        gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.uint8)


def _load_folders(root: Path, layout: str, split_dirs: dict, cache=None) -> Dataset:
    files, labels, splits = [], [], []
    for dir_name, split in split_dirs.items():
        for label_dir in sorted(p for p in (root / dir_name).iterdir() if p.is_dir()):
            code = _LABEL_CODES.get(label_dir.name.lower())
            if code is None:
                expected = ", ".join(FER2013_CLASSES)
                raise FerBenchError(f"{label_dir}: unknown emotion folder (expected one of {expected})")
            for file in sorted(label_dir.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(file)
                    labels.append(code)
                    splits.append(split)
    if not files:
        raise FerBenchError(f"{root}: no images found under {', '.join(split_dirs)}")
    _check_splits(root, splits, split_dirs.values())
    images = _decoded(cache, root, files, lambda: {"images": np.stack([read_image(f) for f in files])})["images"]
    ids = np.array([str(f.relative_to(root)) for f in files])
    rows = np.array([int(f.stem) for f in files]) if all(f.stem.isdigit() for f in files) else None
    return Dataset(str(root), layout, images, np.array(labels), np.array(splits), ids, rows=rows)


def load_csv(path: Path, cache=None) -> Dataset:
    parsed = _decoded(cache, path, [path], functools.partial(_parse_csv, path))
    ids = parsed["ids"]
    rows = np.array([int(i.removeprefix("row ")) for i in ids])  # Kaggle's csv: its data row, from 0
    return Dataset(str(path), "csv", parsed["images"], parsed["labels"], parsed["splits"], ids, rows=rows)


def _parse_csv(path: Path) -> dict:
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
        reader = csv.reader(handle)
        try:
            images, labels, splits, ids = _read_csv_rows(path, reader)
        except UnicodeDecodeError:
            raise FerBenchError(f"{path}: not UTF-8 text, so not a FER2013 csv") from None
        except csv.Error as error:
            raise FerBenchError(f"{path}, line {reader.line_num}: not a readable csv row ({error})") from None
    if not images:
        raise FerBenchError(f"{path}: no data rows")
    _check_splits(path, splits, {TRAIN_SPLIT})
    return {"images": np.stack(images), "labels": np.array(labels), "splits": np.array(splits), "ids": np.array(ids)}


def _decoded(cache, source: Path, files, decode) -> dict:
    """`decode()`'s arrays of `files` (in or at `source`, a data folder or csv), kept in `cache` (None:
    decoded every time) in one entry per `source`, reused while its files are unchanged."""
    if cache is None:
        return decode()
    where = str(source.resolve())
    key = "decoded-" + hashlib.sha256(where.encode()).hexdigest()[:16]
    inputs = {
        "decoded": where,
        "files": _files_digest(source, files),
        "decoding": DECODING_VERSION,
        "pillow": PIL.__version__,
    }
    kept = cache.load(key, inputs)
    if kept is not None:
        return kept
    arrays = decode()
    try:
        cache.save(key, arrays, inputs)
    except OSError as error:  # a cache that cannot be written: the data set is loaded all the same
        log.warning(f"the decoded images of {where} cannot be kept in {cache.root} ({error.strerror})")
    return arrays


def _files_digest(source: Path, files) -> str:
    """What the decoded arrays of `files` depend on, read without opening them: each file's path in
    `source`, size, and modification and status-change times. The data set's fingerprint hashes the
    decoded pixels, so it cannot key their cache without decoding them; these do instead, as make's
    and rsync's do. Rewriting a file sets both times, and no one can set a ctime back (setting an
    mtime back changes the ctime), so a changed image changes this even where its size and mtime were
    kept; a file added, removed or renamed changes the listing."""
    digest = hashlib.sha256()
    for file in files:
        info = file.stat()
        digest.update(f"{file.relative_to(source)}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _read_csv_rows(path, reader):
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FerBenchError(f"{path}: empty csv file") from None
    missing = [c for c in ("emotion", "pixels", "usage") if c not in header]
    if missing:
        raise FerBenchError(f"{path}: missing column(s) {', '.join(missing)} in header")
    col = {name: header.index(name) for name in ("emotion", "pixels", "usage")}
    images, labels, splits, ids = [], [], [], []
    for number, row in enumerate(reader):
        if not row:
            continue
        where = f"{path}, line {reader.line_num}"
        if len(row) != len(header):
            raise FerBenchError(f"{where}: {len(row)} fields, expected {len(header)}")
        labels.append(_parse_label(row[col["emotion"]], where))
        images.append(_parse_pixels(row[col["pixels"]], where))
        splits.append(_parse_usage(row[col["usage"]], where))
        ids.append(f"row {number}")
    return images, labels, splits, ids


def _parse_label(text, where):
    try:
        code = int(text.strip())
    except ValueError:
        raise FerBenchError(f"{where}: emotion {text!r} is not an integer") from None
    if not 0 <= code < len(FER2013_CLASSES):
        raise FerBenchError(f"{where}: emotion {code} is outside 0..{len(FER2013_CLASSES) - 1}")
    return code


def _parse_pixels(text, where):
    values = text.split()
    if len(values) != IMAGE_SIZE * IMAGE_SIZE:
        raise FerBenchError(f"{where}: {len(values)} pixel values, expected {IMAGE_SIZE * IMAGE_SIZE}")
    try:
        pixels = np.array(values, dtype=np.int64)
    except (ValueError, OverflowError):
        raise FerBenchError(f"{where}: pixels contain a non-integer value") from None
    if pixels.min() < 0 or pixels.max() > 255:
        raise FerBenchError(f"{where}: pixel values must lie in 0..255")
    return pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def _parse_usage(text, where):
    usage = text.strip()
    if usage not in SPLITS:
        raise FerBenchError(f"{where}: Usage {usage!r} is not one of {', '.join(SPLITS)}")
    return usage


def _check_splits(where, splits, required):
    """Each `required` split has images, and there are test images besides Training's."""
    present = set(splits)
    for split in required:
        if split not in present:
            raise FerBenchError(f"{where}: split {split} has no images")
    if present == {TRAIN_SPLIT}:
        raise FerBenchError(f"{where}: no test images (only {TRAIN_SPLIT})")
