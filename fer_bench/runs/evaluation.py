"""A saved model on a labelled collection, without training (`fer-bench evaluate`).

The collection is a FER2013 data set in any of its layouts (its test splits are evaluated) or a
`<label>/<image>` tree (fer_bench.data.collection: one split, COLLECTION_SPLIT). Its labels are
matched to the model's label space by emotion, so a FER+ model is scored on FER2013's folders too.
Each image gives one crop (its largest face under `detect`); an image in which no face is found
counts as wrong in accuracy_all, as the study's uncovered images do; a file that is no readable
image, or too small to show a face, is refused: listed in the record and left out of the scores.

The model is a run with saved weights or an ensemble of such runs, its probabilities calibrated as
`fer-bench predict`'s are (fer_bench/runs/predict.py): the predictions of a single model are its
own, and NLL, Brier and ECE are those of the calibrated probabilities; `evaluation` keeps each
model's temperature.

The record is an ordinary record (`show`, `compare` and `leaderboard` read it) whose `evaluation`
says what was evaluated how, and holds each image's true label, so `compare` needs no data.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from fer_bench.data.collection import load_collection, match_labels
from fer_bench.data.loaders import is_fer2013, load_dataset
from fer_bench.errors import FerBenchError
from fer_bench.runs.predict import BATCH, NoFaceFound, Predictor, crops_in, face_crops
from fer_bench.runs.records import OK, Record, RunData, new_record
from fer_bench.scoring.metrics import encode_predictions, predicted, split_metrics

VERSION = "3"  # in every evaluation's run id: bump it when what an evaluation computes changes (3: calibrated)
COLLECTION_SPLIT = "collection"
SHOWN_REFUSED = 20  # refused files named in a record; all are counted


@dataclass(frozen=True)
class Images:
    """One split of a collection: what to read (files, or 48x48 arrays of a FER2013 data set), the
    name of each, and its label's code in the model's label space."""

    items: list
    names: list
    labels: np.ndarray


@dataclass(frozen=True)
class Target:
    source: str
    layout: str
    fingerprint: str
    n_images: int
    splits: dict  # {split: Images}
    excluded: dict  # {label: why its images are left out}
    label_names: str  # where its labels come from


def target(path, classes, cache=None) -> Target:
    """The collection at `path`, its labels as codes in `classes`; `cache` keeps a FER2013 layout's
    decoded images (fer_bench.data.loaders)."""
    if is_fer2013(path):
        dataset = load_dataset(path, cache)
        matched, excluded = match_labels(dataset.classes, classes, dataset.source)
        code_of = np.array([matched.get(name, -1) for name in dataset.classes])
        splits = {}
        for split in dataset.test_splits():
            index = dataset.labelled(dataset.indices(split))
            keep = index[code_of[dataset.labels[index]] >= 0]
            splits[split] = Images(
                list(dataset.images[keep]), dataset.ids[keep].tolist(), code_of[dataset.labels[keep]]
            )
        excluded = {
            name: f"{int((dataset.labels == dataset.classes.index(name)).sum())} images: {why}"
            for name, why in excluded.items()
        }
        return Target(
            dataset.source, dataset.layout, dataset.fingerprint, len(dataset), splits, excluded, dataset.labels_name
        )
    found = load_collection(path, classes)
    images = Images(found.files, [str(f.relative_to(found.root)) for f in found.files], np.array(found.labels))
    return Target(
        str(found.root),
        "labelled folders",
        found.fingerprint,
        len(found.files),
        {COLLECTION_SPLIT: images},
        found.excluded,
        "folders",
    )


def run_id(source: Record, fingerprint, faces, detector):
    what = {"evaluates": source.run_id, "data": fingerprint, "faces": faces, "detector": detector, "version": VERSION}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def evaluate(predictor: Predictor, found: Target, faces, detector, command=None, progress=True) -> Record:
    """Score the loaded model on every split of `found`; returns the record (not yet stored)."""
    source = predictor.record
    started = time.perf_counter()
    metrics, predictions, labels = {}, {}, {}
    refused: list[str] = []  # each refused image as its error
    for split, images in found.splits.items():
        proba, kept = _predict(predictor, images, faces, detector, refused, progress, split)
        truth = images.labels[kept]
        y_pred = predicted(proba)
        metrics[split] = split_metrics(truth, y_pred, source.classes, proba)
        predictions[split] = encode_predictions(y_pred)
        labels[split] = encode_predictions(truth)
    if all(m.n_total == 0 for m in metrics.values()):
        raise FerBenchError(f"{found.source}: no readable image to evaluate ({refused[0]})")
    data = RunData(
        found.source,
        found.layout,
        found.fingerprint,
        found.n_images,
        source.classes,
        found.label_names,
        found.fingerprint,
    )
    return new_record(
        source.spec,
        f"{source.experiment}@{Path(found.source).name}",
        f"{source.experiment} (run {source.run_id}) evaluated on {found.source}, without training",
        OK,
        data,
        command,
        run_id=run_id(source, found.fingerprint, faces, detector),
        timings={"total": round(time.perf_counter() - started, 2)},
        metrics=metrics,
        predictions=predictions,
        evaluation={
            "of_run": source.run_id,
            "of_experiment": source.experiment,
            "faces": faces,
            "detector": None if faces == "crop" else detector,
            "excluded": found.excluded,
            "n_refused": len(refused),
            "refused": refused[:SHOWN_REFUSED],
            "labels": labels,
            "calibration": predictor.calibration,
            "temperatures": predictor.temperatures,
        },
    )


def _predict(predictor, images: Images, faces, detector, refused, progress, split):
    """(class probabilities, NaN rows where no face was found or the features cover none; the
    indices of the images kept): files that are not readable images are appended to `refused`."""
    n_classes = len(predictor.record.classes)
    proba, kept = [], []
    with tqdm(total=len(images.items), unit="img", desc=f"evaluate {split}", disable=not progress, leave=False) as bar:
        for start in range(0, len(images.items), BATCH):
            crops, where = [], []
            for i in range(start, min(start + BATCH, len(images.items))):
                try:
                    crop = _crop(images.items[i], images.names[i], faces, detector)
                except FerBenchError as error:
                    refused.append(str(error))
                else:
                    kept.append(i)
                    proba.append(np.full(n_classes, np.nan))
                    if crop is not None:
                        crops.append(crop)
                        where.append(len(proba) - 1)
                bar.update()
            if crops:
                given, covered = predictor.classify(np.stack(crops))
                for position, p, c in zip(where, given, covered):
                    if c:
                        proba[position] = p
    return np.array(proba, dtype=np.float64).reshape(-1, n_classes), np.array(kept, dtype=np.int64)


def _crop(item, name, faces, detector):
    """The 48x48 crop of an image's largest face, or None where none is found."""
    try:
        if isinstance(item, np.ndarray):
            return crops_in(Image.fromarray(item), faces, detector, name)[0][2]
        return face_crops(item, faces, detector)[0][2]
    except NoFaceFound:
        return None
