"""Datasets: every supported layout loads into the same in-memory `Dataset`."""

from fer_bench.data.dataset import CLASS_NAMES, SPLITS, Dataset
from fer_bench.data.loaders import load_dataset

__all__ = ["CLASS_NAMES", "SPLITS", "Dataset", "load_dataset"]
