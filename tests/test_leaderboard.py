from dataclasses import replace

import numpy as np

from fer_bench.analysis.reference import kaggle_place
from fer_bench.data import FER2013_CLASSES
from fer_bench.reports import leaderboard
from fer_bench.scoring.metrics import UNCOVERED, split_metrics
from fer_bench.testing import example_record


def record(run_id, experiment, accuracy, fingerprint="f1", splits=("PublicTest", "PrivateTest"), coverage=1.0,
           versions=True):  # fmt: skip
    y = np.arange(1000) % 7
    metrics = {}
    for split in splits:
        pred = np.where(np.arange(1000) < accuracy * 1000, y, (y + 1) % 7)
        pred[int(coverage * 1000) :] = UNCOVERED
        metrics[split] = split_metrics(y, pred, FER2013_CLASSES)
    return example_record(run_id, experiment, fingerprint, versions, metrics=metrics, timings={"total": 30.0})


def _render(records):
    report = leaderboard.LeaderboardReport()
    return report.markdown(report.compute(records), "fer-bench leaderboard")


def test_runs_rank_by_accuracy_over_all_images_not_on_the_covered_subset():
    subset_champion = record("a" * 12, "detector", 0.6, coverage=0.7)  # 60% over all, 85.7% on covered
    whole = record("b" * 12, "full", 0.65)
    board = leaderboard.boards([subset_champion, whole])[0]
    assert [r.experiment for r in board.runs] == ["full", "detector"]
    text = _render([subset_champion, whole])
    assert "700/1000 (70.0%)" in text and "85.71" in text


def test_each_data_set_gets_its_own_board_and_train_test_data_ranks_on_test():
    records = [
        record("a" * 12, "p", 0.5),
        record("b" * 12, "q", 0.6),
        record("c" * 12, "t", 0.7, fingerprint="f2", splits=("Test",)),
    ]
    found = leaderboard.boards(records)
    assert [(b.data.fingerprint, b.split) for b in found] == [("f1", "PrivateTest"), ("f2", "Test")]
    text = _render(records)
    assert text.count("## usage folders") == 2 and "Test acc. (all images)" in text


def test_a_rerun_replaces_its_earlier_record_on_the_board():
    old, new = record("a" * 12, "p", 0.5), record("a" * 12, "p", 0.55)
    (board,) = leaderboard.boards([old, new])
    assert len(board.runs) == 1 and board.runs[0] is new


def test_a_run_of_the_current_code_replaces_the_earlier_codes_on_the_board():
    legacy, current = record("a" * 12, "p", 0.5, versions=False), record("b" * 12, "p", 0.5)
    assert legacy.config_id == current.config_id
    assert leaderboard.boards([legacy, current])[0].runs == [current]
    assert leaderboard.boards([current, legacy])[0].runs == [current]  # never the older code's over it
    on_jax = replace(legacy, run_id="c" * 12, spec=replace(legacy.spec, backend="jax"))
    assert len(leaderboard.boards([on_jax, current])[0].runs) == 2  # another backend is another run


def test_a_resumed_run_shows_the_training_its_earlier_attempts_did():
    whole = record("a" * 12, "p", 0.5)
    resumed = replace(record("b" * 12, "q", 0.6), timings={"total": 600.0, "fit_earlier_attempts": 300.0})
    text = _render([whole, resumed])
    assert "15.0 min, resumed" in text and "30 s" in text


def test_runs_of_earlier_code_are_marked():
    current, legacy = record("a" * 12, "now", 0.5), record("b" * 12, "before", 0.6, versions=False)
    changed = record("c" * 12, "changed", 0.55)
    changed = replace(changed, spec=replace(changed.spec, model=replace(changed.spec.model, version="0")))
    assert current.outdated_parts() == [] and changed.outdated_parts() == ["model/logreg v0, now v1"]
    assert len(legacy.outdated_parts()) == 3
    text = _render([current, legacy, changed])
    assert "| before †" in text and "| changed †" in text and "| now " in text and "| now †" not in text


def test_kaggle_places():
    assert kaggle_place(71.2) == "1 of 56"
    assert kaggle_place(66.0) == "5 of 56"
    assert kaggle_place(54.0) == "below 10th of 56"


def test_readme_headline_block_is_replaced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- leaderboard:start -->\nSTALE\n<!-- leaderboard:end -->\noutro\n")
    leaderboard.update_readme(leaderboard.LeaderboardReport().compute([record("a" * 12, "paper", 0.37)]), readme)
    text = readme.read_text()
    assert "STALE" not in text and "| paper" in text and "37.00" in text
    assert text.startswith("intro\n") and text.endswith("outro\n")


def test_readme_without_markers_is_an_error(tmp_path):
    import pytest

    from fer_bench.errors import FerBenchError

    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(FerBenchError, match="no <!-- leaderboard:start -->"):
        leaderboard.update_readme(leaderboard.LeaderboardReport().compute([]), readme)
