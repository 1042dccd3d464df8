"""The second yardstick and the clean test set: copies of test images in Training, `fer-bench labels`,
the reports it writes and the columns it adds to the leaderboard."""

import json
import shutil

import numpy as np
import pytest
from test_ferplus import votes_for

from fer_bench.analysis import duplicates, yardsticks
from fer_bench.cli import main
from fer_bench.data import load_dataset
from fer_bench.data.dataset import Dataset, scored_against
from fer_bench.runs.records import RecordStore
from fer_bench.scoring.metrics import UNCOVERED, decode_predictions
from fer_bench.testing import simulated_dataset

from conftest import CHEAP_EXPERIMENT, MINI


def _planted():
    """A simulated data set with, in PrivateTest: an exact copy of Training image 0, a copy of
    image 1 one grey level brighter, a copy of image 2 three levels brighter, and a blank image; in
    Training: image 3 again under another label."""
    base = simulated_dataset()
    images, labels = base.images.copy(), base.labels.copy()
    train, test = base.indices("Training"), base.indices("PrivateTest")
    images[test[0]] = images[train[0]]
    images[train[1]] = np.clip(images[train[1]], 0, 254)  # so that +1 is exactly one level everywhere
    images[test[1]] = images[train[1]] + 1
    images[train[2]] = np.clip(images[train[2]], 0, 252)
    images[test[2]] = images[train[2]] + 3
    images[test[3]] = 117
    images[train[4]] = images[train[3]]
    labels[train[4]] = (labels[train[3]] + 1) % 7
    dataset = Dataset(base.source, base.layout, images, labels, base.splits, base.ids)
    return dataset, train, test


def test_copies_are_found_at_each_tolerance_and_blank_and_conflicting_images_named():
    dataset, train, test = _planted()
    copies = duplicates.find_copies(dataset)
    assert copies.distance[test[0]] == 0 and copies.nearest[test[0]] == train[0]
    assert copies.distance[test[1]] == 1 and copies.nearest[test[1]] == train[1]
    assert copies.distance[test[2]] == 3 and copies.nearest[test[2]] == train[2]
    assert set(np.flatnonzero(copies.copied(0))) == {test[0]}
    assert set(np.flatnonzero(copies.copied(duplicates.COPY_TOLERANCE))) == {test[0], test[1]}
    assert set(np.flatnonzero(copies.copied(4))) == {test[0], test[1], test[2]}
    assert np.isinf(copies.distance[train]).all()  # Training images are not test images with a copy
    assert np.flatnonzero(duplicates.blank(dataset)).tolist() == [test[3]]
    groups = [sorted(g.tolist()) for g in duplicates.identical_groups(dataset)]
    assert sorted([test[0], train[0]]) in groups and sorted([train[3], train[4]]) in groups


@pytest.fixture
def votes(monkeypatch, tmp_path):
    path = tmp_path / "fer2013new.csv"
    path.write_text(votes_for(load_dataset(MINI)))
    monkeypatch.setenv("FER_BENCH_FERPLUS", str(path))
    return path


@pytest.fixture
def cheap_runs(write_experiments, tmp_path, votes):
    """Two seeds of the cheap parts on FER2013's labels and on FER+'s, recorded in tmp_path/results."""
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "cheap-ferplus.toml": 'labels = "ferplus"\n' + CHEAP_EXPERIMENT})
    results = tmp_path / "results"
    for name in ("cheap", "cheap-ferplus"):
        for seed in (0, 1):
            assert main(["run", name, "--data", str(MINI), "--results", str(results), "--seed", str(seed)]) == 0
    return results


def test_labels_writes_the_reports_and_the_leaderboard_gains_the_second_yardstick(cheap_runs, capsys):
    capsys.readouterr()
    assert main(["labels", "--data", str(MINI), "--results", str(cheap_runs)]) == 0
    written = capsys.readouterr().out.split()
    labels_dir = cheap_runs / "labels"
    for name in ("ferplus.md", "duplicates.md", "figures/flips-PrivateTest.png", "figures/flips-Training.png"):
        assert (labels_dir / name).is_file()
    assert str(labels_dir / "ferplus.md") in written
    report = (labels_dir / "ferplus.md").read_text()
    assert "fer-bench labels --data" in report and "## Per FER2013 class" in report
    duplicates_report = (labels_dir / "duplicates.md").read_text()
    assert "2 (copy tolerance)" in duplicates_report

    # the FER+ column is each run's predictions against the votes' majority, recomputed here by hand
    dataset = load_dataset(MINI)
    private = dataset.indices("PrivateTest")
    rows = dataset.rows[private]
    majority = np.where(rows % 11 == 0, UNCOVERED, rows % 8)  # votes_for: all ten votes for r % 8
    as_fer2013 = {0: 6, 1: 3, 2: 5, 3: 4, 4: 0, 5: 1, 6: 2}  # FER+ order -> FER2013 codes; contempt has none
    truth = np.array([as_fer2013.get(int(m), UNCOVERED) for m in majority])
    scored = truth != UNCOVERED
    board = (cheap_runs / "LEADERBOARD.md").read_text()
    main_tables, details = board.split("\n## Details")
    fer2013_section, ferplus_section = main_tables.split("\n## FER+ labels")
    fer2013_details, ferplus_details = details.split("\n### FER+ labels")
    assert f"acc. vs FER+ majority ({scored.sum()} images)" in fer2013_details
    seeds = []
    for record in RecordStore(cheap_runs).all():
        predicted = decode_predictions(record.predictions["PrivateTest"])
        expected = (predicted[scored] == truth[scored]).mean()
        if record.data.labels == "fer2013":
            row = next(line for line in fer2013_details.splitlines() if record.run_id in line)
            assert f"| {100 * expected:.2f} " in row
            seeds.append(expected)
    folded = next(line for line in fer2013_section.splitlines() if line.startswith("| 1 "))  # both seeds
    assert "| 2 " in folded and f"| {100 * np.mean(seeds):.2f} " in folded
    assert "| clean acc. " in fer2013_section and "| FER+ acc. " in fer2013_section
    assert "FER+ rank (change)" in fer2013_details
    assert "Kaggle place" in fer2013_details and "Kaggle place" not in ferplus_details
    assert "Barsoum et al. 2016, VGG13, majority mode" in ferplus_section and "clean acc." in ferplus_section
    assert "[ferplus](labels/ferplus.md)" in board


