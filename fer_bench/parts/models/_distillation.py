"""Knowledge distillation (Hinton et al. 2015) in its soft-target form: a student learns targets that
mix a teacher's class probabilities, softened by a temperature T, with the labels,

    target = w * softmax(log p_teacher / T) + (1 - w) * label,

by the same cross-entropy as ever, so any network that takes soft targets can be a student.

The teacher is a recorded run, or an ensemble of runs, on the same data set. Its probabilities on
every Training image are computed once and stored beside its record (fer_bench/runs/probabilities.py,
split Training); a student finds those of its fitting rows by their pixels, since fitting shuffles
the rows and holds some out. Test images never reach it: only Training rows are looked up.
"""

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from fer_bench.data.dataset import IMAGE_SIZE, TRAIN_SPLIT
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import RecordedRuns
from fer_bench.scoring import calibration

log = logging.getLogger("fer_bench")


def _digest(pixels) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes(), digest_size=16).digest()


@dataclass(frozen=True)
class Distillation:
    experiment: str  # the teacher's
    by_pixels: dict  # an image's pixels (digest) -> the teacher's probabilities

    @classmethod
    def of(cls, run_id, runs: RecordedRuns, dataset, key):
        """The teacher `run_id` of `runs`, with its Training probabilities (computed and stored if
        they are not yet); a one-line error where it cannot teach on `dataset`."""
        teacher = runs.run(run_id)
        if teacher is None:
            raise FerBenchError(f"{key}: no successful run {run_id} in {runs.where} to learn from")
        if teacher.classes != tuple(dataset.classes) or teacher.data_fingerprint != dataset.fingerprint:
            raise FerBenchError(f"{key}: teacher {run_id} ({teacher.experiment}) was trained on other data or labels "
                                f"({teacher.data_fingerprint}, {len(teacher.classes)} classes) than this run's "
                                f"({dataset.fingerprint}, {len(dataset.classes)} classes)")  # fmt: skip
        train = runs.probabilities(run_id, TRAIN_SPLIT)
        rows, proba = train.rows[train.covered], train.proba[train.covered]
        return cls(teacher.experiment, {_digest(image): p for image, p in zip(dataset.images[rows], proba)})

    def targets(self, X, y, n_classes, temperature, weight):
        """(n, n_classes) targets of the fitting rows `X` (pixels first, in [0, 1]) labelled `y`."""
        pixels = np.rint(X.reshape(len(X), -1)[:, : IMAGE_SIZE * IMAGE_SIZE] * 255)
        found = [self.by_pixels.get(_digest(row)) for row in pixels]
        missing = sum(p is None for p in found)
        if missing:
            raise FerBenchError(f"the teacher ({self.experiment}) has no probabilities for {missing} of the "
                                f"{len(found)} fitting images: it covers fewer Training images")  # fmt: skip
        labels = y.astype(np.float64) if y.ndim == 2 else np.eye(n_classes)[y]
        teacher = calibration.scaled(np.stack(found), temperature)
        return (weight * teacher + (1 - weight) * labels).astype(np.float32)
