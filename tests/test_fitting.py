"""fitting.py, the one way a run fits its model: which Training rows and groups, what the model's
`fit` is handed (resampled rows, validation rows, what its capabilities use), and where the weights
go. Each test pins what a silent change there would corrupt (issue 40's mutation testing)."""

import numpy as np
import pytest

from fer_bench.data import FER2013_CLASSES
from fer_bench.data.copies import copy_groups, grouped_holdout
from fer_bench.data.dataset import UNLABELLED, Dataset
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import Resampler, Resumable, ValidationPlan
from fer_bench.parts.models.sklearn_baselines import LogReg
from fer_bench.runs import fitting, layout
from fer_bench.testing import CheapCentroid, simulated_dataset

SEED = 5


def _rows(n=120, dim=4):
    """Rows whose first feature is their label (so a row that left its label shows), 7 classes."""
    y = np.arange(n) % 7
    X = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    X[:, 0] = y
    return X, y


class _Recording(Resampler):
    """A resampler that adds one copy of the first row (rows made by resampling) and records its calls."""

    key = "recording"

    def __init__(self):
        self.calls = []

    def resample(self, X, y, seed):
        self.calls.append((X.copy(), y.copy(), seed))
        return np.concatenate([X, X[:1]]), np.concatenate([y, y[:1]])

    def class_weight(self, y):
        return {int(c): float(len(y)) for c in np.unique(y)}


class _Untouched(_Recording):
    def resample(self, X, y, seed):
        self.calls.append((X, y, seed))
        return X, y


class _Spy(CheapCentroid):
    """Records the FitData it is handed; plan None (fits on every row) unless given one."""

    def __init__(self, plan=None):
        super().__init__()
        self.plan, self.data = plan, None

    def validation_plan(self):
        return self.plan

    def fit(self, data):
        self.data = data
        return {"val_accuracy": [0.5]}


class _ResumableSpy(_Spy, Resumable):
    pass


def test_training_rows_are_the_covered_labelled_training_images_with_their_labels_or_targets():
    plain = simulated_dataset({"Training": 4, "PublicTest": 2, "PrivateTest": 2})
    labels = plain.labels.copy()
    train = plain.indices("Training")
    labels[train[0]] = UNLABELLED
    covered = np.ones(len(plain), bool)
    covered[train[1]] = False
    targets = np.random.default_rng(0).dirichlet(np.ones(7), len(plain)).astype(np.float32)
    fields = (plain.source, plain.layout, plain.images, labels, plain.splits, plain.ids, plain.classes)
    expected = train[2:]

    rows, y = fitting.training_rows(Dataset(*fields), covered)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(y, labels[expected])

    rows, y = fitting.training_rows(Dataset(*fields, targets=targets), covered)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(y, targets[expected])  # soft targets where the label source gives them


def test_training_groups_are_the_rows_groups_of_copies_only_where_the_spec_groups():
    dataset = simulated_dataset({"Training": 4, "PublicTest": 2, "PrivateTest": 2})
    rows = dataset.indices("Training")[::2]
    np.testing.assert_array_equal(fitting.training_groups(dataset, rows, "copies"), copy_groups(dataset)[rows])
    assert fitting.training_groups(dataset, rows, "") is None  # a run recorded before grouped splits


def test_a_model_without_a_plan_gets_every_row_resampled_and_what_its_capabilities_use():
    X, y = _rows()
    groups = np.arange(len(y)) // 3
    report = []
    model, resampler = _Spy(), _Untouched()
    history = fitting.fit(model, resampler, X, y, SEED, FER2013_CLASSES, "checkpoints", report.append, groups)
    data = model.data
    assert history == {"val_accuracy": [0.5]}
    assert [(call[0] is X, call[1] is y, call[2]) for call in resampler.calls] == [(True, True, SEED)]
    assert data.X is X and data.y is y and data.seed == SEED and data.classes == FER2013_CLASSES
    assert data.validation is None and data.class_weight == resampler.class_weight(y)
    assert data.groups is groups  # the rows are the training rows themselves: their groups hold
    assert data.checkpoint_dir is None  # not Resumable
    assert data.on_epoch == report.append  # ReportsEpochs

    class NoEpochs(LogReg):  # neither Resumable nor ReportsEpochs
        def fit(self, data):
            self.data = data

    model = NoEpochs()
    fitting.fit(model, _Untouched(), X, y, SEED, FER2013_CLASSES, "checkpoints", report.append, groups)
    assert model.data.checkpoint_dir is None and model.data.on_epoch is None

    model = _ResumableSpy()
    fitting.fit(model, _Recording(), X, y, SEED, FER2013_CLASSES, "checkpoints", report.append, groups)
    assert model.data.checkpoint_dir == "checkpoints"
    assert model.data.groups is None  # rows made by resampling belong to no group
    assert len(model.data.X) == len(X) + 1 and model.data.class_weight == {c: len(X) + 1.0 for c in range(7)}


