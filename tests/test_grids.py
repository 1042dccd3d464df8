"""Grid files, grid execution (failures, resume after SIGKILL, parallel cells) and the grid report."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from test_ferplus import votes_for

from fer_bench.cli import main
from fer_bench.data import load_dataset
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.reports.grid import GridReport
from fer_bench.runs.records import RecordStore
from fer_bench.specs.experiment import load_experiment
from fer_bench.specs.grid import load_grid, parse_grid
from fer_bench.sweeps import grid as grid_sweep

from conftest import CHEAP_EXPERIMENT, GRID_RULE, MINI, tiny_paper_mlp

FER2013 = "ae9679c8208ffa62"  # the real data set's fingerprint (tests/test_run_ids.py)
TINY, CHEAP = 'base = "tiny"\n' + GRID_RULE, 'base = "cheap"\n' + GRID_RULE

ABLATION = """
base = "tiny"
seeds = [0, 1]
choose = {split = "PublicTest", metric = "accuracy_all"}
[[product]]
axis = "resampler"
resampler.name = ["smote", "none", "class-weights"]
model.name = "logreg"
[[product]]
axis = "classifier"
model.name = ["paper-mlp", "logreg"]
[[product]]
axis = "classifier"
model.name = "knn"
resampler.name = "class-weights"   # knn cannot weight classes: this cell is refused, never run
[[product]]
axis = "classifier"
model.name = "test-centroid"
model.fail = true                  # this cell fails when it fits
"""


@pytest.fixture
def experiments(write_experiments):
    return write_experiments(
        {"tiny.toml": tiny_paper_mlp(2), "cheap.toml": CHEAP_EXPERIMENT, "grids/mini.toml": ABLATION}
    )


def write_grid(experiments, name, text):
    (experiments / "grids" / f"{name}.toml").write_text(text)
    return name


def test_products_expand_into_named_cells_and_the_base_keeps_its_name(experiments):
    grid = load_grid("mini")
    assert {axis: [e.name for e in settings] for axis, settings in grid.axes.items()} == {
        "resampler": [
            "mini/model=logreg",
            "mini/resampler=none,model=logreg",
            "mini/resampler=class-weights,model=logreg",
        ],
        "classifier": ["tiny", "mini/model=logreg", "mini/model=test-centroid,fail=true"],
    }
    assert grid.refused == (
        (
            "mini/resampler=class-weights,model=knn",
            "model/knn cannot weight classes; use a resampler that adds samples",
        ),
    )
    assert len(grid.cells) == 5 * 2  # a cell in two axes counted once, two seeds each
    logreg = next(e for e in grid.experiments if e.name == "mini/model=logreg")
    assert logreg.model.params == {"C": 1.0, "max_iter": 2000}  # a new part starts from its defaults
    assert logreg.resampler == grid.base.resampler


def test_a_product_of_two_lists_is_cartesian(experiments):
    write_grid(
        experiments,
        "svm",
        TINY + '[[product]]\nmodel.name = "svm"\nmodel.C = [1, 10]\nfeatures.protocol = ["detector", "full"]\n',
    )
    names = [e.name for e in load_grid("svm").experiments]
    assert names == [
        "svm/model=svm,C=1.0",  # protocol=detector is the base's: not a difference
        "svm/model=svm,C=10.0",
        "svm/protocol=full,model=svm,C=1.0",
        "svm/protocol=full,model=svm,C=10.0",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (TINY + "colour = 1\n[[product]]\nmodel.epochs = 1\n", "unknown key 'colour'"),
        (GRID_RULE + "[[product]]\nmodel.epochs = 1\n", "`base` must name an experiment"),
        ('base = "nope"\n' + GRID_RULE + "[[product]]\nmodel.epochs = 1\n", "unknown experiment 'nope'"),
        (TINY + "seeds = []\n[[product]]\nmodel.epochs = 1\n", "`seeds` must be a non-empty list"),
        (TINY, "needs at least one [[product]]"),
        (TINY + "[[product]]\nmodel.epochs = []\n", "product 1: model.epochs has no values"),
        (TINY + "[[product]]\nmodel.epoch = [1]\n", "product 1: model/paper-mlp: unknown parameter 'epoch'"),
        (TINY + "[[product]]\nmodel.epochs = 0\n", "model/paper-mlp: parameter 'epochs' must be >= 1"),
        (TINY + '[[product]]\nmodel.name = "svm"\nmodel.batch_norm = false\n', "parameter 'batch_norm'"),
        (TINY + '[[product]]\nmodel.epochs = "many"\n', "parameter 'epochs' must be int"),
        (TINY + "[[product]\n", "not valid TOML"),
        (TINY + '[[product]]\nlabels = "affectnet"\n', "labels must be one of"),
        (TINY + '[[product]]\nlabels_mode = "probability"\n', "labels_mode must be one of"),
        (TINY + '[[product]]\nlabels = ["ferplus", 3]\n', "labels must be a string or a non-empty list"),
        (TINY + "[[product]]\nlabels_mode = []\n", "labels_mode must be a string or a non-empty list"),
    ],
)
def test_bad_grid_files_name_the_file_and_the_problem(experiments, text, message):
    write_grid(experiments, "bad", text)
    with pytest.raises(FerBenchError, match="bad.toml") as error:
        load_grid("bad")
    assert message in str(error.value)


def test_grid_records_a_failing_cell_goes_on_and_writes_its_report(experiments, tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["grid", "mini", "--results", str(results)]) == 1  # one cell fails
    records = RecordStore(results).all()
    failed = [r for r in records if not r.ok]
    assert {r.experiment for r in failed} == {"mini/model=test-centroid,fail=true"}
    assert "asked to fail" in failed[0].error and failed[0].spec.model.name == "test-centroid"
    assert failed[0].data.fingerprint and failed[0].hardware  # the same provenance as an ok record
    assert sum(r.ok for r in records) == 8

    report = (results / "grids" / "mini.md").read_text()
    assert "fer-bench grid mini --results" in report
    assert "## resampler" in report and "## classifier" in report and "**Incomplete**" in report
    assert "Not run, because their parts refuse to run together (1)" in report and "cannot weight classes" in report
    assert "McNemar p vs base" in report and "(base)" in report
    figures = sorted(p.name for p in (results / "grids" / "mini").iterdir())
    assert "accuracy.png" in figures
    assert sum(f.startswith("confusion-") for f in figures) == 8
    assert sum(f.startswith("curves-") for f in figures) == 2  # the Keras runs only
    board = (results / "LEADERBOARD.md").read_text()
    assert "[mini](grids/mini.md)" in board and "mini/resampler=none" not in board

    capsys.readouterr()
    assert main(["grid", "mini", "--results", str(results)]) == 1
    assert "8 already recorded, 2 to run" in capsys.readouterr().err  # only the failed cell (2 seeds) again
    assert len(RecordStore(results).all()) == len(records) + 2


def test_held_out_training_accuracy_is_recorded_and_shown_where_a_fit_held_images_out(
    write_experiments, tmp_path, simulated_csv
):
    """What a choice between settings may read (a distilled student's teacher weight): no test image."""
    grid = 'base = "held"\n' + GRID_RULE + '[[product]]\nmodel.name = ["test-centroid-holdout", "test-centroid"]\n'
    write_experiments(
        {"held.toml": CHEAP_EXPERIMENT.replace("test-centroid", "test-centroid-holdout"), "grids/held.toml": grid}
    )
    results = tmp_path / "results"
    assert main(["grid", "held", "--results", str(results), "--data", str(simulated_csv)]) == 0
    records = {r.spec.model.name: r for r in RecordStore(results).all()}
    held = records["test-centroid-holdout"].held_out
    assert records["test-centroid"].held_out is None and held.n_total == 35  # a quarter of 140 Training images
    report = (results / "grids" / "held.md").read_text()
    assert "held-out Training acc. %" in report
    rows = {
        line.split("|")[1].strip().removesuffix(" **chosen**"): line.rstrip(" |")
        for line in report.splitlines()
        if line.startswith("| `")
    }
    assert rows["`held` (base)"].endswith(f"{100 * held.accuracy:.2f}")
    assert rows["`model=test-centroid`"].endswith("n/a")


def test_a_report_renders_before_any_cell_is_recorded(experiments, tmp_path, capsys):
    """As a machine that shares a grid writes it when the other machines took every cell."""
    results = tmp_path / "results"
    assert main(["grid", "mini", "--report-only", "--results", str(results)]) == 0
    report = (results / "grids" / "mini.md").read_text()
    assert "10 cell(s) not run yet" in report and "_No cell of this axis is recorded in these results yet._" in report


def test_cells_run_in_parallel_processes(experiments, tmp_path, capsys, simulated_csv):
    write_grid(experiments, "fast", CHEAP + "seeds = [0, 1]\n[[product]]\nmodel.shrink = [0.0, 0.5]\n")
    results = tmp_path / "results"
    assert main(["grid", "fast", "--jobs", "2", "--results", str(results), "--data", str(simulated_csv)]) == 0
    records = RecordStore(results).all()
    assert len(records) == 4 and len({r.run_id for r in records}) == 4
    assert all(r.ok for r in records)
    assert "4 cells ran, 0 failed" in capsys.readouterr().err


@pytest.mark.timeout(300)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_workers_replaced_after_each_cell_still_run_every_cell(
    experiments, tmp_path, capsys, simulated_csv, monkeypatch, jobs
):
    """Workers are replaced after CELLS_PER_WORKER cells (memory) by new ones, a serial grid's too: no
    cell lost, no hang."""
    monkeypatch.setattr(grid_sweep, "CELLS_PER_WORKER", 1)
    write_grid(experiments, "replaced", CHEAP + "seeds = [0, 1, 2]\n[[product]]\nmodel.shrink = [0.0, 0.5]\n")
    results = tmp_path / "results"
    assert main(["grid", "replaced", "--jobs", jobs, "--results", str(results), "--data", str(simulated_csv)]) == 0
    records = RecordStore(results).all()
    assert len({r.run_id for r in records}) == 6 and all(r.ok for r in records)
    assert "6 cells ran, 0 failed" in capsys.readouterr().err


def test_a_grid_killed_mid_way_resumes_with_only_the_missing_cells(experiments, tmp_path, simulated_csv):
    write_grid(experiments, "killed", CHEAP + "seeds = [0, 1, 2, 3, 4]\n[[product]]\nmodel.seconds_per_epoch = 0.3\n")
    results = tmp_path / "results"
    runs = results / "runs.jsonl"
    command = [
        sys.executable,
        "-m",
        "fer_bench",
        "grid",
        "killed",
        "--results",
        str(results),
        "--data",
        str(simulated_csv),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not runs.exists() or runs.read_text().count("\n") < 2):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = [json.loads(line) for line in runs.read_text().splitlines()]  # every line whole
    assert 2 <= len(before) < 5, "the kill should land mid-way"

    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert f"{len(before)} already recorded, {5 - len(before)} to run" in finished.stderr
    after = [json.loads(line) for line in runs.read_text().splitlines()]
    assert after[: len(before)] == before  # nothing rewritten
    assert len(after) == 5 and all(r["status"] == "ok" for r in after)
    assert len({r["run_id"] for r in after}) == 5 and sorted(r["seed"] for r in after) == list(range(5))


def test_two_machines_split_a_grid_through_a_shared_storage(experiments, tmp_path, simulated_csv):
    write_grid(experiments, "shared", CHEAP + "seeds = [0, 1, 2]\n[[product]]\nmodel.shrink = [0.0, 0.5]\n")
    storage = f"sqlite:///{tmp_path / 'grid.db'}"
    command = [sys.executable, "-m", "fer_bench", "grid", "shared", "--storage", storage, "--data", str(simulated_csv)]
    workers = [
        subprocess.Popen([*command, "--results", str(tmp_path / f"machine{i}")], stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    errors = [w.communicate(timeout=600)[1] for w in workers]
    assert all(w.returncode == 0 for w in workers), errors
    per_machine = [[r.run_id for r in RecordStore(tmp_path / f"machine{i}").all()] for i in range(2)]
    every = per_machine[0] + per_machine[1]
    assert len(every) == 6 and len(set(every)) == 6  # each cell once, across both machines


LABELS_GRID = """
base = "cheap"
seeds = [0, 1]
choose = {split = "PublicTest", metric = "accuracy_all"}
[[product]]
axis = "targets"
labels = "fer2013"
[[product]]
axis = "targets"
labels = "ferplus"
labels_mode = ["probability", "majority"]
resampler.name = ["none", "random-over"]   # random-over needs one label an image: refused with probability
"""


def test_a_product_may_vary_the_labels_and_a_new_source_starts_from_its_majority_mode(write_experiments):
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "grids/targets.toml": LABELS_GRID})
    grid = load_grid("targets")
    assert [e.name for e in grid.axes["targets"]] == [
        "cheap",
        "targets/labels=ferplus-probability",
        "targets/labels=ferplus-majority",
        "targets/labels=ferplus-majority,resampler=random-over",
    ]
    assert [e.labels for e in grid.axes["targets"]] == [
        Labels(),
        Labels("ferplus", "probability"),
        Labels("ferplus"),
        Labels("ferplus"),
    ]
    assert grid.refused == (
        (
            "targets/labels=ferplus-probability,resampler=random-over",
            "resampler/random-over needs one label an image; soft targets train with resampler none",
        ),
    )
    back = 'base = "soft"\n' + GRID_RULE + '[[product]]\nlabels = ["fer2013", "ferplus"]\n'
    write_experiments(
        {"soft.toml": 'labels = "ferplus"\nlabels_mode = "probability"\n' + CHEAP_EXPERIMENT, "grids/back.toml": back}
    )
    back = load_grid("back")  # back to FER2013: its only mode; the base's own source keeps its mode
    assert [(e.name, e.labels) for e in back.experiments] == [
        ("back/labels=fer2013", Labels()),
        ("soft", Labels("ferplus", "probability")),
    ]


@pytest.fixture
def votes(monkeypatch, tmp_path):
    path = tmp_path / "fer2013new.csv"
    path.write_text(votes_for(load_dataset(MINI)))
    monkeypatch.setenv("FER_BENCH_FERPLUS", str(path))
    return path


def test_cells_on_other_labels_run_on_them_and_are_compared_within_their_labels(write_experiments, votes, tmp_path):
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "grids/targets.toml": LABELS_GRID})
    results = tmp_path / "results"
    assert main(["grid", "targets", "--data", str(MINI), "--results", str(results)]) == 0
    records = RecordStore(results).all()
    assert len(records) == 4 * 2 and all(r.ok for r in records)
    assert {r.experiment: r.data.labels for r in records} == {
        "cheap": "fer2013",
        "targets/labels=ferplus-majority": "ferplus-majority",
        "targets/labels=ferplus-probability": "ferplus-probability",
        "targets/labels=ferplus-majority,resampler=random-over": "ferplus-majority",
    }
    assert {r.data.fingerprint: r.spec.data for r in records} == {r.spec.data: r.spec.data for r in records}

    grid, dataset = load_grid("targets"), load_dataset(MINI)
    info = GridReport().compute(grid, dataset, records)
    assert info.missing == [] and info.fingerprint == dataset.fingerprint
    rows = {s.axis_label: row for s, row in info.rows_by_axis["targets"]}
    assert rows["cheap"].reference and rows["cheap"].p_values == []
    majority = rows["labels=ferplus-majority"]  # the reference of FER+ labels, though listed after probability
    assert majority.reference and majority.against is None and majority.delta is None  # never against FER2013
    for label in ("labels=ferplus-probability", "labels=ferplus-majority,resampler=random-over"):
        assert rows[label].against == "labels=ferplus-majority" and len(rows[label].p_values) == 2
    ferplus = info.settings["targets/labels=ferplus-majority"]
    assert ferplus.evaluated.sum() < ferplus.evaluated.size  # FER+ leaves some test images unlabelled
    text = (results / "grids" / "targets.md").read_text()
    assert "`labels=ferplus-majority` (base of its labels)" in text
    assert "`labels=ferplus-probability` (vs `labels=ferplus-majority`)" in text
    assert "scored against different test labels" in text


