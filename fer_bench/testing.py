"""What a part author (and fer-bench's own tests) test with: a simulated data set, cheap parts that
never import a deep-learning framework, and `check_part`, the conformance check that every
registered part passes (as scikit-learn's `check_estimator`).

The cheap parts register when this module is imported; another process gets them with
FER_BENCH_PLUGINS=fer_bench.testing. They exercise the harness (records, claims, the chunked cache,
worker processes, per-epoch reports, saved weights) in a fraction of a second per run.
"""

import functools
import tempfile
import time
from pathlib import Path
from typing import Literal

import numpy as np

from fer_bench.data.dataset import FER2013_CLASSES, IMAGE_SIZE, Dataset
from fer_bench.parts import registry
from fer_bench.parts.base import (
    BASES,
    CAPABILITIES,
    IMAGE,
    IMAGE_AND_EMBEDDING,
    ROWS,
    VECTOR,
    BuildsOnRuns,
    DescribesCrops,
    Features,
    FeatureSet,
    Model,
    ReportsEpochs,
    SavesWeights,
    SoftTargets,
    ValidationPlan,
)
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.features._chunks import cached_in_chunks
from fer_bench.parts.registry import register
from fer_bench.runs import fitting
from fer_bench.runs.probabilities import StoredRuns
from fer_bench.runs.records import OK, Record, RunData
from fer_bench.specs.experiment import PartSpec, RunSpec

# --- a simulated data set -------------------------------------------------------------------------


def simulated_images(labels, n_classes, seed=0, noise=250.0):
    """48x48 uint8 faces of a sort: class k is a stripe pattern at angle k/n_classes of a half turn,
    under Gaussian noise, so that classes are learnable and no two images are alike."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / IMAGE_SIZE
    images = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i, label in enumerate(labels):
        angle = np.pi * label / n_classes
        stripes = np.sin(2 * np.pi * 3 * (xs * np.cos(angle) + ys * np.sin(angle)))
        pixels = 128 + 70 * stripes + rng.normal(0, noise, stripes.shape)
        images[i] = np.clip(pixels, 0, 255).astype(np.uint8)
    return images


def simulated_dataset(per_split=None, classes=FER2013_CLASSES, seed=0) -> Dataset:
    """A small data set in FER2013's layout: `per_split` = {split: images per class}."""
    per_split = per_split or {"Training": 20, "PublicTest": 6, "PrivateTest": 6}
    labels, splits = [], []
    for split, per_class in per_split.items():
        labels += [k for k in range(len(classes)) for _ in range(per_class)]
        splits += [split] * (per_class * len(classes))
    labels = np.array(labels, dtype=np.int64)
    images = simulated_images(labels, len(classes), seed)
    ids = np.array([f"simulated {i}" for i in range(len(labels))])
    return Dataset(f"simulated (seed {seed})", "simulated", images, labels, np.array(splits), ids, tuple(classes))


