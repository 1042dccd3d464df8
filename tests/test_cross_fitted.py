"""Cross-fitting (model/cross-fitted): every Training image's stored probabilities come from a copy
that never fitted on it, folds are reproducible, an ensemble of cross-fitted runs teaches out of
fold too, and a student may fit its teacher's temperature only on out-of-fold probabilities."""

import hashlib
import logging
from dataclasses import replace

import numpy as np
import pytest

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data.copies import GROUPING, copy_groups
from fer_bench.data.dataset import Dataset
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import Setup
from fer_bench.parts.models import _distillation as distillation
from fer_bench.parts.models import cross_fitted
from fer_bench.parts.models.cross_fitted import assign_folds
from fer_bench.runs import fitting, probabilities
from fer_bench.runs.predict import Predictor
from fer_bench.runs.records import saved_model
from fer_bench.scoring import calibration
from fer_bench.testing import CheapCentroid, simulated_dataset, write_csv

from conftest import ENSEMBLE_OF, STUDENT_OF

FITTED = "fit_teacher_temperature = true"  # the students' temperature

CROSS_FITTED = """[features]
name = "pixels"
[model]
name = "cross-fitted"
inner = "test-centroid"
folds = 3
[model.inner_params]
shrink = {shrink}
"""
IN_SAMPLE = '[features]\nname = "pixels"\n[model]\nname = "test-centroid"\n'
DUPLICATES = ((5, 40), (12, 61))  # (row, row whose image it repeats), of other labels
NEAR_COPIES = ((20, 33),)  # (row, row whose image it repeats one grey level brighter): a copy too


def _image(x):
    return hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest()


@pytest.fixture
def dataset():
    """A simulated data set whose Training repeats two images under other labels, as FER2013 does,
    and a third re-encoded (one grey level brighter)."""
    plain = simulated_dataset({"Training": 10, "PublicTest": 3, "PrivateTest": 3})
    images = plain.images.copy()
    for row, of in DUPLICATES:
        images[row] = images[of]
    for row, of in NEAR_COPIES:
        images[row] = np.minimum(images[of].astype(np.int16) + 1, 255).astype(np.uint8)
    return Dataset(plain.source, plain.layout, images, plain.labels, plain.splits, plain.ids, plain.classes)


@pytest.fixture
def fitted_on(monkeypatch):
    """The images (digests) each test-centroid fit was given, in the order of the fits."""
    fits, fit = [], CheapCentroid.fit

    def spy(self, data):
        fits.append({_image(x) for x in data.X})
        return fit(self, data)

    monkeypatch.setattr(CheapCentroid, "fit", spy)
    return fits


def _training(dataset):
    """(X, y) of the data set's Training images, as the harness fits them on pixels."""
    rows = dataset.indices("Training")
    return dataset.images[rows][..., None].astype(np.float32) / 255, dataset.labels[rows]


def _cross_fitted(folds=3):
    return registry.get("model", "cross-fitted").create({"inner": "test-centroid", "folds": folds})


NONE = registry.get("resampler", "none").create({})


def test_every_training_image_is_scored_by_the_copy_that_did_not_fit_on_it(
    dataset, fitted_on, write_experiments, tmp_path
):
    write_experiments({"kfold.toml": CROSS_FITTED.format(shrink=0.0)})
    results = tmp_path / "results"
    record = api.run("kfold", data=dataset, results=results)

    stored = probabilities.load(results, record, ["Training"])["Training"]
    assert stored.out_of_fold and np.array_equal(stored.rows, dataset.indices("Training"))
    X, _ = _training(dataset)  # its rows are Training's, as asserted above
    assert record.spec.split_groups == GROUPING
    fold = assign_folds(X, dataset.labels[stored.rows], record.seed, 3, copy_groups(dataset)[stored.rows])
    for row, of in DUPLICATES + NEAR_COPIES:  # a repeated image is in its original's fold, whatever its label
        assert fold[row] == fold[of]
    assert len(fitted_on) == 3
    copies = saved_model(record, results)._copies
    for i, (images, copy) in enumerate(zip(fitted_on, copies)):
        assert images == {_image(x) for x in X[fold != i]}  # copy i fitted on every image outside fold i
        assert not images & {_image(x) for x in X[fold == i]}  # and on none in it
        np.testing.assert_allclose(stored.proba[fold == i], copy.predict_proba(X[fold == i]), atol=1e-6)
    private = probabilities.load(results, record, ["PrivateTest"])["PrivateTest"]
    test_X = dataset.images[private.rows][..., None].astype(np.float32) / 255
    mean = np.mean([copy.predict_proba(test_X) for copy in copies], axis=0)
    np.testing.assert_allclose(private.proba, mean, atol=1e-6)  # the copies vote elsewhere
    assert record.held_out is None  # its fit holds no images out: the folds are its validation