def test_a_cell_on_labels_without_a_reference_is_reported_without_a_pair(write_experiments, votes, tmp_path):
    write_experiments(
        {
            "cheap.toml": CHEAP_EXPERIMENT,
            "grids/soft.toml": CHEAP + '[[product]]\naxis = "targets"\n'
            'labels = ["fer2013", "ferplus"]\nlabels_mode = "probability"\n'
            'model.name = "test-centroid"\n',
        }
    )
    with pytest.raises(FerBenchError, match="labels_mode must be one of"):  # fer2013 has no probability mode
        load_grid("soft")
    write_experiments(
        {
            "grids/soft.toml": CHEAP + '[[product]]\naxis = "targets"\nlabels = "ferplus"\n'
            'labels_mode = "probability"\nmodel.shrink = 0.5\n'
        }
    )
    results = tmp_path / "results"
    assert main(["grid", "soft", "--data", str(MINI), "--results", str(results)]) == 0
    info = GridReport().compute(load_grid("soft"), load_dataset(MINI), RecordStore(results).all())
    ((_, row),) = info.rows_by_axis["targets"]
    assert not row.reference and row.against is None and row.p_values == [] and row.delta is None
    text = (results / "grids" / "soft.md").read_text()
    assert "`labels=ferplus-probability,shrink=0.5` (no base on its labels)" in text


