"""What a part author (and fer-bench's own tests) test with: a simulated data set, cheap parts that
never import a deep-learning framework, and `check_part`, the conformance check that every
registered part passes (as scikit-learn's `check_estimator`).

The cheap parts register when this module is imported; another process gets them with
FER_BENCH_PLUGINS=fer_bench.testing. They exercise the harness (records, claims, the chunked cache,
worker processes, per-epoch reports, saved weights) in a fraction of a second per run.
"""

import atexit
import functools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from PIL import Image

from fer_bench.data.dataset import FER2013_CLASSES, IMAGE_SIZE, Dataset
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import (
    CAPABILITIES,
    IMAGE,
    IMAGE_AND_EMBEDDING,
    ROWS,
    VECTOR,
    BuildsOnRuns,
    DescribesCrops,
    Features,
    FeatureSet,
    FitData,
    History,
    Model,
    OutOfFold,
    Pretrained,
    ReportsEpochs,
    SavesWeights,
    SoftTargets,
    ValidationPlan,
)
from fer_bench.parts.cache import ArrayCache
from fer_bench.parts.features._chunks import cached_in_chunks
from fer_bench.parts.params import Choices, Interval, Options, Param, Range
from fer_bench.parts.registry import BASES, RegisteredPart, register
from fer_bench.runs import fitting
from fer_bench.runs.probabilities import StoredRuns
from fer_bench.runs.records import OK, Record, RunData
from fer_bench.specs.experiment import PartSpec, RunSpec

# --- a simulated data set -------------------------------------------------------------------------


def simulated_images(
    labels: Sequence[int] | np.ndarray, n_classes: int, seed: int = 0, noise: float = 250.0
) -> np.ndarray:
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


def simulated_dataset(
    per_split: dict[str, int] | None = None, classes: Sequence[str] = FER2013_CLASSES, seed: int = 0
) -> Dataset:
    """A small data set in FER2013's layout: `per_split` = {split: images per class}."""
    per_split = per_split or {"Training": 20, "PublicTest": 6, "PrivateTest": 6}
    codes: list[int] = []
    splits: list[str] = []
    for split, per_class in per_split.items():
        codes += [k for k in range(len(classes)) for _ in range(per_class)]
        splits += [split] * (per_class * len(classes))
    labels = np.array(codes, dtype=np.int64)
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

    parameters = {"seconds_per_chunk": Param(0.0, Interval(0))}
    seconds_per_chunk: float

    def extract(self, dataset: Dataset, cache: ArrayCache | None = None, jobs: int | None = None) -> FeatureSet:
        inputs = {"dataset": dataset.images_fingerprint, "extractor": "test-profile"}
        work = functools.partial(_stripe_summary, seconds=self.seconds_per_chunk)
        stored = cached_in_chunks(cache or ArrayCache(), inputs, dataset.images, work, dict, jobs, "test-profile")
        return FeatureSet(stored["X"], np.ones(len(dataset), dtype=bool))

    def of_crops(self, crops: np.ndarray) -> FeatureSet:
        return FeatureSet(_stripe_summary(crops)["X"], np.ones(len(crops), dtype=bool))


