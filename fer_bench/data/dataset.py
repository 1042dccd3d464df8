import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_bench.errors import FerBenchError

FER2013_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
SPLITS = ("Training", "PublicTest", "PrivateTest")
TRAIN_SPLIT = "Training"
IMAGE_SIZE = 48
UNLABELLED = -2  # the label of an image its label source leaves out (FER+: unknown, not a face)
MAX_CLASSES = 36  # a record keeps one character per prediction (metrics.encode_predictions)


@dataclass(frozen=True)
class Dataset:
    """All images of one source, as 48x48 uint8 arrays with labels and split names.

    `classes` is the label space: `labels` are codes into it (UNLABELLED where the label source
    gives none), and models size their output from it. `targets`, where a label source gives them,
    are the (N, classes) distributions to train on. `ids` names each image in its source (file path
    or csv row) for error messages and reports; `rows` is its row in Kaggle's fer2013.csv where
    the source says it (FER+ votes are joined on it). `labels_name` says where the labels come from.
    """

    source: str
    layout: str
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, codes into `classes`
    splits: np.ndarray  # (N,) str
    ids: np.ndarray  # (N,) str
    classes: tuple = FER2013_CLASSES
    rows: np.ndarray | None = field(default=None, compare=False)
    targets: np.ndarray | None = field(default=None, compare=False)
    labels_name: str = "fer2013"
    fingerprint: str = field(init=False)

    def __post_init__(self):
        if not 2 <= len(self.classes) <= MAX_CLASSES:
            raise FerBenchError(f"{self.source}: {len(self.classes)} classes; fer-bench handles 2 to {MAX_CLASSES}")
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images, dtype=np.uint8).tobytes())
        digest.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        digest.update("\n".join(self.splits.tolist()).encode())
        if tuple(self.classes) != FER2013_CLASSES:  # FER2013's label space hashes as before it was named
            digest.update("\n".join(self.classes).encode())
        if self.targets is not None:
            digest.update(np.ascontiguousarray(self.targets, dtype=np.float32).tobytes())
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    def __len__(self):
        return len(self.labels)

    @property
    def name(self) -> str:
        """Its name in reports (data_name)."""
        return data_name(self.source)

    def split_names(self):
        return list(dict.fromkeys(self.splits.tolist()))

    def test_splits(self):
        return [s for s in self.split_names() if s != TRAIN_SPLIT]

    def indices(self, split):
        return np.flatnonzero(self.splits == split)

    def labelled(self, index):
        """The images of `index` that have a label."""
        return index[self.labels[index] != UNLABELLED]

    @functools.cached_property  # a hash of every pixel, asked for by each features part and the record
    def images_fingerprint(self):
        """What features of the images depend on: the images and splits alone, not their labels."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images, dtype=np.uint8).tobytes())
        digest.update("\n".join(self.splits.tolist()).encode())
        return digest.hexdigest()[:16]

    @property
    def scored_against(self):
        """What its test scores are comparable by (scored_against below)."""
        return scored_against(self.fingerprint, self.images_fingerprint, self.labels_name)

    def summary(self):
        counts = {s: int((self.splits == s).sum()) for s in self.split_names()}
        return f"{self.layout} at {self.source}: {len(self)} images {counts}, {len(self.classes)} classes"


def data_name(source: str) -> str:
    """A data set's name in reports: the file or folder name of its `source`, never a machine's path."""
    return Path(source).name or source


def label_source(labels: str):
    """Where labels named `labels` (Dataset.labels_name) come from: "fer2013", "ferplus" (without
    its mode) or "folders"."""
    return labels.split("-")[0]


def scored_against(fingerprint, images, labels):
    """What a test score on a data set is comparable by: its `fingerprint`; under FER+ labels, whose
    every mode tests on the majority label while training on its own targets, its `images`
    fingerprint and the label source."""
    source = label_source(labels)
    return fingerprint if source == "fer2013" else f"{images}:{source}"