def _full_cnn_grid():
    """The fast CNN's whole ablation as issue 26 lists it, before the shipped grid's cuts (its file)."""
    one = lambda axis, **keys: {"axis": axis, **keys}  # noqa: E731
    return {
        "description": "every value",
        "base": "cnn-fast",
        "seeds": [0, 1, 2],
        "choose": {"split": "PublicTest", "metric": "accuracy_all"},
        "product": [
            one("augmentation", model={"mirror": False, "random_crop": False}),
            one("augmentation", model={"random_crop": [False, True]}),
            one("augmentation", model={"rotation": 0.03, "zoom": 0.08, "erasing": [0.0, 0.25]}),
            one("imbalance", resampler={"name": ["none", "class-weights", "random-over"]}),
            one("label smoothing", model={"label_smoothing": [0.1, 0.0]}),
            one("targets", labels="fer2013"),
            one("targets", labels="ferplus", labels_mode=["majority", "probability", "multi_target"]),
            one("input", features={"name": "pixels"}),
            one("input", features={"name": "pixels-embedding"}, model={"name": "cnn-fast-fusion", "epochs": 15}),
        ],
    }


def test_the_shipped_cnn_grid_ablates_the_fast_cnn_one_axis_at_a_time_in_about_three_hours():
    grid = load_grid("cnn")
    base = load_experiment("cnn-fast")
    assert grid.base == base and grid.seeds == (0, 1, 2) and grid.refused == ()
    assert grid.base.spec(FER2013, keras_backend="tensorflow").run_id == "fba3f1fe95f7"  # tests/test_run_ids.py
    assert list(grid.axes) == ["augmentation", "imbalance", "label smoothing", "targets", "input"]
    assert all(base in settings and len(settings) >= 2 for settings in grid.axes.values())
    for experiment in grid.experiments:
        experiment.check(experiment.name)
    labels = {grid.label_of(e): e for e in grid.experiments}
    assert labels["mirror=false,random_crop=false"].model.params["mirror"] is False
    assert labels["resampler=class-weights"].setup().model.takes_class_weights
    assert labels["labels=ferplus-probability"].labels == Labels("ferplus", "probability")
    fusion = labels["features=pixels-embedding,model=cnn-fast-fusion,epochs=15"]
    same = {k: v for k, v in fusion.model.params.items() if k not in ("mirror", "random_crop")}
    assert same == base.model.params and fusion.features.name == "pixels-embedding"
    assert all(e.model.params["precision"] == "float32" for e in grid.experiments)  # width 16: on any CPU
    assert labels["labels=ferplus-multi_target"].labels == Labels("ferplus", "multi_target")
    runs = len(grid.cells)
    assert runs == 8 * 3 and f"{runs} runs" in grid.description and "3.6 hours" in grid.description
    assert runs * 9 / 60 <= 3.6  # ~9 minutes a run on 2 cores

    full = parse_grid("cnn", _full_cnn_grid(), "the whole ablation")  # what the file's comments cut
    assert full.refused == () and len(full.experiments) == 12 and "36 runs" in grid.description
    for experiment in full.experiments:
        experiment.check(experiment.name)
    assert {e.name for e in grid.experiments} < {e.name for e in full.experiments}


