"""Faces in any image, cut to FER2013's framing and classified with a saved model, in batches
(`fer-bench predict`, and `fer-bench evaluate` on a collection of photos).

How an image becomes face crops is the `faces` choice:
- `crop`: the image is a face crop already, as FER2013's are: its centred square is the face;
- `detect`: faces are found with a detector (fer_bench.parts.detectors), each framed as FER2013's crops
  are around that detector's boxes and cut to 48x48 grayscale;
- `auto` (predict's default): `crop` for an image at most CROP_SIDE pixels a side, `detect` above.
An image smaller than MIN_SIDE a side cannot show a face and is refused; a photo larger than
READ_SIDE a side is decoded at a reduced size (JPEG decodes straight to it), so a 200-megapixel
picture costs tens of megabytes, not gigabytes.

The model is a recorded run with saved weights, or a recorded ensemble (model/ensemble) of such runs,
rebuilt from its members' weights and the weights its record chose. Probabilities are calibrated:
each run's by its temperature, fitted on its held-out Training images only (runs/probabilities.py
`temperature`; 1.0, and why, for a run that stored none), which leaves a single model's predictions
as they are; an ensemble averages its members' probabilities as its run did: calibrated under its
`calibrate`, else as given (every ensemble recorded before `calibrate`), and says which.
"""

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from fer_bench.data.dataset import IMAGE_SIZE
from fer_bench.data.loaders import IMAGE_SUFFIXES, raised_pixel_limit, read_scaled
from fer_bench.errors import FerBenchError
from fer_bench.parts import detectors, registry
from fer_bench.parts.base import DescribesCrops, SavesWeights
from fer_bench.parts.detectors import CROP_SIDE
from fer_bench.parts.models.ensemble import UNCALIBRATED, Ensemble, soft_vote
from fer_bench.runs import probabilities
from fer_bench.runs.records import Record, RecordStore, last_lines, saved_model, select
from fer_bench.scoring.calibration import Temperature

FACES = ("auto", "crop", "detect")
DEFAULT_DETECTOR = "hog-then-cnn"
# A video's or a camera's frames: HOG alone. The CNN that hog-then-cnn runs where HOG finds no face
# takes about 10 s a 640x480 frame on 2 cores (HOG 0.1-0.3 s), so each frame without a face would
# stall a camera for seconds; most of predict VIDEO's time went there (results/benchmarks.md).
FRAME_DETECTOR = "hog"
MIN_SIDE = 16  # a third of FER2013's 48 pixels: below it there is no face left to classify
READ_SIDE = 4096  # larger photos are read at about this size: ample for any detector and 48x48 crops
BATCH = 256  # images read, detected and classified per model call


@dataclass
class Face:
    box: tuple  # (left, top, right, bottom) in the image's pixels
    probabilities: dict
    whole_image: bool

    @property
    def label(self):
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self):
        return {
            "box": list(self.box),
            "label": self.label,
            "whole_image": self.whole_image,
            "probabilities": self.probabilities,
        }


def can_predict(record: Record):
    """Whether a recorded run can classify new crops: its weights were saved, and its features can
    be computed for a crop."""
    return record.artefact is not None and could_predict(record)


def could_predict(record: Record):
    """Whether a recorded run could classify new crops with its weights: a successful run whose
    model saves weights, on features that can be computed for a crop."""
    model = registry.find("model", record.spec.model.name)
    features = registry.find("features", record.spec.features.name)
    return (
        record.ok
        and model is not None
        and features is not None
        and issubclass(model.factory, SavesWeights)
        and issubclass(features.factory, DescribesCrops)
    )


def is_ensemble(record: Record):
    """Whether a record is of an ensemble (model/ensemble) that chose its members and weights."""
    model = registry.find("model", record.spec.model.name)
    return (
        model is not None
        and issubclass(model.factory, Ensemble)
        and bool(record.selection and record.selection.get("members"))
    )


def voting(record: Record) -> list[tuple[str, float]]:
    """[(run id, weight)] of the members an ensemble's record gives a weight above 0."""
    assert record.selection is not None  # an ensemble's record has one (is_ensemble)
    return [(m["run_id"], float(m["weight"])) for m in record.selection["members"] if m["weight"] > 0]


def refusal(record: Record, records) -> str | None:
    """Why `record` cannot classify new crops (one line), or None: a run needs saved weights and
    features of crops (`can_predict`); an ensemble, every voting member's, among `records`."""
    if not record.ok:
        return f"run {record.run_id} ({record.experiment}) failed"
    if not is_ensemble(record):
        return None if can_predict(record) else f"run {record.run_id} ({record.experiment}) cannot predict"
    for run_id, _ in voting(record):
        member = next((r for r in reversed(records) if r.run_id == run_id and r.ok), None)
        if member is None:
            return f"ensemble {record.experiment} (run {record.run_id}): member {run_id} is not recorded here"
        if not can_predict(member):
            why = "saved no weights" if member.artefact is None else "cannot predict (its features take no crops)"
            return f"ensemble {record.experiment} (run {record.run_id}): member {run_id} ({member.experiment}) {why}"
    return None


