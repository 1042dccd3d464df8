"""scikit-learn baselines on standardized, flattened features.

A fitted baseline (its scaler and estimator, one Pipeline) is saved with skops, never pickle: loading
builds only the types its `trusted` list names, so a weights file cannot run code.
"""

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fer_bench.errors import FerBenchError
from fer_bench.parts.base import Model, SavesWeights
from fer_bench.parts.params import Choices, Interval, Options, Param, Range
from fer_bench.parts.registry import register


class SklearnModel(Model, SavesWeights):
    """Base of the baselines: subclasses give `estimator(seed, class_weight)`; no training history."""

    family = "embedding + classic ML"  # they take vectors: the embedding
    pipeline: Any = None  # the scikit-learn pipeline, once fitted or loaded
    n_classes = 0
    weights_suffix = "skops"
    # The types its saved file may hold besides skops' own defaults (numpy arrays and dtypes): the
    # pipeline, the scaler, and each subclass's estimator.
    trusted: tuple = ("sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler")

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

    def save(self, path: Path):
        """The fitted pipeline as a compressed skops file, written whole or not at all."""
        import skops.io

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            skops.io.dump(self.pipeline, handle, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        tmp.replace(path)

    def load(self, path: Path, classes):
        """The pipeline `save` wrote, built from the types of `trusted` alone: a file holding any
        other type is refused in one line before anything in it is built."""
        import skops.io

        trusted = [*SklearnModel.trusted, *self.trusted]
        try:
            others = [t for t in skops.io.get_untrusted_types(file=path) if t not in trusted]
            if others:
                raise FerBenchError(f"{path}: holds {', '.join(others)}, which {self.key} does not use: not loaded")
            pipeline = skops.io.load(path, trusted=trusted)
        except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
            raise FerBenchError(f"{path}: not a {self.key} skops file ({error})") from None
        steps = [_type_name(pipeline)] + [_type_name(step) for _, step in getattr(pipeline, "steps", [])]
        if steps != [*SklearnModel.trusted, *self.trusted]:
            raise FerBenchError(f"{path}: holds {' + '.join(steps)}, not {self.key}'s scaler and estimator")
        self.pipeline, self.n_classes = self.unpacked(pipeline), len(classes)
        return self

    def unpacked(self, pipeline):
        """The pipeline as loaded, ready to predict (SVM widens its stored support vectors)."""
        return pipeline


def _type_name(value):
    return f"{type(value).__module__}.{type(value).__qualname__}"


@register("model", "svm")
class SVM(SklearnModel):
    """RBF (or other kernel) SVC; scores are a softmax of its one-vs-rest decision function."""

    trusted = ("sklearn.svm._classes.SVC",)

    parameters = {
        "C": Param(1.0, Interval(0, closed="neither"), search=Range(0.1, 1000.0, log=True)),
        # "scale", "auto" or a number as text; a search tries these where the kernel uses gamma
        "gamma": Param(
            "scale", search=Choices("scale", "0.001", "0.003", "0.01", "0.03", "0.1", when={"kernel": ["rbf", "poly"]})
        ),
        "kernel": Param("rbf", Options("rbf", "linear", "poly"), search=Choices()),
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

    def save(self, path: Path):
        """Its support vectors (most of the file) stored as float32 where that loses nothing, as on
        float32 features, whose scaled rows libsvm widens to float64: half the size, the same model."""
        svc = self.pipeline[-1]
        wide = svc.support_vectors_
        narrow = wide.astype(np.float32)
        if np.array_equal(narrow, wide):
            svc.support_vectors_ = narrow
        try:
            super().save(path)
        finally:
            svc.support_vectors_ = wide

    def unpacked(self, pipeline):
        svc = pipeline[-1]
        svc.support_vectors_ = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
        return pipeline


@register("model", "knn")
class KNN(SklearnModel):
    """k-nearest neighbours."""

    takes_class_weights = False
    trusted = ("sklearn.neighbors._classification.KNeighborsClassifier",)

    parameters = {
        "n_neighbors": Param(15, Interval(1), search=Range(1, 60, log=True)),
        "weights": Param("distance", Options("uniform", "distance"), search=Choices()),
    }

    def estimator(self, seed, class_weight):
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=self.n_neighbors, weights=self.weights)


@register("model", "logreg")
class LogReg(SklearnModel):
    """Multinomial logistic regression."""

    trusted = ("sklearn.linear_model._logistic.LogisticRegression",)

    parameters = {
        "C": Param(1.0, Interval(0, closed="neither"), search=Range(0.001, 100.0, log=True)),
        "max_iter": Param(2000, Interval(1)),
    }

    def estimator(self, seed, class_weight):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=class_weight, random_state=seed)
