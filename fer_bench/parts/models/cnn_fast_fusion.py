"""The fast CNN (`cnn-fast`) with the 128-d face embedding as a second input: `fusion` for the fast
recipe. The embedding (batch-normalised, one dense ReLU layer of 128) joins the pooled image
features before the classifier (fer_bench/parts/models/cnn_fast.py, build_fast_cnn)."""

import numpy as np

from fer_bench.parts.base import IMAGE_AND_EMBEDDING
from fer_bench.parts.models.cnn import IMAGE_SHAPE, PIXELS
from fer_bench.parts.models.cnn_fast import FastCNN
from fer_bench.parts.registry import register


@register("model", "cnn-fast-fusion")
class FastFusion(FastCNN):
    """The fast residual CNN with the 128-d embedding as a second input (features `pixels-embedding`)."""

    takes = frozenset({IMAGE_AND_EMBEDDING})
    with_embedding = True
    added_later = ("fit_teacher_temperature", "ema", "tta_shift")  # the parameters added after its runs were recorded

    def inputs(self, X):
        return [X[:, :PIXELS].reshape(len(X), *IMAGE_SHAPE), np.ascontiguousarray(X[:, PIXELS:])]