def choose_record(records, name=None) -> Record:
    """The named record (experiment or run id: a run with saved weights, or an ensemble of such
    runs), else the recorded model with saved weights that ranks first on FER2013's labels (a FER+
    score is on another yardstick, not comparable; ensembles are chosen by name only). Each run is
    taken as its last line says, so a run pruned since is not chosen for the weights it had."""
    if name:
        named = [r for r in last_lines(select(records, name)) if r.ok]
        usable = [r for r in named if refusal(r, records) is None]
        if usable:
            return usable[-1]
        ensembles = [r for r in named if is_ensemble(r)]
        if ensembles:
            raise FerBenchError(refusal(ensembles[-1], records))
        hint = (
            f": `fer-bench complete {name}` fits it again and saves them"
            if any(could_predict(r) for r in select(records, name))
            else ""
        )
        raise FerBenchError(f"no recorded run of {name!r} has saved weights to predict with{hint}")
    usable = [r for r in last_lines(records) if can_predict(r)]
    if not usable:
        raise FerBenchError("no recorded run has saved weights: run `fer-bench run cnn` first")
    fer2013 = [r for r in usable if r.data.label_source == "fer2013"] or usable
    return max(fer2013, key=lambda r: r.metrics[r.report_split].accuracy_all)


@dataclass
class Member:
    """A recorded run with saved weights, loaded: its features part, its model, the weight of its
    vote (1 for a run on its own) and the temperature its probabilities are calibrated with."""

    record: Record
    features: DescribesCrops
    model: SavesWeights
    weight: float
    temperature: Temperature

    @classmethod
    def load(cls, record: Record, results_root: Path, weight=1.0, calibrate=True):
        temperature = (
            probabilities.temperature(results_root, record) if calibrate else Temperature(why_none=UNCALIBRATED)
        )
        return cls(record, record.part("features"), saved_model(record, results_root), weight, temperature)

    @property
    def features_key(self):
        features = self.record.spec.features
        return features.name, json.dumps(features.params, sort_keys=True)


@dataclass
class Predictor:
    """A recorded run, loaded: one member (itself), or an ensemble's members."""

    record: Record
    members: list
    calibrated: bool = True  # False: an ensemble recorded with calibrate = false averages as given

    @classmethod
    def load(cls, record: Record, results_root: Path):
        if not is_ensemble(record):
            return cls(record, [Member.load(record, results_root)])
        records = RecordStore(results_root).all()
        why = refusal(record, records)
        if why:
            raise FerBenchError(why)
        ensemble = record.model()
        assert isinstance(ensemble, Ensemble)  # is_ensemble
        calibrate = ensemble.calibrate
        found = {r.run_id: r for r in records if r.ok}
        members, total = [], sum(weight for _, weight in voting(record))
        for run_id, weight in voting(record):
            try:
                members.append(Member.load(found[run_id], results_root, weight / total, calibrate))
            except FerBenchError as error:
                raise FerBenchError(f"ensemble {record.experiment} (run {record.run_id}): member {error}") from None
        return cls(record, members, calibrate)

    @property
    def calibration(self) -> str:
        """One line: how its probabilities are calibrated."""
        if len(self.members) == 1 and self.members[0].record is self.record:
            t = self.members[0].temperature
            return f"probabilities {'calibrated' if t.fitted else 'as the model gives them'}: {t}"
        each = "; ".join(
            f"{m.record.experiment} ({m.record.run_id}, weight {m.weight:.3f})"
            + (f": {m.temperature}" if self.calibrated else "")
            for m in self.members
        )
        if self.calibrated:
            return (
                f"probabilities calibrated: the weighted mean of {len(self.members)} members' calibrated ones: {each}"
            )
        return (
            f"probabilities as the models give them (temperature 1.0): the ensemble was recorded with calibrate "
            f"= false; the weighted mean of {len(self.members)} members' as given: {each}"
        )

    @property
    def temperatures(self) -> dict:
        """{run id: its temperature, and the held-out images it was fitted on} of each member."""
        return {
            m.record.run_id: {"temperature": round(m.temperature.value, 6), "fitted_on": m.temperature.n_images}
            for m in self.members
        }

    def faces(self, found: list[list[tuple]]) -> list[list[Face]]:
        """The faces of several images, from their crops as `crops_in` gives them ([(box,
        whole_image, crop)] an image), all classified in one call."""
        crops = [crop for each in found for _, _, crop in each]
        proba = iter(self.classify(np.stack(crops))[0] if crops else [])
        classes = self.record.classes
        return [
            [
                Face(box, {name: round(float(p), 4) for name, p in zip(classes, next(proba))}, whole)
                for box, whole, _ in each
            ]
            for each in found
        ]

    def classify(self, crops):
        """(probabilities (n, classes), covered (n,)) for (n, 48, 48) uint8 crops: each member's,
        calibrated, weighted and summed. `covered` is the features' own: the embedding's `detector`
        protocol covers only crops with one face in them, and its whole-frame value stands for the
        others; a crop counts as covered where every member's features cover it. Features shared by
        members are computed once."""
        described, probas, covered = {}, [], np.ones(len(crops), dtype=bool)
        for member in self.members:
            if member.features_key not in described:
                described[member.features_key] = member.features.of_crops(crops)
            features = described[member.features_key]
            probas.append(np.asarray(member.model.predict_proba(features.X)))
            covered &= np.asarray(features.covered, dtype=bool)
        proba = soft_vote(probas, [m.weight for m in self.members], [m.temperature for m in self.members])
        return proba, covered