@register("model", "test-centroid")
class CheapCentroid(Model, ReportsEpochs, SoftTargets, SavesWeights):
    """Test part: nearest class mean in NumPy, `epochs` passes that each report validation accuracy,
    `seconds_per_epoch` of waiting each; `shrink` pulls the means towards the overall mean."""

    parameters = {
        "epochs": Param(3, Interval(1)),
        "seconds_per_epoch": Param(0.0, Interval(0)),
        "shrink": Param(0.0, Interval(0, 1, closed="left"), search=Range(0.0, 0.9)),
        "metric": Param("euclidean", Options("euclidean", "cosine"), search=Choices()),
        "fail": Param(False),
    }
    epochs: int
    seconds_per_epoch: float
    shrink: float
    metric: str
    fail: bool
    centroids: np.ndarray

    def validation_plan(self) -> ValidationPlan | None:
        return ValidationPlan(0.25, resample_first=True)  # NumPy alone: no scikit-learn to import

    def fit(self, data: FitData) -> History:
        if self.fail:
            raise RuntimeError("test-centroid was asked to fail")
        X = data.X.reshape(len(data.X), -1)
        weights = data.y if data.y.ndim == 2 else np.eye(len(data.classes))[data.y]
        counts = weights.sum(axis=0)[:, None]
        means = weights.T @ X / np.maximum(counts, 1e-9)
        means[counts[:, 0] == 0] = X.mean(axis=0)
        self.centroids = (1 - self.shrink) * means + self.shrink * X.mean(axis=0)
        assert data.validation is not None  # its validation_plan asks for validation rows
        X_val, y_val = data.validation
        hard = y_val.argmax(axis=1) if y_val.ndim == 2 else y_val
        history: History = {"val_accuracy": []}
        for epoch in range(self.epochs):
            time.sleep(self.seconds_per_epoch)
            history["val_accuracy"].append(float((self.predict_proba(X_val).argmax(axis=1) == hard).mean()))
            if data.on_epoch:
                data.on_epoch(epoch, {"val_accuracy": history["val_accuracy"][-1]})
        return history

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = X.reshape(len(X), -1)
        if self.metric == "cosine":
            X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
            centroids = self.centroids / np.maximum(np.linalg.norm(self.centroids, axis=1, keepdims=True), 1e-9)
        else:
            centroids = self.centroids
        scores = -((X[:, None, :] - centroids[None]) ** 2).sum(axis=2) * 10
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        assert self.centroids is not None  # saved once fitted
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, centroids=self.centroids)

    def load(self, path: Path, classes: Sequence[str]) -> Self:
        with np.load(path) as stored:
            self.centroids = stored["centroids"]
        if len(self.centroids) != len(classes):
            raise ValueError(f"{path} holds {len(self.centroids)} classes, expected {len(classes)}")
        return self


@register("model", "test-centroid-holdout")
class CheapCentroidHoldout(CheapCentroid):
    """Test part: test-centroid holding a stratified share of the real Training images out for
    validation, as the CNN does (a run keeps their probabilities, for temperature scaling)."""

    def validation_plan(self) -> ValidationPlan | None:
        return ValidationPlan(0.25)


# --- conformance: named checks, as scikit-learn's parametrize_with_checks -------------------------

CHECK_CLASSES = ("a", "b", "c")  # a label space other than FER2013's, so models must size from it
_FEATURES_FOR = {VECTOR: "test-profile", IMAGE: "pixels", IMAGE_AND_EMBEDDING: "pixels-embedding"}


def check_kind(part: RegisteredPart) -> None:
    """It derives from its kind's base and answers to its registered name."""
    factory = part.factory
    assert issubclass(factory, BASES[part.kind]) and factory.name == part.name, (
        f"{part.key}: not a {BASES[part.kind].__name__}"
    )


def check_version(part: RegisteredPart) -> None:
    assert isinstance(part.version, str) and part.version, f"{part.key}: needs a version string"


def check_summary(part: RegisteredPart) -> None:
    assert part.summary, f"{part.key}: needs a docstring whose first line `fer-bench list` shows"


def check_parameters(part: RegisteredPart) -> None:
    """Each declared default fits its own declaration, and so do `smoke_params`; `added_later`
    names parameters."""
    for param in part.params:
        assert isinstance(param, Param) and param.name, f"{part.key}: declare parameters as Param(default, constraint)"
        try:
            param.check(part.key, param.default)
        except FerBenchError as error:
            raise AssertionError(f"{part.key}: default outside its declaration: {error}") from None
    try:
        part.resolve(part.factory.smoke_params)
    except FerBenchError as error:
        raise AssertionError(f"{part.key}: smoke_params: {error}") from None
    unknown = set(part.factory.added_later) - part.param_names
    assert not unknown, f"{part.key}: added_later names {sorted(unknown)}, which are no parameters"


def check_keeps_parameters(part: RegisteredPart) -> None:
    """Created with its defaults, and with its smoke parameters, it keeps each parameter as an
    attribute of the same name (get_params() gives them back)."""
    for values in (part.resolve({}), part.resolve(part.factory.smoke_params)):
        instance = part.create(values)
        kept = {name: getattr(instance, name, "(missing)") for name in values}
        assert kept == values, f"{part.key}: parameters must be kept as attributes of the same name"


def check_search_space(part: RegisteredPart) -> None:
    """Its search space tunes its own parameters, inside their declared constraints."""
    for param, space in part.search_space.items():
        assert space is not None, f"{part.key}: {param} is tunable but gives no range"
        assert_within(part, param, space)