@pytest.mark.parametrize("seed", range(4))
def test_folds_keep_each_group_together_and_without_groups_each_image(dataset, seed):
    """Without groups (runs recorded before splits were grouped) only identical images share a fold."""
    X, y = _training(dataset)
    pairs = np.arange(len(y)) // 2
    fold = assign_folds(X, y, seed, 3, pairs)
    assert np.array_equal(fold[0::2], fold[1::2])
    fold = assign_folds(X, y, seed, 3)
    assert [fold[row] == fold[of] for row, of in DUPLICATES] == [True, True]


def test_folds_without_groups_stay_as_the_runs_recorded_before_grouping_made_them():
    """Their out-of-fold probabilities are computed again from these folds: any change to how identical
    images are found and numbered (the digest, its size) moves images between folds."""
    y = np.repeat(np.arange(7), 6)
    X = np.random.default_rng(0).random((len(y), 4)).astype(np.float32)
    X[41], y[41] = X[0], 3  # an image repeated under another label
    assert "".join(map(str, assign_folds(X, y, 0, 3))) == "012120102120212100220011020112102102011020"


def test_folds_are_stratified_and_fixed_by_the_seed():
    y = np.repeat(np.arange(7), 30)
    X = np.random.default_rng(0).random((len(y), 4))
    fold = assign_folds(X, y, 3, 4)
    assert np.array_equal(fold, assign_folds(X, y, 3, 4))
    assert not np.array_equal(fold, assign_folds(X, y, 4, 4))
    counts = np.array([np.bincount(fold[y == label], minlength=4) for label in range(7)])
    assert counts.max(axis=1).tolist() == [8] * 7 and counts.min(axis=1).tolist() == [7] * 7
    soft = np.eye(7)[y] * 0.8 + 0.2 / 7
    assert np.array_equal(assign_folds(X, soft, 3, 4), fold)  # soft targets: by their most likely class


@pytest.mark.parametrize("finished", [1, 2])
def test_an_interrupted_fit_resumes_after_the_copies_it_finished(dataset, fitted_on, monkeypatch, tmp_path, finished):
    model = _cross_fitted()
    X, y = _training(dataset)
    checkpoint = tmp_path / "checkpoint"
    fit = CheapCentroid.fit

    def fails_after_the_finished_copies(self, data):
        if len(fitted_on) == finished:
            fitted_on.append(None)
            raise RuntimeError("interrupted")
        return fit(self, data)

    monkeypatch.setattr(CheapCentroid, "fit", fails_after_the_finished_copies)
    with pytest.raises(RuntimeError, match="interrupted"):
        fitting.fit(model, NONE, X, y, 0, dataset.classes, checkpoint)
    (checkpoint / f"copy{finished}").mkdir()  # as a Resumable inner model leaves the copy it was fitting
    (checkpoint / f"copy{finished}" / "last.keras").write_text("")
    monkeypatch.setattr(CheapCentroid, "fit", fit)
    history = fitting.fit(model, NONE, X, y, 0, dataset.classes, checkpoint)
    again = _cross_fitted()
    uninterrupted = fitting.fit(again, NONE, X, y, 0, dataset.classes)
    np.testing.assert_allclose(model.predict_proba(X), again.predict_proba(X))
    # the finished copies' 3 epochs each were loaded, not trained
    assert history["resumed_at_epoch"] == [3.0 * finished] and len(history["val_accuracy"]) == 9
    assert "resumed_at_epoch" not in uninterrupted and len(uninterrupted["val_accuracy"]) == 9
    assert not list(checkpoint.iterdir())  # finished copies and the inner model's checkpoints are not left behind


def test_a_copy_resumed_inside_counts_its_epochs_trained_before_after_the_earlier_copies(dataset, monkeypatch):
    X, y = _training(dataset)
    fit, fits = CheapCentroid.fit, []

    def resumed_second_copy(self, data):  # as a Resumable inner model reports a fit resumed at its epoch 2
        fits.append(fit(self, data))
        return fits[-1] | ({"resumed_at_epoch": [2.0]} if len(fits) == 2 else {})

    monkeypatch.setattr(CheapCentroid, "fit", resumed_second_copy)
    history = fitting.fit(_cross_fitted(), NONE, X, y, 0, dataset.classes)
    assert history["resumed_at_epoch"] == [5.0]  # copy 1's 3 epochs and copy 2's first 2


