"""Coverage-aware metrics: an image the features could not cover counts as wrong in `accuracy_all`."""

import numpy as np

from fer_bench.data.dataset import CLASS_NAMES

UNCOVERED = -1


def split_metrics(y_true, y_pred):
    """Metrics for one test split; `y_pred` is UNCOVERED (-1) where the image was not evaluated."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    evaluated = y_pred != UNCOVERED
    t, p = y_true[evaluated], y_pred[evaluated]
    n_classes = len(CLASS_NAMES)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    hits = np.diag(confusion)
    recall = np.divide(hits, support, out=np.zeros(n_classes), where=support > 0)
    precision = np.divide(hits, predicted, out=np.zeros(n_classes), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n_classes), where=precision + recall > 0)
    present = support > 0
    n_total, n_evaluated = len(y_true), int(evaluated.sum())
    return {
        "n_total": n_total,
        "n_evaluated": n_evaluated,
        "coverage": n_evaluated / n_total if n_total else 0.0,
        "accuracy": float(hits.sum() / n_evaluated) if n_evaluated else 0.0,
        "accuracy_all": float(hits.sum() / n_total) if n_total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class_recall": {name: float(r) for name, r in zip(CLASS_NAMES, recall)},
        "confusion_matrix": confusion.tolist(),
    }


def encode_predictions(y_pred):
    """Per-image predictions as a compact string: one digit per image, '-' where not evaluated."""
    return "".join("-" if p == UNCOVERED else str(int(p)) for p in y_pred)


def decode_predictions(text):
    return np.array([UNCOVERED if c == "-" else int(c) for c in text], dtype=np.int64)
