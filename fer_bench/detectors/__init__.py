"""Face detectors: where the faces are in an image (`--detector` of predict and evaluate).

A detector is a class derived from `Detector`, in its own module of this package, registered with
`@detector(name)`. It finds face boxes in an 8-bit RGB array; `find_faces` scales a large photo
down to the detector's `photo_side` first (its cost grows with the pixels it scans) and maps the
boxes back. A detector's weights must come inside an installed package: nothing is downloaded.
"""

import functools
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from PIL import Image

from fer_bench.errors import FerBenchError

CROP_SIDE = 96  # an image at most this many pixels a side is crop-sized, as FER2013's 48x48 faces are
_DETECTORS: dict = {}


class Detector(ABC):
    name: ClassVar[str] = ""  # set by @detector
    summary: ClassVar[str] = ""
    photo_side: ClassVar[int]  # a photo's longest side is scaled down to this before detection

    @abstractmethod
    def boxes(self, rgb: np.ndarray, crop_sized: bool) -> list[tuple[int, int, int, int]]:
        """(left, top, right, bottom) of every face in `rgb` (h, w, 3) uint8, in its pixels; a box may
        reach beyond the image, as dlib's do. A `crop_sized` image (at most CROP_SIDE a side) holds
        a face of a few dozen pixels, which a detector may need to enlarge to see."""


def detector(name):
    def register(cls):
        cls.name = name
        _DETECTORS[name] = cls
        return cls

    return register


def names():
    return sorted(_DETECTORS)


@functools.cache
def get(name) -> Detector:
    """The detector `name`, created once per process (loading its weights takes a while)."""
    if name not in _DETECTORS:
        raise FerBenchError(f"unknown face detector {name!r}; choose one of {', '.join(names())}")
    return _DETECTORS[name]()


def find_faces(gray: Image.Image, detector: Detector) -> list[tuple[float, float, float, float]]:
    """Face boxes in `gray`'s own pixels (left, top, right, bottom; not clipped to the image)."""
    scale = min(1.0, detector.photo_side / max(gray.size))
    seen = gray if scale == 1 else gray.resize((round(gray.width * scale), round(gray.height * scale)), Image.BILINEAR)
    rgb = np.ascontiguousarray(np.repeat(np.asarray(seen)[:, :, None], 3, axis=2))
    return [tuple(v / scale for v in box) for box in detector.boxes(rgb, max(gray.size) <= CROP_SIDE)]


from fer_bench.detectors import cnn, hog, hog_then_cnn  # noqa: E402, F401  (they register themselves)
