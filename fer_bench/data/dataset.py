import hashlib
from dataclasses import dataclass, field

import numpy as np

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
SPLITS = ("Training", "PublicTest", "PrivateTest")
TRAIN_SPLIT = "Training"
IMAGE_SIZE = 48


@dataclass(frozen=True)
class Dataset:
    """All images of one source, as 48x48 uint8 arrays with labels and split names.

    `ids` names each image in its source (file path or csv row) for error messages and reports.
    """

    source: str
    layout: str
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, codes into CLASS_NAMES
    splits: np.ndarray  # (N,) str
    ids: np.ndarray  # (N,) str
    fingerprint: str = field(init=False)

    def __post_init__(self):
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images, dtype=np.uint8).tobytes())
        digest.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        digest.update("\n".join(self.splits.tolist()).encode())
        object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    def __len__(self):
        return len(self.labels)

    def split_names(self):
        return list(dict.fromkeys(self.splits.tolist()))

    def indices(self, split):
        return np.flatnonzero(self.splits == split)

    def summary(self):
        counts = {s: int((self.splits == s).sum()) for s in self.split_names()}
        return f"{self.layout} at {self.source}: {len(self)} images {counts}"
