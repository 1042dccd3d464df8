"""What every part promises: the base classes of features, resamplers, models and face detectors.

A part is a class derived from its kind's base below and registered with `@register(kind, name)`
(registry.py). Its parameters are declared in its `parameters` table (fer_bench/parts/params.py);
the constructor takes them as keyword arguments and keeps each as an attribute of the same name
(scikit-learn's convention), so `get_params()` reads them back. Before any work, a
part can refuse the other parts of a run with a reason (`refuse`), as benchopt's solvers `skip`.
Optional capabilities are declared by deriving from the capability classes at the end of this
file, and the harness checks the declaration, never the presence of a method.
"""

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, Self, TypedDict

import numpy as np

from fer_bench.errors import FerBenchError
from fer_bench.parts.params import Param
from fer_bench.scoring.calibration import Temperature
from fer_bench.scoring.metrics import predicted

if TYPE_CHECKING:
    from fer_bench.data.dataset import Dataset
    from fer_bench.parts.cache import ArrayCache

# What a features row is, and so which models can take it.
VECTOR = "vector"  # a 1-d vector (the 128-d embedding)
IMAGE = "image"  # a 48x48x1 image in [0, 1]
IMAGE_AND_EMBEDDING = "image+embedding"  # the 2,304 pixels then the 128-d embedding, one row
ROWS = (VECTOR, IMAGE, IMAGE_AND_EMBEDDING)

# A fit's per-epoch history, {metric: [value per epoch]}, as Model.fit returns it and a record keeps it.
History = dict[str, list[float]]


