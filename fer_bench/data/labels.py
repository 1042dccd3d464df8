"""Where a data set's labels come from, an experiment's choice: FER2013's own (one annotator per
image) or the FER+ votes (ten annotators, 8 classes, `mode` as in fer_bench/data/ferplus.py).

FER+ labels are joined on each image's row in Kaggle's fer2013.csv (the usage folders' file names,
or the csv's order): a data set without rows, or whose rows or splits do not match the vote file, is
refused. Training images carry the mode's targets; test images the majority label, against which
FER+ accuracy is published. Images FER+ leaves without a label are kept, as UNLABELLED: they are
neither trained on nor evaluated, and each split's metrics count them (`n_unlabelled`).
"""

import functools
from dataclasses import dataclass, replace

import numpy as np

from fer_bench.data import ferplus
from fer_bench.data.dataset import SPLITS, TRAIN_SPLIT, UNLABELLED, Dataset
from fer_bench.errors import FerBenchError

SOURCES = ("fer2013", "ferplus")


@dataclass(frozen=True)
class Labels:
    source: str = "fer2013"
    mode: str = "majority"  # FER+ only

    def __post_init__(self):
        if self.source not in SOURCES:
            raise FerBenchError(f"labels must be one of {list(SOURCES)}, got {self.source!r}")
        if self.mode not in ferplus.MODES or (self.source == "fer2013" and self.mode != "majority"):
            raise FerBenchError(f"labels_mode must be one of {list(ferplus.MODES)} with FER+ labels, got {self.mode!r}")

    @classmethod
    def named(cls, name):
        """The labels a record's `data.labels` names."""
        source, _, mode = name.partition("-")
        return cls(source, mode or "majority")

    @property
    def name(self):
        return self.source if self.source == "fer2013" else f"{self.source}-{self.mode}"

    @property
    def soft(self):
        """Whether models train on distributions rather than one label an image."""
        return self.source == "ferplus" and self.mode != "majority"

    def apply(self, dataset: Dataset) -> Dataset:
        """`dataset` with these labels (FER2013 data sets come with FER2013's)."""
        if dataset.labels_name == self.name:
            return dataset
        if self.source == "fer2013" or dataset.labels_name != "fer2013":
            raise FerBenchError(f"{dataset.source}: its labels are {dataset.labels_name}, not {self.name}")
        return _with_ferplus(dataset, self.mode)


def votes_of(dataset: Dataset):
    """(counts (N, 10), named (N,)) of the FER+ votes of each image of `dataset`, checked against it."""
    if dataset.rows is None:
        raise FerBenchError(
            f"{dataset.source}: FER+ labels need each image's row of Kaggle's fer2013.csv "
            f"(usage folders of <row>.jpg, or the csv); {dataset.layout} do not say it"
        )
    unknown = sorted(set(dataset.split_names()) - set(SPLITS))
    if unknown:
        raise FerBenchError(
            f"{dataset.source}: FER+ labels need FER2013's splits {list(SPLITS)}; {dataset.layout} have {unknown}"
        )
    votes = _votes(str(ferplus.find_votes(dataset.source)))
    if dataset.rows.max() >= len(votes.usage):
        raise FerBenchError(
            f"{votes.path}: {len(votes.usage)} rows, but {dataset.source} has an image of row {dataset.rows.max()}"
        )
    usage = votes.usage[dataset.rows]
    wrong = np.flatnonzero(usage != dataset.splits)
    if len(wrong):
        i = wrong[0]
        raise FerBenchError(
            f"{votes.path}: row {dataset.rows[i]} is {usage[i]} there but {dataset.splits[i]} in "
            f"{dataset.source} ({dataset.ids[i]}): not the same data set"
        )
    return votes.counts[dataset.rows], votes.named[dataset.rows]


def _with_ferplus(dataset: Dataset, mode) -> Dataset:
    counts, named = votes_of(dataset)
    majority, test_labelled = ferplus.targets(counts, "majority")
    trained, train_labelled = ferplus.targets(counts, mode)
    training = dataset.splits == TRAIN_SPLIT
    labelled = named & np.where(training, train_labelled, test_labelled)
    distributions = np.where(training[:, None], trained, majority)
    labels = np.where(labelled, distributions.argmax(axis=1), UNLABELLED)
    return replace(
        dataset,
        labels=labels,
        classes=ferplus.FERPLUS_CLASSES,
        targets=np.where(labelled[:, None], distributions, 0).astype(np.float32) if mode != "majority" else None,
        labels_name=f"ferplus-{mode}",
    )


@functools.cache
def _votes(path):
    return ferplus.read_votes(path)
