"""Bad input: one line naming the file, row, option or parameter, exit status 2, nothing recorded or lost.

Each case in `CASES` builds one bad input in a fresh folder (data, experiments, a results folder that
already holds a record) and runs the command line on it; the whole folder must come out unchanged.
"""

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_bench.cli import main
from fer_bench.data import SPLITS, load_dataset
from fer_bench.data.loaders import read_image
from fer_bench.testing import example_record

from conftest import GRID_RULE, SEARCH_RULE

PIXELS = " ".join(str(i % 256) for i in range(48 * 48))
SEEDED_RECORD = example_record("abc123def456", "earlier").to_dict()
VALID_EXPERIMENT = '[features]\nname = "pixels"\n[model]\nname = "logreg"\n'
VALID_SEARCH = 'base = "valid"\n' + SEARCH_RULE + "[space.model]\nC = true\n"
STORAGE_PASSWORD = "secret"


@dataclass
class World:
    """A folder holding everything a command may touch: data, experiment files, results."""

    root: Path
    read_only: list = field(default_factory=list)

    @property
    def experiments(self):
        return self.root / "experiments"

    @property
    def results(self):
        return self.root / "results"

    def file(self, relative, content):
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def csv(self, *rows, header="emotion,pixels,Usage"):
        """A csv whose first rows are valid (Training, PublicTest), then `rows` from line 4 on."""
        lines = [header, f"0,{PIXELS},Training", f"1,{PIXELS},PublicTest", *rows]
        return self.file("data/fer2013.csv", "\n".join(lines) + "\n")

    def folders(self, bad_name=None, bad=None, empty_split=None):
        """A usage-folders data set, one image a split (none in `empty_split`), plus `bad` at data/`bad_name`."""
        for split in SPLITS:
            folder = self.root / "data" / split / "Happy"
            folder.mkdir(parents=True)
            if split != empty_split:
                Image.fromarray(np.full((48, 48), 100, np.uint8)).save(folder / "a.png")
        if isinstance(bad, Image.Image):
            bad.save(self.file(f"data/{bad_name}", b""))
        elif bad_name:
            self.file(f"data/{bad_name}", bad)
        return self.root / "data"

    def folder(self, relative):
        path = self.root / relative
        path.mkdir(parents=True)
        return path

    def make_read_only(self, path):
        self.read_only.append(path)
        path.chmod(0o555 if path.is_dir() else 0o444)


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path)
    world.file("experiments/valid.toml", VALID_EXPERIMENT)
    world.file("experiments/searches/valid.toml", VALID_SEARCH)
    world.file("results/runs.jsonl", json.dumps(SEEDED_RECORD) + "\n")
    monkeypatch.setenv("FER_BENCH_EXPERIMENTS", str(world.experiments))
    yield world
    for path in world.read_only:
        path.chmod(0o755)


def snapshot(root):
    """Every file's bytes and every folder under `root`."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def truncated_jpeg():
    buffer = BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def float_image():
    return Image.fromarray(np.full((48, 48), 0.5, np.float32))


def int32_image():
    return Image.fromarray(np.full((48, 48), 70_000, np.int32))


def png_header(width, height):
    """A PNG that claims `width` x `height` pixels and holds none: what a decompression bomb looks like."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def run_on(data):
    return ["run", "valid", "--data", data]


def run_experiment(world, name, text):
    world.file(f"experiments/{name}.toml", text)
    return ["run", name, "--data", world.csv()]


def grid(world, text, data=None):
    world.file("experiments/grids/bad.toml", text)
    return ["grid", "bad", "--data", data or world.csv()]


def search(world, text):
    world.file("experiments/searches/bad.toml", text)
    return ["tune", "bad", "--data", world.csv()]


def results_at(world, results):
    return ["run", "valid", "--data", world.csv(), "--results", results]


def read_only_results(world, records_too):
    if os.geteuid() == 0:
        pytest.skip("root writes through read-only permissions; the regular-file cases cover root")
    if records_too:
        world.make_read_only(world.results / "runs.jsonl")
    world.make_read_only(world.results)
    return results_at(world, world.results)


def regular_file_as_results(world):
    world.file("a-file", "not a folder")
    return results_at(world, world.root / "a-file")


