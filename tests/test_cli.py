"""End to end through the command line, on the fixture data."""

import json
import subprocess
import sys

import pytest

from fer_bench.cli import main
from fer_bench.parts import registry

from conftest import MINI, tiny_paper_mlp


@pytest.fixture
def experiments(write_experiments):
    return write_experiments(
        {
            "tiny.toml": tiny_paper_mlp(2, seed=3),
            "tiny-full.toml": tiny_paper_mlp(2, protocol="full", seed=3),
            "tiny-svm.toml": '[features]\nname = "embedding"\nprotocol = "full"\n[model]\nname = "svm"\nC = 10\n',
        }
    )


def run_cli(*args):
    return main([str(a) for a in args])


def test_run_records_the_contract_and_writes_the_leaderboard(experiments, tmp_path, mini_embeddings, capsys):
    assert run_cli("run", "tiny", "--data", MINI) == 0
    out = capsys.readouterr().out
    assert "PrivateTest" in out and "accuracy_all" in out

    assert run_cli("show", "tiny", "--format", "json") == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("run_id", "experiment", "spec", "seed", "created", "versions", "timings", "metrics"):
        assert key in record
    assert set(record["timings"]) >= {"features", "fit", "total"}
    assert record["spec"]["model"]["params"]["epochs"] == 2
    assert record["spec"]["backend"] == "tensorflow"
    assert record["spec"]["model"]["version"] == registry.get("model", "paper-mlp").version
    assert record["data"]["classes"][3] == "Happy"
    assert record["seed"] == 3
    for split in ("PublicTest", "PrivateTest"):
        m = record["metrics"][split]
        assert m["n_total"] == 42 and 0 < m["n_evaluated"] < 42
        assert 0 <= m["accuracy_all"] <= m["accuracy"] <= 1
        assert m["accuracy_all"] == pytest.approx(m["accuracy"] * m["n_evaluated"] / m["n_total"])
        assert len(m["confusion_matrix"]) == 7 and set(m["per_class_recall"]) >= {"Angry", "Neutral"}
        assert len(record["predictions"][split]) == 42
    assert len(record["history"]["loss"]) == 2

    board = (tmp_path / "results" / "LEADERBOARD.md").read_text()
    assert "tiny" in board and "71.162" in board and record["run_id"] in board


