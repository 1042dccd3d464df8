import shutil

import numpy as np
import pytest

from fer_bench.data import Dataset
from fer_bench.parts.cache import ArrayCache, cache_key
from fer_bench.parts.features import _chunks as chunks
from fer_bench.parts.features import embedding as embedding_module
from fer_bench.parts.features.embedding import Embedding, encode_images

from conftest import FIXTURES, MINI


def test_extractor_reproduces_the_study_reference_embeddings(mini_dataset, mini_embeddings):
    golden = np.load(FIXTURES / "reference_embeddings.npz")
    row = {name: i for i, name in enumerate(mini_dataset.ids)}
    index = [row[name] for name in golden["names"]]
    stored = mini_embeddings[1]
    assert len(index) == 102
    assert (stored["n_faces"][index] == 1).all()
    np.testing.assert_allclose(stored["embeddings"][index], golden["embeddings"], atol=1e-5, rtol=0)


def test_same_result_as_face_recognition_face_encodings(mini_dataset):
    import face_recognition

    for path in sorted((MINI / "PrivateTest" / "Angry").glob("*.jpg")):
        expected = face_recognition.face_encodings(face_recognition.load_image_file(path))
        gray = np.asarray(face_recognition.load_image_file(path, mode="L"))
        n_faces, got = encode_images(gray[None])
        assert n_faces[0] == len(expected)
        if len(expected) == 1:
            np.testing.assert_allclose(got[0], expected[0], atol=1e-5, rtol=0)


def test_protocols_share_the_detected_faces(mini_dataset, mini_embeddings):
    cache, stored = mini_embeddings
    detector = Embedding(protocol="detector").extract(mini_dataset, cache)
    full = Embedding(protocol="full").extract(mini_dataset, cache)
    assert full.covered.all()
    np.testing.assert_array_equal(detector.covered, stored["n_faces"] == 1)
    assert 0.5 < detector.covered.mean() < 0.9
    np.testing.assert_array_equal(detector.X[detector.covered], full.X[detector.covered])


def test_second_extraction_reads_the_cache(mini_dataset, mini_embeddings, monkeypatch):
    cache, stored = mini_embeddings
    monkeypatch.setattr(embedding_module, "align_faces", lambda *a, **k: pytest.fail("recomputed"))
    again = Embedding().embed(mini_dataset, cache, jobs=1)
    np.testing.assert_array_equal(again["embeddings"], stored["embeddings"])


@pytest.fixture
def small(mini_dataset, mini_embeddings):
    """The first 40 fixture images and their embeddings."""
    ds = mini_dataset
    subset = Dataset(ds.source, ds.layout, ds.images[:40], ds.labels[:40], ds.splits[:40], ds.ids[:40])
    return subset, mini_embeddings[1]["embeddings"][:40]


def test_worker_results_in_flight_are_bounded():
    """Tasks are drawn as results are taken: never more than 2 x jobs ahead, so finished chunks that
    wait for this process (aligned faces, a megabyte each) stay few however many images there are."""
    jobs, drawn, ahead = 2, [], []

    def tasks():
        for i in range(20):
            drawn.append(i)
            yield i

    for taken, result in enumerate(chunks._map(str, tasks(), 20, jobs), start=1):
        ahead.append(len(drawn) - taken)
        assert result == str(taken - 1)  # in order
    assert taken == 20 and max(ahead) <= 2 * jobs, ahead


def test_extraction_resumes_from_stored_chunks(small, tmp_path, monkeypatch):
    dataset, expected = small
    cache = ArrayCache(tmp_path)
    monkeypatch.setattr(chunks, "CHUNK", 16)
    real = embedding_module.align_faces

    def chunk_number(images):
        return next(i for i in range(3) if np.array_equal(images[0], dataset.images[16 * i]))

    def failing_after_one(images, **options):
        if calls:
            raise KeyboardInterrupt
        calls.append(chunk_number(images))
        return real(images, **options)

    calls = []
    monkeypatch.setattr(embedding_module, "align_faces", failing_after_one)
    with pytest.raises(KeyboardInterrupt):
        Embedding().embed(dataset, cache, jobs=1)
    assert len(list(cache.parts_dir(next(iter(_keys(cache)))).iterdir())) == 1

    resumed = []
    monkeypatch.setattr(
        embedding_module, "align_faces", lambda images, **o: resumed.append(chunk_number(images)) or real(images, **o)
    )
    result = Embedding().embed(dataset, cache, jobs=1)
    assert sorted(resumed) == [1, 2]  # chunk 0 came from disk
    assert_same_embeddings(result["embeddings"], expected)


def assert_same_embeddings(found, expected):
    """The same bits, though the expected ones were computed in other chunks (test_same_features.py)."""
    np.testing.assert_array_equal(found, expected)


def _keys(cache):
    return [p.name.removesuffix(".parts") for p in cache.root.glob("*.parts")]