def test_a_fit_reports_its_copies_epochs_end_to_end_and_logs_each_copy(dataset, caplog):
    X, y = _training(dataset)
    epochs = []
    with caplog.at_level(logging.INFO, logger="fer_bench"):
        history = fitting.fit(
            _cross_fitted(), NONE, X, y, 0, dataset.classes, on_epoch=lambda epoch, logs: epochs.append((epoch, logs))
        )
    # 3 copies of 3 epochs, each with its logs
    assert epochs == [(epoch, {"val_accuracy": accuracy}) for epoch, accuracy in enumerate(history["val_accuracy"])]
    assert len(epochs) == 9
    fold = assign_folds(X, y, 0, 3)
    assert [r.getMessage() for r in caplog.records if " of 3, " in r.getMessage()] == [
        f"model/cross-fitted: copy {i + 1} of 3, model/test-centroid on {(fold != i).sum()} images "
        f"({(fold == i).sum()} held out)"
        for i in range(3)
    ]


def test_only_an_inner_model_that_resumes_gets_a_checkpoint_folder_its_copys_own(dataset, monkeypatch, tmp_path):
    X, y = _training(dataset)
    given, fit = [], CheapCentroid.fit

    def spy(self, data):
        given.append(data.checkpoint_dir)
        return fit(self, data)

    monkeypatch.setattr(CheapCentroid, "fit", spy)
    fitting.fit(_cross_fitted(), NONE, X, y, 0, dataset.classes, tmp_path / "a")
    assert given == [None] * 3  # test-centroid does not resume
    monkeypatch.setattr(cross_fitted, "Resumable", CheapCentroid)  # as if it did
    fitting.fit(_cross_fitted(), NONE, X, y, 0, dataset.classes, tmp_path / "b")
    fitting.fit(_cross_fitted(), NONE, X, y, 0, dataset.classes)
    assert given[3:] == [tmp_path / "b" / f"copy{i}" for i in range(3)] + [None] * 3


def test_out_of_fold_probabilities_are_each_copys_on_its_fold_as_float32(dataset):
    X, y = _training(dataset)
    model = _cross_fitted()
    fitting.fit(model, NONE, X, y, 0, dataset.classes)
    proba = model.out_of_fold_proba(dataset.indices("Training"), X, y, 0)  # no groups: identical images together
    fold = assign_folds(X, y, 0, 3)
    assert proba.dtype == np.float32 and len(np.unique(fold)) == 3
    for i, copy in enumerate(model._copies):
        np.testing.assert_array_equal(proba[fold == i], copy.predict_proba(X[fold == i]).astype(np.float32))


def test_the_copies_folder_is_saved_whole_over_an_old_one_a_half_written_one_or_no_folder(dataset, tmp_path):
    X, y = _training(dataset)
    model = _cross_fitted(folds=2)
    fitting.fit(model, NONE, X, y, 0, dataset.classes)
    path = tmp_path / "not" / "yet" / "run.weights.folds"
    model.save(path)  # its parents made
    (path / "copy9.npz").write_text("")  # an older save's file
    half_written = path.with_name(f".{path.name}.tmp")
    half_written.mkdir()
    (half_written / "copy0.npz").write_text("")
    model.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert sorted(p.name for p in path.iterdir()) == ["copy0.npz", "copy1.npz"]
    loaded = _cross_fitted(folds=2).load(path, dataset.classes)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_the_inner_model_checks_the_runs_parts_with_its_soft_targets(monkeypatch):
    seen = []
    monkeypatch.setattr(CheapCentroid, "refuse", lambda self, setup: seen.append(setup.soft_targets))
    model = _cross_fitted()
    pixels = registry.get("features", "pixels").create({})
    assert [model.refuse(Setup(pixels, NONE, model, soft)) for soft in (False, True)] == [None, None]
    assert seen == [False, True]


def test_a_cross_fitted_run_predicts_as_the_vote_of_its_copies(dataset, write_experiments, tmp_path):
    write_experiments({"kfold.toml": CROSS_FITTED.format(shrink=0.0)})
    results = tmp_path / "results"
    record = api.run("kfold", data=dataset, results=results)
    predictor = Predictor.load(record, results)
    proba, covered = predictor.classify(dataset.images[dataset.indices("PrivateTest")])
    assert covered.all() and predictor.members[0].temperature.fitted  # on the out-of-fold Training images
    assert "".join(map(str, proba.argmax(axis=1))) == record.predictions["PrivateTest"]