def test_a_model_with_a_plan_gets_its_real_validation_rows_held_out_by_group():
    X, y = _rows()
    groups = np.arange(len(y)) // 6  # large groups: a split that ignored them would differ
    plan = ValidationPlan(0.25)
    model, resampler = _Spy(plan), _Recording()
    fitting.fit(model, resampler, X, y, SEED, FER2013_CLASSES, groups=groups)
    fitted, held = grouped_holdout(y, groups, 0.25, SEED)
    X_val, y_val = model.data.validation
    np.testing.assert_array_equal(X_val, X[held])
    np.testing.assert_array_equal(y_val, y[held])
    ((resampled_X, resampled_y, seed),) = resampler.calls
    np.testing.assert_array_equal(resampled_X, X[fitted])
    assert seed == SEED and model.data.groups is None  # the fitting rows are resampled and shuffled
    shuffled_X, shuffled_y = fitting.shuffle(*_Recording().resample(X[fitted], y[fitted], SEED), SEED)
    np.testing.assert_array_equal(model.data.X, shuffled_X)  # shuffled by the run's seed, rows with their labels
    np.testing.assert_array_equal(model.data.y, shuffled_y)


def test_rows_the_features_could_not_cover_are_refused_before_resampling_naming_the_model():
    X, y = _rows()
    X[3] = np.nan
    model, resampler = _Spy(), _Recording()
    with pytest.raises(FerBenchError, match=f"^{model.key}: 1 of the {len(X)} feature rows to fit on hold NaN"):
        fitting.fit(model, resampler, X, y, SEED, FER2013_CLASSES)
    assert resampler.calls == [] and model.data is None


def test_a_plan_that_resamples_first_holds_out_the_last_share_of_the_shuffled_rows():
    X, y = _rows()
    resampler = _Recording()
    parts = fitting.carve_validation(X, y, resampler, SEED, ValidationPlan(0.25, resample_first=True))
    assert [seed for *_, seed in resampler.calls] == [SEED]
    X_fit, y_fit, X_val, y_val = parts
    n = len(y) + 1
    assert len(X_val) == len(y_val) == int(n * 0.25) and len(X_fit) == len(y_fit) == n - int(n * 0.25)
    for rows, labels in ((X_fit, y_fit), (X_val, y_val)):
        np.testing.assert_array_equal(rows[:, 0], labels)
    shuffled_X, shuffled_y = fitting.shuffle(*_Recording().resample(X, y, SEED), SEED)
    np.testing.assert_array_equal(np.concatenate([X_fit, X_val]), shuffled_X)
    again = fitting.carve_validation(X, y, _Recording(), SEED, ValidationPlan(0.25, resample_first=True))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_holdout_is_the_grouped_stratified_split_of_the_labels_or_of_soft_targets_argmax():
    X, y = _rows()
    groups = np.arange(len(y)) // 6
    plan = ValidationPlan(0.25)
    expected = grouped_holdout(y, groups, 0.25, SEED)
    soft = np.eye(7)[y] * 0.6 + 0.4 / 7
    for labels in (y, soft):
        assert all(np.array_equal(a, b) for a, b in zip(fitting.holdout(labels, SEED, plan, groups), expected))
    with pytest.raises(ValueError, match="^a plan that resamples first holds out synthetic rows, not training"):
        fitting.holdout(y, SEED, ValidationPlan(0.25, resample_first=True))


def test_shuffle_permutes_rows_and_labels_together_by_the_seed():
    X, y = _rows()
    order = np.random.default_rng(SEED).permutation(len(y))
    shuffled_X, shuffled_y = fitting.shuffle(X, y, SEED)
    np.testing.assert_array_equal(shuffled_X, X[order])
    np.testing.assert_array_equal(shuffled_y, y[order])


class _OneFile(CheapCentroid):
    def save(self, path):
        path.write_text("weights")  # into a folder that exists, as the SavesWeights contract says


def test_weights_go_where_the_record_points_in_a_folder_made_for_them(tmp_path):
    results = tmp_path / "new" / "results"
    for _ in range(2):  # a second run's weights beside the first
        artefact = fitting.save_weights(_OneFile(), results, "0123abcd")
        assert artefact == layout.weights("0123abcd", "npz")
        assert (results / artefact).read_text() == "weights"