def assert_within(part: RegisteredPart, param: str, space: dict[str, Any]) -> None:
    """`space` ({low, high, log} or {choices}, optionally `when`), a search space of `part`'s
    parameter `param`, lies inside the parameter's declaration."""
    declared = {p.name: p for p in part.params}
    assert param in declared, f"{part.key}: search space names {param!r}, which is no parameter"
    values = space["choices"] if "choices" in space else [space["low"], space["high"]]
    if "choices" not in space:
        assert not space.get("log") or space["low"] > 0, f"{part.key}: {param}'s log range must start above 0"
        assert type(space["low"]) is type(space["high"]) is type(declared[param].default), (
            f"{part.key}: {param}'s range {values} is not of the parameter's type"
        )
    conditions = [
        (other, v)
        for other, wanted in space.get("when", {}).items()
        for v in (wanted if isinstance(wanted, list) else [wanted])
    ]
    for name, value in [(param, v) for v in values] + conditions:
        assert name in declared, f"{part.key}: search space condition on {name!r}, which is no parameter"
        try:
            declared[name].check(part.key, value)
        except FerBenchError as error:
            raise AssertionError(f"{part.key}: search space outside the declaration: {error}") from None


def check_capabilities(part: RegisteredPart) -> None:
    """It declares only the capabilities of its kind."""
    for capability in CAPABILITIES:
        if issubclass(part.factory, capability):
            owner = Features if capability is DescribesCrops else Model
            assert issubclass(part.factory, owner), f"{part.key}: {capability.__name__} is for {owner.kind} parts"


def _smoke(part: RegisteredPart) -> Any:
    """The part made with its smoke parameters."""
    return _made(part, part.factory.smoke_params)


def _made(part: RegisteredPart, values: dict[str, Any]) -> Any:
    """The part made with `values`; Any: each check uses what the part's kind and capabilities have."""
    return part.create(values)


def check_extract(part: RegisteredPart) -> None:
    """Its features cover a simulated data set: one row per image, of the shape it `gives`."""
    features = _smoke(part)
    assert features.gives in ROWS, f"{part.key}: gives must be one of {ROWS}"
    dataset = simulated_dataset({"Training": 2, "PrivateTest": 1})
    with tempfile.TemporaryDirectory() as cache:
        found = features.extract(dataset, ArrayCache(cache), jobs=1)
    assert len(found.X) == len(found.covered) == len(dataset), f"{part.key}: one row (and coverage) per image"
    assert found.covered.dtype == bool and np.isfinite(found.X[found.covered]).all(), f"{part.key}: bad values"
    shape = {VECTOR: found.X.shape[1:2], IMAGE: (IMAGE_SIZE, IMAGE_SIZE, 1), IMAGE_AND_EMBEDDING: (2304 + 128,)}
    assert found.X.shape[1:] == shape[features.gives], (
        f"{part.key}: rows of shape {found.X.shape[1:]} for {features.gives}"
    )


def check_of_crops(part: RegisteredPart) -> None:
    """DescribesCrops: features of crops cover the images `extract` covers, and are its features there
    (where it covers none, a crop's row may hold a stand-in, which `predict` scores as uncovered)."""
    features = _smoke(part)
    dataset = simulated_dataset({"Training": 1})
    with tempfile.TemporaryDirectory() as cache:
        found = features.extract(dataset, ArrayCache(cache), jobs=1)
    crops = features.of_crops(dataset.images[:3])
    covered = found.covered[:3]
    np.testing.assert_array_equal(crops.covered, covered, err_msg=f"{part.key}: of_crops covers other crops")
    np.testing.assert_allclose(
        crops.X[covered], found.X[:3][covered], atol=1e-4, err_msg=f"{part.key}: of_crops differs from extract"
    )


def check_resample(part: RegisteredPart) -> None:
    """Resampled rows keep their shape and labels; class weights come exactly when declared."""
    resampler = _smoke(part)
    dataset = simulated_dataset({"Training": 12}, classes=CHECK_CLASSES)
    keep = np.concatenate([np.flatnonzero(dataset.labels == label)[:n] for label, n in enumerate((12, 8, 6))])
    X, y = _stripe_summary(dataset.images[keep])["X"], dataset.labels[keep]
    X_new, y_new = resampler.resample(X, y, seed=0)
    assert X_new.shape[1:] == X.shape[1:] and X_new.dtype == X.dtype, f"{part.key}: resampled rows changed shape"
    assert len(X_new) == len(y_new) and set(y_new.tolist()) <= set(y.tolist()), f"{part.key}: labels out of the data"
    weights = resampler.class_weight(y_new)
    assert (weights is not None) == resampler.gives_class_weights, (
        f"{part.key}: class_weight against gives_class_weights"
    )


