"""Resamplers rebalance the fitting data only; validation and test data never pass through them.

A resampler has `resample(X, y, seed) -> (X, y)` and `class_weight(y) -> dict | None`; a model
weights its loss by the latter where it can (and refuses the class-weights part where it cannot).
"""

import numpy as np

from fer_bench.registry import register


class Resampler:
    def resample(self, X, y, seed):
        return X, y

    def class_weight(self, y):
        return None


@register("resampler", "none")
class NoResampling(Resampler):
    """Leave the training data as it is."""


@register("resampler", "class-weights")
class ClassWeights(Resampler):
    """No new samples; weight each class's loss by n / (n_classes * count), sklearn's 'balanced'."""

    def class_weight(self, y):
        classes, counts = np.unique(y, return_counts=True)
        return {int(c): float(len(y) / (len(classes) * n)) for c, n in zip(classes, counts)}


@register("resampler", "smote")
class Smote(Resampler):
    """SMOTE on every class but the majority (the study's choice)."""

    def __init__(self, k_neighbors: int = 5):
        if k_neighbors < 1:
            raise ValueError("k_neighbors must be >= 1")
        self.k_neighbors = k_neighbors

    def resample(self, X, y, seed):
        from imblearn.over_sampling import SMOTE

        shape = X.shape[1:]
        smote = SMOTE(sampling_strategy="not majority", k_neighbors=self.k_neighbors, random_state=seed)
        X_res, y_res = smote.fit_resample(X.reshape(len(X), -1), y)
        return X_res.reshape(-1, *shape).astype(X.dtype), y_res


@register("resampler", "random-over")
class RandomOver(Resampler):
    """Duplicate random samples of every class but the majority up to the majority's count."""

    def resample(self, X, y, seed):
        from imblearn.over_sampling import RandomOverSampler

        sampler = RandomOverSampler(sampling_strategy="not majority", random_state=seed)
        sampler.fit_resample(X.reshape(len(X), -1)[:, :1], y)
        index = sampler.sample_indices_
        return X[index], y[index]


def shuffle(X, y, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    return X[order], y[order]
