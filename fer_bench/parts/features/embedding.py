"""The study's input: the 128-d face embedding of `face_recognition` (dlib's ResNet).

For every image the extraction stores the number of faces that the face detector found and one
embedding: of the detected face when there is exactly one, else of the whole 48x48 frame taken as
the face box. `detector` keeps only the one-face images (the study); `full` keeps them all. The
whole-frame embeddings (a third of FER2013's images, a third of the extraction's time) are a cache
entry of their own, computed the first time a `full` extraction asks for them: `detector` never
computes them, and `full` after `detector` embeds only the frames.

The face detector is the study's HOG by default; another registered detector (`detector = "cnn"`,
`fer-bench list` shows them) asks how much of the study's loss is its detector's.

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
from fer_bench.parts.cache import ArrayCache, cache_key
from fer_bench.parts.detectors import rgb_of
from fer_bench.parts.features._chunks import cached_in_chunks
from fer_bench.parts.params import Choices, Interval, Options, Param
from fer_bench.parts.registry import Registered, register

CHIP_SIZE, CHIP_PADDING = 150, 0.25  # what face_recognition's compute_face_descriptor uses
DESCRIPTOR_BATCH = 128
DESCRIPTOR_SIZE = 128


def align_faces(images, upsample=1, jitters=1, detector="hog", whole_frames=True):
    """(n_faces, chips) for a stack of 48x48 uint8 images.

    `chips` holds the aligned 150x150 RGB face chip(s) that dlib's descriptor sees: of the detected
    face of each image with exactly one, and with `whole_frames`, of the whole frame of every other
    image, so that `chips[i]` is image i's; without, only the one-face images' chips, in order.
    With `jitters` > 1, each is that many randomly jittered copies (dlib.jitter_image), whose
    descriptors are averaged as dlib does. The detector's box is used untrimmed, as
    `face_recognition.face_encodings(image)` uses it (`face_recognition.face_locations` trims it to
    the image, which changes the landmarks). `upsample` is the HOG detector's, as
    face_recognition's; another detector enlarges as it needs.
    """
    hog, _ = _dlib_models()
    faces_in = _faces_in(detector, hog, upsample)
    n_faces = np.zeros(len(images), dtype=np.int16)
    boxed = []
    for i, gray in enumerate(images):
        rgb = rgb_of(gray)
        faces = faces_in(rgb)
        n_faces[i] = len(faces)
        if len(faces) == 1:
            boxed.append((rgb, faces[0]))
        elif whole_frames:
            boxed.append((rgb, _whole_frame(gray)))
    return n_faces, _chips(boxed, jitters)


def align_frames(images, jitters=1):
    """The chips of the whole frame of each 48x48 uint8 image, as align_faces makes them for the
    images without exactly one face."""
    return _chips([(rgb_of(gray), _whole_frame(gray)) for gray in images], jitters)


def _whole_frame(gray):
    import dlib

    return dlib.rectangle(0, 0, gray.shape[1], gray.shape[0])


def _chips(boxed, jitters):
    """(n, jitters, 150, 150, 3) chips of [(rgb, dlib rectangle of its face)]."""
    import dlib

    _, landmarks = _dlib_models()
    chips = np.empty((len(boxed), jitters, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    for i, (rgb, box) in enumerate(boxed):
        chip = dlib.get_face_chip(rgb, landmarks(rgb, box), size=CHIP_SIZE, padding=CHIP_PADDING)
        chips[i] = dlib.jitter_image(chip, jitters) if jitters > 1 else chip
    return chips


def _faces_in(name, hog, upsample):
    """rgb -> dlib rectangles of the faces that detector `name` finds."""
    if name == "hog":
        return lambda rgb: hog(rgb, upsample)
    import dlib

    from fer_bench.parts import detectors

    found = detectors.get(name)  # its boxes end one past the face; dlib's rectangles on it
    return lambda rgb: [
        dlib.rectangle(left, top, right - 1, bottom - 1)
        for left, top, right, bottom in found.boxes(rgb, crop_sized=True)
    ]


def describe(chips):
    """(N, 128) descriptors of (N, jitters, 150, 150, 3) chips, each the same bits whatever other chips
    it is described with, so that chunks, their order and the number of workers never change an embedding.

    oneDNN (TensorFlow's CPU kernels) rounds by batch size on AVX2 CPUs: on a native AVX2 CPU (AMD
    EPYC) the trunk's convolutions give a chip other last bits (up to 1.2e-7) in a batch of 20 than in
    one of 128, and the final projection of fewer than about 40 rows differs too (up to 5e-7). So both
    stages always run on DESCRIPTOR_BATCH rows, padded with zeros: a short batch costs a full one.
    """
    from fer_bench.parts.features._dlib_resnet import descriptor_stages

    n, jitters = chips.shape[:2]
    flat = chips.reshape(n * jitters, *chips.shape[2:])
    trunk, head = descriptor_stages()
    descriptors = np.empty((len(flat), DESCRIPTOR_SIZE), np.float32)
    for start in range(0, len(flat), DESCRIPTOR_BATCH):
        batch = flat[start : start + DESCRIPTOR_BATCH]
        pooled = trunk.predict_on_batch(_padded(batch, DESCRIPTOR_BATCH))[: len(batch)]
        descriptors[start : start + len(batch)] = head.predict_on_batch(_padded(pooled, DESCRIPTOR_BATCH))[: len(batch)]
    return descriptors.reshape(n, jitters, DESCRIPTOR_SIZE).mean(axis=1)


def _padded(array, rows):
    """`array` with zero rows appended up to `rows` (itself when it has as many)."""
    if len(array) == rows:
        return array
    return np.concatenate([array, np.zeros((rows - len(array), *array.shape[1:]), array.dtype)])


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

    added_later = ("detector",)
    # The conformance checks' simulated images hold no face: `full` embeds them all (their whole
    # frames), so that extract and of_crops are compared on every image, and both parts are extracted.
    smoke_params = {"protocol": "full"}

    parameters = {
        "protocol": Param("detector", Options("detector", "full"), search=Choices()),
        "upsample": Param(1, Interval(0)),
        "jitters": Param(1, Interval(1)),
        "detector": Param("hog", Registered("detector")),
    }

    def validate(self):
        if self.detector != "hog" and self.upsample != 1:
            raise ValueError(f"upsample is the hog detector's; detector {self.detector} enlarges crops as it needs")

    def extract(self, dataset, cache=None, jobs=None):
        embedded = self.embed(dataset, cache or ArrayCache(), jobs, whole_frames=self.protocol == "full")
        return self._covering(embedded)

    def of_crops(self, crops):
        n_faces, embeddings = encode_images(crops, self.upsample, self.jitters, self.detector)
        return self._covering({"n_faces": n_faces, "embeddings": embeddings})

    def _covering(self, stored):
        covered = stored["n_faces"] == 1 if self.protocol == "detector" else np.ones(len(stored["n_faces"]), bool)
        return FeatureSet(stored["embeddings"].astype(np.float32, copy=False), covered)

    def embed(self, dataset, cache, jobs=None, whole_frames=True):
        """Cached {n_faces, embeddings} of every image; without `whole_frames`, NaN rows for the
        images without exactly one face. Each part resumes from its stored chunks.

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
        together = cache.load(cache_key(inputs))  # faces and frames in one entry, as extractions stored them before
        if together is not None:
            return together
        align = functools.partial(
            align_faces, upsample=self.upsample, jitters=self.jitters, detector=self.detector, whole_frames=False
        )
        faces = cached_in_chunks(
            cache, inputs | {"part": "detected faces"}, dataset.images, align, _describe_faces, jobs, "embedding"
        )
        by_frame = np.flatnonzero(faces["n_faces"] != 1)  # the images embedded by their whole frame
        if not whole_frames or not len(by_frame):
            return faces
        # Keyed by the faces' inputs and the part: the faces found decide which images are embedded by frame.
        align = functools.partial(align_frames, jitters=self.jitters)
        frames = cached_in_chunks(
            cache,
            inputs | {"part": "whole frames"},
            dataset.images,
            align,
            _describe_frames,
            jobs,
            "embedding whole frames",
            rows=by_frame,
        )
        # In place: the arrays are this call's own (read or concatenated for it), and a copy would hold
        # a second embedding of every image at the peak.
        faces["embeddings"][by_frame] = frames["embeddings"]
        return faces


def _describe_faces(aligned):
    """{n_faces, embeddings} of a chunk aligned without whole frames: NaN rows where no one face."""
    n_faces, chips = aligned
    embeddings = np.full((len(n_faces), DESCRIPTOR_SIZE), np.nan, np.float32)
    embeddings[n_faces == 1] = describe(chips)
    return {"n_faces": n_faces, "embeddings": embeddings}


def _describe_frames(chips):
    return {"embeddings": describe(chips)}