def test_a_cross_fitted_run_saves_a_file_per_copy_and_is_imported_with_them(dataset, write_experiments, tmp_path):
    """Each file is one network's size (clones carry results/, a file over 5 MiB is refused), `import`
    brings the folder along and `prune` removes it."""
    write_experiments({"kfold.toml": CROSS_FITTED.format(shrink=0.0)})
    elsewhere = tmp_path / "elsewhere"
    record = api.run("kfold", data=dataset, results=elsewhere)
    assert record.artefact == f"models/{record.run_id}.weights.folds"
    assert sorted(p.name for p in (elsewhere / record.artefact).iterdir()) == ["copy0.npz", "copy1.npz", "copy2.npz"]
    results = tmp_path / "results"
    api.import_records(elsewhere, results=results)
    imported = Predictor.load(record, results)
    proba, _ = imported.classify(dataset.images[dataset.indices("PrivateTest")])
    assert "".join(map(str, proba.argmax(axis=1))) == record.predictions["PrivateTest"]
    api.prune(["kfold"], results=elsewhere)  # the folder goes, as one file would
    assert not (elsewhere / record.artefact).exists()


def test_an_ensemble_of_cross_fitted_runs_stores_the_vote_of_their_out_of_fold_probabilities(
    dataset, write_experiments, tmp_path
):
    write_experiments(
        {"a.toml": CROSS_FITTED.format(shrink=0.0), "b.toml": CROSS_FITTED.format(shrink=0.5), "plain.toml": IN_SAMPLE}
    )
    results = tmp_path / "results"
    a, b, plain = (api.run(name, data=dataset, results=results) for name in ("a", "b", "plain"))
    write_experiments(
        {
            "vote.toml": ENSEMBLE_OF.format(members=f'"{a.run_id}", "{b.run_id}"'),
            "mixed.toml": ENSEMBLE_OF.format(members=f'"{a.run_id}", "{plain.run_id}"'),
        }
    )
    vote, mixed = (api.run(name, data=dataset, results=results) for name in ("vote", "mixed"))

    first, second, mean = (probabilities.load(results, r, ["Training"])["Training"] for r in (a, b, vote))
    assert mean.out_of_fold
    np.testing.assert_allclose(mean.proba, (first.proba + second.proba) / 2, atol=1e-6)
    assert "Training" not in probabilities.stored_splits(results, mixed)  # a member that fitted on them
    api.compute_probabilities([mixed.run_id], data=dataset, results=results, training=True)
    assert not probabilities.load(results, mixed, ["Training"])["Training"].out_of_fold


def test_a_student_fits_the_temperature_on_out_of_fold_probabilities_of_its_fitting_rows(
    dataset, write_experiments, tmp_path, monkeypatch
):
    write_experiments({"kfold.toml": CROSS_FITTED.format(shrink=0.0)})
    results = tmp_path / "results"
    teacher = api.run("kfold", data=dataset, results=results)
    mixed, mix = [], distillation.Distillation.targets

    def spy(self, X, y, n_classes, temperature, weight):
        mixed.append((X, y, temperature))
        return mix(self, X, y, n_classes, temperature, weight)

    monkeypatch.setattr(distillation.Distillation, "targets", spy)
    write_experiments({"student.toml": STUDENT_OF.format(teacher=teacher.run_id, temperature=FITTED)})
    student = api.run("student", data=dataset, results=results)

    [(X, y, temperature)] = mixed
    stored = probabilities.load(results, teacher, ["Training"])["Training"]
    by_image = {
        _image(image): (p, label) for image, p, label in zip(dataset.images[stored.rows], stored.proba, stored.labels)
    }
    images = np.rint(X[..., 0] * 255).astype(np.uint8)
    found = np.stack([by_image[_image(image)][0] for image in images])
    assert len(X) < len(stored.rows)  # the student's held-out images are not among them
    assert temperature == pytest.approx(calibration.fit_temperature(y, found)) and temperature != 2.0
    softened = calibration.scaled(found, temperature)
    assert not np.allclose(softened, found) and np.array_equal(softened.argmax(axis=1), found.argmax(axis=1))
    assert f"temperature {temperature:.4g} (fitted" in student.selection["method"]
    assert student.held_out.n_total == len(stored.rows) - len(X)  # its held-out accuracy is recorded


