"""Statistics every report uses: mean +/- std over seeds, bootstrap intervals, McNemar's exact test."""

import numpy as np


def mean_std(values):
    """(mean, sample std); std is 0 for a single value."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def bootstrap_ci(correct, n_boot=2000, level=0.95, seed=0):
    """Percentile bootstrap interval of the accuracy, resampling test images.

    `correct` is a boolean vector (one run) or a (runs x images) matrix of runs on the same images:
    the interval is then that of their mean accuracy, each resample drawing the same images for every run.
    """
    correct = np.atleast_2d(np.asarray(correct, dtype=bool))
    n = correct.shape[1]
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    per_image = correct.mean(axis=0)  # mean over runs, per image
    draws = rng.integers(0, n, size=(n_boot, n))
    means = per_image[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def mcnemar_exact(a_correct, b_correct):
    """McNemar's exact (binomial) two-sided test of two classifiers on the same images.

    Returns (b, c, p): b = images only A gets right, c = images only B gets right.
    """
    from scipy.stats import binomtest

    a_correct, b_correct = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_correct.shape != b_correct.shape:
        raise ValueError("McNemar's test needs both classifiers on the same images")
    b = int((a_correct & ~b_correct).sum())
    c = int((~a_correct & b_correct).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return b, c, p
