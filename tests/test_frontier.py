"""Seeds folded by configuration, training costs, the Pareto front and its report."""

import re
from dataclasses import replace
from itertools import combinations
from types import SimpleNamespace

import numpy as np
from matplotlib.text import Text

from fer_bench.analysis.configurations import (
    chosen_among,
    configuration_id,
    distinct_names,
    family,
    fold,
    pareto_front,
    training_cpu_minutes,
)
from fer_bench.data import FER2013_CLASSES
from fer_bench.data.copies import GROUPING
from fer_bench.parts import registry
from fer_bench.reports import figures, leaderboard
from fer_bench.reports.frontier import ACCELERATOR, TRAINED_ELSEWHERE, FrontierReport, write_with_leaderboard
from fer_bench.scoring.metrics import split_metrics
from fer_bench.specs.experiment import PartSpec, load_experiment
from fer_bench.specs.grid import load_grid
from fer_bench.testing import example_record

from conftest import CHEAP_EXPERIMENT, GRID_RULE


def record(run_id, experiment, accuracy, fit_seconds, seed=0, accelerator=None, model=None, **values):
    """A run of `model` ((name, parameters); default: the example's logreg)."""
    y = np.arange(1000) % 7
    pred = np.where(np.arange(1000) < accuracy * 1000, y, (y + 1) % 7)
    metrics = {split: split_metrics(y, pred, FER2013_CLASSES) for split in ("PublicTest", "PrivateTest")}
    r = example_record(
        run_id, experiment, metrics=metrics, timings={"fit": fit_seconds, "total": fit_seconds + 5}, **values
    )
    hardware = r.hardware | {"cores": 2, "processor": "AMD EPYC", "isa": "avx2", "accelerator": accelerator}
    spec = replace(r.spec, experiment=experiment, seed=seed)
    if model:
        spec = replace(spec, model=PartSpec(*model, registry.get("model", model[0]).version))
    r = replace(r, spec=spec, seed=seed, hardware=hardware)
    return replace(r, spec=replace(spec, split_groups=GROUPING)) if r.ungrouped_splits else r  # as runs are now


def test_seeds_of_one_configuration_fold_into_one_with_mean_and_std():
    runs = [
        record("a" * 12, "fast", 0.60, 60, seed=0),
        record("b" * 12, "fast", 0.64, 60, seed=1),
        record("c" * 12, "slow", 0.70, 600),
    ]
    assert configuration_id(runs[0]) == configuration_id(runs[1]) != configuration_id(runs[2])
    folded = fold(runs)
    assert [c.seeds for c in folded] == [[0, 1], [0]]
    mean, std = folded[0].mean_std("PrivateTest")
    assert np.isclose(mean, 0.62) and np.isclose(std, np.std([0.60, 0.64], ddof=1))
    assert folded[1].mean_std("PrivateTest")[1] is None


def test_a_cost_counts_members_and_is_unknown_on_an_accelerator_or_without_a_member():
    member = record("a" * 12, "member", 0.6, 120)  # 2 cores x 2 min
    ensemble = record("b" * 12, "ensemble", 0.7, 30, selection={"members": [{"run_id": "a" * 12}]})
    by_id = {r.run_id: r for r in (member, ensemble)}
    assert training_cpu_minutes(member, by_id) == 4.0
    assert training_cpu_minutes(ensemble, by_id) == 4.0 + 1.0
    assert training_cpu_minutes(ensemble, {}) is None
    gpu = record("c" * 12, "gpu", 0.7, 30, accelerator="H200")
    assert training_cpu_minutes(gpu, {}) is None


def test_the_pareto_front_keeps_what_nothing_cheaper_beats():
    points = [(1, 0.5), (2, 0.4), (3, 0.6), (3, 0.55), (10, 0.6), (20, 0.7)]
    assert pareto_front(points) == {0, 2, 5}


