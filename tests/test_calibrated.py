"""Calibrated probabilities in use: `predict`, `evaluate` and ensembles apply each run's temperature,
fitted on its held-out Training images only; `predict` and `evaluate` load a recorded ensemble from
its members' saved weights; records made before keep working, uncalibrated, and say so."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data.dataset import Dataset
from fer_bench.runs import probabilities
from fer_bench.runs.predict import Predictor
from fer_bench.runs.records import RecordStore
from fer_bench.scoring import calibration
from fer_bench.testing import simulated_dataset, simulated_images, write_csv

# pixels describe crops, so these runs can predict; test-centroid-holdout holds real Training
# images out, so each has a temperature
HELD = '[features]\nname = "pixels"\n[model]\nname = "test-centroid-holdout"\nshrink = {shrink}\n'
VOTE = '[features]\nname = "pixels"\n[model]\nname = "ensemble"\nmembers = {members}\nweights = [1, 3]\n{more}'
PER_SPLIT = {"Training": 16, "PublicTest": 4, "PrivateTest": 4}


def noisy_dataset(labels=None):
    """A simulated data set noisy enough that test-centroid errs (about 80% right) and is far too sure
    of itself: a temperature well above 1 (`labels`: other labels for its images)."""
    plain = simulated_dataset(PER_SPLIT)
    images = simulated_images(plain.labels, len(plain.classes), noise=350.0)
    return Dataset(
        "noisy",
        plain.layout,
        images,
        plain.labels if labels is None else labels,
        plain.splits,
        plain.ids,
        plain.classes,
    )


def crops_as_files(dataset, folder: Path, split="PrivateTest"):
    """The split's images as PNG files (lossless), in data set order."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, row in enumerate(dataset.indices(split)):
        files.append(folder / f"{i:03d}.png")
        Image.fromarray(dataset.images[row]).save(files[-1])
    return files


def raw(record, results, crops):
    """The recorded model's own probabilities of the crops, as it gives them."""
    member = Predictor.load(record, results).members[0]
    return np.asarray(member.model.predict_proba(member.features.of_crops(crops).X), dtype=np.float64)


def faces_proba(predictions, classes):
    return np.array([[faces[0].probabilities[c] for c in classes] for _, faces in predictions.images])


@pytest.fixture
def held(write_experiments, tmp_path):
    """(dataset, results folder, record) of one run that holds Training images out."""
    dataset = noisy_dataset()
    write_experiments({"held.toml": HELD.format(shrink=0.0)})
    results = tmp_path / "results"
    return dataset, results, api.run("held", data=dataset, results=results)


@pytest.fixture
def voted(write_experiments, tmp_path):
    """(dataset, results, {a, b, vote}): two members with saved weights, shrink 0 and 0.9, and their
    ensemble weighted 1:3."""
    dataset = noisy_dataset()
    write_experiments({"a.toml": HELD.format(shrink=0.0), "b.toml": HELD.format(shrink=0.9)})
    results = tmp_path / "results"
    runs = {name: api.run(name, data=dataset, results=results) for name in "ab"}
    members = json.dumps([runs["a"].run_id, runs["b"].run_id])
    write_experiments(
        {
            "vote.toml": VOTE.format(members=members, more="calibrate = true\n"),
            "as-given.toml": VOTE.format(members=members, more=""),
        }
    )
    runs["vote"] = api.run("vote", data=dataset, results=results)
    return dataset, results, runs


