"""The FER+ training modes that grids measure with seeds, for the FER+ board beside Barsoum et al.'s.

A grid cell on FER+ labels (experiment `GRID/...`) is compared with the cell of the same grid trained
in `majority` mode that changes nothing else (the same features, resampler and model): the difference
of their mean accuracies over the seeds, with a paired bootstrap interval over the test images that
have a FER+ majority label (an uncovered image counts as wrong, as on the board).
"""

from dataclasses import dataclass

import numpy as np

from fer_bench.analysis.configurations import Configuration, fold
from fer_bench.analysis.yardsticks import Split
from fer_bench.parts import registry
from fer_bench.scoring.metrics import UNCOVERED, decode_predictions
from fer_bench.scoring.stats import paired_bootstrap_ci

MAJORITY = "majority"


@dataclass
class ModeRow:
    grid: str
    mode: str  # fer_bench/data/ferplus.py MODES
    configuration: Configuration
    delta: float | None = None  # mean accuracy minus the majority cell's (None: the majority cell itself)
    delta_ci: tuple | None = None


def _mode(configuration: Configuration):
    return configuration.first.data.labels.removeprefix("ferplus-")


def _parts(configuration: Configuration):
    return tuple(configuration.first.spec.part(kind) for kind in registry.KINDS)


def _correct(configuration: Configuration, split: Split, split_name):
    """(seeds, images with a majority label) bool: each seed right on each image."""
    labelled = split.ferplus != UNCOVERED
    predictions = np.stack([decode_predictions(r.predictions[split_name]) for r in configuration.runs])
    return predictions[:, labelled] == split.ferplus[labelled]


def mode_rows(cells, split: Split, split_name) -> list[ModeRow]:
    """Per grid, its FER+ cells (ok records of one board's labels, of the current code) that have a
    majority cell of the same parts to compare with, that cell first; grids in name order."""
    rows = []
    by_grid: dict[str, list[Configuration]] = {}
    for configuration in fold(cells):
        by_grid.setdefault(configuration.experiment.split("/")[0], []).append(configuration)
    for grid, configurations in sorted(by_grid.items()):
        for majority in (c for c in configurations if _mode(c) == MAJORITY):
            others = [c for c in configurations if c is not majority and _parts(c) == _parts(majority)]
            if not others:
                continue
            reference = _correct(majority, split, split_name)
            rows.append(ModeRow(grid, MAJORITY, majority))
            for other in sorted(others, key=lambda c: -c.mean_std(split_name)[0]):
                delta = other.mean_std(split_name)[0] - majority.mean_std(split_name)[0]
                ci = paired_bootstrap_ci(_correct(other, split, split_name), reference)
                rows.append(ModeRow(grid, _mode(other), other, delta, ci))
    return rows
