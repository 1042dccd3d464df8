"""fer-bench as a library: the Python API, run ids that name the code and the backend, the shipped
experiments, and a quiet start."""

import argparse
import inspect
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import fer_bench
from fer_bench.cli import build_parser
from fer_bench.runs.records import Record
from fer_bench.specs.experiment import load_experiment
from fer_bench.testing import CheapCentroid, simulated_dataset

from conftest import CHEAP_EXPERIMENT, GRID_RULE, SEARCH_RULE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cheap(write_experiments, simulated_csv, monkeypatch):
    monkeypatch.setenv("FER_BENCH_DATA", str(simulated_csv))
    grid = 'base = "cheap"\n' + GRID_RULE + "seeds = [0, 1]\n[[product]]\nmodel.shrink = [0.0, 0.5]\n"
    search = 'base = "cheap"\n' + SEARCH_RULE + "trials = 3\n[space.model]\nshrink = true\n"
    return write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "grids/g.toml": grid, "searches/s.toml": search})


def test_the_api_runs_grids_and_tunes_and_loads_the_records_as_a_table(cheap, tmp_path):
    results = tmp_path / "results"
    record = fer_bench.run("cheap", results=results, seed=4)
    assert isinstance(record, Record) and record.seed == 4 and record.metrics["PrivateTest"].accuracy_all > 0.5
    assert record.command == "fer_bench.run('cheap', seed=4)"
    assert (results / "LEADERBOARD.md").is_file()
    assert fer_bench.run("cheap", results=results, seed=4) == record  # recorded already: not run again
    in_memory = simulated_dataset()  # the same images as the csv: the same data fingerprint, the same run
    assert fer_bench.run("cheap", data=in_memory, results=results, seed=4).run_id == record.run_id

    outcome = fer_bench.grid("g", results=results)
    assert (outcome.ran, outcome.failed, outcome.report.name) == (4, 0, "g.md")
    best = fer_bench.tune("s", results=results)
    assert best.experiment == "s" and best.search["n_trials"] == 3

    table = fer_bench.load_records(results)
    assert len(table) == 1 + 4 + 1 and table["current"].all()
    assert {"run_id", "model.shrink", "timings.fit", "PrivateTest.accuracy_all", "PrivateTest.recall.Happy"} <= set(
        table.columns
    )
    by_experiment = table.groupby("experiment")["PrivateTest.accuracy_all"].mean()  # a report is a groupby away
    assert set(by_experiment.index) == {"cheap", "g/shrink=0.5", "s"}

    parts = fer_bench.list_parts("model")
    assert "model/test-centroid" in set(parts.key) and set(parts.kind) == {"model"}
    cnn = parts.set_index("key").loc["model/cnn"]
    assert cnn.version == "1" and "SavesWeights" in cnn.capabilities and cnn.params["width"] == 32


def test_every_api_function_has_a_docstring():
    for name in fer_bench.__all__:
        assert getattr(fer_bench, name).__doc__, name
    assert {"run", "evaluate", "cache_entries"} <= set(dir(fer_bench))


def test_any_module_imports_first_in_a_fresh_process():
    """`from fer_bench import backend` inside fer_bench imports the submodule, not the whole API (a
    circular import in a spawned worker, which starts with a module below the API)."""
    for module in ("fer_bench.runs.records", "fer_bench.parts.registry", "fer_bench.reports.leaderboard"):
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=120)


def test_every_command_line_verb_calls_the_api():
    """The CLI parses and prints: each verb's handler calls functions of fer_bench.api, all public."""
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for verb, parser in subparsers.choices.items():
        called = set(re.findall(r"\bapi\.(\w+)\(", inspect.getsource(parser.get_default("handler"))))
        assert called and called <= set(fer_bench.__all__), verb


def test_the_run_id_names_the_backend_and_the_part_versions(cheap, tmp_path, monkeypatch):
    experiment = load_experiment("cheap")
    tensorflow, jax = (experiment.spec("fingerprint", keras_backend=name) for name in ("tensorflow", "jax"))
    assert tensorflow.run_id != jax.run_id and tensorflow.config_id == jax.config_id
    assert jax.to_dict()["backend"] == "jax" and jax.to_dict()["model"]["version"] == CheapCentroid.version

    results = tmp_path / "results"
    before = fer_bench.run("cheap", results=results)
    monkeypatch.setattr(CheapCentroid, "version", "2")  # the model's computation changed
    after = fer_bench.run("cheap", results=results)  # a plain run computes it again
    assert after.run_id != before.run_id and after.config_id == before.config_id
    assert before.outdated_parts() == ["model/test-centroid v1, now v2"] and after.outdated_parts() == []
    table = fer_bench.load_records(results).set_index("run_id")
    assert not table.loc[before.run_id, "current"] and table.loc[after.run_id, "current"]
    board = (results / "LEADERBOARD.md").read_text()  # the current code's run replaces the earlier one
    assert after.run_id in board and before.run_id not in board and "cheap †" not in board


def test_the_experiments_ship_inside_the_package(tmp_path):
    """What `pip install .` installs: the wheel holds experiments/, and an installed fer-bench run
    from a folder without experiments/ lists them."""
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("fer_bench-*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".toml")}
    assert {
        "fer_bench/experiments/paper.toml",
        "fer_bench/experiments/grids/ablation.toml",
        "fer_bench/experiments/searches/embedding-svm.toml",
    } <= shipped
    zipfile.ZipFile(wheel).extractall(tmp_path / "installed")
    # -S: no site hooks, so the checkout's editable install stays out; the dependencies come from here
    path = f"{tmp_path / 'installed'}:{sysconfig.get_paths()['purelib']}"
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import fer_bench; print(fer_bench.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": path},
    )
    assert where.stdout.startswith(str(tmp_path / "installed")), where.stdout + where.stderr
    listed = subprocess.run(
        [sys.executable, "-S", "-m", "fer_bench", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": path},
    )
    assert listed.returncode == 0, listed.stderr
    experiments = listed.stdout.split("experiments:\n")[1].splitlines()[0].split()
    assert {"paper", "cnn", "svm-full"} <= set(experiments)
    assert "ablation" in listed.stdout.split("grids:\n")[1] and "embedding-svm" in listed.stdout.split("searches:\n")[1]


TENSORFLOW_CHATTER = ("oneDNN", "cpu_feature_guard", "absl::InitializeLog", "I0000", "E0000", "WARNING:tensorflow")


def test_commands_start_quietly_unless_verbose(write_experiments, simulated_csv, tmp_path):
    write_experiments({"keras.toml": '[features]\nname = "pixels"\n[model]\nname = "paper-mlp"\nepochs = 1\n'})
    command = [sys.executable, "-m", "fer_bench", "run", "keras", "--data", str(simulated_csv)]
    quiet = subprocess.run([*command, "--results", str(tmp_path / "a")], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert not [line for line in quiet.stderr.splitlines() if any(sign in line for sign in TENSORFLOW_CHATTER)]
    # --verbose sets FER_BENCH_VERBOSE for the process and its workers; then Keras loads as it is
    # (without the log level a Keras import earlier in this test process left in its environment)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | {"FER_BENCH_VERBOSE": "1"}
    loud = subprocess.run(
        [sys.executable, "-c", "from fer_bench import backend; backend.load_keras()"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert loud.returncode == 0 and any(sign in loud.stderr for sign in TENSORFLOW_CHATTER)  # which lines: by CPU
    assert "--verbose" in subprocess.run([*command, "--help"], capture_output=True, text=True).stdout
