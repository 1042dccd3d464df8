"""Datasets: every supported layout loads into the same in-memory `Dataset`, label space included."""

from fer_bench.data.dataset import FER2013_CLASSES, SPLITS, Dataset
from fer_bench.data.loaders import load_dataset

__all__ = ["FER2013_CLASSES", "SPLITS", "Dataset", "load_dataset"]
