"""The statistics against values known by hand or by construction."""

import numpy as np
import pytest

from fer_bench.scoring.stats import bootstrap_ci, mcnemar_exact, mean_std, paired_bootstrap_ci, rank_intervals


def test_mcnemar_exact_on_a_hand_made_table():
    # 1 image only A gets right, 9 only B: p = 2 * P(X <= 1 | n=10, 1/2) = 2 * 11 / 1024
    a = np.array([True] * 5 + [True] + [False] * 9 + [False] * 3)
    b = np.array([True] * 5 + [False] + [True] * 9 + [False] * 3)
    assert mcnemar_exact(a, b) == (1, 9, pytest.approx(22 / 1024))
    assert mcnemar_exact(b, a)[2] == pytest.approx(22 / 1024)


def test_mcnemar_without_discordant_pairs_is_one_and_balanced_tables_are_not_significant():
    same = np.array([True, False, True])
    assert mcnemar_exact(same, same) == (0, 0, 1.0)
    a = np.array([True] * 20 + [False] * 20)
    assert mcnemar_exact(a, ~a) == (20, 20, pytest.approx(1.0))


def test_mcnemar_refuses_unpaired_inputs():
    with pytest.raises(ValueError):
        mcnemar_exact([True, False], [True])


def test_bootstrap_interval_covers_the_true_accuracy_of_a_simulated_classifier():
    rng = np.random.default_rng(1)
    true_accuracy, n_images, trials = 0.62, 1500, 60
    covered = 0
    for trial in range(trials):
        correct = rng.random(n_images) < true_accuracy
        low, high = bootstrap_ci(correct, n_boot=1000, seed=trial)
        assert low < correct.mean() < high
        covered += low <= true_accuracy <= high
    assert covered / trials >= 0.85  # nominal 95%; 60 trials leave room for chance
    low, high = bootstrap_ci(rng.random(n_images) < true_accuracy)
    assert 0.04 < high - low < 0.06  # about 4 binomial standard errors (2 * 1.96 * 0.0125)


def test_bootstrap_of_several_runs_is_the_interval_of_their_mean():
    rng = np.random.default_rng(2)
    runs = rng.random((3, 2000)) < np.array([[0.5], [0.6], [0.7]])
    low, high = bootstrap_ci(runs)
    assert low < runs.mean() < high
    assert high - low < bootstrap_ci(runs[0])[1] - bootstrap_ci(runs[0])[0] + 0.01


def test_a_paired_interval_is_narrower_than_the_difference_of_two_unpaired_ones():
    rng = np.random.default_rng(3)
    hard = rng.random(3000) < 0.4  # images both miss more often: the runs' errors are correlated
    a = rng.random((3, 3000)) < np.where(hard, 0.35, 0.9)
    b = a & (rng.random((3, 3000)) > 0.03)  # B: A but wrong on 3% more images
    low, high = paired_bootstrap_ci(a, b)
    assert 0 < low < a.mean() - b.mean() < high
    a_low, a_high = bootstrap_ci(a)
    assert high - low < (a_high - a_low) / 2
    assert all(np.isnan(paired_bootstrap_ci(a[:, :0], b[:, :0])))  # no images, no interval


