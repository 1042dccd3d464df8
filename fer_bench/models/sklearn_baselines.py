"""scikit-learn baselines on standardized, flattened features."""

from typing import Literal

import numpy as np

from fer_bench.errors import FerBenchError
from fer_bench.registry import register


class SklearnModel:
    """Base of the baselines: subclasses give `estimator(seed, class_weight)`; no training history."""

    history = None

    def estimator(self, seed, class_weight):
        raise NotImplementedError

    def fit(self, X, y, resampler, seed):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X_fit, y_fit = resampler.resample(X, y, seed)
        estimator = self.estimator(seed, resampler.class_weight(y_fit))
        self.pipeline = make_pipeline(StandardScaler(), estimator)
        self.pipeline.fit(X_fit.reshape(len(X_fit), -1), y_fit)

    def predict_proba(self, X):
        return self.pipeline.predict_proba(X.reshape(len(X), -1))


@register("model", "svm")
class SVM(SklearnModel):
    """RBF (or other kernel) SVC; scores are a softmax of its one-vs-rest decision function."""

    search_space = {
        "C": {"low": 0.1, "high": 1000.0, "log": True},
        "kernel": {"choices": ["rbf", "linear", "poly"]},
        "gamma": {"choices": ["scale", "0.001", "0.003", "0.01", "0.03", "0.1"], "when": {"kernel": ["rbf", "poly"]}},
    }

    def __init__(self, C: float = 1.0, gamma: str = "scale", kernel: Literal["rbf", "linear", "poly"] = "rbf"):
        if C <= 0:
            raise ValueError("C must be > 0")
        self.C, self.gamma, self.kernel = C, gamma, kernel

    def estimator(self, seed, class_weight):
        from sklearn.svm import SVC

        gamma = self.gamma if self.gamma in ("scale", "auto") else float(self.gamma)
        return SVC(
            C=self.C,
            gamma=gamma,
            kernel=self.kernel,
            class_weight=class_weight,
            decision_function_shape="ovr",
            random_state=seed,
        )

    def predict_proba(self, X):
        scores = self.pipeline.decision_function(X.reshape(len(X), -1))
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)


@register("model", "knn")
class KNN(SklearnModel):
    """k-nearest neighbours."""

    search_space = {"n_neighbors": {"low": 1, "high": 60, "log": True}, "weights": {"choices": ["uniform", "distance"]}}

    def __init__(self, n_neighbors: int = 15, weights: Literal["uniform", "distance"] = "distance"):
        if n_neighbors < 1:
            raise ValueError("n_neighbors must be >= 1")
        self.n_neighbors, self.weights = n_neighbors, weights

    def estimator(self, seed, class_weight):
        from sklearn.neighbors import KNeighborsClassifier

        if class_weight is not None:
            raise FerBenchError("model/knn cannot weight classes; use a resampler that adds samples")
        return KNeighborsClassifier(n_neighbors=self.n_neighbors, weights=self.weights)


@register("model", "logreg")
class LogReg(SklearnModel):
    """Multinomial logistic regression."""

    search_space = {"C": {"low": 0.001, "high": 100.0, "log": True}}

    def __init__(self, C: float = 1.0, max_iter: int = 2000):
        if C <= 0 or max_iter < 1:
            raise ValueError("C must be > 0 and max_iter >= 1")
        self.C, self.max_iter = C, max_iter

    def estimator(self, seed, class_weight):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=class_weight, random_state=seed)