SHRINK = "[[product]]\nmodel.shrink = [0.0, 0.5]\n"


@pytest.mark.parametrize(
    "rule, message",
    [
        ("", "bad.toml: choose: declare the split and metric this file chooses on"),
        (
            'choose = {split = "PrivateTest", metric = "accuracy_all"}\n',
            "bad.toml: choose.split: PrivateTest is the test split the boards report",
        ),
        (
            'choose = {split = "out-of-fold", metric = "accuracy_all"}\n',
            "bad.toml: choose.split must be one of ['PublicTest', 'holdout']",
        ),
        ('choose = {split = "PublicTest", metric = "f1"}\n', "bad.toml: choose.metric must be one of"),
        ('choose = {split = "PublicTest", metric = "accuracy", on = "x"}\n', "bad.toml: choose: unknown key 'on'"),
    ],
)
def test_a_grid_without_its_rule_or_choosing_on_privatetest_is_refused_before_anything_runs(
    experiments, tmp_path, capsys, simulated_csv, rule, message
):
    write_grid(experiments, "bad", 'base = "cheap"\n' + rule + SHRINK)
    results = tmp_path / "results"
    assert main(["grid", "bad", "--results", str(results), "--data", str(simulated_csv)]) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fer-bench: error: ")]
    assert message in line
    assert not (results / "runs.jsonl").exists()


