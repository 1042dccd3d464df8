"""Ranks with their uncertainty: where each configuration of a table could rank, given its test images
and its seeds.

A table's configurations are ranked by their mean accuracy over all images of the report split (an
uncovered image counts as wrong). Each of N_REPLICATES replicates resamples the labelled test images,
with one set of indices shared by every configuration (a paired bootstrap: an image hard for one is
hard for all), recomputes every configuration's mean accuracy over its seeds on them, adds a normal draw
for what its seeds leave unsettled, and ranks the configurations; a rank's interval is the central
LEVEL of its ranks over the replicates (scoring/stats.py rank_intervals). The seeds' term is the
standard error of the configuration's mean: its seeds' standard deviation over the square root of their
number; a configuration of one seed, whose spread nothing measured, borrows the pooled standard
deviation of the table's configurations with several seeds. Fixed BOOTSTRAP_SEED: the same records give
the same intervals.

A configuration without per-image predictions of the split gets no interval; it still ranks in the
others' replicates, at its recorded accuracy with its seeds' term.
"""

from dataclasses import dataclass

import numpy as np

from fer_bench.analysis.configurations import Configuration
from fer_bench.scoring.metrics import decode_predictions
from fer_bench.scoring.stats import rank_intervals

N_REPLICATES = 1000
LEVEL = 0.95
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class RankInterval:
    low: int
    high: int
    borrowed: bool  # one seed: its seeds' term is the table's pooled standard deviation


@dataclass(frozen=True)
class Ranks:
    intervals: dict  # the first run id of each configuration with predictions -> RankInterval
    pooled_std: float | None  # the seeds' standard deviation pooled over configurations with several; None if none
    missing: int  # configurations without per-image predictions, so without an interval


def pooled_std(configurations, split) -> float | None:
    """The standard deviation of the accuracy over seeds, pooled (by degrees of freedom) over the
    configurations with several seeds; None where none has."""
    accuracies = [a for c in configurations if len(a := c.accuracies(split)) > 1]
    if not accuracies:
        return None
    squares = sum(((a - a.mean()) ** 2).sum() for a in accuracies)
    return float(np.sqrt(squares / sum(len(a) - 1 for a in accuracies)))


def _seed_se(configuration: Configuration, split, pooled) -> float:
    """The standard error its seeds leave on its mean accuracy (0 for one seed where nothing is pooled)."""
    _, std = configuration.mean_std(split)
    return (pooled or 0.0) if std is None else std / np.sqrt(len(configuration.runs))


def _per_image(configuration: Configuration, truth, split):
    """The share of its seeds right on each labelled image; None without every seed's predictions."""
    if not all(split in r.predictions for r in configuration.runs):
        return None
    labelled = truth >= 0
    predictions = np.stack([decode_predictions(r.predictions[split]) for r in configuration.runs])
    return (predictions[:, labelled] == truth[labelled]).mean(axis=0)


def rank_configurations(configurations, truth, split) -> Ranks:
    """The rank intervals of `configurations`, ranked together on `split`; `truth`: each image's label
    (negative where it has none: it is left out, as from the recorded accuracies)."""
    pooled = pooled_std(configurations, split)
    n_labelled = int((np.asarray(truth) >= 0).sum())
    rows = [_per_image(c, truth, split) for c in configurations]
    with_predictions = [i for i, row in enumerate(rows) if row is not None]
    if not with_predictions or n_labelled == 0:
        return Ranks({}, pooled, len(configurations))
    per_image = [
        np.full(n_labelled, c.mean_std(split)[0]) if row is None else row for c, row in zip(configurations, rows)
    ]
    seed_se = [_seed_se(c, split, pooled) for c in configurations]
    low, high = rank_intervals(per_image, seed_se, N_REPLICATES, LEVEL, BOOTSTRAP_SEED)
    intervals = {
        configurations[i].first.run_id: RankInterval(
            int(low[i]), int(high[i]), pooled is not None and len(configurations[i].runs) == 1
        )
        for i in with_predictions
    }
    return Ranks(intervals, pooled, len(configurations) - len(with_predictions))
