"""FER+ votes: the reference's processing on hand-worked rows, its joining to the images, refusals."""

import ast
import sys

import numpy as np
import pytest

from fer_bench.data import load_dataset
from fer_bench.data.dataset import UNLABELLED
from fer_bench.data.ferplus import MODES, process, read_votes, targets
from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError

from conftest import MINI, REAL_DATA

# neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ROWS = {
    "two emotions, no majority": [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],
    "single votes dropped first": [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],
    "unknown ties the top": [3, 0, 0, 0, 0, 0, 0, 0, 3, 2],
    "not a face": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
    "four tied emotions": [3, 3, 2, 2, 0, 0, 0, 0, 0, 0],
    "two above 30%": [5, 3, 2, 0, 0, 0, 0, 0, 0, 0],
}
# (8 targets, labelled) per mode, worked by hand from the rules in fer_bench/data/ferplus.py
EXPECTED = {
    "two emotions, no majority": {
        "majority": None,  # 4 of the 9 remaining votes is no majority
        "crossentropy": [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0],  # 4, then 3: 7 >= 75% of 9
        "multi_target": [1 / 2, 0, 0, 0, 1 / 2, 0, 0, 0],  # both >= 30% of 9
    },
    "single votes dropped first": {
        "majority": [1, 0, 0, 0, 0, 0, 0, 0],  # 6 of the 8 left
        "crossentropy": [1, 0, 0, 0, 0, 0, 0, 0],  # 6 = 75% of 8 at once
        "multi_target": [1, 0, 0, 0, 0, 0, 0, 0],  # unknown's 2 is under 30%
    },
    "unknown ties the top": {
        "majority": None,
        "crossentropy": None,  # unknown comes in tied with the top: dropped, and 3 of 8 is too little
        "multi_target": [1, 0, 0, 0, 0, 0, 0, 0],  # neutral and unknown >= 30%; the first top is neutral
    },
    "not a face": {"majority": None, "crossentropy": None, "multi_target": None},
    "four tied emotions": {
        "majority": None,
        "crossentropy": None,  # 3, 3, then both 2s: four emotions are too many
        "multi_target": [0.5, 0.5, 0, 0, 0, 0, 0, 0],
    },
    "two above 30%": {
        "majority": None,  # 5 of 10 is not more than half
        "crossentropy": [5 / 8, 3 / 8, 0, 0, 0, 0, 0, 0],  # 5 + 3 = 80% of the 10 votes
        "multi_target": [0.5, 0.5, 0, 0, 0, 0, 0, 0],
    },
}


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("mode", ["majority", "crossentropy", "multi_target"])
def test_the_votes_of_hand_worked_rows(row, mode):
    found, labelled = targets(np.array([ROWS[row]]), mode)
    expected = EXPECTED[row][mode]
    assert labelled[0] == (expected is not None)
    if expected is not None:
        np.testing.assert_allclose(found[0], expected, atol=1e-6)
    probability, _ = targets(np.array([ROWS[row]]), "probability")
    crossentropy, _ = targets(np.array([ROWS[row]]), "crossentropy")
    np.testing.assert_array_equal(probability, crossentropy)  # the same distribution; see ferplus.py


def _labelled_ferplus(tmp_path, votes_text, monkeypatch, mode="majority"):
    votes = tmp_path / "fer2013new.csv"
    votes.write_text(votes_text)
    monkeypatch.setenv("FER_BENCH_FERPLUS", str(votes))
    return Labels("ferplus", mode).apply(load_dataset(MINI))


HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def votes_for(dataset, rows=None, usage=None):
    """A vote file covering the fixture's rows: row r votes for emotion r % 8, 10 votes."""
    n = int(dataset.rows.max()) + 1
    lines = []
    split_of = dict(zip(dataset.rows.tolist(), dataset.splits.tolist()))
    for r in range(n):
        counts = [0] * 10
        counts[r % 8 if r % 11 else 8] = 10  # every 11th row is unknown
        split = (usage or {}).get(r, split_of.get(r, "Training"))
        name = "" if r in (rows or ()) else f"fer{r:07d}.png"
        lines.append(f"{split},{name}," + ",".join(map(str, counts)))
    return HEADER + "\n".join(lines) + "\n"


def test_ferplus_labels_are_joined_on_the_rows_and_leave_unknown_and_nameless_images_out(
    mini_dataset, tmp_path, monkeypatch
):
    nameless = int(mini_dataset.rows[0])
    relabelled = _labelled_ferplus(tmp_path, votes_for(mini_dataset, rows={nameless}), monkeypatch)
    rows = relabelled.rows
    expected = np.where(rows % 11 == 0, UNLABELLED, rows % 8)
    expected[0] = UNLABELLED  # no image name
    np.testing.assert_array_equal(relabelled.labels, expected)
    assert len(relabelled.classes) == 8 and relabelled.labels_name == "ferplus-majority" and relabelled.targets is None
    assert relabelled.fingerprint != mini_dataset.fingerprint
    assert relabelled.images_fingerprint == mini_dataset.images_fingerprint  # features stay cached