def write_csv(dataset: Dataset, path: Path) -> Path:
    """The data set as a Kaggle-style fer2013.csv (emotion, pixels, Usage), which `--data` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{label},{' '.join(map(str, image.ravel()))},{split}"
        for image, label, split in zip(dataset.images, dataset.labels, dataset.splits)
    ]
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return path


# --- cheap parts ----------------------------------------------------------------------------------


def _stripe_summary(images, seconds=0.0):
    """Per image, the mean of each row and column, scaled to [0, 1]: a 96-d vector (after a wait)."""
    time.sleep(seconds)
    scaled = images.astype(np.float32) / 255.0
    return {"X": np.concatenate([scaled.mean(axis=1), scaled.mean(axis=2)], axis=1)}


@register("features", "test-profile")
class CheapProfile(Features, DescribesCrops):
    """Test part: each image's row and column means (96-d), extracted in chunks in worker processes
    and cached like the embedding; `seconds_per_chunk` of waiting per chunk gives a kill time to land."""

    def __init__(self, seconds_per_chunk: float = 0.0):
        if seconds_per_chunk < 0:
            raise ValueError("seconds_per_chunk must be >= 0")
        self.seconds_per_chunk = seconds_per_chunk

    def extract(self, dataset, cache=None, jobs=None):
        inputs = {"dataset": dataset.images_fingerprint, "extractor": "test-profile"}
        work = functools.partial(_stripe_summary, seconds=self.seconds_per_chunk)
        stored = cached_in_chunks(cache or ArrayCache(), inputs, dataset.images, work, dict, jobs, "test-profile")
        return FeatureSet(stored["X"], np.ones(len(dataset), dtype=bool))

    def of_crops(self, crops):
        return FeatureSet(_stripe_summary(crops)["X"], np.ones(len(crops), dtype=bool))


@register("model", "test-centroid")
class CheapCentroid(Model, ReportsEpochs, SoftTargets, SavesWeights):
    """Test part: nearest class mean in NumPy, `epochs` passes that each report validation accuracy,
    `seconds_per_epoch` of waiting each; `shrink` pulls the means towards the overall mean."""

    search_space = {"shrink": {"low": 0.0, "high": 0.9}, "metric": {"choices": ["euclidean", "cosine"]}}

    def __init__(self, epochs: int = 3, seconds_per_epoch: float = 0.0, shrink: float = 0.0,
                 metric: Literal["euclidean", "cosine"] = "euclidean", fail: bool = False):  # fmt: skip
        if epochs < 1 or seconds_per_epoch < 0 or not 0 <= shrink < 1:
            raise ValueError("epochs must be >= 1, seconds_per_epoch >= 0 and 0 <= shrink < 1")
        self.epochs, self.seconds_per_epoch, self.shrink, self.metric = epochs, seconds_per_epoch, shrink, metric
        self.fail = fail
        self.centroids = None

    def validation_plan(self):
        return ValidationPlan(0.25, resample_first=True)  # NumPy alone: no scikit-learn to import

    def fit(self, data):
        if self.fail:
            raise RuntimeError("test-centroid was asked to fail")
        X = data.X.reshape(len(data.X), -1)
        weights = data.y if data.y.ndim == 2 else np.eye(len(data.classes))[data.y]
        counts = weights.sum(axis=0)[:, None]
        means = weights.T @ X / np.maximum(counts, 1e-9)
        means[counts[:, 0] == 0] = X.mean(axis=0)
        self.centroids = (1 - self.shrink) * means + self.shrink * X.mean(axis=0)
        X_val, y_val = data.validation
        hard = y_val.argmax(axis=1) if y_val.ndim == 2 else y_val
        history = {"val_accuracy": []}
        for epoch in range(self.epochs):
            time.sleep(self.seconds_per_epoch)
            history["val_accuracy"].append(float((self.predict_proba(X_val).argmax(axis=1) == hard).mean()))
            if data.on_epoch:
                data.on_epoch(epoch, {"val_accuracy": history["val_accuracy"][-1]})
        return history

    def predict_proba(self, X):
        X = X.reshape(len(X), -1)
        if self.metric == "cosine":
            X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
            centroids = self.centroids / np.maximum(np.linalg.norm(self.centroids, axis=1, keepdims=True), 1e-9)
        else:
            centroids = self.centroids
        scores = -((X[:, None, :] - centroids[None]) ** 2).sum(axis=2) * 10
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, centroids=self.centroids)

    def load(self, path: Path, classes):
        with np.load(path) as stored:
            self.centroids = stored["centroids"]
        if len(self.centroids) != len(classes):
            raise ValueError(f"{path} holds {len(self.centroids)} classes, expected {len(classes)}")
        return self


@register("model", "test-centroid-holdout")
class CheapCentroidHoldout(CheapCentroid):
    """Test part: test-centroid holding a stratified share of the real Training images out for
    validation, as the CNN does (a run keeps their probabilities, for temperature scaling)."""

    def validation_plan(self):
        return ValidationPlan(0.25)


# --- conformance ----------------------------------------------------------------------------------

CHECK_CLASSES = ("a", "b", "c")  # a label space other than FER2013's, so models must size from it
_FEATURES_FOR = {VECTOR: "test-profile", IMAGE: "pixels", IMAGE_AND_EMBEDDING: "pixels-embedding"}


def check_part(key):
    """Check the part registered as `key` ("kind/name") against its contract; raises AssertionError.

    Static: it derives from its kind's base, keeps each parameter under its name, declares a
    version, a summary, a search space over its own parameters and only the capabilities of its
    kind. Run on a simulated data set with its `smoke_params`: what it computes has the promised
    shape, a model sizes its output from the label space, and each declared capability works.
    """
    kind, name = key.split("/", 1)
    part = registry.get(kind, name)
    factory = part.factory
    assert issubclass(factory, BASES[kind]) and factory.name == name, f"{key}: not a {BASES[kind].__name__}"
    assert isinstance(factory.version, str) and factory.version, f"{key}: needs a version string"
    assert part.summary, f"{key}: needs a docstring whose first line `fer-bench list` shows"
    defaults = part.resolve({})
    instance = part.create(defaults)
    kept = {name: getattr(instance, name, "(missing)") for name in defaults}
    assert kept == defaults, f"{key}: constructor parameters must be kept as attributes of the same name"
    for param, space in factory.search_space.items():
        assert param in defaults, f"{key}: search_space names {param!r}, which is no parameter"
        for other in space.get("when", {}):
            assert other in defaults, f"{key}: search_space condition on {other!r}, which is no parameter"
    for capability in CAPABILITIES:
        if issubclass(factory, capability):
            owner = Features if capability is DescribesCrops else Model
            assert issubclass(factory, owner), f"{key}: {capability.__name__} is for {owner.kind} parts"
    smoke = part.create({**defaults, **factory.smoke_params})
    {"features": _check_features, "resampler": _check_resampler, "model": _check_model}[kind](smoke, key)


def _check_features(features, key):
    assert features.gives in ROWS, f"{key}: gives must be one of {ROWS}"
    dataset = simulated_dataset({"Training": 2, "PrivateTest": 1})
    with tempfile.TemporaryDirectory() as cache:
        found = features.extract(dataset, ArrayCache(cache), jobs=1)
    assert len(found.X) == len(found.covered) == len(dataset), f"{key}: one row (and coverage) per image"
    assert found.covered.dtype == bool and np.isfinite(found.X[found.covered]).all(), f"{key}: bad values"
    shape = {VECTOR: found.X.shape[1:2], IMAGE: (IMAGE_SIZE, IMAGE_SIZE, 1), IMAGE_AND_EMBEDDING: (2304 + 128,)}
    assert found.X.shape[1:] == shape[features.gives], f"{key}: rows of shape {found.X.shape[1:]} for {features.gives}"
    if isinstance(features, DescribesCrops):
        crops = features.of_crops(dataset.images[:3])
        np.testing.assert_allclose(crops.X, found.X[:3], atol=1e-4, err_msg=f"{key}: of_crops differs from extract")


def _check_resampler(resampler, key):
    dataset = simulated_dataset({"Training": 12}, classes=CHECK_CLASSES)
    keep = np.concatenate([np.flatnonzero(dataset.labels == label)[:n] for label, n in enumerate((12, 8, 6))])
    X, y = _stripe_summary(dataset.images[keep])["X"], dataset.labels[keep]
    X_new, y_new = resampler.resample(X, y, seed=0)
    assert X_new.shape[1:] == X.shape[1:] and X_new.dtype == X.dtype, f"{key}: resampled rows changed shape"
    assert len(X_new) == len(y_new) and set(y_new.tolist()) <= set(y.tolist()), f"{key}: labels out of the data"
    weights = resampler.class_weight(y_new)
    assert (weights is not None) == resampler.gives_class_weights, f"{key}: class_weight against gives_class_weights"


def _recorded_member(dataset, features, folder: Path):
    """(a RecordStore in `folder`, the run id of the one run it holds): test-centroid on `features`,
    with saved weights, the member a BuildsOnRuns model is checked with."""
    from fer_bench.runs import runner
    from fer_bench.runs.records import RecordStore
    from fer_bench.specs.experiment import Experiment, PartSpec

    experiment = Experiment("check-member", "a member for the conformance check",
                            PartSpec.of("features", features.name, features.get_params()),
                            PartSpec.of("resampler", "none", {}), PartSpec.of("model", "test-centroid", {}), 0,
                            ("PublicTest", "PrivateTest"))  # fmt: skip
    store = RecordStore(folder / "results")
    return store, runner.run(experiment, dataset, store, ArrayCache(folder / "cache")).run_id


def _check_model(model, key):
    part = registry.get("model", model.name)
    gives = sorted(model.takes)[0]
    features = registry.get("features", _FEATURES_FOR[gives]).create({})
    dataset = simulated_dataset({"Training": 12, "PrivateTest": 4}, classes=CHECK_CLASSES)
    with tempfile.TemporaryDirectory() as folder:
        found = features.extract(dataset, ArrayCache(folder), jobs=1)
        train, test = dataset.indices("Training"), dataset.indices("PrivateTest")
        X, y, X_test = found.X[train], dataset.labels[train], found.X[test]
        if isinstance(model, BuildsOnRuns):  # built on a recorded run, named in its runs_param
            store, run_id = _recorded_member(dataset, features, Path(folder))
            named = run_id if isinstance(part.resolve({})[model.runs_param], str) else (run_id,)
            model = part.create({**model.get_params(), model.runs_param: named})

        def ready(instance):
            if isinstance(instance, BuildsOnRuns):
                instance.use_runs(StoredRuns(store, ArrayCache(Path(folder) / "cache"), dataset), features, dataset)
            return instance

        model = ready(model)
        epochs, none = [], registry.get("resampler", "none").create({})
        history = fitting.fit(model, none, X, y, 0, CHECK_CLASSES, Path(folder) / "checkpoint",
                              on_epoch=lambda epoch, logs: epochs.append(epoch))  # fmt: skip
        proba = np.asarray(model.predict_proba(X_test))
        assert proba.shape == (len(test), len(CHECK_CLASSES)), f"{key}: probabilities of shape {proba.shape}"
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-4), f"{key}: rows must sum to 1"
        if isinstance(model, ReportsEpochs):
            lengths = {len(values) for metric, values in history.items() if metric != "best_epoch"} - {1}
            assert epochs and lengths <= {len(epochs)}, f"{key}: on_epoch and the history must cover each epoch"
        else:
            assert history is None, f"{key}: only a ReportsEpochs model returns a history"
        if isinstance(model, SavesWeights):
            model.save(Path(folder) / "weights.npz")
            again = part.create(model.get_params()).load(Path(folder) / "weights.npz", CHECK_CLASSES)
            np.testing.assert_allclose(again.predict_proba(X_test), proba, atol=1e-5, err_msg=f"{key}: save/load")
        if isinstance(model, SoftTargets):
            soft = np.full((len(y), len(CHECK_CLASSES)), 0.1 / (len(CHECK_CLASSES) - 1))
            soft[np.arange(len(y)), y] = 0.9
            fresh = ready(part.create(model.get_params()))
            fitting.fit(fresh, none, X, soft, 0, CHECK_CLASSES)
            assert fresh.predict_proba(X_test).shape == proba.shape, f"{key}: fit on soft targets"


# --- a record of no run ---------------------------------------------------------------------------

EXAMPLE_PARTS = {"features": "pixels", "resampler": "none", "model": "logreg"}


def example_record(run_id="abc123def456", experiment="example", fingerprint="f1", versioned=True, status=OK,
                   **values) -> Record:  # fmt: skip
    """A record as the runner makes them, of no run (for tests of what reads records): the parts of
    EXAMPLE_PARTS without parameters, at their current versions (or, not `versioned`, as recorded
    before run ids named versions), on a FER2013 data set of `fingerprint`; `values` sets other fields."""
    parts = {kind: PartSpec(name, {}, registry.get(kind, name).version if versioned else None)
             for kind, name in EXAMPLE_PARTS.items()}  # fmt: skip
    spec = RunSpec(experiment, fingerprint, **parts, seed=0, test_splits=("PublicTest", "PrivateTest"),
                   backend="tensorflow", versioned=versioned)  # fmt: skip
    data = RunData(f"/data/{fingerprint}", "usage folders", fingerprint, 1000, FER2013_CLASSES, "fer2013")
    return Record(run_id, experiment, status, spec, 0, "2026-11-28T00:00:00+00:00", data,
                  hardware={"keras_backend": "tensorflow"}, **values)  # fmt: skip
