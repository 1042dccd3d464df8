"""HOG first, the CNN detector only where HOG finds no face: the CNN's recall at HOG's cost wherever
HOG succeeds (most photos, ~70% of FER2013's crops)."""

from fer_bench.parts.base import Detector
from fer_bench.parts.detectors.cnn import Cnn
from fer_bench.parts.detectors.hog import Hog
from fer_bench.parts.registry import register


@register("detector", "hog-then-cnn")
class HogThenCnn(Detector):
    """HOG, then the CNN where HOG finds no face (the default)"""

    photo_side = Cnn.photo_side  # both scan the same scaled image

    def boxes(self, rgb, crop_sized):
        return Hog().boxes(rgb, crop_sized) or Cnn().boxes(rgb, crop_sized)

    def framed(self, rgb, crop_sized):
        return Hog().framed(rgb, crop_sized) or Cnn().framed(rgb, crop_sized)  # each frames its own boxes