def test_the_report_marks_the_front_and_folds_seeds(tmp_path):
    runs = [
        record("a" * 12, "fast", 0.60, 60, seed=0),
        record("b" * 12, "fast", 0.64, 60, seed=1),
        record("c" * 12, "slow-worse", 0.55, 600),
        record("d" * 12, "slow-better", 0.70, 900),
    ]
    report = FrontierReport()
    info = report.compute(runs)
    (panel,) = info.panels
    assert [(p.label, p.on_front) for p in panel.points] == [
        ("fast", True),
        ("slow-worse", False),
        ("slow-better", True),
    ]
    text = report.markdown(info, "fer-bench leaderboard")
    assert "| fast " in text and "62.00 +/- 2.83" in text and "AMD EPYC avx2, 2 cores" in text
    path = write_with_leaderboard(runs, tmp_path)
    assert path.read_text() == text and (tmp_path / "frontier.png").is_file()


def test_the_leaderboard_folds_several_seeds_into_mean_and_std_and_shows_the_frontier_first():
    runs = [record("a" * 12, "fast", 0.60, 60, seed=0), record("b" * 12, "fast", 0.64, 60, seed=1)]
    board = leaderboard.LeaderboardReport()
    text = board.markdown(board.compute(runs, frontier=True), "fer-bench leaderboard")
    squeezed = re.sub(" +", " ", text)
    assert "| fast | 62.00 ± 2.83 " in squeezed and "| 60.00 " in text and "| 64.00 " in text  # and each seed
    assert text.index("(frontier.png)](frontier.md)") < text.index("## usage folders")


def test_the_frontier_holds_every_family_and_the_runs_without_a_cpu_cost_beside_it(tmp_path):
    cnn, student = ("cnn", {"epochs": 2}), ("cnn", {"epochs": 2, "teacher": "e" * 12})
    runs = [
        record("a" * 12, "logreg", 0.40, 6),
        record("b" * 12, "fast", 0.60, 600, model=("cnn-fast", {})),
        record("c" * 12, "gpu", 0.70, 100, accelerator="NVIDIA H200", model=cnn),
        record("d" * 12, "student", 0.65, 900, model=student, selection={"members": [{"run_id": "e" * 12}]}),
        record("e" * 12, "vote", 0.72, 10, model=("ensemble", {}), selection={"members": [{"run_id": "c" * 12}]}),
        record("f" * 12, "peer", 0.55, 0, model=("saved-network", {"path": "x.h5"})),
    ]
    assert [family(r) for r in runs] == [
        "embedding + classic ML",
        "fast CNN",
        "CNN",
        "distilled student",
        "ensemble",
        "trained elsewhere",
    ]
    (panel,) = FrontierReport().compute(runs).panels  # the run trained elsewhere beside those trained here
    shown = {p.label: (p.cpu_minutes, p.without_cost, p.on_front) for p in panel.points}
    assert shown["logreg"] == (0.2, "", True) and shown["fast"] == (20.0, "", True)
    assert shown["vote"] == (None, ACCELERATOR, False) and shown["gpu"] == (None, ACCELERATOR, False)
    assert shown["student"] == (None, ACCELERATOR, False)  # its teacher is the ensemble of a GPU run
    assert shown["peer"] == (None, TRAINED_ELSEWHERE, False)
    path = write_with_leaderboard(runs, tmp_path)
    assert "| vote " in path.read_text() and "none: on an accelerator" in path.read_text()
    assert (tmp_path / "frontier.png").is_file()


def test_configurations_of_one_name_are_told_apart_by_what_differs():
    runs = [
        record("a" * 12, "cnn", 0.6, 60, model=("cnn", {"epochs": 16})),
        record("b" * 12, "cnn", 0.6, 60, model=("cnn", {"epochs": 20})),
        record("c" * 12, "svm", 0.5, 6),
    ]
    on_jax = replace(runs[2], run_id="d" * 12, spec=replace(runs[2].spec, backend="jax"))
    assert distinct_names(fold([*runs, on_jax])) == [
        "cnn (epochs=16)",
        "cnn (epochs=20)",
        "svm (tensorflow)",
        "svm (jax)",
    ]


