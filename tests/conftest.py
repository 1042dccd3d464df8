import fcntl
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

import fer_bench.testing  # noqa: F401  (registers the cheap test parts in this process)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI = FIXTURES / "fer2013-mini"


def _real_data_path():
    path = Path(os.environ.get("FER_BENCH_DATA") or Path(__file__).resolve().parents[1] / "../shared/fer2013")
    return path if (path / "PrivateTest").is_dir() else None


REAL_DATA = _real_data_path()  # read before any test changes the environment


def pytest_collection_modifyitems(items):
    """The long tests first (the slow ones, then the kill loop), so that with one worker per core
    they start at once and the short ones fill in around them rather than wait at the end."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.get_closest_marker("kill") is None))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test reads or writes the user's results or cache by accident; fer-bench processes that a
    test starts know the cheap test parts too."""
    monkeypatch.setenv("FER_BENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("FER_BENCH_EXPERIMENTS", raising=False)
    monkeypatch.setenv("FER_BENCH_DATA", str(MINI))
    monkeypatch.setenv("FER_BENCH_PLUGINS", "fer_bench.testing")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One feature cache for the whole session, shared by the pytest-xdist workers (the cache is
    safe for several processes), so the fixture is embedded once."""
    root = tmp_path_factory.getbasetemp()
    path = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "shared-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def use_shared_cache(monkeypatch, shared_cache):
    monkeypatch.setenv("FER_BENCH_CACHE", str(shared_cache))


@pytest.fixture(scope="session")
def mini_dataset():
    from fer_bench.data import load_dataset

    return load_dataset(MINI)


@pytest.fixture(scope="session")
def mini_embeddings(mini_dataset, shared_cache):
    """(cache, {n_faces, embeddings}) of the fixture, extracted once per session."""
    from fer_bench.parts.cache import ArrayCache
    from fer_bench.parts.features.embedding import Embedding

    cache = ArrayCache(shared_cache)
    with open(shared_cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker embeds; the others then load its entry
        return cache, Embedding().embed(mini_dataset, cache, jobs=2)


def tiny_paper_mlp(epochs, protocol="detector", seed=0):
    """An experiment file: the study's MLP for `epochs` on the fixture's embeddings, SMOTE with
    k_neighbors=2 (the fixture's rarest classes have too few images for the default 5)."""
    return f"""
description = "tiny paper-mlp for tests"
seed = {seed}
[features]
name = "embedding"
protocol = "{protocol}"
[resampler]
name = "smote"
k_neighbors = 2
[model]
name = "paper-mlp"
epochs = {epochs}
"""


@pytest.fixture
def write_experiments(tmp_path, monkeypatch):
    """`write_experiments({"base.toml": text, "grids/g.toml": text})` writes experiment, grid and search
    files into a fresh folder that fer-bench reads instead of the repo's experiments/; returns it."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    monkeypatch.setenv("FER_BENCH_EXPERIMENTS", str(folder))

    def write(files):
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return folder

    return write


@pytest.fixture(scope="session")
def simulated_csv(tmp_path_factory):
    """A simulated data set (fer_bench.testing) as a Kaggle-style csv: 7 classes, 20 Training and 6
    PublicTest and PrivateTest images each; what the cheap test parts run on."""
    from fer_bench.testing import simulated_dataset, write_csv

    return write_csv(simulated_dataset(), tmp_path_factory.mktemp("simulated") / "fer2013.csv")


# Experiments of the distillation tests: a soft vote of recorded runs, and a tiny CNN student of a
# teacher run; `{temperature}` is a fixed `teacher_temperature = ...` or `fit_teacher_temperature = true`.
ENSEMBLE_OF = '[features]\nname = "pixels"\n[model]\nname = "ensemble"\nmembers = [{members}]\n'
STUDENT_OF = """[features]
name = "pixels"
[model]
name = "cnn"
width = 4
blocks = 2
head = 8
epochs = 2
warmup_epochs = 1
batch_size = 16
teacher = "{teacher}"
teacher_weight = 0.6
{temperature}
"""
GRID_RULE = 'choose = {split = "PublicTest", metric = "accuracy_all"}\n'  # a grid file's declared rule
SEARCH_RULE = 'choose = {split = "holdout", metric = "accuracy_all"}\n'  # a search file's
CHEAP_EXPERIMENT = '[features]\nname = "test-profile"\n[model]\nname = "test-centroid"\n'  # no framework import


@pytest.fixture
def real_data():
    if REAL_DATA is None:
        pytest.skip("the full FER2013 data set is not available (set FER_BENCH_DATA)")
    return REAL_DATA


@pytest.fixture
def mini_copy(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture(scope="session")
def tiny_cnn_results(tmp_path_factory, shared_cache):
    """A results folder holding one tiny CNN run (`tiny-cnn`) on the fixture, with its weights."""
    from fer_bench.data import load_dataset
    from fer_bench.runs.runner import run
    from fer_bench.runs.workspace import Workspace
    from fer_bench.specs.experiment import parse_experiment

    results = tmp_path_factory.mktemp("tiny-cnn-results")
    tiny = {"width": 4, "blocks": 2, "head": 8, "epochs": 2, "warmup_epochs": 1, "batch_size": 16}
    experiment = parse_experiment(
        "tiny-cnn", {"features": {"name": "pixels"}, "model": {"name": "cnn", **tiny}}, "test"
    )
    run(experiment, Workspace(results, shared_cache, load_dataset(MINI)))
    return results


def constant_png(path, width, height, value=128):
    """A grayscale PNG of `width` x `height` pixels of one value, written row by row: a 200-megapixel
    one is a 200 KB file, made in a second without the image in memory."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row, compressor = b"\x00" + bytes([value]) * width, zlib.compressobj(1)  # each row: filter 0, then pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="session")
def photo_of_200_megapixels(tmp_path_factory):
    """A 16000x12500 PNG: above Pillow's own limit (179 M pixels), below fer-bench's refusal (512 M)."""
    return constant_png(tmp_path_factory.mktemp("huge") / "200-megapixels.png", 16_000, 12_500)
