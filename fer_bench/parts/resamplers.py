"""Resamplers rebalance the fitting data only (fitting.py applies them); validation and test data
never pass through them. `resample(X, y, seed) -> (X, y)` adds samples; `class_weight(y)` gives
weights that a model applies to its loss (a model that cannot, refuses such a resampler up front).
"""

import numpy as np

from fer_bench.parts.base import Resampler
from fer_bench.parts.params import Interval, Param
from fer_bench.parts.registry import register


@register("resampler", "none")
class NoResampling(Resampler):
    """Leave the training data as it is."""

    takes_soft_targets = True


@register("resampler", "class-weights")
class ClassWeights(Resampler):
    """No new samples; weight each class's loss by n / (n_classes * count), sklearn's 'balanced'."""

    gives_class_weights = True

    def class_weight(self, y):
        classes, counts = np.unique(y, return_counts=True)
        return {int(c): float(len(y) / (len(classes) * n)) for c, n in zip(classes, counts)}


@register("resampler", "smote")
class Smote(Resampler):
    """SMOTE on every class but the majority (the study's choice)."""

    parameters = {"k_neighbors": Param(5, Interval(1))}

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
