"""`fer-bench export`: a run's network leaves fer-bench as one ONNX file that onnxruntime runs to
the probabilities fer-bench gives, with what a program needs around it in the file's metadata."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data import load_dataset
from fer_bench.parts.features.pixels import scaled
from fer_bench.runs.predict import Predictor
from fer_bench.runs.records import saved_model
from fer_bench.runs.runner import run
from fer_bench.runs.workspace import Workspace
from fer_bench.specs.experiment import parse_experiment

from conftest import MINI


def onnx_probabilities(path, images):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def metadata(path):
    return {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def results(tiny_cnn_results, shared_cache, tmp_path_factory):
    """tiny-cnn (test-time augmentation on) and a tiny MLP on pixels, with their weights, and their
    soft vote (tiny-vote); a k-nearest-neighbours run (tiny-knn), and its vote with tiny-cnn."""
    folder = tmp_path_factory.mktemp("export") / "results"
    shutil.copytree(tiny_cnn_results, folder)
    workspace = Workspace(folder, shared_cache, load_dataset(MINI))
    mlp = parse_experiment("tiny-mlp", {"features": {"name": "pixels"}, "model": {"name": "mlp", "epochs": 2}}, "test")
    members = [api.latest_record("tiny-cnn", folder).run_id, run(mlp, workspace).run_id]
    vote = {"features": {"name": "pixels"}, "model": {"name": "ensemble", "members": members}}
    run(parse_experiment("tiny-vote", vote, "test"), workspace)
    knn = run(
        parse_experiment("tiny-knn", {"features": {"name": "pixels"}, "model": {"name": "knn"}}, "test"), workspace
    )
    with_knn = {"features": {"name": "pixels"}, "model": {"name": "ensemble", "members": [members[0], knn.run_id]}}
    run(parse_experiment("tiny-knn-vote", with_knn, "test"), workspace)
    return folder


@pytest.mark.parametrize("experiment", ["tiny-cnn", "tiny-mlp"])
def test_onnxruntime_gives_the_probabilities_fer_bench_gives(results, experiment, tmp_path):
    record = api.latest_record(experiment, results)
    out = api.export(experiment, results=results, out=tmp_path / "net.onnx")
    dataset = load_dataset(MINI)
    images = scaled(dataset.images[dataset.indices("PrivateTest")])[..., None]
    expected = saved_model(record, results).predict_proba(images)
    np.testing.assert_allclose(onnx_probabilities(out, images), expected, atol=1e-5)


@pytest.mark.parametrize("views", [{}, {"tta_shift": 2}], ids=["mirrored", "mirrored-and-shifted"])
def test_a_network_that_augments_in_training_is_exported_as_it_tests(results, shared_cache, tmp_path, views):
    """cnn-fast augments inside its network (random crops, flips, erasing): the file runs it in
    inference mode, as predict_proba does, and gives the same probabilities (traced as Keras calls
    a layer by default, it augmented: 83% of PrivateTest predictions agreed for cnn-fast seed 0);
    with its ten shifted test views too."""
    model = {"name": "cnn-fast", "width": 4, "epochs": 2, "batch_size": 16, **views}
    fast = {"features": {"name": "pixels"}, "model": model}
    record = run(parse_experiment("tiny-fast", fast, "test"), Workspace(results, shared_cache, load_dataset(MINI)))
    dataset = load_dataset(MINI)
    images = scaled(dataset.images[dataset.indices("PrivateTest")])[..., None]
    out = api.export(record.run_id, results=results, out=tmp_path / "net.onnx")
    np.testing.assert_allclose(
        onnx_probabilities(out, images), saved_model(record, results).predict_proba(images), atol=1e-5
    )


def test_an_ensemble_is_its_members_files_and_their_vote(results, tmp_path):
    """The folder's members, run by onnxruntime and voted as ensemble.json says, give the
    probabilities `predict` gives for the ensemble."""
    record = api.latest_record("tiny-vote", results)
    folder = api.export("tiny-vote", results=results, out=tmp_path / "vote")
    vote = json.loads((folder / "ensemble.json").read_text())
    assert vote["run_id"] == record.run_id and vote["classes"] == list(record.classes)
    dataset = load_dataset(MINI)
    crops = dataset.images[dataset.indices("PrivateTest")]
    total = 0.0
    for member in vote["members"]:
        p = onnx_probabilities(folder / member["file"], scaled(crops)[..., None]).astype(np.float64)
        logits = np.log(np.maximum(p / p.sum(1, keepdims=True), 1e-12)) / member["temperature"]
        total = total + member["weight"] * softmax(logits)
    expected, _ = Predictor.load(record, results).classify(crops)
    np.testing.assert_allclose(total, expected, atol=1e-5)
    assert len(vote["members"]) == 2 and sum(m["weight"] for m in vote["members"]) == pytest.approx(1)


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_the_file_says_what_runs_it_needs(results, tmp_path):
    record = api.latest_record("tiny-cnn", results)
    found = metadata(api.export("tiny-cnn", results=results, out=tmp_path / "net.onnx"))
    assert found["fer_bench.run_id"] == record.run_id and found["fer_bench.experiment"] == "tiny-cnn"
    assert json.loads(found["fer_bench.classes"]) == list(record.classes)
    (given,) = json.loads(found["fer_bench.inputs"])
    assert given["shape"] == ["batch", 48, 48, 1]
    assert json.loads(found["fer_bench.features"])["name"] == "pixels"
    assert "[0, 1]" in found["fer_bench.features_summary"]
    assert float(found["fer_bench.temperature"]) > 0 and found["fer_bench.temperature_fitted_on"]


def test_the_cli_writes_it_beside_you_by_default(results, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    record = api.latest_record("tiny-mlp", results)
    assert main(["export", "tiny-mlp", "--results", str(results)]) == 0
    assert capsys.readouterr().out.strip() == f"tiny-mlp-{record.run_id}.onnx"
    assert (tmp_path / f"tiny-mlp-{record.run_id}.onnx").is_file()


def test_what_cannot_be_exported_is_one_line(results, tiny_cnn_results, tmp_path, capsys):
    pruned = tmp_path / "pruned"
    shutil.copytree(tiny_cnn_results, pruned)
    api.prune(["tiny-cnn"], results=pruned)
    cases = {
        ("no-such-run", pruned): "no successful recorded run matches",
        ("tiny-cnn", pruned): "saved no weights",
        ("tiny-knn", results): "model knn is no Keras network that fer-bench can export",
        ("tiny-knn-vote", results): "member",
    }
    for (run_name, folder), message in cases.items():
        assert main(["export", run_name, "--results", str(folder), "--out", str(tmp_path / "x.onnx")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x.onnx").exists()


def test_a_network_trained_in_bfloat16_is_exported_in_float32(results, shared_cache, tmp_path):
    """onnxruntime has no bfloat16 convolution on CPUs: such a file is refused when loaded (as
    cnn-fast-long's was on an AVX-512 BF16 CPU). The same weights go out in a float32 network,
    whose probabilities differ from fer-bench's by bfloat16's rounding only."""
    model = {"name": "cnn-fast", "width": 4, "epochs": 2, "batch_size": 16, "precision": "bfloat16"}
    fast = {"features": {"name": "pixels"}, "model": model}
    record = run(parse_experiment("tiny-bf16", fast, "test"), Workspace(results, shared_cache, load_dataset(MINI)))
    dataset = load_dataset(MINI)
    images = scaled(dataset.images[dataset.indices("PrivateTest")])[..., None]
    out = api.export(record.run_id, results=results, out=tmp_path / "net.onnx")
    exported, recorded = onnx_probabilities(out, images), saved_model(record, results).predict_proba(images)
    np.testing.assert_allclose(exported, recorded, atol=2e-2)
    assert "bfloat16" not in str(onnx.load(str(out)).graph)
