"""The study's input: the 128-d face embedding of `face_recognition` (dlib's ResNet).

One extraction serves both protocols. For every image it stores the number of faces that the HOG
detector found and one embedding: of the detected face when there is exactly one, else of the
whole 48x48 frame taken as the face box. `detector` keeps only the one-face images (the study);
`full` keeps them all.
"""

import functools
import multiprocessing
import os
from importlib.metadata import version
from typing import Literal

import dlib
import numpy as np
from tqdm import tqdm

from fer_bench.features.base import FeatureSet
from fer_bench.features.cache import ArrayCache, cache_key
from fer_bench.registry import register

CHUNK = 256  # images per task and per stored part, at most
MIN_CHUNK = 16
EMBEDDING_DIM = 128


def encode_images(images, upsample=1, jitters=1):
    """(n_faces, embeddings) for a stack of 48x48 uint8 images.

    The same dlib calls as `face_recognition.face_encodings(image)`, with the detector's boxes
    untrimmed as it uses them (`face_recognition.face_locations` trims boxes to the image, which
    changes the landmarks and so the embedding). The ResNet runs once on the whole stack: dlib's
    batched descriptor gives the same numbers as one call per image, faster.
    """
    detector, landmarks, encoder = _dlib_models()
    n_faces = np.zeros(len(images), dtype=np.int16)
    rgbs, shapes = [], []
    for i, gray in enumerate(images):
        rgb = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
        faces = detector(rgb, upsample)
        n_faces[i] = len(faces)
        box = faces[0] if len(faces) == 1 else dlib.rectangle(0, 0, gray.shape[1], gray.shape[0])
        rgbs.append(rgb)
        shapes.append(dlib.full_object_detections([landmarks(rgb, box)]))
    embeddings = np.zeros((len(images), EMBEDDING_DIM), dtype=np.float64)
    if rgbs:
        descriptors = encoder.compute_face_descriptor(rgbs, shapes, jitters)
        embeddings[:] = [np.asarray(d[0]) for d in descriptors]
    return n_faces, embeddings


@functools.cache
def _dlib_models():
    import face_recognition_models as models

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(models.face_recognition_model_location()),
    )


def _encode_chunk(task):
    index, images, upsample, jitters = task
    return index, encode_images(images, upsample, jitters)


def default_jobs():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def extractor_versions():
    return {pkg: version(pkg) for pkg in ("dlib-bin", "face_recognition", "face_recognition_models")}


@register("features", "embedding")
class Embedding:
    """128-d face_recognition (dlib ResNet) embedding; protocol `detector` (study) or `full`."""

    def __init__(
        self,
        protocol: Literal["detector", "full"] = "detector",
        upsample: int = 1,
        jitters: int = 1,
    ):
        if upsample < 0 or jitters < 1:
            raise ValueError("upsample must be >= 0 and jitters >= 1")
        self.protocol, self.upsample, self.jitters = protocol, upsample, jitters

    def extract(self, dataset, cache=None, jobs=None):
        stored = self.embed(dataset, cache or ArrayCache(), jobs or default_jobs())
        covered = np.ones(len(dataset), dtype=bool)
        if self.protocol == "detector":
            covered = stored["n_faces"] == 1
        return FeatureSet(stored["embeddings"].astype(np.float32), covered)

    def embed(self, dataset, cache, jobs):
        """Cached {n_faces, embeddings} for every image; resumes from stored chunks."""
        inputs = {
            "dataset": dataset.fingerprint,
            "extractor": "dlib hog + 5-point landmarks + resnet v1",
            "upsample": self.upsample,
            "jitters": self.jitters,
            "versions": extractor_versions(),
        }
        key = cache_key(inputs)
        stored = cache.load(key)
        if stored is not None:
            return stored
        size = chunk_size(len(dataset))
        starts = range(0, len(dataset), size)
        chunks = {i: cache.load_part(key, i) for i in range(len(starts))}
        todo = [
            (i, dataset.images[start : start + size], self.upsample, self.jitters)
            for i, start in enumerate(starts)
            if chunks[i] is None
        ]
        done_images = len(dataset) - sum(len(t[1]) for t in todo)
        with tqdm(total=len(dataset), initial=done_images, unit="img", desc="embedding", smoothing=0.05) as bar:
            for index, (n_faces, embeddings) in _map(_encode_chunk, todo, jobs or default_jobs()):
                chunks[index] = {"n_faces": n_faces, "embeddings": embeddings}
                cache.save_part(key, index, chunks[index])
                bar.update(len(n_faces))
        ordered = [chunks[i] for i in range(len(starts))]
        arrays = {name: np.concatenate([c[name] for c in ordered]) for name in ("n_faces", "embeddings")}
        cache.save(key, arrays, inputs)
        return arrays


def chunk_size(n_images):
    """Images per chunk: a function of the data set's size alone, so stored parts stay valid on resume,
    and small enough that a small data set still spreads over every core."""
    return max(MIN_CHUNK, min(CHUNK, -(-n_images // 16)))


def _map(function, tasks, jobs):
    if jobs <= 1 or len(tasks) <= 1:
        yield from map(function, tasks)
        return
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
        yield from pool.imap_unordered(function, tasks)