def test_an_identical_spec_is_not_run_twice_unless_forced(experiments, tmp_path, mini_embeddings, capsys):
    assert run_cli("run", "tiny-svm", "--data", MINI) == 0
    assert run_cli("run", "tiny-svm", "--data", MINI) == 0
    assert "already recorded" in capsys.readouterr().err
    assert run_cli("run", "tiny-svm", "--data", MINI, "--force") == 0
    lines = (tmp_path / "results" / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["run_id"] == json.loads(lines[1])["run_id"]
    record = json.loads(lines[0])
    assert record["metrics"]["PrivateTest"]["n_evaluated"] == 42  # protocol full covers every image


def test_both_protocols_evaluate_the_same_images_differently(experiments, mini_embeddings, capsys):
    run_cli("run", "tiny", "--data", MINI)
    run_cli("run", "tiny-full", "--data", MINI)
    capsys.readouterr()
    run_cli("show", "tiny-full", "--format", "json")
    full = json.loads(capsys.readouterr().out)["metrics"]["PrivateTest"]
    run_cli("show", "tiny", "--format", "json")
    detector = json.loads(capsys.readouterr().out)["metrics"]["PrivateTest"]
    assert full["n_evaluated"] == 42 and detector["n_evaluated"] < 42


def test_train_test_layout_is_evaluated_on_its_test_split(experiments, tmp_path, capsys):
    import shutil

    data = tmp_path / "train-test"
    for split, folder in [("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")]:
        for label_dir in (MINI / split).iterdir():
            shutil.copytree(label_dir, data / folder / label_dir.name.lower(), dirs_exist_ok=True)
    (experiments / "pixels-logreg.toml").write_text('[features]\nname = "pixels"\n[model]\nname = "logreg"\n')
    assert run_cli("run", "pixels-logreg", "--data", data) == 0
    assert "evaluating on Test instead" in capsys.readouterr().err
    run_cli("show", "pixels-logreg", "--format", "json")
    record = json.loads(capsys.readouterr().out)
    assert list(record["metrics"]) == ["Test"] and record["metrics"]["Test"]["n_total"] == 84
    assert record["data"]["layout"] == "train/test folders"


BAD_EXPERIMENTS = {
    "syntax": ("[model\nname = 'svm'", "not valid TOML"),
    "unknown-part": ('[features]\nname = "embedding"\n[model]\nname = "cnnn"\n', "unknown model 'cnnn'"),
    "unknown-param": ('[features]\nname = "embedding"\n[model]\nname = "svm"\nCC = 1\n', "unknown parameter 'CC'"),
    "bad-value": ('[features]\nname = "embedding"\n[model]\nname = "svm"\nC = -1\n', "'C' must be > 0, got -1.0"),
    "bad-type": ('[features]\nname = "embedding"\n[model]\nname = "paper-mlp"\nepochs = "x"\n', "must be int"),
    "no-model": ('[features]\nname = "embedding"\n', r"\[model\] needs a table"),
}


@pytest.mark.parametrize("name", BAD_EXPERIMENTS)
def test_bad_experiment_files_fail_with_one_line_and_status_2(experiments, tmp_path, capsys, name):
    text, message = BAD_EXPERIMENTS[name]
    (experiments / f"{name}.toml").write_text(text)
    assert run_cli("run", "tiny-svm", "--data", MINI) == 0
    before = (tmp_path / "results" / "runs.jsonl").read_bytes()
    capsys.readouterr()
    assert run_cli("run", name, "--data", MINI) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("fer-bench: error:")
    assert f"{name}.toml" in err
    assert __import__("re").search(message, err)
    assert (tmp_path / "results" / "runs.jsonl").read_bytes() == before


@pytest.mark.parametrize(
    "data, message",
    [
        ("/nonexistent/fer", "data path does not exist"),
        ("", "no data path"),
    ],
)
def test_bad_data_paths_fail_with_status_2(experiments, capsys, data, message):
    assert run_cli("run", "tiny", "--data", data) == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_results_directory_is_refused_before_any_work(experiments, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert run_cli("run", "tiny", "--data", MINI, "--results", blocker / "results") == 2
    assert "is not writable" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["leaderboard"],
        ["calibration"],
        ["show", "paper"],
        ["predict", "x.jpg"],
        ["compare", "a", "b"],
        ["evaluate", "paper", "--data", MINI],
    ],
)
def test_a_results_folder_without_records_is_refused_in_one_line(tmp_path, capsys, command):
    typo = tmp_path / "resluts"
    assert run_cli(*command, "--results", typo) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no run records here" in err and str(typo) in err
    assert not typo.exists()  # nothing written where the user did not mean


def test_show_unknown_and_list(capsys):
    assert run_cli("show", "nothing-here") == 2
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    assert "paper-mlp" in out and "protocol = 'detector'" in out and "paper" in out
    cnn = "[SavesWeights, Resumable, ReportsEpochs, SoftTargets, BuildsOnRuns]"  # model/cnn's declared capabilities
    assert cnn in out


def test_console_script_reports_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fer_bench", "run", "paper", "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"fer-bench: error: data path does not exist: {tmp_path / 'missing'}"]