def test_the_yardsticks_survive_their_file(mini_dataset, votes, tmp_path):
    from fer_bench.data.ferplus import majority_outcomes
    from fer_bench.data.labels import votes_of

    copies = duplicates.find_copies(mini_dataset)
    measured = yardsticks.compute(mini_dataset, majority_outcomes(*votes_of(mini_dataset)), copies, "test")
    path = measured.save(tmp_path)
    again = yardsticks.Yardsticks.from_dict(json.loads(path.read_text()))
    for split, values in measured.splits.items():
        for field in ("fer2013", "ferplus", "copied"):
            np.testing.assert_array_equal(getattr(again.splits[split], field), getattr(values, field))
    assert yardsticks.load_all(tmp_path)[0].fingerprint == mini_dataset.fingerprint


def test_labels_on_train_test_folders_is_refused_in_one_line(tmp_path, votes, capsys):
    data = tmp_path / "train-test"
    for split, folder in [("Training", "train"), ("PrivateTest", "test")]:
        shutil.copytree(MINI / split, data / folder)
    assert main(["labels", "--data", str(data), "--results", str(tmp_path / "results")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "FER+ labels need FER2013's splits" in errors[0]
    assert not (tmp_path / "results" / "labels").exists()


def test_every_ferplus_mode_is_scored_against_the_same_majority():
    assert scored_against("f1", "img", "fer2013") == "f1"
    soft = scored_against("f2", "img", "ferplus-probability")
    assert soft == scored_against("f3", "img", "ferplus-majority") != "f1"


def test_compare_pairs_ferplus_runs_on_the_majority_labels(cheap_runs, capsys):
    capsys.readouterr()
    assert main(["compare", "cheap-ferplus", "cheap-ferplus", "--data", str(MINI), "--results", str(cheap_runs)]) == 0
    assert "cheap-ferplus" in capsys.readouterr().out
    assert main(["compare", "cheap-ferplus", "cheap", "--data", str(MINI), "--results", str(cheap_runs)]) == 2
    assert "tested on other data or labels" in capsys.readouterr().err


def test_a_clean_score_leaves_out_the_copies():
    copied = np.zeros(3, dtype=bool)
    copied[0] = True
    split = yardsticks.Split(np.array([1, 2, 3]), np.array([1, UNCOVERED, 7]), copied)
    record = _record_with("123", "fer2013")
    assert yardsticks.clean_score(record, split, "PrivateTest") == yardsticks.Score(1.0, 2)
    assert yardsticks.copied_score(record, split, "PrivateTest") == yardsticks.Score(1.0, 1)
    ferplus_run = _record_with("123", "ferplus-majority")
    assert yardsticks.clean_score(ferplus_run, split, "PrivateTest") == yardsticks.Score(0.0, 1)  # 3 is not 7
    assert yardsticks.ferplus_score(record, split, "PrivateTest").n == 1  # contempt and no majority left out


def _record_with(predictions, labels):
    from dataclasses import replace

    from fer_bench.testing import example_record

    record = example_record("r", "e", predictions={"PrivateTest": predictions})
    return replace(record, data=replace(record.data, labels=labels, images="i1"))


def test_labels_reads_the_votes_for_kaggles_csv_too(simulated_csv, tmp_path, monkeypatch):
    dataset = load_dataset(simulated_csv)
    votes = tmp_path / "fer2013new.csv"
    votes.write_text(votes_for(dataset))
    monkeypatch.setenv("FER_BENCH_FERPLUS", str(votes))
    assert main(["labels", "--data", str(simulated_csv), "--results", str(tmp_path / "results")]) == 0
    (stored,) = yardsticks.load_all(tmp_path / "results")
    assert stored.fingerprint == dataset.fingerprint and set(stored.splits) == {"PublicTest", "PrivateTest"}
    private = dataset.rows[dataset.splits == "PrivateTest"]
    np.testing.assert_array_equal(
        stored.splits["PrivateTest"].ferplus, np.where(private % 11 == 0, UNCOVERED, private % 8)
    )
