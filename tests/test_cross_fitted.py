"""Cross-fitting (model/cross-fitted): every Training image's stored probabilities come from a copy
that never fitted on it, folds are reproducible, an ensemble of cross-fitted runs teaches out of
fold too, and a student may fit its teacher's temperature only on out-of-fold probabilities."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data.copies import GROUPING, copy_groups
from fer_bench.data.dataset import Dataset
from fer_bench.parts import registry
from fer_bench.parts.models import _distillation as distillation
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


def test_every_training_image_is_scored_by_the_copy_that_did_not_fit_on_it(
    dataset, fitted_on, write_experiments, tmp_path
):
    write_experiments({"kfold.toml": CROSS_FITTED.format(shrink=0.0)})
    results = tmp_path / "results"
    record = api.run("kfold", data=dataset, results=results)

    stored = probabilities.load(results, record, ["Training"])["Training"]
    assert stored.out_of_fold and np.array_equal(stored.rows, dataset.indices("Training"))
    X = dataset.images[stored.rows][..., None].astype(np.float32) / 255
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


def test_an_interrupted_fit_resumes_after_the_copies_it_finished(dataset, fitted_on, monkeypatch, tmp_path):
    model = registry.get("model", "cross-fitted").create({"inner": "test-centroid", "folds": 3})
    X = dataset.images[dataset.indices("Training")][..., None].astype(np.float32) / 255
    y = dataset.labels[dataset.indices("Training")]
    resampler = registry.get("resampler", "none").create({})
    fit = CheapCentroid.fit

    def fails_on_the_second_copy(self, data):
        if len(fitted_on) == 1:
            fitted_on.append(None)
            raise RuntimeError("interrupted")
        return fit(self, data)

    monkeypatch.setattr(CheapCentroid, "fit", fails_on_the_second_copy)
    with pytest.raises(RuntimeError, match="interrupted"):
        fitting.fit(model, resampler, X, y, 0, dataset.classes, tmp_path / "checkpoint")
    monkeypatch.setattr(CheapCentroid, "fit", fit)
    history = fitting.fit(model, resampler, X, y, 0, dataset.classes, tmp_path / "checkpoint")
    again = registry.get("model", "cross-fitted").create(model.get_params())
    fitting.fit(again, resampler, X, y, 0, dataset.classes)
    np.testing.assert_allclose(model.predict_proba(X), again.predict_proba(X))
    assert history["resumed_at_epoch"] == [3.0] and len(history["val_accuracy"]) == 9  # copy 1 was loaded
    assert not list((tmp_path / "checkpoint").iterdir())  # finished copies are not left behind


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