def test_soft_modes_train_on_distributions_and_test_on_the_majority(mini_dataset, tmp_path, monkeypatch):
    soft = _labelled_ferplus(tmp_path, votes_for(mini_dataset), monkeypatch, mode="crossentropy")
    assert soft.targets.shape == (len(soft), 8) and soft.labels_name == "ferplus-crossentropy"
    labelled = soft.labels != UNLABELLED
    np.testing.assert_array_equal(soft.targets[labelled].argmax(axis=1), soft.labels[labelled])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"usage": "mismatch"}, "is PublicTest there but PrivateTest"),
        ({"short": True}, "rows, but"),
        ({"header": True}, "not a FER\\+ vote file"),
    ],
)
def test_a_vote_file_that_does_not_match_the_data_is_refused(mini_dataset, tmp_path, monkeypatch, change, message):
    text = votes_for(mini_dataset)
    if "usage" in change:
        row = int(mini_dataset.rows[mini_dataset.splits == "PrivateTest"][0])
        text = votes_for(mini_dataset, usage={row: "PublicTest"})
    if "short" in change:
        text = "\n".join(text.splitlines()[:100]) + "\n"
    if "header" in change:
        text = text.replace("neutral", "calm")
    with pytest.raises(FerBenchError, match=message):
        _labelled_ferplus(tmp_path, text, monkeypatch)


def test_a_data_set_without_rows_is_refused(mini_dataset, tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("FER_BENCH_FERPLUS", str(tmp_path / "unused.csv"))
    with pytest.raises(FerBenchError, match="FER\\+ labels need each image's row"):
        Labels("ferplus").apply(replace(mini_dataset, rows=None))


def test_bad_label_choices_are_named():
    with pytest.raises(FerBenchError, match="labels must be one of"):
        Labels("affectnet")
    with pytest.raises(FerBenchError, match="labels_mode must be one of"):
        Labels("ferplus", "vote")


@pytest.mark.slow
def test_every_row_is_processed_as_the_reference_code_does():
    """Microsoft's `_process_data` itself (../shared/ferplus/reference/ferplus.py, read from its
    source), on all 35,887 rows and in every mode."""
    if REAL_DATA is None:
        pytest.skip("the shared data set is not available")
    root = REAL_DATA.parent / "ferplus"
    tree = ast.parse((root / "reference" / "ferplus.py").read_text())
    reader = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FERPlusReader")
    function = next(n for n in reader.body if isinstance(n, ast.FunctionDef) and n.name == "_process_data")
    namespace = {"np": np, "sys": sys}
    exec(compile(ast.Module([function], []), "ferplus.py", "exec"), namespace)
    votes = read_votes(root / "fer2013new.csv")
    assert len(votes.usage) == 35887 and (~votes.named).sum() == 173
    for mode in MODES:
        for counts in votes.counts:
            theirs = namespace["_process_data"](None, [float(v) for v in counts], mode)
            np.testing.assert_allclose(process(counts, mode), theirs, atol=1e-12)


def test_a_cnn_trains_on_ferplus_distributions_and_is_tested_on_the_majority(write_experiments, tmp_path, monkeypatch):
    from test_cnn import SMALL

    from fer_bench.cli import main
    from fer_bench.runs.records import RecordStore

    dataset = load_dataset(MINI)
    votes = tmp_path / "fer2013new.csv"
    votes.write_text(votes_for(dataset))
    monkeypatch.setenv("FER_BENCH_FERPLUS", str(votes))
    params = "\n".join(f"{k} = {v!r}" for k, v in {**SMALL, "epochs": 2}.items())
    head = 'labels = "ferplus"\nlabels_mode = "probability"\n[features]\nname = "pixels"\n[model]\n'
    write_experiments({"soft.toml": f'{head}name = "cnn"\n{params}\n', "soft-logreg.toml": f'{head}name = "logreg"\n'})
    assert main(["run", "soft", "--data", str(MINI)]) == 0
    record = RecordStore().find("soft")[-1]
    assert record.data.labels == "ferplus-probability" and len(record.classes) == 8
    assert record.spec.labels == "ferplus-probability"
    private = dataset.rows[dataset.splits == "PrivateTest"]
    unlabelled = int((private % 11 == 0).sum())  # votes_for: every 11th row's majority is unknown
    m = record.metrics["PrivateTest"]
    assert unlabelled > 0 and m.n_unlabelled == unlabelled and m.n_evaluated == m.n_total - unlabelled
    assert main(["run", "soft-logreg", "--data", str(MINI)]) == 2  # refused: it takes one label an image
