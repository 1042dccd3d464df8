"""Distillation: a student CNN learns its teacher's Training probabilities mixed with the labels; the
teacher's are computed once, from Training only, and a teacher on other data is refused."""

from dataclasses import replace

import numpy as np
import pytest

from fer_bench import api
from fer_bench.cli import main
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.models import _distillation as distillation
from fer_bench.runs import probabilities, pruning
from fer_bench.scoring import calibration
from fer_bench.specs.experiment import PartSpec
from fer_bench.testing import CHECK_CLASSES, example_record, simulated_dataset, write_csv

from conftest import ENSEMBLE_OF, STUDENT_OF

FIXED = "teacher_temperature = 2.0"  # the students' temperature

TEACHER = '[features]\nname = "pixels"\n[model]\nname = "test-centroid"\nshrink = {shrink}\n'


@pytest.fixture
def teacher(write_experiments, tmp_path):
    dataset = simulated_dataset({"Training": 10, "PublicTest": 3, "PrivateTest": 3})
    write_experiments({"teacher.toml": TEACHER.format(shrink=0.0)})
    results = tmp_path / "results"
    return dataset, results, api.run("teacher", data=dataset, results=results)


def test_the_student_learns_the_mixed_targets_of_training_images_only(teacher, write_experiments, monkeypatch):
    dataset, results, record = teacher
    requested, targets = [], []
    load, mix = probabilities.load, distillation.Distillation.targets

    def spy_load(root, run, splits):
        requested.extend(splits)
        return load(root, run, splits)

    def spy_targets(self, X, y, n_classes, temperature, weight):
        targets.append((X, y, mix(self, X, y, n_classes, temperature, weight)))
        return targets[-1][2]

    monkeypatch.setattr(probabilities, "load", spy_load)
    monkeypatch.setattr(distillation.Distillation, "targets", spy_targets)
    write_experiments({"student.toml": STUDENT_OF.format(teacher=record.run_id, temperature=FIXED)})
    student = api.run("student", data=dataset, results=results)

    assert set(requested) == {"Training"}  # what the student reads of its teacher
    train = probabilities.load(results, record, ["Training"])["Training"]
    assert set(dataset.splits[train.rows]) == {"Training"} and len(train.rows) == 70
    by_image = {dataset.images[row].tobytes(): p for row, p in zip(train.rows, train.proba)}
    [(X, y, mixed)] = targets
    images = np.rint(X[..., 0] * 255).astype(np.uint8)
    expected = [
        0.6 * calibration.scaled(by_image[image.tobytes()][None], 2.0)[0] + 0.4 * np.eye(7)[label]
        for image, label in zip(images, y)
    ]
    np.testing.assert_allclose(mixed, expected, atol=1e-6)
    assert student.selection["members"] == [{"run_id": record.run_id, "experiment": "teacher", "weight": 0.6}]


def test_an_ensemble_teaches_the_mean_of_its_members(teacher, write_experiments):
    dataset, results, first = teacher
    write_experiments({"second.toml": TEACHER.format(shrink=0.7)})
    second = api.run("second", data=dataset, results=results)
    write_experiments({"vote.toml": ENSEMBLE_OF.format(members=f'"{first.run_id}", "{second.run_id}"')})
    vote = api.run("vote", data=dataset, results=results)
    api.compute_probabilities([first.run_id, second.run_id, vote.run_id], data=dataset, results=results, training=True)
    a, b, mean = (probabilities.load(results, r, ["Training"])["Training"].proba for r in (first, second, vote))
    np.testing.assert_allclose(mean, (a + b) / 2, atol=1e-6)
    report = api.write_calibration([vote.run_id], results=results).read_text()
    assert "Runs that stored their Training probabilities (teachers)" in report and f"`{vote.run_id}` | 70" in report


def test_a_teacher_trained_on_other_data_is_refused_in_one_line(teacher, write_experiments, tmp_path, capsys):
    _, results, _ = teacher
    other = api.run("teacher", data=simulated_dataset(classes=CHECK_CLASSES), results=results)
    write_experiments({"student.toml": STUDENT_OF.format(teacher=other.run_id, temperature=FIXED)})
    csv = write_csv(simulated_dataset({"Training": 10, "PublicTest": 3, "PrivateTest": 3}), tmp_path / "d.csv")
    status = main(["run", "student", "--data", str(csv), "--results", str(results)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fer-bench: error: ")]
    assert status == 2 and len(errors) == 1 and f"teacher {other.run_id} (teacher) was trained on other" in errors[0]


def test_a_students_teacher_keeps_its_weights(teacher, write_experiments, capsys):
    """A student names its teacher in a string, not a list as an ensemble names its members: prune
    reads both, and refuses the teacher, removing nothing."""
    dataset, results, record = teacher
    write_experiments({"student.toml": STUDENT_OF.format(teacher=record.run_id, temperature=FIXED)})
    student = api.run("student", data=dataset, results=results)
    assert main(["prune", "teacher", "--results", str(results)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fer-bench: error: ")]
    builds_on_it = f"student (run {student.run_id}) build(s) on it; its weights stay"
    assert errors == [f"fer-bench: error: run {record.run_id} (teacher): {builds_on_it}"]
    assert (results / record.artefact).is_file()


def test_an_ensemble_that_teaches_a_student_is_not_retired_while_the_student_holds_it(teacher, write_experiments):
    dataset, results, first = teacher
    write_experiments({"vote.toml": ENSEMBLE_OF.format(members=f'"{first.run_id}"')})
    vote = api.run("vote", data=dataset, results=results)
    write_experiments({"student.toml": STUDENT_OF.format(teacher=vote.run_id, temperature=FIXED)})
    student = api.run("student", data=dataset, results=results)
    with pytest.raises(FerBenchError) as refused:
        api.prune([vote.run_id], results=results)
    assert (
        str(refused.value)
        == f"run {vote.run_id} (vote): student (run {student.run_id}) build(s) on it; its weights stay"
    )
    (done,) = api.prune(["student"], results=results)
    assert done.pruned and not (results / student.artefact).exists()
    with pytest.raises(FerBenchError, match="build"):  # a pruned student still holds its teacher
        api.prune([vote.run_id], results=results)
    assert pruning.retires(vote) and not pruning.retires(student) and not pruning.retires(first)


def test_a_students_teacher_is_one_run_and_a_cnn_without_one_builds_on_none():
    """The teacher is a string: read as one run id, never as its characters; an empty one names no run."""
    record = example_record()

    def cnn(**params):
        model = PartSpec("cnn", params, registry.get("model", "cnn").version)
        return replace(record, spec=replace(record.spec, model=model))

    assert pruning.named_runs(cnn(teacher="0123456789ab")) == ("0123456789ab",)
    assert pruning.named_runs(cnn()) == () and pruning.named_runs(record) == ()
