"""Knowledge distillation (Hinton et al. 2015) in its soft-target form: a student learns targets that
mix a teacher's class probabilities, softened by a temperature T, with the labels,

    target = w * softmax(log p_teacher / T) + (1 - w) * label,

by the same cross-entropy as ever, so any network that takes soft targets can be a student.

The teacher is a recorded run, or an ensemble of runs, on the same data set. Its probabilities on
every Training image are computed once and stored beside its record (fer_bench/runs/probabilities.py,
split Training); a student finds those of its fitting rows by their pixels, since fitting shuffles
the rows and holds some out. Test images never reach it: only Training rows are looked up.

A teacher fitted on all of Training gives in-sample probabilities there: what it memorised (an
ensemble right on 86% of Training, 73% of PrivateTest), which a student is warned of. A cross-fitted
teacher (fer_bench/parts/models/cross_fitted.py; an ensemble of such) gives out-of-fold ones, and
only those may have T fitted (`fitted_temperature`): on the labels of the student's fitting rows,
by minimum NLL, so the images the student holds out stay out of every choice.
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
    out_of_fold: bool  # whether those are out of fold (SplitProbabilities.out_of_fold)

    @classmethod
    def of(cls, run_id, runs: RecordedRuns, dataset, key):
        """The teacher `run_id` of `runs`, with its Training probabilities (computed and stored if
        they are not yet); a one-line error where it cannot teach on `dataset`."""
        teacher = runs.run(run_id)
        if teacher is None:
            raise FerBenchError(f"{key}: no successful run {run_id} in {runs.where} to learn from")
        if teacher.classes != tuple(dataset.classes) or teacher.data_fingerprint != dataset.fingerprint:
            raise FerBenchError(
                f"{key}: teacher {run_id} ({teacher.experiment}) was trained on other data or labels "
                f"({teacher.data_fingerprint}, {len(teacher.classes)} classes) than this run's "
                f"({dataset.fingerprint}, {len(dataset.classes)} classes)"
            )
        train = runs.probabilities(run_id, TRAIN_SPLIT)
        if not train.out_of_fold:
            log.warning(
                f"{key}: teacher {run_id} ({teacher.experiment}) gives in-sample Training probabilities (it "
                "fitted on those images): the student learns what it memorised; a cross-fitted teacher "
                "gives out-of-fold ones"
            )
        rows, proba = train.rows[train.covered], train.proba[train.covered]
        by_pixels = {_digest(image): p for image, p in zip(dataset.images[rows], proba)}
        return cls(teacher.experiment, by_pixels, train.out_of_fold)

    def _teacher(self, X):
        """The teacher's probabilities of the fitting rows `X` (pixels first, in [0, 1])."""
        pixels = np.rint(X.reshape(len(X), -1)[:, : IMAGE_SIZE * IMAGE_SIZE] * 255)
        found = [self.by_pixels.get(_digest(row)) for row in pixels]
        missing = sum(p is None for p in found)
        if missing:
            raise FerBenchError(
                f"the teacher ({self.experiment}) has no probabilities for {missing} of the "
                f"{len(found)} fitting images: it covers fewer Training images"
            )
        return np.stack(found)

    def fitted_temperature(self, X, y) -> float:
        """The T that makes the teacher's (out-of-fold) probabilities of the fitting rows `X` most
        likely for their labels `y` (soft targets: their most likely class)."""
        return calibration.fit_temperature(y.argmax(axis=1) if y.ndim == 2 else y, self._teacher(X))

    def targets(self, X, y, n_classes, temperature, weight):
        """(n, n_classes) targets of the fitting rows `X` (pixels first, in [0, 1]) labelled `y`."""
        labels = y.astype(np.float64) if y.ndim == 2 else np.eye(n_classes)[y]
        teacher = calibration.scaled(self._teacher(X), temperature)
        return (weight * teacher + (1 - weight) * labels).astype(np.float32)