def test_cells_record_the_rule_beside_their_spec_and_a_rule_changed_after_them_shows(
    experiments, tmp_path, capsys, simulated_csv
):
    write_grid(experiments, "ruled", CHEAP + SHRINK)
    results = tmp_path / "results"
    command = ["grid", "ruled", "--results", str(results), "--data", str(simulated_csv)]
    assert main(command) == 0
    records = RecordStore(results).all()
    rule = {"declared_in": "grid ruled", "split": "PublicTest", "metric": "accuracy_all"}
    assert len(records) == 2 and all(r.rule == rule for r in records)
    report = (results / "grids" / "ruled.md").read_text()
    assert "PublicTest acc. all images % (chosen on)" in report and report.count("**chosen**") == 1
    assert "The rule chooses `" in report and "Rule changed" not in report

    write_grid(experiments, "ruled", 'base = "cheap"\nchoose = {split = "PublicTest", metric = "accuracy"}\n' + SHRINK)
    capsys.readouterr()
    assert main(command) == 0
    assert "2 already recorded, 0 to run" in capsys.readouterr().err  # a rule is no part of a run id
    report = (results / "grids" / "ruled.md").read_text()
    assert (
        "**Rule changed after 2 runs**: recorded under {split: PublicTest, metric: accuracy_all}, now "
        "{split: PublicTest, metric: accuracy}."
    ) in report
    assert "PublicTest accuracy % (chosen on)" in report


