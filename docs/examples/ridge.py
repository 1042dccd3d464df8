"""A ridge classifier on feature vectors: least squares onto one-hot labels."""

from pathlib import Path

import numpy as np

from fer_bench.parts.base import VECTOR, Model, SavesWeights
from fer_bench.parts.params import Interval, Param, Range
from fer_bench.parts.registry import register


@register("model", "ridge")
class Ridge(Model, SavesWeights):
    """Ridge regression onto one-hot labels; a softmax of its scores."""

    # In every run id: bump it when what the model computes changes.
    version = "1"
    # The features rows it can fit: vectors (the 128-d embedding).
    takes = frozenset({VECTOR})
    # It ignores class weights, so a class-weights resampler is refused up front.
    takes_class_weights = False
    # name: Param(default, constraint), in this order in the run id; `search`: what a
    # search may tune it over, inside the constraint.
    parameters = {
        "alpha": Param(1.0, Interval(0, closed="neither"), search=Range(0.01, 100.0, log=True)),
        "sharpness": Param(4.0, Interval(0, closed="neither")),
    }

    def fit(self, data):
        X = self._design(data.X, fitting=True)
        Y = np.eye(len(data.classes))[data.y]  # data.y: codes into data.classes
        penalty = self.alpha * np.eye(X.shape[1])
        self.W = np.linalg.solve(X.T @ X + penalty, X.T @ Y)
        return None  # no per-epoch history

    def predict_proba(self, X):
        scores = self.sharpness * (self._design(X) @ self.W)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, path: Path):
        """To results/models/<run id>.weights.npz (the runner makes the folder)."""
        np.savez(path, mean=self.mean, scale=self.scale, W=self.W)

    def load(self, path: Path, classes):
        with np.load(path) as saved:
            self.mean, self.scale = saved["mean"], saved["scale"]
            self.W = saved["W"]
        return self

    def _design(self, X, fitting=False):
        """Rows standardized by the fitting rows' statistics, and a 1."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if fitting:
            self.mean, self.scale = X.mean(axis=0), X.std(axis=0) + 1e-8
        return np.hstack([(X - self.mean) / self.scale, np.ones((len(X), 1))])