def test_a_damaged_cache_entry_is_detected_and_recomputed(small, tmp_path, caplog):
    dataset, expected = small
    cache = ArrayCache(tmp_path)
    Embedding().embed(dataset, cache, jobs=1)
    entry = next(tmp_path.glob("*.npz"))
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    again = Embedding().embed(dataset, cache, jobs=1)
    assert "is damaged (checksum mismatch" in caplog.text
    assert_same_embeddings(again["embeddings"], expected)


def test_a_better_detector_keeps_hogs_faces_and_finds_most_of_the_others(mini_dataset, mini_embeddings):
    """hog-then-cnn embeds exactly what HOG does where HOG finds one face, and finds faces where it
    finds none; the study's specs keep their run ids (the new parameter is left out at its default)."""
    from fer_bench.specs.experiment import PartSpec

    _, stored = mini_embeddings
    index = mini_dataset.indices("PrivateTest")
    n_faces, embeddings = encode_images(mini_dataset.images[index], detector="hog-then-cnn")
    hog_one = stored["n_faces"][index] == 1
    np.testing.assert_array_equal(n_faces[hog_one], 1)
    np.testing.assert_allclose(embeddings[hog_one], stored["embeddings"][index][hog_one], atol=1e-6)
    assert (n_faces == 1).mean() > hog_one.mean() + 0.2  # mini PrivateTest: 62% with HOG, 98% with the CNN's help
    assert "detector" not in PartSpec.of("features", "embedding", {}).params
    assert PartSpec.of("features", "embedding", {"detector": "cnn"}).params["detector"] == "cnn"
    with pytest.raises(Exception, match="upsample is the hog detector's"):
        PartSpec.of("features", "embedding", {"detector": "cnn", "upsample": 2})


def _count_calls(monkeypatch, name):
    """Replace embedding_module.`name` by a wrapper that records the number of images of each call."""
    real, calls = getattr(embedding_module, name), []

    def counted(images, *args, **options):
        calls.append(len(images))
        return real(images, *args, **options)

    monkeypatch.setattr(embedding_module, name, counted)
    return calls


def test_the_detector_protocol_never_embeds_whole_frames(small, tmp_path, monkeypatch):
    dataset, expected = small
    monkeypatch.setattr(embedding_module, "align_frames", lambda *a, **k: pytest.fail("embedded whole frames"))
    described = _count_calls(monkeypatch, "describe")
    found = Embedding(protocol="detector").extract(dataset, ArrayCache(tmp_path), jobs=1)
    assert 0 < found.covered.sum() < len(dataset)
    assert sum(described) == found.covered.sum()  # the descriptor saw the detected faces alone
    assert_same_embeddings(found.X[found.covered], expected[found.covered])
    assert np.isnan(found.X[~found.covered]).all()  # never read: the protocol leaves those images out


def test_full_after_detector_embeds_only_the_frames_and_equals_a_full_extraction(small, tmp_path, monkeypatch):
    dataset, expected = small
    cache = ArrayCache(tmp_path / "shared")
    detector = Embedding(protocol="detector").extract(dataset, cache, jobs=1)
    monkeypatch.setattr(embedding_module, "align_faces", lambda *a, **k: pytest.fail("detected faces again"))
    framed = _count_calls(monkeypatch, "align_frames")
    full = Embedding(protocol="full").extract(dataset, cache, jobs=1)
    assert sum(framed) == (~detector.covered).sum()
    np.testing.assert_array_equal(full.X[detector.covered], detector.X[detector.covered])
    monkeypatch.undo()
    scratch = Embedding(protocol="full").extract(dataset, ArrayCache(tmp_path / "scratch"), jobs=1)
    np.testing.assert_array_equal(full.X, scratch.X)
    assert_same_embeddings(full.X, expected)  # as the extraction that embedded faces and frames together


def test_an_entry_of_faces_and_frames_together_serves_both_protocols(small, tmp_path, monkeypatch):
    """Extractions stored faces and frames in one entry before the frames got their own: such an entry
    is used as it is."""
    dataset, _ = small
    cache = ArrayCache(tmp_path)
    together = Embedding().embed(dataset, cache, jobs=1)
    inputs = next(e.inputs for e in cache.entries() if e.inputs["part"] == "detected faces")
    before_the_split = {name: value for name, value in inputs.items() if name != "part"}
    shutil.rmtree(tmp_path)
    cache.save(cache_key(before_the_split), together, before_the_split)
    for name in ("align_faces", "align_frames"):
        monkeypatch.setattr(embedding_module, name, lambda *a, **k: pytest.fail("recomputed"))
    for protocol in ("detector", "full"):
        found = Embedding(protocol=protocol).extract(dataset, cache, jobs=1)
        np.testing.assert_array_equal(found.X, together["embeddings"])