def test_a_bad_csv_row_stops_the_run_with_its_line_number(experiments, tmp_path, capsys):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * 2304) + ",Training\n0,1 2 3,PrivateTest\n")
    assert run_cli("run", "tiny", "--data", csv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"fer-bench: error: {csv}, line 3: 3 pixel values, expected 2304"
    assert not (tmp_path / "results" / "runs.jsonl").exists() or not (tmp_path / "results" / "runs.jsonl").read_text()


def test_import_adds_the_records_and_weights_of_another_results_folder(tmp_path, capsys):
    from dataclasses import replace

    from fer_bench.runs.records import RecordStore
    from fer_bench.testing import example_record

    elsewhere = RecordStore(tmp_path / "gpu")
    (elsewhere.root / "models").mkdir(parents=True)
    (elsewhere.root / "models" / "abc123def456.weights.npz").write_bytes(b"weights")
    record = example_record("abc123def456", "x", status="failed", artefact="models/abc123def456.weights.npz")
    elsewhere.append(record)
    here = tmp_path / "results"
    assert main(["import", str(elsewhere.root), "--results", str(here)]) == 0
    assert main(["import", str(elsewhere.root), "--results", str(here)]) == 0  # twice: nothing doubled
    assert RecordStore(here).all() == [record]
    assert (here / "models" / "abc123def456.weights.npz").read_bytes() == b"weights"
    assert "imported 0 record(s)" in capsys.readouterr().out

    elsewhere.append(replace(record, created="2026-11-29T00:00:00+00:00", artefact="models/missing.weights.npz"))
    assert main(["import", str(elsewhere.root), "--results", str(here)]) == 2
    assert len(RecordStore(here).all()) == 1


def test_cache_info_lists_entries_and_clear_empties_it(tmp_path, capsys):
    import numpy as np

    from fer_bench.parts.cache import ArrayCache

    cache = ArrayCache(tmp_path / "cache")
    cache.save("k1", {"x": np.zeros(1000)}, {"dataset": "abc", "versions": {"keras_backend": "jax"}})
    assert main(["cache", "info", "--cache", str(cache.root)]) == 0
    out = capsys.readouterr().out
    assert "1 entries" in out and "k1" in out and "dataset=abc" in out and "backend=jax" in out
    assert main(["cache", "clear", "--cache", str(cache.root)]) == 0
    assert not cache.root.exists() and cache.load("k1") is None


def test_compare_pairs_runs_on_their_shared_images(experiments, tmp_path, mini_embeddings, capsys):
    from fer_bench.data import load_dataset
    from fer_bench.runs.records import RecordStore
    from fer_bench.scoring.metrics import UNCOVERED, decode_predictions

    assert run_cli("run", "tiny-svm", "--data", MINI) == 0
    assert run_cli("run", "tiny", "--data", MINI) == 0
    capsys.readouterr()
    out = tmp_path / "results" / "comparisons" / "svm.md"
    assert run_cli("compare", "tiny-svm", "tiny", "--data", MINI, "--out", out) == 0
    svm, mlp = (RecordStore().find(name)[-1] for name in ("tiny-svm", "tiny"))
    dataset = load_dataset(MINI)
    labels = dataset.labels[dataset.indices("PrivateTest")]
    a, b = (decode_predictions(r.predictions["PrivateTest"]) for r in (svm, mlp))
    shared = (a != UNCOVERED) & (b != UNCOVERED)
    only_svm = int(((a == labels) & (b != labels) & shared).sum())
    only_mlp = int(((a != labels) & (b == labels) & shared).sum())
    row = next(line for line in out.read_text().splitlines() if "`tiny`" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == str(int(shared.sum())) and 0 < shared.sum() < 42  # the detector run covers fewer
    assert cells[6] == f"{only_svm} / {only_mlp}"
    assert out.read_text() in capsys.readouterr().out
    assert run_cli("leaderboard") == 0
    assert "[svm](comparisons/svm.md)" in (tmp_path / "results" / "LEADERBOARD.md").read_text()

    assert run_cli("compare", "tiny-svm", "nothing-like-this", "--data", MINI) == 2
    assert "nothing-like-this" in capsys.readouterr().err