def results_under_a_file(world):
    world.file("a-file", "not a folder")
    return results_at(world, world.root / "a-file" / "results")


def records_file_is_a_folder(world):
    (world.root / "other-results" / "runs.jsonl").mkdir(parents=True)
    return results_at(world, world.root / "other-results")


BASE = 'base = "valid"\n'
GRID_BASE, SEARCH_BASE = BASE + GRID_RULE, BASE + SEARCH_RULE
PRODUCT = "[[product]]\n"

# id: (build the command line in `world`, fragments the one error line must hold)
CASES = {
    # the data path
    "data-path-missing": (lambda w: run_on(w.root / "nowhere"), ["data path does not exist", "nowhere"]),
    "data-path-not-given": (lambda w: run_on(""), ["no data path", "--data"]),
    "data-path-missing-for-a-grid": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "model.C = [1.0, 2.0]\n", data=w.root / "nowhere"),
        ["data path does not exist"],
    ),
    "data-path-missing-for-a-search": (
        lambda w: ["tune", "valid", "--data", w.root / "nowhere"],  # its study is not made in results/searches
        ["data path does not exist"],
    ),
    "data-path-empty-folder": (lambda w: run_on(w.folder("data")), ["data is not a FER2013 data set"]),
    "data-path-foreign-folder": (
        lambda w: run_on(w.file("data/holiday/beach.jpg", b"").parent.parent),
        ["data is not a FER2013 data set"],
    ),
    "data-path-an-image-not-a-csv": (
        lambda w: run_on(w.file("photo.jpg", truncated_jpeg())),
        ["photo.jpg: not UTF-8 text"],
    ),
    "data-path-a-text-file-not-a-csv": (
        lambda w: run_on(w.file("notes.txt", "dear diary\n")),
        ["notes.txt: missing column(s) emotion, pixels, usage"],
    ),
    "folders-without-images": (
        lambda w: run_on(w.folder("data/Training/Angry").parent.parent),
        ["no images found under Training"],
    ),
    "folders-unknown-emotion": (
        lambda w: run_on(w.folders("Training/Joy/a.png", b"")),
        ["Training/Joy: unknown emotion folder"],
    ),
    "folders-empty-test-split": (
        lambda w: run_on(w.folders(empty_split="PrivateTest")),
        ["data: split PrivateTest has no images"],
    ),
    "folders-empty-training-split": (
        lambda w: run_on(w.folders(empty_split="Training")),
        ["data: split Training has no images"],
    ),
    # the csv
    "csv-empty-file": (lambda w: run_on(w.file("data/fer2013.csv", "")), ["fer2013.csv: empty csv file"]),
    "csv-header-only": (
        lambda w: run_on(w.file("data/fer2013.csv", "emotion,pixels,Usage\n")),
        ["fer2013.csv: no data rows"],
    ),
    "csv-missing-column": (
        lambda w: run_on(w.csv(header="emotion,pixels")),
        ["fer2013.csv: missing column(s) usage"],
    ),
    "csv-pixels-too-few": (lambda w: run_on(w.csv("0,1 2 3,PrivateTest")), ["line 4: 3 pixel values"]),
    "csv-pixels-too-many": (lambda w: run_on(w.csv(f"0,{PIXELS} 7,PrivateTest")), ["line 4: 2305 pixel"]),
    "csv-pixels-not-numbers": (
        lambda w: run_on(w.csv(f"0,{PIXELS[:-3]} 1x,PrivateTest")),
        ["line 4: pixels contain a non-integer"],
    ),
    "csv-pixels-overflow": (
        lambda w: run_on(w.csv(f"0,{PIXELS[:-3]} {10**20},PrivateTest")),
        ["line 4: pixels contain a non-integer"],
    ),
    "csv-pixels-above-255": (
        lambda w: run_on(w.csv(f"0,{PIXELS[:-3]} 256,PrivateTest")),
        ["line 4: pixel values must lie in 0..255"],
    ),
    "csv-label-7": (lambda w: run_on(w.csv(f"7,{PIXELS},PrivateTest")), ["line 4: emotion 7 is outside 0..6"]),
    "csv-label-negative": (lambda w: run_on(w.csv(f"-1,{PIXELS},PrivateTest")), ["line 4: emotion -1"]),
    "csv-label-a-word": (lambda w: run_on(w.csv(f"happy,{PIXELS},PrivateTest")), ["line 4: emotion 'happy'"]),
    "csv-unknown-usage": (
        lambda w: run_on(w.csv(f"3,{PIXELS},Validation")),
        ["line 4: Usage 'Validation' is not one of"],
    ),
    "csv-row-missing-a-field": (lambda w: run_on(w.csv(f"3,{PIXELS}")), ["line 4: 2 fields, expected 3"]),
    "csv-row-with-an-extra-field": (
        lambda w: run_on(w.csv(f"3,{PIXELS},PrivateTest,oops")),
        ["line 4: 4 fields, expected 3"],
    ),
    "csv-no-training-rows": (
        lambda w: run_on(w.file("data/fer2013.csv", f"emotion,pixels,Usage\n0,{PIXELS},PublicTest\n")),
        ["fer2013.csv: split Training has no images"],
    ),
    "csv-no-test-rows": (
        lambda w: run_on(w.file("data/fer2013.csv", f"emotion,pixels,Usage\n0,{PIXELS},Training\n")),
        ["fer2013.csv: no test images"],
    ),
    "csv-not-utf8": (
        lambda w: run_on(w.file("data/fer2013.csv", "emotion,pixels,Usage\nTräining".encode("latin-1"))),
        ["fer2013.csv: not UTF-8 text"],
    ),
    "csv-field-beyond-the-csv-limit": (
        lambda w: run_on(w.csv("0," + "1 " * 70_000 + ",PrivateTest")),
        ["fer2013.csv, line 4: not a readable csv row (field larger than field limit"],
    ),
    # image files
    "image-truncated-jpg": (
        lambda w: run_on(w.folders("PrivateTest/Fear/cut.jpg", truncated_jpeg())),
        ["Fear/cut.jpg: not a readable image"],
    ),
    "image-text-named-jpg": (
        lambda w: run_on(w.folders("PrivateTest/Fear/text.jpg", b"not a jpeg")),
        ["Fear/text.jpg: not a readable image"],
    ),
    "image-empty-jpg": (
        lambda w: run_on(w.folders("PrivateTest/Fear/empty.jpg", b"")),
        ["Fear/empty.jpg: not a readable image"],
    ),
    "image-decompression-bomb": (
        lambda w: run_on(w.folders("PrivateTest/Fear/huge.png", png_header(30_000, 30_000))),
        ["Fear/huge.png: not a readable image"],
    ),
    "image-floating-point": (
        lambda w: run_on(w.folders("PrivateTest/Fear/f.tif", float_image())),
        ["Fear/f.tif: floating-point images are not supported"],
    ),
    "image-32-bit-values": (
        lambda w: run_on(w.folders("PrivateTest/Fear/i.tif", int32_image())),
        ["Fear/i.tif: pixel values outside 0..65535"],
    ),
    # experiment files
    "experiment-syntax-error": (lambda w: run_experiment(w, "bad", "[model\nname = 'svm'"), ["bad.toml: not valid"]),
    "experiment-not-utf8": (lambda w: run_experiment(w, "bad", b"seed = 1 # \xff\n"), ["bad.toml: not valid TOML"]),
    "experiment-unknown-key": (
        lambda w: run_experiment(w, "bad", "modell = 1\n" + VALID_EXPERIMENT),
        ["bad.toml: unknown key 'modell'"],
    ),
    "experiment-unknown-part": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT.replace("logreg", "logregg")),
        ["bad.toml: unknown model 'logregg'"],
    ),
    "experiment-misspelled-parameter": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT + "CC = 1.0\n"),
        ["bad.toml: model/logreg: unknown parameter 'CC'"],
    ),
    "experiment-mistyped-parameter": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT + 'max_iter = "many"\n'),
        ["bad.toml: model/logreg: parameter 'max_iter' must be int"],
    ),
    "experiment-value-out-of-range": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT + "C = -1.0\n"),
        ["bad.toml: model/logreg: parameter 'C' must be > 0, got -1.0"],
    ),
    "experiment-value-nan": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT + "C = nan\n"),
        ["bad.toml: model/logreg: parameter 'C' must be a finite number"],
    ),
    "experiment-value-infinite": (
        lambda w: run_experiment(w, "bad", VALID_EXPERIMENT + "C = inf\n"),
        ["bad.toml: model/logreg: parameter 'C' must be a finite number"],
    ),
    "experiment-not-a-choice": (
        lambda w: run_experiment(
            w, "bad", '[features]\nname = "pixels-embedding"\nprotocol = "often"\n[model]\nname = "svm"\n'
        ),
        ["bad.toml: features/pixels-embedding: parameter 'protocol' must be one of"],
    ),
    "experiment-without-model": (
        lambda w: run_experiment(w, "bad", '[features]\nname = "pixels"\n'),
        ["bad.toml: [model] needs a table"],
    ),
    "experiment-negative-seed": (
        lambda w: run_experiment(w, "bad", "seed = -1\n" + VALID_EXPERIMENT),
        ["bad.toml: seed must be an integer in 0..4294967295"],
    ),
    "experiment-seed-too-large": (
        lambda w: run_experiment(w, "bad", "seed = 4294967296\n" + VALID_EXPERIMENT),
        ["bad.toml: seed must be an integer in 0..4294967295"],
    ),
    "experiment-training-as-test-split": (
        lambda w: run_experiment(w, "bad", 'test_splits = ["Training"]\n' + VALID_EXPERIMENT),
        ["bad.toml: test_splits must be a list of distinct splits from"],
    ),
    "experiment-unknown-name": (lambda w: ["run", "nope", "--data", w.csv()], ["unknown experiment 'nope'"]),
    "experiment-path-missing": (
        lambda w: ["run", w.root / "gone.toml", "--data", w.csv()],
        ["experiment file not found", "gone.toml"],
    ),
    # grid files
    "grid-syntax-error": (lambda w: grid(w, GRID_BASE + "[[product]\n"), ["bad.toml: not valid TOML"]),
    "grid-unknown-key": (lambda w: grid(w, GRID_BASE + "seed = [1]\n" + PRODUCT), ["bad.toml: unknown key 'seed'"]),
    "grid-unknown-base": (
        lambda w: grid(w, 'base = "nope"\n' + GRID_RULE + PRODUCT),
        ["bad.toml: base: unknown experiment"],
    ),
    "grid-without-a-rule": (
        lambda w: grid(w, BASE + PRODUCT + "model.C = [1.0, 2.0]\n"),
        ["bad.toml: choose: declare the split and metric this file chooses on"],
    ),
    "grid-rule-on-privatetest": (
        lambda w: grid(w, BASE + 'choose = {split = "PrivateTest", metric = "accuracy_all"}\n' + PRODUCT),
        ["bad.toml: choose.split: PrivateTest is the test split the boards report"],
    ),
    "grid-without-product": (lambda w: grid(w, GRID_BASE), ["bad.toml: needs at least one [[product]] table"]),
    "grid-product-not-a-table": (
        lambda w: grid(w, GRID_BASE + "product = [1, 2]\n"),
        ["bad.toml: needs at least one [[product]] table"],
    ),
    "grid-unknown-kind": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "loss.name = ['x']\n"),
        ["bad.toml, product 1: unknown key 'loss'"],
    ),
    "grid-unknown-part": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "model.name = ['svm', 'nope']\n"),
        ["bad.toml, product 1: unknown model 'nope'"],
    ),
    "grid-misspelled-parameter": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "model.CC = [1.0]\n"),
        ["bad.toml, product 1: model/logreg: unknown parameter 'CC'"],
    ),
    "grid-mistyped-parameter": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "model.C = ['big']\n"),
        ["bad.toml, product 1: model/logreg: parameter 'C' must be float"],
    ),
    "grid-value-out-of-range": (
        lambda w: grid(w, GRID_BASE + PRODUCT + "model.C = [1.0, -1.0]\n"),
        ["bad.toml, product 1: model/logreg: parameter 'C' must be > 0, got -1.0"],
    ),
    "grid-no-values": (lambda w: grid(w, GRID_BASE + PRODUCT + "model.C = []\n"), ["model.C has no values"]),
    "grid-negative-seed": (
        lambda w: grid(w, GRID_BASE + "seeds = [0, -1]\n" + PRODUCT),
        ["bad.toml: `seeds` must be a non-empty list of integers"],
    ),
    # search files
    "search-syntax-error": (lambda w: search(w, SEARCH_BASE + "[space.model\n"), ["bad.toml: not valid TOML"]),
    "search-unknown-key": (
        lambda w: search(w, SEARCH_BASE + "trails = 3\n[space.model]\nC = true\n"),
        ["bad.toml: unknown key 'trails'"],
    ),
    "search-unknown-kind": (lambda w: search(w, SEARCH_BASE + "[space.loss]\nC = true\n"), ["[space.loss]: kind"]),
    "search-parameter-not-tunable": (
        lambda w: search(w, SEARCH_BASE + "[space.model]\nmax_iter = true\n"),
        ["bad.toml: space.model.max_iter: model/logreg does not declare it tunable"],
    ),
    "search-mistyped-bound": (
        lambda w: search(w, SEARCH_BASE + '[space.model]\nC = {low = "tiny", high = 1.0}\n'),
        ["bad.toml: space.model.C: low and high must be numbers"],
    ),
    "search-range-out-of-bounds": (
        lambda w: search(w, SEARCH_BASE + "[space.model]\nC = {low = 0.0001, high = 1.0}\n"),
        ["bad.toml: space.model.C: range must lie within [0.001, 100.0]"],
    ),
    "search-choices-for-a-range": (
        lambda w: search(w, SEARCH_BASE + "[space.model]\nC = {choices = [1.0, 10.0]}\n"),
        ["bad.toml: space.model.C: a range parameter is tuned with {low = .., high = .., log = ..}"],
    ),
    "search-part-choices-not-a-list": (
        lambda w: search(w, SEARCH_BASE + '[space.resampler]\nname = {choices = "smote"}\n'),
        ["bad.toml: space.resampler.name: a part's name is tuned with"],
    ),
    "search-unknown-part-choice": (
        lambda w: search(w, SEARCH_BASE + '[space.model]\nname = {choices = ["svm", "nope"]}\n'),
        ["bad.toml: space.model.name: unknown model 'nope'"],
    ),
    "search-unknown-metric": (
        lambda w: search(w, BASE + 'choose = {split = "holdout", metric = "f1"}\n[space.model]\nC = true\n'),
        ["bad.toml: choose.metric must be one of"],
    ),
    "search-holdout-out-of-range": (
        lambda w: search(w, SEARCH_BASE + "holdout = 1.5\n[space.model]\nC = true\n"),
        ["bad.toml: need 0 < holdout < 1"],
    ),
    "search-zero-trials": (
        lambda w: search(w, SEARCH_BASE + "trials = 0\n[space.model]\nC = true\n"),
        ["bad.toml: sampler_seed must be an integer in 0..4294967295 and trials an integer >= 1"],
    ),
    "search-negative-sampler-seed": (
        lambda w: search(w, SEARCH_BASE + "sampler_seed = -1\n[space.model]\nC = true\n"),
        ["bad.toml: sampler_seed must be an integer in 0..4294967295"],
    ),
    # options
    "option-negative-seed": (lambda w: ["run", "valid", "--seed", "-1"], ["argument --seed: must be an integer"]),
    "option-zero-jobs": (lambda w: ["run", "valid", "--jobs", "0"], ["argument --jobs: must be >= 1, got 0"]),
    "option-grid-jobs-not-a-number": (lambda w: ["grid", "x", "--jobs", "two"], ["argument --jobs: invalid"]),
    "option-zero-trials": (lambda w: ["tune", "valid", "--trials", "0"], ["argument --trials: must be >= 1"]),
    "option-unknown": (lambda w: ["run", "valid", "--sed", "1"], ["unrecognized arguments: --sed 1"]),
    "option-unknown-command": (lambda w: ["rn", "valid"], ["argument command: invalid choice: 'rn'"]),
    # storage and results
    "storage-unreachable": (
        lambda w: ["tune", "valid", "--storage", f"postgresql://user:{STORAGE_PASSWORD}@127.0.0.1:1/db"],
        ["storage postgresql://user:***@127.0.0.1:1/db cannot be opened"],
    ),
    "storage-not-a-url": (
        lambda w: ["tune", "valid", "--storage", "somewhere"],
        ["storage somewhere cannot be opened"],
    ),
    "results-folder-read-only": (
        lambda w: read_only_results(w, records_too=False),
        ["results directory", "is not writable"],
    ),
    "results-folder-and-records-read-only": (
        lambda w: read_only_results(w, records_too=True),
        ["results directory", "is not writable"],
    ),
    "results-path-is-a-file": (regular_file_as_results, ["a-file is not writable"]),
    "results-path-under-a-file": (results_under_a_file, ["a-file/results is not writable"]),
    "results-records-file-is-a-folder": (records_file_is_a_folder, ["other-results is not writable"]),
    "import-from-nowhere": (lambda w: ["import", w.root / "nowhere"], ["nowhere/runs.jsonl: no run records"]),
    "show-an-unknown-run": (lambda w: ["show", "nothing-like-this"], ["no recorded run matches 'nothing-like-this'"]),
}


