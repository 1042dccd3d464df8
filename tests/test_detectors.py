"""Face detectors: each frames its faces as FER2013's crops are framed around its boxes."""

import numpy as np
import pytest
from PIL import Image

from fer_bench.errors import FerBenchError
from fer_bench.parts import detectors, registry

from conftest import MINI


@pytest.mark.parametrize(
    ("name", "enlarge"), [("hog", 1), ("hog", 4), ("cnn", 1)]
)  # the CNN: ~0.2 s a crop, more a photo
def test_each_detectors_framing_is_what_the_fixtures_faces_measure(name, enlarge, mini_dataset):
    detector = detectors.get(name)
    index = mini_dataset.indices("Training")[:: 1 if name == "hog" else 3]
    measured, n = detectors.measure_framing(detector, mini_dataset.images[index], enlarge)
    expected = detector.crop_framing if enlarge == 1 else detector.photo_framing
    assert n >= 20
    assert measured.side == pytest.approx(expected.side, abs=0.08)
    assert measured.dx == pytest.approx(expected.dx, abs=0.06)
    assert measured.dy == pytest.approx(expected.dy, abs=0.06)


@pytest.mark.parametrize("name", [part.name for part in registry.parts("detector")])
def test_faces_pasted_into_larger_photos_are_framed_as_the_faces_themselves(name):
    """Over six faces (one detector box fits a face more or less tightly), the frames overlap the
    pasted faces by a median intersection-over-union above 0.7."""
    overlaps = []
    for file in sorted((MINI / "PrivateTest" / "Happy").iterdir()):
        canvas = Image.new("L", (900, 700), 180)
        canvas.paste(Image.open(file).convert("L").resize((240, 240), Image.BICUBIC), (500, 300))
        found = detectors.find_faces(canvas, detectors.get(name))  # the CNN sees it at 640 pixels
        if len(found) != 1:
            continue
        left, top, right, bottom = found[0]
        overlap = max(0, min(right, 740) - max(left, 500)) * max(0, min(bottom, 540) - max(top, 300))
        overlaps.append(overlap / ((right - left) * (bottom - top) + 240 * 240 - overlap))
    assert len(overlaps) >= 4 and np.median(overlaps) > 0.7, overlaps


def test_an_unknown_detector_is_named_with_the_known_ones():
    with pytest.raises(FerBenchError, match=r"unknown detector 'mtcnn' \(known: cnn, hog, hog-then-cnn\)"):
        detectors.get("mtcnn")
    assert np.isfinite(detectors.get("hog").photo_framing.side)
