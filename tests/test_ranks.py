"""Rank intervals on simulated records (analysis/ranks.py), and how the leaderboard shows them."""

import re
from dataclasses import replace

import numpy as np

from fer_bench.analysis import ranks
from fer_bench.analysis.configurations import fold
from fer_bench.analysis.yardsticks import Split, Yardsticks
from fer_bench.data import FER2013_CLASSES
from fer_bench.reports import leaderboard
from fer_bench.scoring.metrics import encode_predictions, split_metrics
from fer_bench.testing import example_record

SPLIT = "PrivateTest"


def truth(n_images):
    return np.arange(n_images) % 7


def run(experiment, accuracy, seed=0, n_images=2000):
    """A record of `experiment` (a configuration of its own) right on each image with probability `accuracy`,
    its seed drawing which images."""
    y = truth(n_images)
    right = np.random.default_rng([seed, *experiment.encode()]).random(n_images) < accuracy
    pred = np.where(right, y, (y + 1) % 7)
    r = example_record(
        f"{experiment}-{seed}".ljust(12, "0"),
        experiment,
        metrics={SPLIT: split_metrics(y, pred, FER2013_CLASSES)},
        predictions={SPLIT: encode_predictions(pred)},
        timings={"fit": 20.0, "total": 30.0},
    )
    return replace(r, spec=replace(r.spec, seed=seed), seed=seed)


def seeds(experiment, accuracy, n_seeds=3, n_images=2000):
    """Its seeds, of accuracies 1.5 points apart around `accuracy`."""
    return [run(experiment, accuracy + 0.015 * (s - 1), s, n_images) for s in range(n_seeds)]


def intervals(records, n_images=2000) -> dict:
    """{experiment: RankInterval} of `records`' configurations ranked together."""
    configurations = fold(records)
    found = ranks.rank_configurations(configurations, truth(n_images), SPLIT).intervals
    return {c.experiment: found[c.first.run_id] for c in configurations if c.first.run_id in found}


def width(interval):
    return interval.high - interval.low


NEIGHBOURS = [("a", 0.68), ("b", 0.66), ("d", 0.62), ("e", 0.60), ("f", 0.58)]  # "c" goes at 0.64


def test_one_seed_ranks_less_settled_than_three_of_differing_accuracy():
    others = [r for name, accuracy in NEIGHBOURS for r in seeds(name, accuracy)]
    three = seeds("c", 0.64)
    with_three, with_one = intervals(others + three)["c"], intervals(others + three[:1])["c"]
    assert width(with_one) > width(with_three)
    assert with_one.borrowed and not with_three.borrowed  # its spread: the others' pooled one


def test_intervals_widen_with_fewer_test_images():
    def total_width(n_images):
        records = [r for name, accuracy in [*NEIGHBOURS, ("c", 0.64)] for r in seeds(name, accuracy, 1, n_images)]
        return sum(width(i) for i in intervals(records, n_images).values())

    assert total_width(300) > total_width(3000)


def test_a_clear_winner_gets_a_degenerate_interval():
    records = [*seeds("winner", 0.9), *(r for name, accuracy in NEIGHBOURS for r in seeds(name, accuracy))]
    found = intervals(records)
    assert (found["winner"].low, found["winner"].high) == (1, 1)
    assert all(i.low >= 2 for name, i in found.items() if name != "winner")


def test_intervals_are_deterministic():
    records = [r for name, accuracy in NEIGHBOURS for r in seeds(name, accuracy, 2)] + [run("c", 0.64)]
    assert intervals(records) == intervals(records)


def test_a_configuration_without_predictions_gets_no_interval_but_still_ranks():
    bare = replace(run("c", 0.9), predictions={})
    records = [bare, *(r for name, accuracy in NEIGHBOURS for r in seeds(name, accuracy))]
    found = ranks.rank_configurations(fold(records), truth(2000), SPLIT)
    assert found.missing == 1 and bare.run_id not in found.intervals
    assert all(i.low >= 2 for i in found.intervals.values())  # below it, at its recorded accuracy


def test_the_board_shows_each_rank_with_its_interval_and_marks_one_seed():
    records = [*seeds("winner", 0.9), *seeds("a", 0.66), run("b", 0.65), run("d", 0.3)]
    measured = Yardsticks("f1", "img", {SPLIT: Split(truth(2000), truth(2000), np.zeros(2000, dtype=bool))}, "t")
    report = leaderboard.LeaderboardReport()
    text = report.markdown(report.compute(records, [measured]), "fer-bench leaderboard")
    cells = [line.split("|")[1].strip() for line in text.splitlines() if re.match(r"\| \d", line)]
    assert cells[:4] == ["1 (1–1)", "2 (2–3)", "3 (2–3)¹", "4 (4–4)¹"]
    assert "¹ one seed: its spread is the pooled seed standard deviation of the rows with several" in text
    assert f"{ranks.N_REPLICATES} replicates" in text
    assert report.markdown(report.compute(records, [measured]), "") == text  # the same records, the same board
