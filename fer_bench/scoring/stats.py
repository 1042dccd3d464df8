"""Statistics every report uses: mean +/- std over seeds, bootstrap intervals, rank intervals, McNemar's exact test."""

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
    return _interval(correct.mean(axis=0), n_boot, level, seed)  # mean over runs, per image


def paired_bootstrap_ci(a_correct, b_correct, n_boot=2000, level=0.95, seed=0):
    """Percentile bootstrap interval of A's mean accuracy minus B's, each a (runs x images) matrix of
    runs on the same images (seeds need not pair), every resample drawing the same images for both."""
    a = np.atleast_2d(np.asarray(a_correct, dtype=bool)).mean(axis=0)
    b = np.atleast_2d(np.asarray(b_correct, dtype=bool)).mean(axis=0)
    return _interval(a - b, n_boot, level, seed)


def _interval(per_image, n_boot, level, seed):
    """The percentile interval of the mean of `per_image` over bootstrap resamples of the images."""
    n = len(per_image)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    means = per_image[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def rank_intervals(per_image, seed_se, n_boot=1000, level=0.95, seed=0):
    """Percentile bootstrap intervals of each configuration's rank (1: the most accurate).

    `per_image` is a (configurations x images) matrix of each configuration's accuracy on each image (the
    share of its seeds right there); `seed_se`, per configuration, the standard error its seeds leave on its
    accuracy. Every replicate resamples the images with one set of indices for all configurations, adds to
    each accuracy a normal draw of standard deviation `seed_se`, and ranks them (ties share the best rank).
    Returns the (low, high) integer arrays of the ranks' `level` interval.
    """
    per_image = np.asarray(per_image, dtype=float)
    n_configurations, n = per_image.shape
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    counts = np.bincount((draws + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n)
    accuracy = counts.reshape(n_boot, n) @ per_image.T / n  # (replicates x configurations)
    accuracy += rng.standard_normal((n_boot, n_configurations)) * np.asarray(seed_se, dtype=float)
    ranks = 1 + (accuracy[:, None, :] > accuracy[:, :, None]).sum(axis=2)
    tail = (1 - level) / 2
    low, high = np.quantile(ranks, [tail, 1 - tail], axis=0, method="inverted_cdf")
    return low.astype(int), high.astype(int)


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