@dataclass(frozen=True)
class _Fitted:
    model: Model
    rows: np.ndarray  # the data set rows it was fitted on
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    proba: np.ndarray
    history: dict | None
    epochs: list  # the epochs on_epoch was called with


@functools.cache
def _fitted(part):
    """`part`'s smoke model fitted on a simulated data set (once per process: several checks read it)."""
    folder = Path(tempfile.mkdtemp(prefix="fer-bench-check-"))
    atexit.register(shutil.rmtree, folder, True)
    model, X, y, X_test = _fit_data(part, folder)
    epochs = []
    history = fitting.fit(
        model,
        _no_resampling(),
        X,
        y,
        0,
        CHECK_CLASSES,
        folder / "checkpoint",
        on_epoch=lambda epoch, logs: epochs.append(epoch),
    )
    rows = _check_data().indices("Training")
    return _Fitted(model, rows, X, y, X_test, np.asarray(model.predict_proba(X_test)), history, epochs)


def _check_data():
    return simulated_dataset({"Training": 12, "PrivateTest": 4}, classes=CHECK_CLASSES)


def _fit_data(part, folder):
    """(a smoke model ready to fit, its fitting rows and labels, test rows) on a simulated data set
    of CHECK_CLASSES (`_check_data`); a BuildsOnRuns model is handed a recorded test-centroid run
    to build on."""
    model = _smoke(part)
    features = registry.get("features", _FEATURES_FOR[sorted(model.takes)[0]]).create({})
    dataset = _check_data()
    found = features.extract(dataset, ArrayCache(folder / "cache"), jobs=1)
    train, test = dataset.indices("Training"), dataset.indices("PrivateTest")
    if isinstance(model, BuildsOnRuns):  # built on a recorded run, named in its runs_param
        workspace, run_id = _recorded_member(dataset, features, folder)
        named = run_id if isinstance(part.resolve({})[model.runs_param], str) else (run_id,)
        model = part.create({**model.get_params(), model.runs_param: named})
        model.use_runs(StoredRuns(workspace), features, dataset)
    return model, found.X[train], dataset.labels[train], found.X[test]


def _no_resampling():
    return registry.get("resampler", "none").create({})


def _recorded_member(dataset, features, folder: Path):
    """(a Workspace in `folder`, the run id of the one run it holds): test-centroid on `features`,
    with saved weights, the member a BuildsOnRuns model is checked with."""
    from fer_bench.runs import runner
    from fer_bench.runs.workspace import Workspace
    from fer_bench.specs.experiment import Experiment, PartSpec

    experiment = Experiment(
        "check-member",
        "a member for the conformance check",
        PartSpec.of("features", features.name, features.get_params()),
        PartSpec.of("resampler", "none", {}),
        PartSpec.of("model", "test-centroid", {}),
        0,
        ("PublicTest", "PrivateTest"),
    )
    workspace = Workspace(folder / "results", folder / "cache", dataset)
    return workspace, runner.run(experiment, workspace).run_id


def check_fit_predict(part: RegisteredPart) -> None:
    """Fitted on a label space of 3 classes, it gives (n, 3) probabilities whose rows sum to 1; only
    a ReportsEpochs model returns a history."""
    fitted = _fitted(part)
    proba = fitted.proba
    assert proba.shape == (len(fitted.X_test), len(CHECK_CLASSES)), f"{part.key}: probabilities of shape {proba.shape}"
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-4), f"{part.key}: rows must sum to 1"
    assert isinstance(fitted.model, ReportsEpochs) or fitted.history is None, (
        f"{part.key}: only a ReportsEpochs model returns a history"
    )


def check_reports_epochs(part: RegisteredPart) -> None:
    """ReportsEpochs: on_epoch is called each epoch and the history has a value per epoch."""
    fitted = _fitted(part)
    lengths = {len(values) for metric, values in fitted.history.items() if metric != "best_epoch"} - {1}
    assert fitted.epochs and lengths <= {len(fitted.epochs)}, f"{part.key}: on_epoch and the history must cover epochs"