def test_mean_std():
    assert mean_std([0.5]) == (0.5, 0.0)
    mean, std = mean_std([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1)


def _simulated(accuracies, n_images, seed=4):
    """(configurations x images) 0/1 rows, each right on an image with its probability in `accuracies`."""
    rng = np.random.default_rng(seed)
    return (rng.random((len(accuracies), n_images)) < np.array(accuracies)[:, None]).astype(float)


def test_rank_intervals_hold_the_ranks_and_a_clear_winner_gets_a_degenerate_one():
    per_image = _simulated([0.9, 0.62, 0.61, 0.60, 0.40], 3000)
    low, high = rank_intervals(per_image, np.zeros(5))
    assert (low[0], high[0]) == (1, 1) and (low[-1], high[-1]) == (5, 5)
    assert all(low[i] <= i + 1 <= high[i] for i in range(5)) and high[1] > low[1]  # the close ones overlap


def test_rank_intervals_widen_with_fewer_images_and_with_the_seeds_spread():
    accuracies = [0.64, 0.63, 0.62, 0.61, 0.60, 0.59]
    widths = {}
    for n_images in (500, 8000):
        low, high = rank_intervals(_simulated(accuracies, n_images), np.zeros(6))
        widths[n_images] = high - low
    assert (widths[500] >= widths[8000]).all() and widths[500].sum() > widths[8000].sum()
    per_image = _simulated(accuracies, 8000)
    low, high = rank_intervals(per_image, [0.0, 0.0, 0.02, 0.0, 0.0, 0.0])
    assert high[2] - low[2] > widths[8000][2]


def test_rank_intervals_are_deterministic():
    per_image = _simulated([0.62, 0.61, 0.60], 1000)
    first, again = rank_intervals(per_image, [0.01] * 3), rank_intervals(per_image, [0.01] * 3)
    assert all((a == b).all() for a, b in zip(first, again))


def test_mean_std_of_two_values_is_their_sample_std():
    assert mean_std([0.5, 0.7]) == (pytest.approx(0.6), pytest.approx(0.2 / np.sqrt(2)))


def test_mcnemar_refusal_says_why():
    with pytest.raises(ValueError, match="^McNemar's test needs both classifiers on the same images$"):
        mcnemar_exact([True], [True, False])


def test_bootstrap_intervals_are_the_normal_ones_on_many_images():
    """On many images the percentile interval is about the normal one: +/- 1.96 standard errors at
    95%, 0.67 at 50%, centred on the accuracy."""
    correct = np.random.default_rng(5).random(10000) < 0.5
    se = correct.std() / np.sqrt(len(correct))
    for level, z in ((0.95, 1.96), (0.5, 0.674)):
        low, high = bootstrap_ci(correct, level=level)
        assert (high - low) / (2 * z * se) == pytest.approx(1, abs=0.1)
        assert (low + high) / 2 == pytest.approx(correct.mean(), abs=se / 5)


def test_every_image_can_be_drawn():
    """Of two images, resamples hold the first alone, the second alone or both: the interval spans 0 to 1.
    Of one image, every resample is that image."""
    assert bootstrap_ci([True, False]) == (0.0, 1.0) and bootstrap_ci([False, True]) == (0.0, 1.0)
    assert bootstrap_ci([True]) == (1.0, 1.0)
    low, high = rank_intervals([[1.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    assert list(high) == [1, 2]  # the second configuration is behind whenever the first image is drawn


def test_intervals_are_fixed_by_their_seed_and_defaults():
    """Reports are regenerated to the same figures: 2,000 (ranks: 1,000) resamples, 95%, seed 0 unless
    told. The inputs are ones whose intervals another seed or one resample more would move."""
    correct = np.random.default_rng(5).random((3, 200)) < 0.6
    assert bootstrap_ci(correct) == bootstrap_ci(correct, n_boot=2000, level=0.95, seed=0)
    assert bootstrap_ci(correct, seed=4) == bootstrap_ci(correct, seed=4)
    a, b = correct[:2], correct[1:]
    assert paired_bootstrap_ci(a, b) == paired_bootstrap_ci(a, b, n_boot=2000, level=0.95, seed=0)
    assert paired_bootstrap_ci(a, b, seed=4) == paired_bootstrap_ci(a, b, seed=4)
    tied = np.zeros((40, 5)), np.ones(40)  # ordered by their seeds' spread alone
    for first, again in [
        (rank_intervals(*tied), rank_intervals(*tied, 1000, 0.95, 0)),
        (rank_intervals(*tied, level=0.5), rank_intervals(*tied, level=0.5)),
    ]:
        assert all((x == y).all() for x, y in zip(first, again))


def test_rank_intervals_are_integer_ranks_at_their_level():
    """Ten configurations tied on every image, ordered by their seeds' spread alone, are each at every
    rank equally often: their 50% interval is ranks 3 to 8."""
    low, high = rank_intervals(np.zeros((10, 5)), np.ones(10), level=0.5)
    assert low.dtype.kind == high.dtype.kind == "i"
    assert list(low) == [3] * 10 and list(high) == [8] * 10
