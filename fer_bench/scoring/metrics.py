"""Coverage-aware metrics: an image the features could not cover counts as wrong in `accuracy_all`."""

from dataclasses import asdict, dataclass

import numpy as np

from fer_bench.data.dataset import MAX_CLASSES, UNLABELLED
from fer_bench.scoring import calibration

UNCOVERED = -1
_CODES = "0123456789abcdefghijklmnopqrstuvwxyz"[:MAX_CLASSES]  # one character per predicted class code


@dataclass(frozen=True)
class SplitMetrics:
    """One test split's figures, as a record keeps them (`metrics.<split>` of the JSON contract)."""

    n_total: int
    n_evaluated: int
    coverage: float  # of the labelled images
    accuracy: float  # on the evaluated images
    accuracy_all: float  # over all labelled images; an uncovered image counts as wrong
    macro_f1: float
    per_class_recall: dict
    confusion_matrix: list  # rows: true class, columns: predicted, in the label space's order
    n_unlabelled: int = 0  # of n_total, images the label source leaves out (FER+: unknown, not a face)
    # calibration of the probabilities on the evaluated images (fer_bench/scoring/calibration.py); None for
    # records made before they were measured
    nll: float | None = None
    brier: float | None = None
    ece: float | None = None

    @classmethod
    def from_dict(cls, values: dict):
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    def recall_text(self, name_width=None, digits=1):
        """Each class's recall as "NAME 62.3%", "n/a" for a class with no image (no recall to
        measure, not 0%); `name_width` shortens the names."""
        shown = []
        for (name, recall), row in zip(self.per_class_recall.items(), self.confusion_matrix):
            value = f"{100 * recall:.{digits}f}%" if sum(row) else "n/a"
            shown.append(f"{name[:name_width]} {value}")
        return ", ".join(shown)

    def to_dict(self):
        return asdict(self)


def split_metrics(y_true, y_pred, classes, proba=None) -> SplitMetrics:
    """Metrics for one test split; `y_pred` is UNCOVERED (-1) where the image was not evaluated,
    `y_true` UNLABELLED (-2) where the label source gives no label. With the (n, classes)
    probabilities `proba`, their calibration too."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labelled = y_true != UNLABELLED
    evaluated = labelled & (y_pred != UNCOVERED)
    t, p = y_true[evaluated], y_pred[evaluated]
    n_classes = len(classes)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    hits = np.diag(confusion)
    recall = _share(hits, support)
    precision = _share(hits, predicted)
    f1 = _share(2 * precision * recall, precision + recall)
    present = support > 0
    n_labelled, n_evaluated = int(labelled.sum()), int(evaluated.sum())
    return SplitMetrics(
        n_total=len(y_true),
        n_evaluated=n_evaluated,
        coverage=n_evaluated / n_labelled if n_labelled else 0.0,
        accuracy=float(hits.sum() / n_evaluated) if n_evaluated else 0.0,
        accuracy_all=float(hits.sum() / n_labelled) if n_labelled else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        per_class_recall={name: float(r) for name, r in zip(classes, recall)},
        confusion_matrix=confusion.tolist(),
        n_unlabelled=len(y_true) - n_labelled,
        **(_calibration(t, np.asarray(proba)[evaluated]) if proba is not None and n_evaluated else {}),
    )


def _share(part, whole):
    """part / whole as floats, 0 where `whole` is 0 (a class never seen, or never predicted)."""
    some = whole > 0
    return np.where(some, part / np.where(some, whole, 1), 0.0)


def _calibration(y_true, proba):
    return asdict(calibration.measure(y_true, proba))


def predicted(proba):
    """The predicted codes of (n, classes) probabilities, UNCOVERED for NaN rows (not covered)."""
    return np.where(np.isnan(proba).any(axis=1), UNCOVERED, np.nan_to_num(proba).argmax(axis=1))


def encode_predictions(y_pred):
    """Per-image predictions as a compact string: one character per image (0-9, then a-z for class
    codes 10 to 35: a Dataset has at most MAX_CLASSES), '-' where not evaluated."""
    return "".join("-" if p == UNCOVERED else _CODES[int(p)] for p in y_pred)


def decode_predictions(text):
    return np.array([UNCOVERED if c == "-" else _CODES.index(c) for c in text], dtype=np.int64)