def test_an_in_sample_teacher_is_warned_of_and_cannot_have_its_temperature_fitted(
    dataset, write_experiments, tmp_path, capsys
):
    write_experiments({"plain.toml": IN_SAMPLE})
    results = tmp_path / "results"
    plain = api.run("plain", data=dataset, results=results)
    write_experiments({"student.toml": STUDENT_OF.format(teacher=plain.run_id, temperature=FITTED)})
    csv = write_csv(dataset, tmp_path / "data.csv")
    assert main(["run", "student", "--data", str(csv), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("fer-bench: error: ")]
    assert len(errors) == 1 and "fit_teacher_temperature needs out-of-fold Training probabilities" in errors[0]
    assert f"teacher {plain.run_id} (plain) gives in-sample Training probabilities" in err


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ('[resampler]\nname = "random-over"\n', "random-over adds samples"),
        ('[model.inner_params]\nteacher = "abcdef123456"\n', "inner_params must name no runs"),
    ],
)
def test_what_would_put_an_image_on_both_sides_of_a_fold_is_refused(write_experiments, tmp_path, capsys, table, why):
    base = '[features]\nname = "pixels"\n[model]\nname = "cross-fitted"\ninner = "cnn"\n'
    write_experiments({"bad.toml": base + table})
    assert main(["run", "bad", "--results", str(tmp_path / "results")]) == 2
    assert why in capsys.readouterr().err


@pytest.mark.parametrize("inner", ["logreg", "saved-network"])  # saves weights, reports no epochs; pretrained
def test_an_inner_model_that_is_not_a_network_fitted_here_is_refused_naming_it(inner):
    refusal = "inner must be a model fitted here that saves its weights and reports its epochs"
    with pytest.raises(FerBenchError, match=rf"^model/cross-fitted: {refusal} \(a network\); model/{inner} is not$"):
        registry.get("model", "cross-fitted").create({"inner": inner})


def test_joined_histories_run_end_to_end_and_say_only_what_earlier_processes_trained():
    first = {"val_accuracy": [0.1, 0.2], "best_epoch": [1.0], "resumed_at_epoch": [1.0]}  # a copy resumed inside
    second = {"val_accuracy": [0.3, 0.4]}  # a copy without every metric of the first
    joined = {"val_accuracy": [0.1, 0.2, 0.3, 0.4], "best_epoch": [1.0]}
    assert cross_fitted._joined([first, second], 0) == joined
    assert cross_fitted._joined([first, second], 3) == joined | {"resumed_at_epoch": [3.0]}


def test_the_inner_spec_is_resolved_into_the_run_id():
    from fer_bench.specs.experiment import PartSpec

    spec = PartSpec.of("model", "cross-fitted", {"inner": "cnn-fast", "inner_params": {"width": 32}})
    inner = registry.get("model", "cnn-fast")
    assert spec.params["inner_params"] == inner.specified({"width": 32})
    assert spec.params["inner_version"] == inner.version and spec.params["inner_params"]["precision"] != "auto"


def test_the_shipped_students_ensemble_and_grid_name_the_shipped_cross_fitted_runs():
    """cnn-fast-distilled learns from the grouped teacher; the student, its grid and ensemble-kfold name
    the runs recorded before splits were grouped, until their grouped runs are recorded."""
    from fer_bench.specs.experiment import load_experiment
    from fer_bench.specs.files import find_file
    from fer_bench.specs.grid import load_grid

    def run_id(name, seed=None):  # as recorded before splits were grouped: the teacher they name ran then
        spec = load_experiment(name).spec("ae9679c8208ffa62", seed, "tensorflow")  # FER2013's fingerprint
        return replace(spec, split_groups="").run_id

    kfold = tuple(run_id("cnn-fast-kfold", seed) for seed in (0, 1))
    grouped = load_experiment("cnn-fast-kfold").spec("ae9679c8208ffa62", 0, "tensorflow").run_id
    assert load_experiment("cnn-fast-distilled").model.params["teacher"] == grouped
    assert load_experiment("ensemble-kfold").model.params["members"] == kfold
    assert load_experiment("cnn-fast-student").model.params["teacher"] == kfold[0]
    teachers = {cell.experiment.model.params["teacher"] for cell in load_grid("distillation").cells}
    assert teachers == {kfold[0]}  # its teacher axis, with ensemble-kfold, waits for that run
    assert f'"{run_id("ensemble-kfold")}"' in find_file("distillation", "grid").read_text()
