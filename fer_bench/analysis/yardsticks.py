"""The second yardstick and the clean test set, for every run of a FER2013 data set.

`compute` takes, for each test image, its FER2013 label, its FER+ majority label (8 classes; none
for no clear majority, not a face, no image name) and whether a copy of it is in Training
(fer_bench/analysis/duplicates.py). `fer-bench labels` stores them as `results/labels/<fingerprint>.json`;
the leaderboard reads that file to score every recorded run against the FER+ majority (on the
images whose majority is one of FER2013's 7 classes) and on the clean images (no copy in
Training), without training anything again.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_bench.analysis import duplicates
from fer_bench.data import ferplus
from fer_bench.data.dataset import FER2013_CLASSES, Dataset
from fer_bench.data.ferplus import FERPLUS_CLASSES
from fer_bench.runs import layout
from fer_bench.runs.records import Record
from fer_bench.scoring.metrics import UNCOVERED, decode_predictions, encode_predictions

# FER+ names the same emotions differently; contempt has no FER2013 class
FERPLUS_TO_FER2013 = {
    "Neutral": "Neutral",
    "Happiness": "Happy",
    "Surprise": "Surprise",
    "Sadness": "Sad",
    "Anger": "Angry",
    "Disgust": "Disgust",
    "Fear": "Fear",
}
AS_FER2013 = np.array(
    [FER2013_CLASSES.index(FERPLUS_TO_FER2013[c]) if c in FERPLUS_TO_FER2013 else UNCOVERED for c in FERPLUS_CLASSES]
)


def majority_labels(outcomes):
    """FER+ majority classes (FERPLUS_CLASSES codes) of ferplus.majority_outcomes, UNCOVERED where
    there is none."""
    return np.where(outcomes <= ferplus.CONTEMPT, outcomes, UNCOVERED)


def as_fer2013(classes):
    """FER+ classes (a majority or a run's predictions) in FER2013's codes, UNCOVERED where there is
    none or it is contempt."""
    return np.where(classes == UNCOVERED, UNCOVERED, AS_FER2013[np.maximum(classes, 0)])


@dataclass(frozen=True)
class Split:
    fer2013: np.ndarray  # FER2013 label of each image
    ferplus: np.ndarray  # FER+ majority label (FERPLUS_CLASSES codes), UNCOVERED where there is none
    copied: np.ndarray  # bool: a copy of the image is in Training

    @property
    def ferplus_as_fer2013(self):
        """The FER+ majority in FER2013's codes, UNCOVERED where there is none or it is contempt."""
        return as_fer2013(self.ferplus)


@dataclass(frozen=True)
class Yardsticks:
    fingerprint: str  # of the FER2013-labelled data set
    images: str  # its images fingerprint (FER+ runs of the same images share the copies)
    splits: dict  # split -> Split
    command: str

    def to_dict(self):
        return {
            "fingerprint": self.fingerprint,
            "images": self.images,
            "command": self.command,
            "copy_tolerance": duplicates.COPY_TOLERANCE,
            "splits": {
                name: {
                    "fer2013": encode_predictions(s.fer2013),
                    "ferplus": encode_predictions(s.ferplus),
                    "copied": "".join("1" if c else "0" for c in s.copied),
                }
                for name, s in self.splits.items()
            },
        }

    @classmethod
    def from_dict(cls, values):
        splits = {
            name: Split(
                decode_predictions(s["fer2013"]),
                decode_predictions(s["ferplus"]),
                np.array([c == "1" for c in s["copied"]]),
            )
            for name, s in values["splits"].items()
        }
        return cls(values["fingerprint"], values["images"], splits, values["command"])

    def save(self, results_root: Path) -> Path:
        path = Path(results_root) / layout.LABELS / f"{self.fingerprint}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()))
        return path


def compute(dataset: Dataset, outcomes, copies: duplicates.Copies, command) -> Yardsticks:
    """The yardsticks of a FER2013-labelled data set, from the FER+ majority outcome of each image
    (ferplus.majority_outcomes) and its copies (duplicates.find_copies)."""
    majority, copied = majority_labels(outcomes), copies.copied()
    splits = {}
    for split in dataset.test_splits():
        index = dataset.indices(split)
        splits[split] = Split(dataset.labels[index], majority[index], copied[index])
    return Yardsticks(dataset.fingerprint, dataset.images_fingerprint, splits, command)


def load_all(results_root) -> list[Yardsticks]:
    found = sorted(Path(results_root, layout.LABELS).glob("*.json"))
    return [Yardsticks.from_dict(json.loads(p.read_text())) for p in found]


def for_record(found, record: Record):
    """The yardsticks that apply to `record`'s data set, or None."""
    key = record.data.fingerprint if record.data.label_source == "fer2013" else record.data.images
    return next((y for y in found if key in (y.fingerprint, y.images)), None)


@dataclass(frozen=True)
class Score:
    accuracy: float  # uncovered images count as wrong
    n: int  # images scored


def _score(predicted, truth, keep):
    n = int(keep.sum())
    return Score(float((predicted[keep] == truth[keep]).sum() / n) if n else 0.0, n)


def ferplus_score(record: Record, split: Split, split_name) -> Score:
    """A FER2013 run against the FER+ majority, on the images whose majority is one of FER2013's classes."""
    truth = split.ferplus_as_fer2013
    return _score(decode_predictions(record.predictions[split_name]), truth, truth != UNCOVERED)


def ferplus_ranking(records, split: Split, split_name):
    """{run_id: (ferplus_score, rank among `records` by it, 1 = best)}."""
    scores = {r.run_id: ferplus_score(r, split, split_name) for r in records}
    order = sorted(scores, key=lambda run_id: -scores[run_id].accuracy)
    return {run_id: (scores[run_id], rank) for rank, run_id in enumerate(order, start=1)}


def fer2013_score(record: Record, split: Split, split_name) -> Score:
    """A FER+ run against FER2013's labels, on every image: its FER+ classes named as FER2013's, a
    contempt prediction counting as wrong."""
    predicted = as_fer2013(decode_predictions(record.predictions[split_name]))
    return _score(predicted, split.fer2013, np.ones(len(split.fer2013), dtype=bool))


def other_labels_score(record: Record, split: Split, split_name) -> Score:
    """A run against the labels it was not trained for: FER2013's run against the FER+ majority, a
    FER+ run against FER2013's labels."""
    score = ferplus_score if record.data.label_source == "fer2013" else fer2013_score
    return score(record, split, split_name)


def own_truth(record: Record, split: Split):
    """The labels `record` was trained for: FER+ majority for a FER+ run, else FER2013's."""
    return split.fer2013 if record.data.label_source == "fer2013" else split.ferplus


def clean_score(record: Record, split: Split, split_name) -> Score:
    """A run on the test images with no copy in Training, against its own labels."""
    truth = own_truth(record, split)
    return _score(decode_predictions(record.predictions[split_name]), truth, ~split.copied & (truth != UNCOVERED))


def copied_score(record: Record, split: Split, split_name) -> Score:
    """A run on the test images with a copy in Training, against its own labels."""
    truth = own_truth(record, split)
    return _score(decode_predictions(record.predictions[split_name]), truth, split.copied & (truth != UNCOVERED))
