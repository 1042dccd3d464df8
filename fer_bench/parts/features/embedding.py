"""The study's input: the 128-d face embedding of `face_recognition` (dlib's ResNet).

One extraction serves both protocols. For every image it stores the number of faces that the face
detector found and one embedding: of the detected face when there is exactly one, else of the
whole 48x48 frame taken as the face box. `detector` keeps only the one-face images (the study);
`full` keeps them all. The face detector is the study's HOG by default; another registered detector
(`detector = "cnn"`, `fer-bench list` shows them) asks how much of the study's loss is its detector's.

dlib finds the face and its 5 landmarks and cuts the aligned 150x150 chip, exactly as
`face_recognition.face_encodings` does; the chip's descriptor comes from the same ResNet weights
run in Keras (`dlib_resnet`), batched, which matches dlib's own output to within float32 rounding
and is an order of magnitude faster than dlib's single-image CPU path.
"""

import functools
from importlib.metadata import version

import numpy as np

from fer_bench import backend
from fer_bench.parts.base import DescribesCrops, Features, FeatureSet
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.detectors import rgb_of
from fer_bench.parts.features._chunks import cached_in_chunks
from fer_bench.parts.params import Interval, Options, Param, Registered
from fer_bench.parts.registry import register

CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what face_recognition's compute_face_descriptor uses
DESCRIPTOR_BATCH = 128


def align_faces(images, upsample=1, jitters=1, detector="hog"):
    """(n_faces, chips) for a stack of 48x48 uint8 images.

    `chips[i]` holds the aligned 150x150 RGB face chip(s) that dlib's descriptor sees: of the
    detected face when there is exactly one, else of the whole frame; with `jitters` > 1, that many
    randomly jittered copies (dlib.jitter_image), whose descriptors are averaged as dlib does. The
    detector's box is used untrimmed, as `face_recognition.face_encodings(image)` uses it
    (`face_recognition.face_locations` trims it to the image, which changes the landmarks).
    `upsample` is the HOG detector's, as face_recognition's; another detector enlarges as it needs.
    """
    import dlib

    hog, landmarks = _dlib_models()
    faces_in = _faces_in(detector, hog, upsample)
    n_faces = np.zeros(len(images), dtype=np.int16)
    chips = np.empty((len(images), jitters, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    for i, gray in enumerate(images):
        rgb = rgb_of(gray)
        faces = faces_in(rgb)
        n_faces[i] = len(faces)
        box = faces[0] if len(faces) == 1 else dlib.rectangle(0, 0, gray.shape[1], gray.shape[0])
        chip = dlib.get_face_chip(rgb, landmarks(rgb, box), size=CHIP_SIZE, padding=CHIP_PADDING)
        chips[i] = dlib.jitter_image(chip, jitters) if jitters > 1 else chip
    return n_faces, chips


def _faces_in(name, hog, upsample):
    """rgb -> dlib rectangles of the faces that detector `name` finds."""
    if name == "hog":
        return lambda rgb: hog(rgb, upsample)
    import dlib

    from fer_bench.parts import detectors

    found = detectors.get(name)  # its boxes end one past the face; dlib's rectangles on it
    return lambda rgb: [dlib.rectangle(left, top, right - 1, bottom - 1) for left, top, right, bottom in
                        found.boxes(rgb, crop_sized=True)]  # fmt: skip


def describe(chips):
    """(N, 128) descriptors of (N, jitters, 150, 150, 3) chips."""
    from fer_bench.parts.features._dlib_resnet import descriptor_model

    n, jitters = chips.shape[:2]
    flat = chips.reshape(n * jitters, *chips.shape[2:])
    descriptors = descriptor_model().predict(flat, batch_size=DESCRIPTOR_BATCH, verbose=0)
    return descriptors.reshape(n, jitters, -1).mean(axis=1)


def encode_images(images, upsample=1, jitters=1, detector="hog"):
    """(n_faces, embeddings) for a stack of 48x48 uint8 images, in this process."""
    n_faces, chips = align_faces(images, upsample, jitters, detector)
    return n_faces, describe(chips)


@functools.cache
def _dlib_models():
    import dlib
    import face_recognition_models as models

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
    )


def extractor_versions():
    packages = ("dlib-bin", "face_recognition", "face_recognition_models", "keras")
    return {pkg: version(pkg) for pkg in packages} | {"keras_backend": backend.name()}


@register("features", "embedding")
class Embedding(Features, DescribesCrops):
    """128-d face_recognition (dlib ResNet) embedding; protocol `detector` (study) or `full`."""

    search_space = {"protocol": {"choices": ["detector", "full"]}}
    added_later = ("detector",)

    parameters = {
        "protocol": Param("detector", Options("detector", "full")),
        "upsample": Param(1, Interval(0)),
        "jitters": Param(1, Interval(1)),
        "detector": Param("hog", Registered("detector")),
    }

    def validate(self):
        if self.detector != "hog" and self.upsample != 1:
            raise ValueError(f"upsample is the hog detector's; detector {self.detector} enlarges crops as it needs")

    def extract(self, dataset, cache=None, jobs=None):
        return self._covering(self.embed(dataset, cache or ArrayCache(), jobs))

    def of_crops(self, crops):
        n_faces, embeddings = encode_images(crops, self.upsample, self.jitters, self.detector)
        return self._covering({"n_faces": n_faces, "embeddings": embeddings})

    def _covering(self, stored):
        covered = stored["n_faces"] == 1 if self.protocol == "detector" else np.ones(len(stored["n_faces"]), bool)
        return FeatureSet(stored["embeddings"].astype(np.float32, copy=False), covered)

    def embed(self, dataset, cache, jobs=None):
        """Cached {n_faces, embeddings} for every image; resumes from stored chunks.

        Worker processes detect and align faces chunk by chunk while this process runs the
        descriptor network on each chunk as it arrives.
        """
        inputs = {
            "dataset": dataset.images_fingerprint,
            "extractor": "dlib hog + 5-point landmarks + 150px chip + resnet v1 (keras)",
            "upsample": self.upsample,
            "jitters": self.jitters,
            "versions": extractor_versions(),
        } | ({"detector": self.detector} if self.detector != "hog" else {})  # HOG's cached extractions stay valid
        align = functools.partial(align_faces, upsample=self.upsample, jitters=self.jitters, detector=self.detector)
        return cached_in_chunks(cache, inputs, dataset.images, align, _describe_aligned, jobs, "embedding")


def _describe_aligned(aligned):
    n_faces, chips = aligned
    return {"n_faces": n_faces, "embeddings": describe(chips)}
