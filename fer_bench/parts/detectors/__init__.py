"""Face detectors: where the faces are in an image (`--detector` of predict and evaluate, and the
embedding's `detector`).

A detector is a part of kind "detector" (fer_bench.parts.base.Detector), in its own module of this
package, registered with `@register("detector", name)` and found as every part is (a new detector is
a new module: fer_bench.parts.registry imports them all). It finds face boxes in an 8-bit RGB array,
and says where FER2013's crop lies around its box: `crop_framing` and `photo_framing`, measured on
FER2013's Training faces by `measure_framing` (each detector's box sits differently on a face, and
differently at 48 pixels than on a face enlarged as in a photo). `find_faces` scales a large photo
down to the detector's `photo_side` first (its cost grows with the pixels it scans) and returns the
faces framed as FER2013's. A detector's weights come inside an installed package: nothing is
downloaded.
"""

import functools

import numpy as np
from PIL import Image

from fer_bench.parts import registry
from fer_bench.parts.base import Detector, Framing

CROP_SIDE = 96  # an image at most this many pixels a side is crop-sized, as FER2013's 48x48 faces are


@functools.cache
def get(name: str) -> Detector:
    """The detector `name`, created once per process (loading its weights takes a while)."""
    detector = registry.get("detector", name).create({})
    assert isinstance(detector, Detector)  # register() refuses a detector that does not derive from it
    return detector


def rgb_of(gray: np.ndarray) -> np.ndarray:
    """An (h, w) 8-bit grayscale array as the contiguous (h, w, 3) RGB array dlib's detectors take."""
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def find_faces(gray: Image.Image, detector: Detector) -> list[tuple[float, float, float, float]]:
    """The faces in `gray`, framed as FER2013's crops, in its own pixels (left, top, right, bottom;
    a frame may reach beyond the image)."""
    scale = min(1.0, detector.photo_side / max(gray.size))
    seen = (
        gray
        if scale == 1
        else gray.resize((round(gray.width * scale), round(gray.height * scale)), Image.Resampling.BILINEAR)
    )
    crop_sized = max(gray.size) <= CROP_SIDE
    return [
        (left / scale, top / scale, right / scale, bottom / scale)
        for left, top, right, bottom in detector.framed(rgb_of(np.asarray(seen)), crop_sized)
    ]


def measure_framing(detector: Detector, images, enlarge=1) -> tuple[Framing, int]:
    """(FER2013's framing around `detector`'s boxes, the number of faces it is measured on) from
    (n, 48, 48) FER2013 crops: medians over the crops in which it finds exactly one face. With
    `enlarge` > 1, each crop is scaled by it and centred on a grey background twice its size, as a
    face in a photo: a detector's box fits a face differently at the 48 pixels of a crop."""
    shifts = []
    for image in images:
        side = image.shape[0] * enlarge
        if enlarge > 1:
            canvas = Image.new("L", (2 * side, 2 * side), 128)
            canvas.paste(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC), (side // 2, side // 2))
            image = np.asarray(canvas)
        found = detector.boxes(rgb_of(image), crop_sized=enlarge == 1)
        if len(found) == 1:
            left, top, right, bottom = found[0]
            size = max(right - left, bottom - top)
            centre = image.shape[1] / 2
            shifts.append((side / size, (centre - (left + right) / 2) / size, (centre - (top + bottom) / 2) / size))
    side, dx, dy = np.median(np.array(shifts), axis=0)
    return Framing(round(float(side), 3), round(float(dx), 3), round(float(dy), 3)), len(shifts)