class Part(ABC):
    kind: ClassVar[str]
    name: ClassVar[str] = ""  # set by @register
    # In every run id: bump it when what the part computes changes, so earlier records stop
    # counting as this code's results and `fer-bench run` computes them again.
    version: ClassVar[str] = "1"
    # {name: Param(default, constraint)}: the part's parameters, in this order, in every run id; a
    # tunable one says what a search may tune it over (Param.search).
    parameters: ClassVar[dict[str, Param]] = {}
    # Parameters that make the conformance checks (fer_bench.testing) quick.
    smoke_params: ClassVar[dict[str, Any]] = {}
    # Parameters added after runs were recorded, whose defaults compute what those runs did: a spec
    # leaves them out while at their default, so those runs keep their run ids.
    added_later: ClassVar[tuple[str, ...]] = ()
    __signature__: ClassVar[inspect.Signature]  # its parameters as keyword arguments (__init_subclass__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.parameters = {name: replace(p, name=name) for name, p in cls.parameters.items()}
        keyword = inspect.Parameter.KEYWORD_ONLY  # the constructor's signature, for help() and IDEs
        cls.__signature__ = inspect.Signature(
            [inspect.Parameter(p.name, keyword, default=p.default) for p in cls.parameters.values()]
        )

    def __init__(self, **values: Any) -> None:
        """Keeps each parameter, `values` over the defaults, as an attribute; then `validate()`."""
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise TypeError(f"{self.key}: unknown parameter {unknown[0]!r}")
        for name, param in self.parameters.items():
            setattr(self, name, param.check(self.key, values[name]) if name in values else param.default)
        self.validate()

    def validate(self) -> None:
        """Rules between parameters that their constraints cannot state: raise a one-line ValueError."""

    @classmethod
    def on_this_machine(cls, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with values that depend on the machine (an "auto" choice) decided; called when
        a spec is made, so the decision is part of the run id."""
        return params

    @classmethod
    def param_names(cls) -> list[str]:
        return list(cls.parameters)

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def refuse(self, setup: "Setup") -> str | None:
        """Why this part cannot run with the other parts of `setup`, or None."""
        return None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class FeatureSet:
    """Features for every image of a dataset; `covered[i]` is False where none could be computed.

    Uncovered images are not used for fitting and count as wrong in `accuracy_all`.
    """

    X: np.ndarray
    covered: np.ndarray


class Features(Part):
    kind = "features"
    gives: ClassVar[str] = VECTOR  # one of ROWS

    @abstractmethod
    def extract(self, dataset: "Dataset", cache: "ArrayCache", jobs: int | None = None) -> FeatureSet:
        """Features of every image of `dataset`; expensive ones are stored in `cache` (an ArrayCache)."""

    def inputs_for(self, name: str, params: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray] | None:
        """How rows of these features give the features part `name` with (all its) `params`: a
        function of rows, or None where they cannot (an ensemble feeds each member this way)."""
        return (lambda X: X) if (name, params) == (self.name, self.get_params()) else None


class Resampler(Part):
    """Rebalances the fitting data only; validation and test data never pass through it. The base
    leaves the data as it is."""

    kind = "resampler"
    gives_class_weights: ClassVar[bool] = False  # whether class_weight() returns weights
    takes_soft_targets: ClassVar[bool] = False  # whether y may be (n, classes) distributions

    def resample(self, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return X, y

    def class_weight(self, y: np.ndarray) -> dict[int, float] | None:
        return None


@dataclass(frozen=True)
class ValidationPlan:
    """How a model wants validation images carved from its training data (fitting.py does it).

    `resample_first` is the study's order: resample everything, shuffle, hold out the last
    `fraction`, so validation holds synthetic images; otherwise a stratified share of the real
    images is held out first and only the rest is resampled.
    """

    fraction: float
    resample_first: bool = False


@dataclass(frozen=True)
class FitData:
    """All a model's `fit` gets, prepared by fitting.py: the resampled fitting rows, the validation
    rows its plan asked for, and what the capabilities it declares use."""

    X: np.ndarray
    y: np.ndarray  # codes into `classes`, (n,); or (n, len(classes)) probabilities for SoftTargets models
    classes: tuple[str, ...]
    seed: int
    validation: tuple[np.ndarray, np.ndarray] | None = None  # (X, y), real images only unless the plan resamples first
    class_weight: dict[int, float] | None = None
    checkpoint_dir: Path | None = None  # for Resumable models: where an interrupted fit resumes from
    # for ReportsEpochs models: called with (epoch, logs) after each epoch
    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    # Each row's group of copies (fer_bench/data/copies.py), for a model that splits its rows (folds):
    # a group stays on one side. None where its spec predates grouped splits, or resampling made rows.
    groups: np.ndarray | None = None


class Model(Part):
    """A model refuses feature rows holding NaN (images the features could not cover) in `predict_proba`,
    whichever model it is: a probability computed from NaN would be NaN, scored silently as a guess."""

    kind = "model"
    takes: ClassVar[frozenset] = frozenset(ROWS)  # the features rows it can fit
    takes_class_weights: ClassVar[bool] = True
    family: ClassVar[str] = ""  # what reports group it with ("CNN", "ensemble"); its name where unset

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "predict_proba" in cls.__dict__:
            # the subclass's own method, replaced by the same method checking its rows first
            setattr(cls, "predict_proba", _refusing_uncovered_rows(cls.__dict__["predict_proba"]))

    @classmethod
    def family_of(cls, params: dict[str, Any]) -> str:
        """Its family with these parameters (a run of it is in the family its spec gives)."""
        return cls.family or cls.name

    def validation_plan(self) -> ValidationPlan | None:
        return None

    def splits_training(self) -> bool:
        """Whether its fit splits the Training rows it is given (a hold-out of real images, folds):
        such a run's spec names the grouping its splits honour (fer_bench/data/copies.py)."""
        plan = self.validation_plan()
        return plan is not None and not plan.resample_first

    @abstractmethod
    def fit(self, data: FitData) -> History | None:
        """Fit on `data`; returns the per-epoch history ({metric: [value per epoch]}) or None."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, number of classes fitted) class probabilities."""


def uncovered_rows(X: np.ndarray) -> int:
    """How many rows of the feature matrix `X` hold NaN (the features cover no image there)."""
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        return 0
    return int(np.isnan(X.reshape(len(X), -1)).any(axis=1).sum())


def refuse_uncovered_rows(model_key: str, X: np.ndarray, what: str = "given") -> None:
    """Raise the one-line FerBenchError of a model given rows with NaN features."""
    missing = uncovered_rows(X)
    if missing:
        raise FerBenchError(
            f"{model_key}: {missing} of the {len(X)} feature rows {what} hold NaN (images the features "
            "could not cover); score covered rows only"
        )


def _refusing_uncovered_rows(
    predict_proba: Callable[["Model", np.ndarray], np.ndarray],
) -> Callable[["Model", np.ndarray], np.ndarray]:
    @functools.wraps(predict_proba)
    def checked(self: "Model", X: np.ndarray) -> np.ndarray:
        refuse_uncovered_rows(self.key, X)
        return predict_proba(self, X)

    return checked


@dataclass(frozen=True)
class Framing:
    """FER2013's crop around a detector's box: its side, and its centre's shift from the box's
    centre, in box sides (the medians over the one-face images measure_framing sees)."""

    side: float
    dx: float
    dy: float

    def frame(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        left, top, right, bottom = box
        size = max(right - left, bottom - top)
        cx, cy, half = (left + right) / 2 + self.dx * size, (top + bottom) / 2 + self.dy * size, self.side * size / 2
        return cx - half, cy - half, cx + half, cy + half


class Detector(Part):
    """Finds faces (fer_bench/parts/detectors): for `predict` and `evaluate --detector`, and the
    embedding's `detector`. Its framings say where FER2013's crop lies around its box."""

    kind = "detector"
    photo_side: ClassVar[int]  # a photo's longest side is scaled down to this before detection
    crop_framing: ClassVar[Framing]  # FER2013's crop around its box in a crop-sized image
    photo_framing: ClassVar[Framing]  # and in a photo

    @abstractmethod
    def boxes(self, rgb: np.ndarray, crop_sized: bool) -> list[tuple[int, int, int, int]]:
        """(left, top, right, bottom) of every face in `rgb` (h, w, 3) uint8, in its pixels; a box may
        reach beyond the image, as dlib's do. A `crop_sized` image (at most 96 pixels a side) holds
        a face of a few dozen pixels, which a detector may need to enlarge to see."""

    def framed(self, rgb: np.ndarray, crop_sized: bool) -> list[tuple[float, float, float, float]]:
        """The faces' boxes framed as FER2013's crops."""
        framing = self.crop_framing if crop_sized else self.photo_framing
        return [framing.frame(box) for box in self.boxes(rgb, crop_sized)]


@dataclass(frozen=True)
class Setup:
    """The parts of one run, so that each can check the others before anything runs."""

    features: Features
    resampler: Resampler
    model: Model
    soft_targets: bool = False  # the labels give distributions to train on (FER+ soft modes)

    def problem(self) -> str | None:
        """The first reason these parts cannot run together, or None."""
        if self.soft_targets and not isinstance(self.model, SoftTargets):
            return f"{self.model.key} cannot train on soft targets; use FER+ labels in majority mode"
        if self.soft_targets and not self.resampler.takes_soft_targets:
            return f"{self.resampler.key} needs one label an image; soft targets train with resampler none"
        if self.features.gives not in self.model.takes:
            takes = " or ".join(sorted(self.model.takes))
            return f"{self.model.key} takes {takes} features; {self.features.key} gives {self.features.gives}"
        if self.resampler.gives_class_weights and not self.model.takes_class_weights:
            return f"{self.model.key} cannot weight classes; use a resampler that adds samples"
        for part in (self.features, self.resampler, self.model):
            reason = part.refuse(self)
            if reason:
                return reason
        return None


# --- capabilities: declared by deriving from them --------------------------------------------------


class SavesWeights(ABC):
    """Its trained weights can be saved beside the run's record and loaded again to predict: the
    loaded model predicts exactly as the fitted one did (the saved model is the evaluated one)."""

    weights_suffix: ClassVar[str] = "npz"  # of its file, `models/<run id>.weights.<suffix>`

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the fitted model's weights to `path` (a file, or a folder of files each under the
        size of one network's, made here; the folder `path` is in exists)."""

    @abstractmethod
    def load(self, path: Path, classes: Sequence[str]) -> Self:
        """Rebuild the model from its parameters and the weights at `path`; returns self."""


class ExportsNetwork(ABC):
    """Its fitted model is one Keras network from its inputs (what its features' rows become) to its
    class probabilities, as `predict_proba` gives them: `fer-bench export` writes it as an ONNX file."""

    @abstractmethod
    def exported_network(self) -> Any:  # a keras.Model (Keras has no types)
        """The fitted Keras network, with what `predict_proba` adds around it (test-time
        augmentation) built in."""


class Resumable:
    """`fit` resumes an interrupted fit from `FitData.checkpoint_dir` (one per run id)."""


class ReportsEpochs:
    """`fit` returns a per-epoch history and calls `FitData.on_epoch(epoch, logs)` after each epoch
    (a tuner reports validation accuracy there and prunes a trial by raising)."""


class SoftTargets:
    """`fit` takes `FitData.y` as (n, classes) probabilities as well as labels."""


class OutOfFold(ABC):
    """It can give out-of-fold probabilities of the Training images it was fitted on: each image's
    from a model that did not fit on it (a cross-fitted model; an ensemble of such), so a student
    learns what it knows of unseen images, not what it memorised. The harness stores them as the
    run's Training probabilities, marked out of fold (SplitProbabilities.out_of_fold)."""

    @abstractmethod
    def out_of_fold_proba(
        self, rows: np.ndarray, X: np.ndarray, y: np.ndarray, seed: int, groups: np.ndarray | None = None
    ) -> np.ndarray | None:
        """(len(rows), classes) probabilities of the Training images at data set `rows`, whose
        features rows `X`, labels `y` and groups of copies `groups` (FitData.groups) a fit with `seed`
        was given, in that order; None where it has none (an ensemble whose members' are not all out
        of fold). A loaded model gives the same as the fitted one."""


class DescribesCrops(ABC):
    """Features that can be computed for new 48x48 face crops (what `fer-bench predict` needs)."""

    @abstractmethod
    def of_crops(self, crops: np.ndarray) -> FeatureSet:
        """Features of (n, 48, 48) uint8 crops, as `extract` computes them for a data set's images."""


@dataclass(frozen=True)
class SplitProbabilities:
    """A run's class probabilities on the images of one split."""

    rows: np.ndarray  # (n,) rows of the data set
    labels: np.ndarray  # (n,) true codes
    proba: np.ndarray  # (n, classes) float32; NaN rows where not covered
    out_of_fold: bool = False  # each image's from a model that did not fit on it (OutOfFold)

    @property
    def covered(self) -> np.ndarray:
        return ~np.isnan(self.proba).any(axis=1)

    @property
    def predictions(self) -> np.ndarray:
        return predicted(self.proba)


@dataclass(frozen=True)
class RecordedRun:
    """What a part that builds on a recorded run knows of it."""

    run_id: str
    experiment: str
    classes: tuple[str, ...]
    data_fingerprint: str | None
    features: tuple[str, dict[str, Any]]  # (name, parameters) of its features part, as recorded
    saved_weights: bool
    out_of_fold: bool = False  # its stored Training probabilities are out of fold (OutOfFold)


class RecordedRuns(ABC):
    """The recorded runs a BuildsOnRuns part may build on, on the data set of the run being built:
    the run layer implements it over its record store, so parts never import that layer."""

    where: str  # where the runs are kept, for messages

    @abstractmethod
    def run(self, run_id: str) -> RecordedRun | None:
        """The latest successful run `run_id`, or None."""

    @abstractmethod
    def model(self, run_id: str) -> Model:
        """Its model, rebuilt with the weights it saved."""

    @abstractmethod
    def probabilities(self, run_id: str, split: str) -> SplitProbabilities:
        """Its stored probabilities on `split`; Training's are computed and stored first if missing."""

    @abstractmethod
    def temperature(self, run_id: str) -> Temperature:
        """The temperature its probabilities are used with (scoring.calibration.Temperature): fitted
        on its held-out Training images only, 1.0 where it stored none."""


class SelectedRun(TypedDict):
    """One run a BuildsOnRuns model used, as its record's `selection` lists it."""

    run_id: str
    experiment: str
    weight: float
    temperature: NotRequired[float]  # the member's calibration, where the ensemble calibrates


class Selection(TypedDict):
    """What a BuildsOnRuns model chose (BuildsOnRuns.choice), kept in its record's `selection`."""

    method: str
    on: str | None  # the test split the choice read, or None
    members: list[SelectedRun]


class BuildsOnRuns(ABC):
    """A model built on recorded runs (an ensemble of saved models; a student of a teacher): the
    runner hands it the recorded runs before any work, and keeps what it chose in the record's
    `selection`."""

    runs_param: ClassVar[str]  # the parameter naming its runs by run id (the conformance check sets it)

    @abstractmethod
    def use_runs(self, runs: RecordedRuns, features: Features, dataset: "Dataset") -> None:
        """Find its runs and check them against each other, the run's features and `dataset`: a
        FerBenchError of one line where they cannot be used together."""

    @abstractmethod
    def choice(self) -> Selection | None:
        """After fitting: which runs, with which weights, chosen how and on which split (`on`:
        None, or the test split that selection read); None where it used no run."""

    def chooses_on(self) -> tuple[str, str] | None:
        """(split, metric) its fit chooses among its runs on, which its file declares in `[choose]`
        (fer_bench/specs/choice.py); None where it chooses nothing."""
        return None


class Pretrained(ABC):
    """Trained elsewhere (a network another project trained and saved): the runner never fits it,
    it makes it `ready` for the data set's label space instead, and its `fit` refuses. What it was
    trained on is its `trained_on` parameter, so its spec and record say it."""

    trained_on: str  # a parameter: free text, as its maker states it

    @abstractmethod
    def ready(self, classes: Sequence[str]) -> Self:
        """Load it to give probabilities over the label space `classes`, in place of `fit`: a
        FerBenchError of one line where it cannot (no such file, not a network, a class of its
        own with no place in `classes`). Returns self."""

    @classmethod
    @abstractmethod
    def example(cls, folder: Path, classes: Sequence[str]) -> dict[str, Any]:
        """Parameters of a small working instance whose classes all lie in the label space
        `classes`, its file written into `folder` (what the conformance check runs)."""


CAPABILITIES = (
    SavesWeights,
    Resumable,
    ReportsEpochs,
    SoftTargets,
    OutOfFold,
    DescribesCrops,
    BuildsOnRuns,
    Pretrained,
)


def capabilities(cls: type) -> list[str]:
    return [c.__name__ for c in CAPABILITIES if issubclass(cls, c)]
