"""Copies in FER2013: test images with an exact or near-exact copy in Training, copies inside a split
that carry different labels, blank images. Found on the decoded 48x48 pixels, so usage folders (JPEG)
and the csv (raw integers) give the same answer within the tolerance.

Two images are copies at tolerance t when their mean absolute pixel difference is at most t grey
levels (0: identical pixels); COPY_TOLERANCE, the one notion of a copy every split of Training also
honours (fer_bench/data/copies.py), is what counts for the `clean` accuracy. Candidates come from
the nearest Training images on 12x12 block means;
each is then compared at full resolution.
"""

from dataclasses import dataclass

import numpy as np

from fer_bench.data.copies import COPY_TOLERANCE
from fer_bench.data.dataset import TRAIN_SPLIT, Dataset

TOLERANCES = (0.0, 1.0, 2.0, 4.0)  # grey levels of mean absolute difference
BLANK_STD = 1.0  # an image whose pixels vary less than this is blank (a constant frame)
CANDIDATES = 5


@dataclass(frozen=True)
class Copies:
    """For every test image: the smallest mean absolute difference to a Training image, and which
    Training image it is (inf and -1 for the Training images themselves)."""

    distance: np.ndarray  # (N,) float
    nearest: np.ndarray  # (N,) index of the nearest Training image, -1 if none

    def copied(self, tolerance=COPY_TOLERANCE):
        return self.distance <= tolerance


def _thumbnails(images):
    return images.reshape(len(images), 12, 4, 12, 4).mean(axis=(2, 4)).reshape(len(images), -1)


def find_copies(dataset: Dataset) -> Copies:
    from sklearn.neighbors import NearestNeighbors

    train = dataset.indices(TRAIN_SPLIT)
    test = np.flatnonzero(dataset.splits != TRAIN_SPLIT)
    images = dataset.images.astype(np.int16)
    index = NearestNeighbors(n_neighbors=CANDIDATES).fit(_thumbnails(dataset.images[train]).astype(np.float32))
    _, candidates = index.kneighbors(_thumbnails(dataset.images[test]).astype(np.float32))
    distance = np.full(len(dataset), np.inf)
    nearest = np.full(len(dataset), -1)
    for i, row in zip(test, candidates):
        differences = np.abs(images[train[row]] - images[i]).mean(axis=(1, 2))
        best = int(np.argmin(differences))
        distance[i], nearest[i] = differences[best], train[row[best]]
    return Copies(distance, nearest)


def blank(dataset: Dataset):
    return dataset.images.reshape(len(dataset), -1).std(axis=1) < BLANK_STD


def identical_groups(dataset: Dataset):
    """Groups (index arrays) of two or more images with the same pixels."""
    groups: dict[bytes, list[int]] = {}  # pixels -> the images that have them
    for i, image in enumerate(dataset.images):
        groups.setdefault(image.tobytes(), []).append(i)
    return [np.array(members) for members in groups.values() if len(members) > 1]