def run_cli(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's usage errors
        return stop.code


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_in_one_line_with_status_2_and_nothing_written(world, capsys, case):
    build, fragments = CASES[case]
    argv = build(world)
    before = snapshot(world.root)
    status = run_cli(argv)
    out, err = capsys.readouterr()
    assert (status, out) == (2, ""), err
    assert len(err.splitlines()) == 1 and err.startswith("fer-bench: error: "), err
    assert all(fragment in err for fragment in fragments), err
    assert STORAGE_PASSWORD not in err
    assert snapshot(world.root) == before


def picture():
    """A 48x48 gradient with every 8-bit value."""
    return (np.arange(48 * 48) % 256).astype(np.uint8).reshape(48, 48)


def sixteen_bit(array):
    return Image.fromarray(array.astype(np.uint16) * 257)


@pytest.mark.parametrize(
    "name, file_format, convert",
    [
        ("gray.png", "PNG", Image.fromarray),
        ("colour.png", "PNG", lambda a: Image.fromarray(np.stack([a] * 3, axis=-1))),
        ("colour-alpha.png", "PNG", lambda a: Image.fromarray(np.stack([a] * 3 + [np.full_like(a, 7)], axis=-1))),
        ("palette.png", "PNG", lambda a: Image.fromarray(a).convert("P")),
        ("sixteen-bit.png", "PNG", sixteen_bit),
        ("sixteen-bit-png-named.jpg", "PNG", sixteen_bit),
        ("sixteen-bit.tif", "TIFF", sixteen_bit),
        ("sixteen-bit.pgm", "PPM", sixteen_bit),  # Pillow reads it back as 32-bit mode I
    ],
)
def test_grayscale_colour_and_16_bit_files_of_one_picture_load_as_the_same_pixels(tmp_path, name, file_format, convert):
    path = tmp_path / name
    convert(picture()).save(path, format=file_format)
    np.testing.assert_array_equal(read_image(path), picture())


def test_a_dim_16_bit_picture_stays_dim(tmp_path):
    path = tmp_path / "dim.png"
    Image.fromarray(np.full((48, 48), 100 * 257, np.uint16)).save(path)
    assert (read_image(path) == 100).all()  # not stretched to the image's own maximum


def test_a_16_bit_image_in_a_data_set_is_scaled_not_clipped(world):
    data = world.folders()
    Image.fromarray(np.full((48, 48), 65535, np.uint16)).save(world.file("data/PrivateTest/Fear/deep.png", b""))
    Image.fromarray(np.full((48, 48), 128 * 257, np.uint16)).save(world.file("data/PrivateTest/Sad/mid.png", b""))
    dataset = load_dataset(data)
    by_id = dict(zip(dataset.ids, dataset.images))
    assert (by_id["PrivateTest/Fear/deep.png"] == 255).all() and (by_id["PrivateTest/Sad/mid.png"] == 128).all()


def test_a_csv_saved_with_a_byte_order_mark_loads(world):
    path = world.csv()
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_dataset(path)) == 2