def test_the_temperature_changes_a_models_probabilities_not_its_predictions(held, tmp_path, capsys):
    dataset, results, record = held
    files = crops_as_files(dataset, tmp_path / "crops")
    crops = dataset.images[dataset.indices("PrivateTest")]
    temperature = probabilities.temperature(results, record)
    n_held = len(probabilities.load(results, record, [probabilities.HOLDOUT])[probabilities.HOLDOUT].rows)
    assert temperature.fitted and temperature.n_images == n_held and temperature.value > 2

    predictions = api.predict(files, model="held", results=results, faces="crop", progress=False)
    given, shown = raw(record, results, crops), faces_proba(predictions, record.classes)
    np.testing.assert_allclose(shown, calibration.scaled(given, temperature.value), atol=1e-4)
    assert np.abs(shown - given).max() > 0.01  # the probabilities moved ...
    assert (shown.argmax(axis=1) == given.argmax(axis=1)).all()  # ... and no prediction did
    assert "".join(str(p) for p in shown.argmax(axis=1)) == record.predictions["PrivateTest"]
    expected = f"probabilities calibrated: temperature {temperature.value:.2f} (fitted on {n_held} held-out"
    assert predictions.calibration.startswith(expected)

    assert main(["predict", str(files[0]), "--model", "held", "--results", str(results)]) == 0
    assert expected in capsys.readouterr().out.splitlines()[1]

    csv = write_csv(dataset, tmp_path / "data.csv")  # evaluate: the run's own predictions, calibrated NLL
    assert main(["evaluate", "held", "--data", str(csv), "--results", str(results), "--faces", "crop"]) == 0
    assert expected in capsys.readouterr().out
    evaluated = RecordStore(results).all()[-1]
    assert evaluated.evaluation["temperatures"] == {
        record.run_id: {"temperature": round(temperature.value, 6), "fitted_on": n_held}
    }
    stored = probabilities.load(results, record, ["PrivateTest"])["PrivateTest"]
    assert evaluated.predictions["PrivateTest"] == record.predictions["PrivateTest"]
    calibrated = calibration.measure(stored.labels, calibration.scaled(stored.proba, temperature.value))
    assert evaluated.metrics["PrivateTest"].nll == pytest.approx(calibrated.nll, rel=1e-3)
    assert evaluated.metrics["PrivateTest"].nll != pytest.approx(record.metrics["PrivateTest"].nll, rel=1e-3)


def test_the_temperature_is_fitted_on_held_out_training_images_only(write_experiments, tmp_path, monkeypatch):
    dataset = noisy_dataset()
    labels = dataset.labels.copy()
    for split in ("PublicTest", "PrivateTest"):  # a test image's label changed in each test split
        first = dataset.indices(split)[0]
        labels[first] = (labels[first] + 1) % len(dataset.classes)
    relabelled = noisy_dataset(labels)
    assert relabelled.fingerprint != dataset.fingerprint
    write_experiments({"held.toml": HELD.format(shrink=0.0)})
    results = tmp_path / "results"
    fitted_on = []
    fit = calibration.fit_temperature
    monkeypatch.setattr(calibration, "fit_temperature", lambda y, p: fitted_on.append(y) or fit(y, p))
    records = [api.run("held", data=data, results=results) for data in (dataset, relabelled)]
    first, second = (probabilities.temperature(results, r) for r in records)
    assert records[0].run_id != records[1].run_id and first == second and first.fitted
    held = probabilities.load(results, records[0], [probabilities.HOLDOUT])[probabilities.HOLDOUT]
    assert set(dataset.splits[held.rows]) == {"Training"}
    assert len(fitted_on) == 2 and all(np.array_equal(y, dataset.labels[held.rows]) for y in fitted_on)
    assert probabilities.temperature(results, records[0]) is first  # kept: not fitted again
    assert len(fitted_on) == 2


