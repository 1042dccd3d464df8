"""Every recorded model can be used: the study's MLP and the scikit-learn baselines save their weights
(float32 npz; skops, never pickle), predict and evaluate load them, and a run recorded before they
could is completed by `fer-bench complete`, only when fitting it again predicts as recorded."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import skops.io

from fer_bench.cli import main
from fer_bench.data import load_dataset
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.runs import completion, probabilities
from fer_bench.runs.records import RecordStore, saved_model
from fer_bench.scoring.metrics import encode_predictions, predicted

from conftest import MINI, tiny_paper_mlp

SVM = '[features]\nname = "embedding"\nprotocol = "detector"\n[model]\nname = "svm"\nC = 10.0\n'
FACE = MINI / "PrivateTest" / "Angry" / "00032433.jpg"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, shared_cache, mini_embeddings):
    """A results folder with a tiny paper-mlp run (`tiny-paper`) and an svm run (`tiny-svm`) on the
    fixture's embeddings, recorded as `fer-bench run` records them, and their experiments folder."""
    from fer_bench.runs.runner import run
    from fer_bench.runs.workspace import Workspace
    from fer_bench.specs.experiment import load_experiment

    folder = tmp_path_factory.mktemp("experiments")
    (folder / "tiny-paper.toml").write_text(tiny_paper_mlp(epochs=2))
    (folder / "tiny-svm.toml").write_text(SVM)
    results = tmp_path_factory.mktemp("saved-models")
    workspace = Workspace(results, shared_cache, load_dataset(MINI))
    for name in ("tiny-paper", "tiny-svm"):
        run(load_experiment(str(folder / f"{name}.toml")), workspace)
    return results, folder


@pytest.fixture
def results(recorded, tmp_path, monkeypatch):
    """A copy of the recorded results that a test may change; fer-bench reads the tiny experiments."""
    monkeypatch.setenv("FER_BENCH_EXPERIMENTS", str(recorded[1]))
    return shutil.copytree(recorded[0], tmp_path / "results")


def _record(results, experiment):
    return [r for r in RecordStore(results).all() if r.experiment == experiment][-1]


@pytest.mark.parametrize(("experiment", "suffix"), [("tiny-paper", "npz"), ("tiny-svm", "skops")])
def test_a_run_saves_the_model_it_evaluated(results, mini_embeddings, experiment, suffix):
    """Loaded from its file, the model predicts every test image as the run recorded."""
    record = _record(results, experiment)
    assert record.artefact == f"models/{record.run_id}.weights.{suffix}"
    assert (results / record.artefact).stat().st_size < 200_000
    dataset = load_dataset(MINI)
    features = record.part("features").extract(dataset, cache=mini_embeddings[0])
    model = saved_model(record, results)
    for split, recorded in record.predictions.items():
        rows = dataset.indices(split)
        proba = probabilities.predict(model, features.X[rows], features.covered[rows], len(record.classes))
        assert encode_predictions(predicted(proba)) == recorded


@pytest.mark.parametrize("experiment", ["tiny-paper", "tiny-svm"])
def test_predict_and_evaluate_use_an_embedding_model(results, experiment, capsys):
    for faces in ("crop", "auto"):
        assert (
            main(
                [
                    "predict",
                    str(FACE),
                    "--model",
                    experiment,
                    "--results",
                    str(results),
                    "--faces",
                    faces,
                    "--format",
                    "json",
                ]
            )
            == 0
        )
        result = json.loads(capsys.readouterr().out)
        assert result["model"]["experiment"] == experiment
        (face,) = result["images"][0]["faces"]
        assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert main(["evaluate", experiment, "--data", str(MINI), "--results", str(results), "--faces", "crop"]) == 0
    assert f"{experiment}@" in capsys.readouterr().out
    assert main(["probabilities", experiment, "--results", str(results), "--force"]) == 0
    assert "argmax = recorded prediction: 100.00%" in capsys.readouterr().out


def test_a_skops_file_loads_as_the_fitted_pipeline_and_nothing_else(results, mini_embeddings, tmp_path):
    record = _record(results, "tiny-svm")
    svm = saved_model(record, results)
    features = record.part("features").extract(load_dataset(MINI), cache=mini_embeddings[0])
    X = features.X[features.covered]
    again = record.model().load(results / record.artefact, record.classes)
    assert np.array_equal(again.predict_proba(X), svm.predict_proba(X))
    assert again.pipeline[-1].support_vectors_.dtype == np.float64  # stored as float32, losslessly
    assert skops.io.get_untrusted_types(file=results / record.artefact) == []

    other = tmp_path / "other.skops"
    skops.io.dump(registry.get("model", "logreg").create({}).estimator(0, None), other)
    with pytest.raises(FerBenchError, match="not model/svm's scaler and estimator"):
        record.model().load(other, record.classes)
    code = tmp_path / "code.skops"
    skops.io.dump({"pipeline": Untrusted()}, code)
    with pytest.raises(FerBenchError, match=r"holds test_saved_models\.Untrusted, which model/svm does not use"):
        record.model().load(code, record.classes)