def test_runs_recorded_before_rules_were_count_under_the_previous_rule_the_file_declares(
    experiments, tmp_path, simulated_csv
):
    write_grid(experiments, "old", CHEAP + SHRINK)
    results = tmp_path / "results"
    assert main(["grid", "old", "--results", str(results), "--data", str(simulated_csv)]) == 0
    unruled = [replace(r, rule=None) for r in RecordStore(results).all()]  # as records made before rules were
    dataset = load_dataset(simulated_csv)

    report = GridReport()
    text = report.markdown(report.compute(load_grid("old"), dataset, unruled), "fer-bench grid old")
    assert "The rule was declared after 2 of the runs shown: their records carry none." in text

    previous = '[choose.previous]\nsplit = "holdout"\nmetric = "accuracy"\ncommit = "0db0281"\n'
    write_grid(
        experiments,
        "old",
        'base = "cheap"\n[choose]\nsplit = "PublicTest"\nmetric = "accuracy_all"\n' + previous + SHRINK,
    )
    text = report.markdown(report.compute(load_grid("old"), dataset, unruled), "fer-bench grid old")
    assert (
        "**Rule changed after 2 runs**: recorded under {split: holdout, metric: accuracy} (the grid file at "
        "`0db0281` said so; their records carry no rule), now {split: PublicTest, metric: accuracy_all}."
    ) in text
    assert "The previous rule chose no setting here: `cheap` has no held-out Training accuracy" in text
