"""A cache entry carries its key and checksum: damage is detected, reported once, recomputed the same."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from fer_bench.cli import main
from fer_bench.data import Dataset
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.features.embedding import Embedding

SUBSET = 40  # images per entry: two entries, the detected faces of the fixture's first and second 40 images


def _truncate(entry, other):
    data = entry.with_suffix(".npz")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _alter_one_byte(entry, other):
    data = entry.with_suffix(".npz")
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0x01
    data.write_bytes(bytes(content))


def _delete_metadata(entry, other):
    entry.with_suffix(".json").unlink()


def _swap_metadata(entry, other):
    a, b = entry.with_suffix(".json"), other.with_suffix(".json")
    content = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(content)


def _garbage_metadata(entry, other):
    entry.with_suffix(".json").write_text('{"key": "')


DAMAGES = {  # damage -> how many of the two entries it spoils
    "truncated": (_truncate, 1),
    "one byte altered": (_alter_one_byte, 1),
    "metadata deleted": (_delete_metadata, 1),
    "metadata swapped": (_swap_metadata, 2),
    "garbage metadata": (_garbage_metadata, 1),
}


def _subset(dataset, start):
    part = slice(start, start + SUBSET)
    return Dataset(
        dataset.source,
        dataset.layout,
        dataset.images[part],
        dataset.labels[part],
        dataset.splits[part],
        dataset.ids[part],
    )


@pytest.fixture(scope="module")
def originals(mini_dataset, tmp_path_factory):
    """A cache holding two entries, with the subsets that produce them and what they hold."""
    root = tmp_path_factory.mktemp("originals")
    subsets = [_subset(mini_dataset, 0), _subset(mini_dataset, SUBSET)]
    arrays = [Embedding().embed(subset, ArrayCache(root), jobs=1, whole_frames=False) for subset in subsets]
    return root, subsets, arrays


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_entry_is_reported_once_and_recomputed_the_same(originals, damage, tmp_path, capsys):
    root, subsets, expected = originals
    cache = ArrayCache(tmp_path / "cache")
    shutil.copytree(root, cache.root)
    entries = [cache.root / key for key in sorted(e.key for e in cache.entries())]
    assert len(entries) == 2
    spoil, n_damaged = DAMAGES[damage]
    spoil(*entries)

    assert main(["cache", "info", "--cache", str(cache.root)]) == 1
    info = capsys.readouterr().out
    assert f"{n_damaged} damaged" in info and info.count("DAMAGED") == n_damaged
    damaged = {e.key for e in cache.entries() if e.problem}
    assert entries[0].name in damaged and len(damaged) == n_damaged

    for _ in range(2):  # a second pass finds the recomputed entries whole
        for subset, arrays in zip(subsets, expected):
            again = Embedding().embed(subset, cache, jobs=1, whole_frames=False)
            np.testing.assert_array_equal(again["embeddings"], arrays["embeddings"])
            np.testing.assert_array_equal(again["n_faces"], arrays["n_faces"])
    reports = [line for line in capsys.readouterr().err.splitlines() if "cache entry" in line]
    assert len(reports) == n_damaged  # once each
    assert {key for key in damaged if any(f"{key}.npz is damaged" in line for line in reports)} == damaged

    assert main(["cache", "info", "--cache", str(cache.root)]) == 0
    assert "2 entries" in capsys.readouterr().out


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from fer_bench.parts.cache import ArrayCache

renames_before_death = int(sys.argv[2])
real_replace, done = os.replace, []

def replace_or_die(source, target):
    if len(done) == renames_before_death:
        os.kill(os.getpid(), signal.SIGKILL)
    done.append(target)
    real_replace(source, target)

os.replace = replace_or_die
ArrayCache(sys.argv[1]).save("entry", {"x": np.arange(100_000)}, {"what": "test"})
"""


@pytest.mark.parametrize("renames_before_death", [0, 1])
def test_a_killed_writer_never_leaves_an_entry_that_is_used(tmp_path, renames_before_death, capsys):
    """Killed before its renames, a writer leaves only temporary files; between them, a data file
    without metadata, which is reported and recomputed."""
    cache = ArrayCache(tmp_path / "cache")
    writer = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(cache.root), str(renames_before_death)])
    assert writer.returncode == -9
    assert len(list(cache.root.glob(".*.tmp"))) == 2 - renames_before_death

    assert cache.load("entry") is None
    reports = [line for line in capsys.readouterr().err.splitlines() if "cache entry" in line]
    assert len(reports) == renames_before_death
    assert [e.key for e in cache.entries()] == []
    cache.save("entry", {"x": np.arange(100_000)}, {"what": "test"})
    np.testing.assert_array_equal(cache.load("entry")["x"], np.arange(100_000))
    assert [(e.key, e.problem) for e in cache.entries()] == [("entry", None)]


def test_a_damaged_part_is_reported_and_computed_again(tmp_path, capsys):
    cache = ArrayCache(tmp_path)
    cache.save_part("entry", 0, {"x": np.arange(1000)})
    part = next(cache.parts_dir("entry").iterdir())
    content = bytearray(part.read_bytes())
    content[len(content) // 2] ^= 0x01
    part.write_bytes(bytes(content))
    assert cache.load_part("entry", 0) is None
    assert "cache part" in capsys.readouterr().err
    assert cache.load_part("entry", 1) is None  # never stored: not a damage
    assert capsys.readouterr().err == ""