def inside(box, size):
    """A frame cut to the image, in whole pixels."""
    left, top, right, bottom = box
    return tuple(int(round(v)) for v in (max(0, left), max(0, top), min(size[0], right), min(size[1], bottom)))


def centred_square(size):
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


class NoFaceFound(FerBenchError):
    """A readable image in which the detector finds no face."""


def face_crops(path, faces="auto", detector=DEFAULT_DETECTOR):
    """[(box, whole_image, crop)] of one image file (crops_in); a FerBenchError for an unreadable or
    too small image."""
    gray, scale = read_photo(path)
    return crops_in(gray, faces, detector, path, scale)


def crops_in(gray: Image.Image, faces="auto", detector=DEFAULT_DETECTOR, name="image", scale=1.0):
    """[(box, whole_image, crop 48x48 uint8)] of a grayscale image, largest face first, boxes in the
    pixels of the image it was read from at `scale`; NoFaceFound where `detect` finds none."""
    if faces not in FACES:
        raise FerBenchError(f"unknown faces choice {faces!r}; choose one of {', '.join(FACES)}")
    if faces == "crop" or (faces == "auto" and max(gray.size) / scale <= CROP_SIDE):
        boxes, whole = [centred_square(gray.size)], True
    else:
        found = detectors.find_faces(gray, detectors.get(detector))
        if not found:
            raise NoFaceFound(f"{name}: no face found (detector {detector})")
        boxes = sorted((inside(box, gray.size) for box in found), key=lambda b: -(b[2] - b[0]))
        whole = False
    size = (IMAGE_SIZE, IMAGE_SIZE)
    return [
        (
            tuple(round(v / scale) for v in box),
            whole,
            np.asarray(gray.crop(box).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8),
        )
        for box in boxes
    ]


def read_photo(path):
    """(grayscale image, the scale it was read at) of any image file; one too small is refused."""
    gray, (width, height) = read_scaled(path, max_side=READ_SIDE)
    if min(width, height) < MIN_SIDE:
        raise FerBenchError(f"{path}: {width}x{height} pixels is too small to show a face (at least {MIN_SIDE} a side)")
    return gray, gray.width / width


def image_files(inputs):
    """(files, refused): every image under the folders in `inputs` (recursively, by suffix), every
    file named, every match of a pattern the shell did not expand; (input, FerBenchError) for each
    input that names nothing."""
    files, refused = [], []
    for item in map(str, inputs):
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            files += found
            if not found:
                refused.append((item, FerBenchError(f"{path}: no image files in this folder")))
        elif path.exists():
            files.append(path)
        elif any(c in item for c in "*?[") and (matches := sorted(glob.glob(str(path), recursive=True))):
            files += [Path(m) for m in matches if Path(m).is_file()]
        else:
            refused.append((item, FerBenchError(f"{path}: no such file or folder")))
    return files, refused


def predict_images(paths, predictor: Predictor, faces="auto", detector=DEFAULT_DETECTOR, progress=True):
    """[(path, [Face] or FerBenchError)] in the order of `paths`: images are read and their faces
    found BATCH at a time, and each batch's crops classified in one model call."""
    outcomes: list[tuple[Path, list[Face] | FerBenchError]] = []
    with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress, leave=False) as bar:
        for start in range(0, len(paths), BATCH):
            found = []
            for path in paths[start : start + BATCH]:
                try:
                    found.append((path, face_crops(path, faces, detector)))
                except FerBenchError as error:
                    found.append((path, error))
                bar.update()
            classified = iter(predictor.faces([each for _, each in found if isinstance(each, list)]))
            outcomes += [(path, each if isinstance(each, FerBenchError) else next(classified)) for path, each in found]
    return outcomes


def annotate(path, faces, out: Path):
    """The image with each face's box and label drawn on it, as PNG."""
    with raised_pixel_limit(), Image.open(path) as source:  # any photo predict could read
        image = drawn(source.convert("RGB"), faces)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG")


def drawn(image: Image.Image, faces) -> Image.Image:
    """`image` (RGB) with each face's box and label drawn on it, in place."""
    draw = ImageDraw.Draw(image)
    thickness = max(1, round(max(image.size) / 200))
    for face in faces:
        left, top, right, bottom = face.box
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 64, 64), width=thickness)
        text = f"{face.label} {100 * face.probabilities[face.label]:.0f}%"
        draw.text((left + 2, max(0, top - 12)), text, fill=(255, 255, 0))
    return image
