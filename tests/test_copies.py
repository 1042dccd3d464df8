"""One notion of "the same image" (fer_bench/data/copies.py), honoured by every split of Training:
planted copies never straddle a fit's hold-out, a search's hold-out or folds, or cross-fitted folds;
on the real data set, no group of copies straddles the splits the shipped experiments make."""

import itertools

import numpy as np
import pytest

from fer_bench import api
from fer_bench.data.copies import (
    COPY_TOLERANCE,
    GROUPING,
    copy_groups,
    grouped_folds,
    grouped_holdout,
    groups_of_images,
    straddling,
)
from fer_bench.data.dataset import Dataset
from fer_bench.runs import fitting, probabilities
from fer_bench.specs.choice import HOLDOUT, OUT_OF_FOLD, Rule
from fer_bench.specs.search import Search
from fer_bench.sweeps import tuning
from fer_bench.testing import CheapCentroid, simulated_dataset

from conftest import REAL_DATA

HOLDOUT_EXPERIMENT = '[features]\nname = "pixels"\n[model]\nname = "test-centroid-holdout"\n'


def _brighter(image, levels):
    return np.clip(image.astype(np.int16) + levels, 0, 255).astype(np.uint8)


@pytest.fixture
def planted():
    """A simulated data set whose Training holds copies across classes: identical images, an image
    re-encoded one grey level brighter, and a chain (a, a+2, a+4: each a copy of the next only)."""
    plain = simulated_dataset({"Training": 12, "PublicTest": 2, "PrivateTest": 2})
    images = plain.images.copy()
    train = plain.indices("Training")
    rng = np.random.default_rng(1)
    originals = rng.choice(train, 20, replace=False)
    for original, row in zip(originals[:10], originals[10:]):
        images[row] = images[original] if row % 2 else _brighter(images[original], 1)
    chain = [r for r in train if r not in originals][:3]
    images[chain[1]], images[chain[2]] = _brighter(images[chain[0]], 2), _brighter(images[chain[0]], 4)
    dataset = Dataset(plain.source, plain.layout, images, plain.labels, plain.splits, plain.ids, plain.classes)
    return dataset, list(zip(originals[:10], originals[10:])) + [(chain[0], chain[1]), (chain[1], chain[2])]


def _brute_force_groups(images, tolerance=COPY_TOLERANCE):
    """The first row of each image's group, from every pair compared pixel by pixel."""
    flat = images.reshape(len(images), -1).astype(np.int16)
    groups = np.arange(len(flat))
    for i, j in itertools.combinations(range(len(flat)), 2):
        if np.abs(flat[i] - flat[j]).mean() <= tolerance:
            groups[groups == max(groups[i], groups[j])] = min(groups[i], groups[j])
    return groups


def test_groups_are_exactly_the_copies_and_their_chains(planted):
    dataset, pairs = planted
    groups = copy_groups(dataset)
    for a, b in pairs:
        assert groups[a] == groups[b]
    assert np.array_equal(groups, _brute_force_groups(dataset.images))  # the cheap bounds miss no pair
    assert len(set(groups.tolist())) == len(dataset) - len(pairs)


def test_a_larger_difference_is_not_a_copy():
    image = simulated_dataset({"Training": 1}).images[:1]
    assert len(set(groups_of_images(np.concatenate([image, _brighter(image, 3)])))) == 2


def test_without_groups_the_splits_are_scikit_learns_as_before():
    from sklearn.model_selection import StratifiedKFold, train_test_split

    y = np.random.default_rng(0).integers(0, 7, 400)
    before = train_test_split(np.arange(400), test_size=40, stratify=y, random_state=5)
    assert all(np.array_equal(a, b) for a, b in zip(before, grouped_holdout(y, None, 0.1, 5)))
    folds = np.empty(400, int)
    for k, (_, held) in enumerate(StratifiedKFold(4, shuffle=True, random_state=5).split(np.zeros((400, 1)), y)):
        folds[held] = k
    assert np.array_equal(grouped_folds(y, None, 4, 5), folds)


@pytest.mark.parametrize("seed", range(5))
def test_planted_copies_never_straddle_a_holdout_or_folds(planted, seed):
    dataset, _ = planted
    train, y = fitting.training_rows(dataset, np.ones(len(dataset), bool))
    groups = copy_groups(dataset)[train]
    fitted, held = grouped_holdout(y, groups, 0.25, seed)
    side = np.zeros(len(train), int)
    side[held] = 1
    assert straddling(groups, side) == 0 and len(fitted) + len(held) == len(train)
    assert straddling(groups, grouped_folds(y, groups, 4, seed)) == 0
    side[:] = 0
    side[grouped_holdout(y, None, 0.25, seed)[1]] = 1
    assert straddling(groups, side) > 0 or seed  # ungrouped, the planted copies straddle (seed 0 checked)


