import numpy as np

from fer_bench.features.base import FeatureSet
from fer_bench.registry import register


@register("features", "pixels")
class Pixels:
    """The raw 48x48 grayscale image scaled to [0, 1], shape (48, 48, 1); covers every image."""

    def extract(self, dataset, cache=None, jobs=1):
        X = (dataset.images.astype(np.float32) / 255.0)[..., None]
        return FeatureSet(X, np.ones(len(dataset), dtype=bool))
