"""scikit-learn baselines on standardized, flattened features."""

import numpy as np

from fer_bench.parts.base import Model
from fer_bench.parts.params import Interval, Options, Param
from fer_bench.parts.registry import register


class SklearnModel(Model):
    """Base of the baselines: subclasses give `estimator(seed, class_weight)`; no training history."""

    pipeline = None
    n_classes = 0

    def estimator(self, seed, class_weight):
        raise NotImplementedError

    def fit(self, data):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(StandardScaler(), self.estimator(data.seed, data.class_weight))
        self.pipeline.fit(data.X.reshape(len(data.X), -1), data.y)
        self.n_classes = len(data.classes)
        return None

    def scores(self, X):
        """(n, classes seen in fitting) probabilities, columns in the order of the estimator's classes_."""
        return self.pipeline.predict_proba(X.reshape(len(X), -1))

    def predict_proba(self, X):
        """A column per class of the label space: a class absent from the fitting rows gets 0."""
        proba = np.zeros((len(X), self.n_classes), dtype=np.float64)
        proba[:, self.pipeline.classes_] = self.scores(X)
        return proba


@register("model", "svm")
class SVM(SklearnModel):
    """RBF (or other kernel) SVC; scores are a softmax of its one-vs-rest decision function."""

    search_space = {
        "C": {"low": 0.1, "high": 1000.0, "log": True},
        "kernel": {"choices": ["rbf", "linear", "poly"]},
        "gamma": {"choices": ["scale", "0.001", "0.003", "0.01", "0.03", "0.1"], "when": {"kernel": ["rbf", "poly"]}},
    }

    parameters = {
        "C": Param(1.0, Interval(0, closed="neither")),
        "gamma": Param("scale"),
        "kernel": Param("rbf", Options("rbf", "linear", "poly")),
    }

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

    def scores(self, X):
        decision = self.pipeline.decision_function(X.reshape(len(X), -1))
        if decision.ndim == 1:  # two classes seen: one column, the second class's side
            decision = np.stack([-decision, decision], axis=1)
        decision = np.exp(decision - decision.max(axis=1, keepdims=True))
        return decision / decision.sum(axis=1, keepdims=True)


@register("model", "knn")
class KNN(SklearnModel):
    """k-nearest neighbours."""

    takes_class_weights = False
    search_space = {"n_neighbors": {"low": 1, "high": 60, "log": True}, "weights": {"choices": ["uniform", "distance"]}}

    parameters = {"n_neighbors": Param(15, Interval(1)), "weights": Param("distance", Options("uniform", "distance"))}

    def estimator(self, seed, class_weight):
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=self.n_neighbors, weights=self.weights)


@register("model", "logreg")
class LogReg(SklearnModel):
    """Multinomial logistic regression."""

    search_space = {"C": {"low": 0.001, "high": 100.0, "log": True}}

    parameters = {"C": Param(1.0, Interval(0, closed="neither")), "max_iter": Param(2000, Interval(1))}

    def estimator(self, seed, class_weight):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=class_weight, random_state=seed)