def test_a_runs_holdout_keeps_copies_together_and_its_spec_says_so(planted, write_experiments, tmp_path):
    dataset, _ = planted
    write_experiments({"holdout.toml": HOLDOUT_EXPERIMENT})
    record = api.run("holdout", data=dataset, results=tmp_path / "results")
    assert record.spec.split_groups == GROUPING
    held = probabilities.load(tmp_path / "results", record, [probabilities.HOLDOUT])[probabilities.HOLDOUT].rows
    train = dataset.indices("Training")
    assert straddling(copy_groups(dataset)[train], np.isin(train, held)) == 0
    ungrouped = probabilities.holdout_rows(record.model(), dataset, np.ones(len(dataset), bool), record.seed, "")
    assert straddling(copy_groups(dataset)[train], np.isin(train, ungrouped)) > 0  # as runs recorded before split


@pytest.mark.parametrize("validation", ["holdout", "kfold"])
def test_a_searchs_trials_never_score_an_image_whose_copy_they_fitted(planted, validation, monkeypatch, tmp_path):
    dataset, _ = planted
    from fer_bench.parts.cache import ArrayCache
    from fer_bench.specs.experiment import parse_experiment

    base = parse_experiment("cheap", {"features": {"name": "pixels"}, "model": {"name": "test-centroid"}}, "test")
    rule = Rule(HOLDOUT if validation == "holdout" else OUT_OF_FOLD, "accuracy")
    search = Search(
        name="s", description="", base=base, space={}, rule=rule, holdout=0.25, folds=3, sampler_seed=0, trials=1
    )
    rows = tuning.TrainingRows(dataset, ArrayCache(tmp_path / "cache"), [base.features])
    X = rows.features(base.features)[0]
    group_of = {x.tobytes(): g for x, g in zip(X, rows.groups)}
    events, fit, predict = [], fitting.fit, CheapCentroid.predict_proba  # (what, the groups of its rows)

    def fitted(model, resampler, X, *args, **kwargs):
        history = fit(model, resampler, X, *args, **kwargs)
        events.append(("fit", {group_of[x.tobytes()] for x in X}))  # after the fit's own predictions
        return history

    monkeypatch.setattr(fitting, "fit", fitted)
    monkeypatch.setattr(
        CheapCentroid,
        "predict_proba",
        lambda self, X: events.append(("scored", {group_of[x.tobytes()] for x in X})) or predict(self, X),
    )
    tuning.validation_score(base, rows, search, seed=0)
    trials = [(groups, events[i + 1][1]) for i, (what, groups) in enumerate(events) if what == "fit"]
    assert len(trials) == (1 if validation == "holdout" else 3)
    for fitted_on, scored in trials:
        assert fitted_on and scored and not fitted_on & scored


@pytest.mark.slow
def test_no_group_of_fer2013s_copies_straddles_a_shipped_split():
    """The real data's groups (skipped where the data set is absent): the hold-outs of the shipped
    networks' seeds and cross-fitted folds keep every group on one side; ungrouped, 212 of them
    straddled cnn-fast-long's seed-0 hold-out."""
    from fer_bench.data import load_dataset
    from fer_bench.parts.models.cross_fitted import assign_folds
    from fer_bench.specs.experiment import load_experiment

    if REAL_DATA is None:
        pytest.skip("no FER2013 data set (FER_BENCH_DATA)")
    dataset = load_dataset(REAL_DATA)
    train, y = fitting.training_rows(dataset, np.ones(len(dataset), bool))
    groups = copy_groups(dataset)[train]
    sizes = np.bincount(groups)
    assert (sizes > 1).sum() > 1000  # FER2013 repeats faces
    plan = load_experiment("cnn-fast-long").setup().model.validation_plan()
    for seed in range(3):
        side = np.zeros(len(train), int)
        side[fitting.holdout(y, seed, plan, groups)[1]] = 1
        assert straddling(groups, side) == 0
        assert straddling(groups, assign_folds(None, y, seed, 4, groups)) == 0
    side[:] = 0
    side[fitting.holdout(y, 0, plan)[1]] = 1
    assert straddling(groups, side) == 212
