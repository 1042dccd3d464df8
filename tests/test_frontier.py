"""Seeds folded by configuration, training costs, the Pareto front and its report."""

from dataclasses import replace

import numpy as np

from fer_bench.analysis.configurations import configuration_id, fold, pareto_front, training_cpu_minutes
from fer_bench.data import FER2013_CLASSES
from fer_bench.reports import leaderboard
from fer_bench.reports.frontier import FrontierReport, write_with_leaderboard
from fer_bench.scoring.metrics import split_metrics
from fer_bench.testing import example_record


def record(run_id, experiment, accuracy, fit_seconds, seed=0, accelerator=None, **values):
    y = np.arange(1000) % 7
    pred = np.where(np.arange(1000) < accuracy * 1000, y, (y + 1) % 7)
    metrics = {split: split_metrics(y, pred, FER2013_CLASSES) for split in ("PublicTest", "PrivateTest")}
    r = example_record(run_id, experiment, metrics=metrics, timings={"fit": fit_seconds, "total": fit_seconds + 5},
                       **values)  # fmt: skip
    hardware = r.hardware | {"cores": 2, "processor": "AMD EPYC", "isa": "avx2", "accelerator": accelerator}
    return replace(r, spec=replace(r.spec, experiment=experiment, seed=seed), seed=seed, hardware=hardware)


def test_seeds_of_one_configuration_fold_into_one_with_mean_and_std():
    runs = [record("a" * 12, "fast", 0.60, 60, seed=0), record("b" * 12, "fast", 0.64, 60, seed=1),
            record("c" * 12, "slow", 0.70, 600)]  # fmt: skip
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
    runs = [record("a" * 12, "fast", 0.60, 60, seed=0), record("b" * 12, "fast", 0.64, 60, seed=1),
            record("c" * 12, "slow-worse", 0.55, 600), record("d" * 12, "slow-better", 0.70, 900)]  # fmt: skip
    report = FrontierReport()
    info = report.compute(runs)
    (panel,) = info.panels
    assert [(p.label, p.on_front) for p in panel.points] == [("fast", True), ("slow-worse", False),
                                                             ("slow-better", True)]  # fmt: skip
    text = report.markdown(info, "fer-bench leaderboard")
    assert "| fast " in text and "62.00 +/- 2.83" in text and "AMD EPYC avx2, 2 cores" in text
    path = write_with_leaderboard(runs, tmp_path)
    assert path.read_text() == text and (tmp_path / "frontier.png").is_file()


def test_the_leaderboard_folds_several_seeds_into_mean_and_std():
    runs = [record("a" * 12, "fast", 0.60, 60, seed=0), record("b" * 12, "fast", 0.64, 60, seed=1)]
    board = leaderboard.LeaderboardReport()
    text = board.markdown(board.compute(runs), "fer-bench leaderboard")
    assert "Configurations with several seeds" in text and "62.00 +/- 2.83" in text and "60.00 - 64.00" in text