def check_save_load(part: RegisteredPart) -> None:
    """SavesWeights: a model loaded from its saved weights predicts as the fitted one did."""
    fitted = _fitted(part)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"weights.{fitted.model.weights_suffix}"
        fitted.model.save(path)
        again = _made(part, fitted.model.get_params()).load(path, CHECK_CLASSES)
        np.testing.assert_allclose(
            again.predict_proba(fitted.X_test), fitted.proba, atol=1e-5, err_msg=f"{part.key}: save/load"
        )


def check_out_of_fold(part: RegisteredPart) -> None:
    """OutOfFold: its out-of-fold probabilities of the rows it was fitted on, fitted and loaded from
    its saved weights alike, are (n, classes) rows summing to 1; or None where it has none."""
    fitted = _fitted(part)
    proba = fitted.model.out_of_fold_proba(fitted.rows, fitted.X, fitted.y, 0)
    if proba is None:
        return
    assert np.shape(proba) == (len(fitted.X), len(CHECK_CLASSES)), f"{part.key}: out-of-fold probabilities' shape"
    assert np.allclose(np.sum(proba, axis=1), 1, atol=1e-4), f"{part.key}: out-of-fold rows must sum to 1"
    if issubclass(part.factory, SavesWeights):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"weights.{fitted.model.weights_suffix}"
            fitted.model.save(path)
            again = _made(part, fitted.model.get_params()).load(path, CHECK_CLASSES)
            np.testing.assert_allclose(
                again.out_of_fold_proba(fitted.rows, fitted.X, fitted.y, 0),
                proba,
                atol=1e-5,
                err_msg=f"{part.key}: out of fold after save/load",
            )


def check_soft_targets(part: RegisteredPart) -> None:
    """SoftTargets: it fits on (n, classes) probabilities as it does on labels."""
    with tempfile.TemporaryDirectory() as folder:
        model, X, y, X_test = _fit_data(part, Path(folder))
        soft = np.full((len(y), len(CHECK_CLASSES)), 0.1 / (len(CHECK_CLASSES) - 1))
        soft[np.arange(len(y)), y] = 0.9
        fitting.fit(model, _no_resampling(), X, soft, 0, CHECK_CLASSES)
        proba = model.predict_proba(X_test)
    assert np.shape(proba) == (len(X_test), len(CHECK_CLASSES)), f"{part.key}: fit on soft targets"


PRETRAINED_CLASSES = ("Sadness", "Happiness", "Neutral")  # emotions, as a network trained elsewhere names its own


def check_pretrained(part: RegisteredPart) -> None:
    """Pretrained: it says what it was trained on; its fit refuses with a FerBenchError; made ready
    for a label space it was not fitted on, it gives (n, classes) probabilities whose rows sum to 1;
    a SavesWeights one, loaded again, predicts the same."""
    assert "trained_on" in part.param_names, f"{part.key}: a Pretrained part needs a `trained_on` parameter"
    dataset = simulated_dataset({"Training": 2, "PrivateTest": 2}, classes=PRETRAINED_CLASSES)
    with tempfile.TemporaryDirectory() as folder:
        factory: Any = part.factory  # a Pretrained part's, which makes its own example
        model = _made(part, factory.on_this_machine(part.resolve(factory.example(Path(folder), PRETRAINED_CLASSES))))
        features = _made(registry.get("features", _FEATURES_FOR[sorted(model.takes)[0]]), {})
        X = features.extract(dataset, ArrayCache(Path(folder) / "cache"), jobs=1).X
        try:
            fitting.fit(model, _no_resampling(), X, dataset.labels, 0, PRETRAINED_CLASSES)
        except FerBenchError:
            pass
        else:
            raise AssertionError(f"{part.key}: a Pretrained model's fit must refuse with a FerBenchError")
        proba = np.asarray(model.ready(PRETRAINED_CLASSES).predict_proba(X))
        assert proba.shape == (len(X), len(PRETRAINED_CLASSES)), f"{part.key}: probabilities of shape {proba.shape}"
        assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-4), (
            f"{part.key}: rows must sum to 1"
        )
        if issubclass(part.factory, SavesWeights):
            model.save(Path(folder) / "weights.npz")
            again = _made(part, model.get_params()).load(Path(folder) / "weights.npz", PRETRAINED_CLASSES)
            np.testing.assert_allclose(again.predict_proba(X), proba, atol=1e-5, err_msg=f"{part.key}: save/load")


