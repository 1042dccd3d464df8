import numpy as np

from fer_bench.data.dataset import IMAGE_SIZE
from fer_bench.parts.base import IMAGE, IMAGE_AND_EMBEDDING, DescribesCrops, Features, FeatureSet
from fer_bench.parts.features.embedding import Embedding
from fer_bench.parts.params import Options, Param
from fer_bench.parts.registry import register

PIXELS = IMAGE_SIZE * IMAGE_SIZE


def scaled(images):
    """uint8 images as float32 in [0, 1]."""
    return images.astype(np.float32) / 255.0


@register("features", "pixels")
class Pixels(Features, DescribesCrops):
    """The raw 48x48 grayscale image scaled to [0, 1], shape (48, 48, 1); covers every image."""

    gives = IMAGE

    def extract(self, dataset, cache=None, jobs=None):
        return self.of_crops(dataset.images)

    def of_crops(self, crops):
        return FeatureSet(scaled(crops)[..., None], np.ones(len(crops), dtype=bool))


@register("features", "pixels-embedding")
class PixelsEmbedding(Features, DescribesCrops):
    """Each image's 2,304 pixels in [0, 1] then its 128-d embedding, one row; coverage by `protocol`."""

    gives = IMAGE_AND_EMBEDDING

    parameters = {"protocol": Param("full", Options("detector", "full"))}

    def extract(self, dataset, cache=None, jobs=None):
        return self._joined(dataset.images, Embedding(protocol=self.protocol).extract(dataset, cache, jobs))

    def of_crops(self, crops):
        return self._joined(crops, Embedding(protocol=self.protocol).of_crops(crops))

    def inputs_for(self, name, params):
        if (name, params) == ("pixels", Pixels().get_params()):
            return lambda X: X[:, :PIXELS].reshape(len(X), IMAGE_SIZE, IMAGE_SIZE, 1)
        if (name, params) == ("embedding", Embedding(protocol=self.protocol).get_params()):
            return lambda X: X[:, PIXELS:]
        return super().inputs_for(name, params)

    @staticmethod
    def _joined(images, embedding: FeatureSet):
        pixels = scaled(images).reshape(len(images), -1)
        return FeatureSet(np.concatenate([pixels, embedding.X], axis=1), embedding.covered)