def test_a_setting_a_grid_chose_is_charged_every_run_of_the_grid(write_experiments):
    """As ensemble-cpu is charged all its candidates, cnn-fast-distilled is charged grid distillation's students."""
    grid = 'base = "cheap"\n' + GRID_RULE + "[[product]]\nmodel.shrink = [0.0, 0.5]\n"
    picked = 'chosen_by = "grid pick"\n' + CHEAP_EXPERIMENT + "shrink = 0.5\n"
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "grids/pick.toml": grid, "picked.toml": picked})
    cells = []
    for i, cell in enumerate(load_grid("pick").cells):
        run = record(f"{i}" * 12, cell.experiment.name, 0.6, 120)  # 2 cores x 2 min each
        cells.append(replace(run, spec=cell.experiment.spec(run.data.fingerprint, cell.seed, run.backend)))
    chosen = [record("p" * 12, "picked", 0.7, 60, seed=0), record("q" * 12, "picked", 0.7, 60, seed=1)]
    assert load_experiment("picked").chosen_by == "pick" and len(cells) == 2
    assert chosen_among(chosen[0], cells + chosen) == cells
    (panel,) = FrontierReport().compute(cells + chosen).panels
    shown = {p.label: p.cpu_minutes for p in panel.points}
    assert shown["picked"] == 2.0 + 4.0 * len(cells)  # its own fit and every student of the grid, once a seed
    assert shown["cheap"] == 4.0  # the grid's base cell is charged for itself alone


def test_a_run_consumed_twice_is_charged_once():
    teacher = record("t" * 12, "teacher", 0.6, 300)  # 10 CPU-minutes
    students = [record(f"{i}" * 12, "student", 0.6, 60, selection={"members": [{"run_id": "t" * 12}]}) for i in (1, 2)]
    by_id = {r.run_id: r for r in (teacher, *students)}
    assert training_cpu_minutes(students[0], by_id, chose_among=students[1:]) == 10.0 + 2.0 + 2.0


def test_the_figures_numbers_cover_no_point_and_no_other_number_and_the_key_names_them():
    """Names written beside the points covered each other where configurations cost about the same (as
    on the committed board's front from 137 to 331 CPU-minutes): six on the front, each a fifth dearer
    than the last, between a cheap and a dear one, get numbers that don't."""
    crowd = [record(f"{i:012x}", f"close-{i}", 0.60 + 0.004 * i, 60 * 1.2**i) for i in range(6)]
    runs = [record("a" * 12, "cheap", 0.3, 1), *crowd, record("b" * 12, "dear", 0.7, 6000)]
    (panel,) = FrontierReport().compute(runs).panels
    fig = figures.frontier_chart([panel])
    fig.draw_without_rendering()
    ax, key = fig.axes
    numbers = [Text.get_window_extent(text) for text in ax.texts]  # the digits, not the lines to far ones
    markers = [line.get_window_extent() for line in ax.lines if line.get_marker() == "o"]
    assert [text.get_text() for text in ax.texts] == [str(i) for i in range(1, 9)]
    assert len(markers) == 8 and not any(a.overlaps(b) for a, b in combinations(numbers, 2))
    assert not any(n.overlaps(m) for n in numbers for m in markers)
    names = [text.get_text() for text in key.get_legend().get_texts()]
    assert names == ["1  cheap", *(f"{i + 2}  close-{i}" for i in range(6)), "8  dear"]


def test_the_key_names_a_list_of_run_ids_by_its_length_and_wraps_within_its_column():
    """An ensemble of 15 members named them all on one line of the key, which widened the committed
    figure to several times the site's column."""
    members = ", ".join(f"'{i:012x}'" for i in range(15))
    points = [SimpleNamespace(label=f"ensemble-cpu (members=[{members}]) ‡"), SimpleNamespace(label="knn")]
    key = figures._key(points)
    assert key == ["1  ensemble-cpu (members=[15\n    runs]) ‡", "2  knn"]
    assert all(len(line) <= figures.KEY_WIDTH for entry in key for line in entry.splitlines())
    assert figures._key_lines(key) == 2 and figures._key_lines([*key, "3  a", "4  b\n    c"]) == 3
    assert figures._key_lines([]) == 0
    assert figures._key(points[1:]) == ["1  knn"]
