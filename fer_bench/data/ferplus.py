"""FER+ (Barsoum et al. 2016): ten crowd votes per FER2013 image over 8 emotions, unknown and NF.

`fer2013new.csv` has one row per row of Kaggle's fer2013.csv, in the same order: `Usage, Image name,
neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF`. The votes are
turned into targets exactly as Microsoft's reference code does (`_process_data` in their
src/ferplus.py, then dropping unknown/NF and normalising over the 8 emotions):

1. every column with a single vote is set to 0 (outlier removal);
2. `majority`: the top column if it holds more than half of the remaining votes, else unknown;
3. `probability` / `crossentropy`: the top columns (ties together) until 75% of the votes or 3 are
   taken, unknown/NF tied with the top dropped (the image, when it is the top); discarded if at
   most 50% of the votes are covered or more than 3 columns were taken;
4. `multi_target`: every column with >= 30% of the votes; discarded if they cover <= 50%;
5. an image whose result's top column is unknown or NF, or that has no image name, has no label.

How a mode trains (`targets`): `majority` on the one-hot label; `crossentropy` and `probability` on
the distribution (the reference draws a one-hot from it for every minibatch in `probability` mode,
whose expected gradient is this one); `multi_target` on the normalised multi-hot vector (the
reference pairs it with its own loss). Test images are always labelled by `majority`: published
FER+ accuracies are against the majority label.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_bench.errors import FerBenchError

FERPLUS_CLASSES = ("Neutral", "Happiness", "Surprise", "Sadness", "Anger", "Disgust", "Fear", "Contempt")
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
MODES = ("majority", "probability", "crossentropy", "multi_target")
UNKNOWN = 8  # index of `unknown` among VOTE_COLUMNS; NF is 9
VOTES_FILE = "fer2013new.csv"


def process(votes, mode) -> np.ndarray:
    """One image's 10 vote counts -> the reference's distribution over the 10 columns (one-hot
    `unknown` when the image is discarded)."""
    raw = [float(v) if v >= 1.0 + np.finfo(float).eps else 0.0 for v in votes]  # single votes dropped
    total = sum(raw)
    unknown = [0.0] * len(raw)
    unknown[UNKNOWN] = 1.0
    emotion = [0.0] * len(raw)
    if mode == "majority":
        top = max(raw)
        if total > 0 and top > 0.5 * total:
            emotion[int(np.argmax(raw))] = top
        else:
            emotion = unknown
    elif mode in ("probability", "crossentropy"):
        taken, count, valid = 0.0, 0, True
        while taken < 0.75 * total and count < 3 and valid:
            top = max(raw)
            for i in range(len(raw)):
                if raw[i] == top:
                    emotion[i] = top
                    raw[i] = 0
                    taken += emotion[i]
                    count += 1
                    if i >= UNKNOWN:  # unknown or NF shares the top count
                        valid = False
                        if sum(emotion) > top:  # other emotions came before it: drop it, keep them
                            emotion[i] = 0
                            count -= 1
                        break
        if sum(emotion) <= 0.5 * total or count > 3:
            emotion = unknown
    elif mode == "multi_target":
        emotion = [v if v >= 0.3 * total else 0.0 for v in raw]
        if sum(emotion) <= 0.5 * total:
            emotion = unknown
    else:
        raise ValueError(f"unknown FER+ mode {mode!r} (one of {', '.join(MODES)})")
    return np.array(emotion) / sum(emotion)


def targets(counts, mode):
    """(targets (N, 8) float32 summing to 1, labelled (N,) bool) for an (N, 10) vote table: what a
    model trains on in `mode`, and which images keep a label."""
    processed = np.array([process(row, mode) for row in counts])
    labelled = processed.argmax(axis=1) < UNKNOWN
    emotions = processed[:, :UNKNOWN]
    if mode == "multi_target":
        emotions = (emotions > 0).astype(float)
    sums = emotions.sum(axis=1, keepdims=True)
    return np.divide(emotions, sums, out=np.zeros_like(emotions), where=sums > 0).astype(np.float32), labelled


OUTCOMES = (*FERPLUS_CLASSES, "no clear majority", "not a face", "no image name")
CONTEMPT, NO_MAJORITY, NOT_A_FACE, NO_IMAGE = range(len(FERPLUS_CLASSES) - 1, len(OUTCOMES))


def majority_outcomes(counts, named):
    """Each image's fate under `majority`: its class (0 to CONTEMPT), NO_MAJORITY when no emotion (or
    `unknown`) has a majority, NOT_A_FACE, or NO_IMAGE when FER+ has no image for it."""
    outcomes = np.array([int(np.argmax(process(row, "majority"))) for row in counts])
    return np.where(named, outcomes, NO_IMAGE)


@dataclass(frozen=True)
class Votes:
    """The vote file, row i = Kaggle's fer2013.csv row i."""

    path: Path
    usage: np.ndarray  # (N,) str
    named: np.ndarray  # (N,) bool: FER+ leaves rows without an image name out
    counts: np.ndarray  # (N, 10) vote counts


def read_votes(path) -> Votes:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise FerBenchError(f"{path}: the FER+ vote file cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise FerBenchError(f"{path}: not a readable csv ({error})") from None
    header = [h.strip() for h in rows[0]] if rows else []
    if header[:2] != ["Usage", "Image name"] or tuple(header[2:]) != VOTE_COLUMNS:
        raise FerBenchError(
            f"{path}: not a FER+ vote file (expected the header Usage, Image name, {', '.join(VOTE_COLUMNS)})"
        )
    usage, named, counts = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise FerBenchError(f"{path}, line {number}: {len(row)} fields, expected {len(header)}")
        try:
            votes = [int(v) for v in row[2:]]
        except ValueError:
            raise FerBenchError(f"{path}, line {number}: vote counts must be integers") from None
        if min(votes) < 0:
            raise FerBenchError(f"{path}, line {number}: a negative vote count")
        usage.append(row[0].strip())
        named.append(bool(row[1].strip()))
        counts.append(votes)
    return Votes(path, np.array(usage), np.array(named), np.array(counts, dtype=np.int64).reshape(-1, 10))


def find_votes(data_root) -> Path:
    """$FER_BENCH_FERPLUS, else fer2013new.csv in the data folder or in a `ferplus` folder beside it."""
    import os

    if os.environ.get("FER_BENCH_FERPLUS"):
        return Path(os.environ["FER_BENCH_FERPLUS"])
    root = Path(data_root)
    root = root if root.is_dir() else root.parent
    for candidate in (root / VOTES_FILE, root.parent / "ferplus" / VOTES_FILE):
        if candidate.is_file():
            return candidate
    raise FerBenchError(
        f"no FER+ vote file ({VOTES_FILE}) in {root} or {root.parent / 'ferplus'}: set FER_BENCH_FERPLUS to its path"
    )
