from typing import Literal

import numpy as np

from fer_bench.features.base import FeatureSet
from fer_bench.features.embedding import Embedding
from fer_bench.registry import register


@register("features", "pixels")
class Pixels:
    """The raw 48x48 grayscale image scaled to [0, 1], shape (48, 48, 1); covers every image."""

    def extract(self, dataset, cache=None, jobs=1):
        X = (dataset.images.astype(np.float32) / 255.0)[..., None]
        return FeatureSet(X, np.ones(len(dataset), dtype=bool))


@register("features", "pixels-embedding")
class PixelsEmbedding:
    """Each image's 2,304 pixels in [0, 1] then its 128-d embedding, one row; coverage by `protocol`."""

    def __init__(self, protocol: Literal["detector", "full"] = "full"):
        self.protocol = protocol

    def extract(self, dataset, cache=None, jobs=None):
        embedding = Embedding(self.protocol).extract(dataset, cache, jobs)
        pixels = dataset.images.reshape(len(dataset), -1).astype(np.float32) / 255.0
        return FeatureSet(np.concatenate([pixels, embedding.X], axis=1), embedding.covered)