class Untrusted:
    """A type no baseline's file holds: loading must refuse it rather than build it."""


def _without_weights(results, experiment):
    """The records file as a run recorded before its model saved weights left it: no artefact, no file."""
    store = RecordStore(results)
    records = store.all()
    record = _record(results, experiment)
    (results / record.artefact).unlink()
    (results / record.probabilities).unlink()
    store.path.unlink()
    for r in records:
        store.append(replace(r, artefact=None, probabilities=None) if r.run_id == record.run_id else r)
    return record


@pytest.mark.parametrize("experiment", ["tiny-paper", "tiny-svm"])
def test_complete_saves_the_weights_of_a_run_recorded_without_them(results, experiment, capsys):
    original = _without_weights(results, experiment)
    assert main(["predict", str(FACE), "--model", experiment, "--results", str(results)]) == 2
    assert f"`fer-bench complete {experiment}` fits it again" in capsys.readouterr().err

    assert main(["complete", experiment, "--results", str(results)]) == 0
    assert "saved; fitted again, it predicts every test image as recorded" in capsys.readouterr().out
    records = RecordStore(results).all()
    assert len(records) == 3 and records[-1].run_id == original.run_id  # appended; the earlier line kept
    done = records[-1]
    assert done.artefact == original.artefact and (results / done.artefact).is_file()
    assert done.completed["command"] == f"fer-bench complete {experiment} --results {results}"
    assert (done.predictions, done.metrics, done.created) == (original.predictions, original.metrics, original.created)
    assert main(["predict", str(FACE), "--model", experiment, "--results", str(results)]) == 0
    assert main(["complete", experiment, "--results", str(results)]) == 0
    assert "(saved already)" in capsys.readouterr().out and len(RecordStore(results).all()) == 3

    moved = results.parent / "elsewhere"  # a completed run travels with its weights
    assert main(["import", str(results), "--results", str(moved)]) == 0
    assert main(["predict", str(FACE), "--model", experiment, "--results", str(moved)]) == 0


def test_a_completion_that_predicts_otherwise_is_refused_and_saves_nothing(results, capsys):
    original = _without_weights(results, "tiny-svm")
    recorded = original.predictions["PrivateTest"]
    flipped = ("1" if recorded[0] != "1" else "2") + recorded[1:]  # as if another CPU had fitted it
    RecordStore(results).append(
        replace(
            original, artefact=None, probabilities=None, predictions={**original.predictions, "PrivateTest": flipped}
        )
    )
    assert main(["complete", "tiny-svm", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "predicts 1 of " in err and "differently from the recorded run" in err and "nothing saved" in err
    assert f"machine kind it ran on: {completion.kind(original.hardware)}" in err  # and which kind this is
    assert f"fer-bench run tiny-svm --seed {original.seed} --force" in err
    assert len([line for line in err.splitlines() if line.startswith("fer-bench: error: ")]) == 1
    assert not (results / original.artefact).exists() and len(RecordStore(results).all()) == 3


def test_a_run_whose_parts_changed_or_that_saves_nothing_is_not_completed(results, monkeypatch, capsys):
    original = _without_weights(results, "tiny-svm")
    monkeypatch.setattr(registry.get("model", "svm").factory, "version", "99")
    assert main(["complete", original.run_id, "--results", str(results)]) == 2
    assert "its parts changed since it ran (model/svm v1, now v99)" in capsys.readouterr().err


def test_prune_removes_the_weights_and_keeps_the_record_and_probabilities(results, capsys):
    original = _record(results, "tiny-svm")
    assert main(["prune", "tiny-svm", "--results", str(results)]) == 0
    assert "weights removed; record and probabilities kept" in capsys.readouterr().out
    records = RecordStore(results).all()
    assert len(records) == 3 and records[1] == original  # appended; the earlier line kept
    done = records[-1]
    assert done.artefact is None and not (results / original.artefact).exists()
    assert done.pruned["command"] == f"fer-bench prune tiny-svm --results {results}"
    assert (results / done.probabilities).is_file() and done.predictions == original.predictions
    assert main(["predict", str(FACE), "--model", "tiny-svm", "--results", str(results)]) == 2
    assert main(["prune", "tiny-svm", "--results", str(results)]) == 2
    assert "has no weights to remove" in capsys.readouterr().err

    moved = results.parent / "elsewhere"  # a pruned run travels without its weights
    assert main(["import", str(results), "--results", str(moved)]) == 0
    assert RecordStore(moved).ok_record(original.run_id).artefact is None
    assert main(["complete", "tiny-svm", "--results", str(results)]) == 0  # fitted again, it has them back
    again = RecordStore(results).all()[-1]
    assert (results / again.artefact).is_file() and again.pruned is None and again.completed