def check_finds_faces(part: RegisteredPart) -> None:
    """It scans a crop and a photo-sized image, giving (left, top, right, bottom) boxes, framed as
    FER2013's crops one for one."""
    from fer_bench.parts.detectors import find_faces, rgb_of

    detector = _smoke(part)
    assert isinstance(detector.photo_side, int) and detector.photo_side > 0, f"{part.key}: needs a photo_side"
    crop = simulated_images([0], 1)[0]
    photo = np.kron(crop, np.ones((4, 4), dtype=np.uint8))
    for image, crop_sized in ((crop, True), (photo, False)):
        boxes = detector.boxes(rgb_of(image), crop_sized)
        assert all(len(box) == 4 for box in boxes), f"{part.key}: boxes must be (left, top, right, bottom)"
        assert len(detector.framed(rgb_of(image), crop_sized)) == len(boxes), f"{part.key}: one frame per box"
    assert isinstance(find_faces(Image.fromarray(photo), detector), list), f"{part.key}: find_faces"


_STATIC = (
    check_kind,
    check_version,
    check_summary,
    check_parameters,
    check_keeps_parameters,
    check_search_space,
    check_capabilities,
)
_RUNS = {
    "features": (check_extract, check_of_crops),
    "resampler": (check_resample,),
    "model": (
        check_fit_predict,
        check_reports_epochs,
        check_save_load,
        check_out_of_fold,
        check_soft_targets,
        check_pretrained,
    ),
    "detector": (check_finds_faces,),
}
_NEEDS = {
    check_of_crops: DescribesCrops,
    check_reports_epochs: ReportsEpochs,
    check_save_load: SavesWeights,
    check_out_of_fold: OutOfFold,
    check_soft_targets: SoftTargets,
    check_pretrained: Pretrained,
}
_NOT_FOR = {check_fit_predict: Pretrained, check_save_load: Pretrained}  # check_pretrained checks them without a fit


def checks(part: RegisteredPart) -> list[Callable[[RegisteredPart], None]]:
    """The checks that apply to `part` (a registry.RegisteredPart): each takes the part and raises
    AssertionError naming it. Those of a capability apply to parts that declare it."""
    return [
        c
        for c in (*_STATIC, *_RUNS[part.kind])
        if issubclass(part.factory, _NEEDS.get(c, object)) and not issubclass(part.factory, _NOT_FOR.get(c, ()))
    ]


def check_part(key: str) -> None:
    """Every check of the part registered as `key` ("kind/name"), stopping at the first failure."""
    part = registry.get(*key.split("/", 1))
    for check in checks(part):
        check(part)


def parametrize_with_checks(parts: Iterable[RegisteredPart]) -> Any:
    """A pytest decorator giving one test per part and check, with ids such as
    `model/cnn-check_save_load`; the test takes `part` and `check` and calls `check(part)`."""
    import pytest

    cases = [(part, check) for part in parts for check in checks(part)]
    return pytest.mark.parametrize(("part", "check"), cases, ids=[f"{p.key}-{c.__name__}" for p, c in cases])


# --- a record of no run ---------------------------------------------------------------------------

EXAMPLE_PARTS = {"features": "pixels", "resampler": "none", "model": "logreg"}


def example_record(
    run_id: str = "abc123def456",
    experiment: str = "example",
    fingerprint: str = "f1",
    versioned: bool = True,
    status: str = OK,
    **values: Any,
) -> Record:
    """A record as the runner makes them, of no run (for tests of what reads records): the parts of
    EXAMPLE_PARTS without parameters, at their current versions (or, not `versioned`, as recorded
    before run ids named versions), on a FER2013 data set of `fingerprint`; `values` sets other fields."""
    parts = {
        kind: PartSpec(name, {}, registry.get(kind, name).version if versioned else None)
        for kind, name in EXAMPLE_PARTS.items()
    }
    spec = RunSpec(
        experiment,
        fingerprint,
        **parts,  # type: ignore[arg-type]  # mypy cannot tell it holds the part fields only
        seed=0,
        test_splits=("PublicTest", "PrivateTest"),
        backend="tensorflow",
        versioned=versioned,
    )
    data = RunData(f"/data/{fingerprint}", "usage folders", fingerprint, 1000, FER2013_CLASSES, "fer2013")
    return Record(
        run_id,
        experiment,
        status,
        spec,
        0,
        "2026-11-28T00:00:00+00:00",
        data,
        hardware={"keras_backend": "tensorflow"},
        **values,
    )