def test_an_ensemble_averages_its_members_calibrated_probabilities_and_predict_loads_it(voted, tmp_path, capsys):
    dataset, results, runs = voted
    a, b, vote = runs["a"], runs["b"], runs["vote"]
    ta, tb = (probabilities.temperature(results, runs[name]) for name in "ab")
    assert ta.fitted and tb.fitted and ta.value != tb.value
    assert [m["temperature"] for m in vote.selection["members"]] == [round(ta.value, 6), round(tb.value, 6)]

    def stored(record):
        return probabilities.load(results, record, ["PrivateTest"])["PrivateTest"].proba

    mean = 0.25 * calibration.scaled(stored(a), ta.value) + 0.75 * calibration.scaled(stored(b), tb.value)
    np.testing.assert_allclose(stored(vote), mean, atol=1e-5)  # the run's own average: calibrated members

    files = crops_as_files(dataset, tmp_path / "crops")
    crops = dataset.images[dataset.indices("PrivateTest")]
    predictions = api.predict(files, model="vote", results=results, faces="crop", progress=False)
    assert predictions.record.run_id == vote.run_id
    expected = 0.25 * calibration.scaled(raw(a, results, crops), ta.value) + 0.75 * calibration.scaled(
        raw(b, results, crops), tb.value
    )
    np.testing.assert_allclose(faces_proba(predictions, vote.classes), expected, atol=1e-4)
    assert "".join(str(p) for p in expected.argmax(axis=1)) == vote.predictions["PrivateTest"]
    assert predictions.calibration.startswith("probabilities calibrated: the weighted mean of 2 members'")
    assert f"temperature {ta.value:.2f}" in predictions.calibration and "weight 0.750" in predictions.calibration

    csv = write_csv(dataset, tmp_path / "data.csv")
    assert main(["evaluate", "vote", "--data", str(csv), "--results", str(results), "--faces", "crop"]) == 0
    evaluated = RecordStore(results).all()[-1]
    assert evaluated.evaluation["of_run"] == vote.run_id and set(evaluated.evaluation["temperatures"]) == {
        a.run_id,
        b.run_id,
    }
    assert evaluated.predictions["PrivateTest"] == vote.predictions["PrivateTest"]


def test_an_ensemble_with_a_member_without_saved_weights_is_refused_in_one_line(voted, tmp_path, capsys):
    dataset, results, runs = voted
    other = tmp_path / "other"
    shutil.copytree(results, other)
    (other / "runs.jsonl").unlink()
    store = RecordStore(other)
    for record in RecordStore(results).all():  # member b as recorded without its weights
        store.append(replace(record, artefact=None) if record.run_id == runs["b"].run_id else record)
    [photo] = crops_as_files(dataset, tmp_path / "crops")[:1]
    capsys.readouterr()
    for command in (["predict", str(photo), "--model", "vote"], ["evaluate", "vote", "--data", str(photo.parent)]):
        assert main([*command, "--results", str(other)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"member {runs['b'].run_id} (b) saved no weights" in err and "vote" in err


def test_records_without_a_temperature_still_load_uncalibrated_and_say_so(held, voted, tmp_path):
    dataset, results, record = held
    files = crops_as_files(dataset, tmp_path / "crops")[:3]
    crops = dataset.images[dataset.indices("PrivateTest")[:3]]
    given = raw(record, results, crops)
    path = results / record.probabilities
    with np.load(path) as stored:  # as a run recorded before held-out probabilities were kept
        kept = {name: stored[name] for name in stored.files if not name.startswith(probabilities.HOLDOUT)}
    np.savez_compressed(path, **kept)
    predictions = api.predict(files, model="held", results=results, faces="crop", progress=False)
    np.testing.assert_allclose(faces_proba(predictions, record.classes), given, atol=1e-4)
    assert predictions.calibration == (
        f"probabilities as the model gives them: temperature 1.0, uncalibrated (run {record.run_id} stored no "
        f"held-out Training probabilities: `fer-bench probabilities {record.run_id}` computes them)"
    )
    path.unlink()  # as a run recorded before probabilities were kept
    predictions = api.predict(files, model="held", results=results, faces="crop", progress=False)
    assert f"temperature 1.0, uncalibrated (run {record.run_id} stored no probabilities)" in predictions.calibration

    dataset, results, runs = voted  # an ensemble as recorded before `calibrate`: its members as given
    as_given = api.run("as-given", data=dataset, results=results)
    assert "calibrate" not in as_given.spec.model.params and not as_given.outdated_parts()
    assert all("temperature" not in m for m in as_given.selection["members"])
    predictions = api.predict(files, model="as-given", results=results, faces="crop", progress=False)
    mean = 0.25 * raw(runs["a"], results, crops) + 0.75 * raw(runs["b"], results, crops)
    np.testing.assert_allclose(faces_proba(predictions, record.classes), mean, atol=1e-4)
    assert "(temperature 1.0): the ensemble was recorded with calibrate = false" in predictions.calibration
