"""dlib's CNN face detector (MMOD), whose weights ship in face_recognition_models. Finds turned,
partly hidden and drawn faces the HOG detector misses; costs ~100x more a pixel on a CPU, so photos
are scaled to a smaller side than for HOG, and not enlarged."""

import functools

from fer_bench.parts.base import Detector, Framing
from fer_bench.parts.registry import register

UPSAMPLE_CROP = 2  # a 48x48 crop's face (~32 px) is found reliably once the image is doubled twice


@functools.cache
def _mmod():
    import dlib
    import face_recognition_models

    return dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())


@register("detector", "cnn")
class Cnn(Detector):
    """dlib CNN (MMOD): finds turned, hidden and drawn faces; ~0.3 s a 48x48 crop, seconds a photo"""

    photo_side = 640
    # python -m benchmarks.measure_framing: 300 random Training faces (one face in 288; enlarged: 292)
    crop_framing = Framing(side=1.143, dx=0.04, dy=0.0)
    photo_framing = Framing(side=1.164, dx=0.009, dy=-0.003)

    def boxes(self, rgb, crop_sized):
        found = _mmod()(rgb, UPSAMPLE_CROP if crop_sized else 0)
        return [(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1) for d in found]
