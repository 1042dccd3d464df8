"""Find the faces in any photo and classify them with a saved model (`fer-bench predict`).

Faces are found with face_recognition's HOG detector, each box widened to FER2013's framing and
cut to 48x48 grayscale; an image in which no face is found is classified as a whole when it is
already a face crop (at most 96 pixels a side), else it is an error.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fer_bench import registry
from fer_bench.data.dataset import IMAGE_SIZE
from fer_bench.data.loaders import read_gray
from fer_bench.errors import FerBenchError
from fer_bench.parts import DescribesCrops, SavesWeights
from fer_bench.records import Record, select

FRAME_MARGIN = 0.25  # FER2013 crops show about this much beyond dlib's face box on each side
WHOLE_IMAGE_MAX_SIDE = 96


@dataclass
class Face:
    box: tuple  # (left, top, right, bottom) in the image's pixels
    probabilities: dict
    whole_image: bool

    @property
    def label(self):
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self):
        return {"box": list(self.box), "label": self.label, "whole_image": self.whole_image,
                "probabilities": self.probabilities}  # fmt: skip


def can_predict(record: Record):
    """Whether a recorded run can classify new crops: its weights were saved, and its features can
    be computed for a crop."""
    model = registry.find("model", record.spec["model"]["name"])
    features = registry.find("features", record.spec["features"]["name"])
    return (record.ok and record.artefact is not None and model is not None and features is not None
            and issubclass(model.factory, SavesWeights) and issubclass(features.factory, DescribesCrops))  # fmt: skip


def choose_record(records, name=None) -> Record:
    """The named record (experiment or run id), else the best recorded model with saved weights."""
    usable = [r for r in (select(records, name) if name else records) if can_predict(r)]
    if name and not usable:
        raise FerBenchError(f"no recorded run of {name!r} has saved weights to predict with")
    if not usable:
        raise FerBenchError("no recorded run has saved weights: run `fer-bench run cnn` first")
    if name:
        return usable[-1]
    return max(usable, key=lambda r: r.metrics[r.report_split].accuracy_all)


@dataclass
class Predictor:
    """A recorded run, loaded: its features part and its model with the saved weights."""

    record: Record
    features: DescribesCrops
    model: SavesWeights

    @classmethod
    def load(cls, record: Record, results_root: Path):
        path = results_root / record.artefact
        if not path.is_file():
            raise FerBenchError(f"{path}: the weights of run {record.run_id} are missing")
        spec = record.spec
        features = registry.get("features", spec["features"]["name"]).create(spec["features"]["params"])
        model = registry.get("model", spec["model"]["name"]).create(spec["model"]["params"])
        return cls(record, features, model.load(path, record.classes))

    def probabilities(self, crops):
        """(n, classes) for (n, 48, 48) uint8 crops. Every crop is classified: where the features
        find no single face in it, their whole-frame value stands, as the `full` protocol uses it."""
        return self.model.predict_proba(self.features.of_crops(crops).X)


def find_faces(gray: Image.Image):
    """[(left, top, right, bottom, whole_image)] widened to FER2013's framing, inside the image."""
    import face_recognition

    rgb = np.asarray(gray.convert("RGB"))
    boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=1, model="hog")
    width, height = gray.size
    found = []
    for top, right, bottom, left in boxes:
        half = max(right - left, bottom - top) * (0.5 + FRAME_MARGIN)
        cx, cy = (left + right) / 2, (top + bottom) / 2
        box = (max(0, cx - half), max(0, cy - half), min(width, cx + half), min(height, cy + half))
        found.append((*(int(round(v)) for v in box), False))
    if not found and max(width, height) <= WHOLE_IMAGE_MAX_SIDE:
        found.append((0, 0, width, height, True))
    return found


def predict_image(path, predictor: Predictor):
    gray = read_gray(path)
    boxes = find_faces(gray)
    if not boxes:
        raise FerBenchError(f"{path}: no face found")
    size = (IMAGE_SIZE, IMAGE_SIZE)
    crops = np.stack([np.asarray(gray.crop(box[:4]).resize(size, Image.BILINEAR), dtype=np.uint8) for box in boxes])
    proba = predictor.probabilities(crops)
    return [
        Face(box[:4], {name: round(float(p), 4) for name, p in zip(predictor.record.classes, row)}, box[4])
        for box, row in zip(boxes, proba)
    ]


def annotate(path, faces, out: Path):
    """The image with each face's box and label drawn on it, as PNG."""
    with Image.open(path) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    thickness = max(1, round(max(image.size) / 200))
    for face in faces:
        left, top, right, bottom = face.box
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 64, 64), width=thickness)
        text = f"{face.label} {100 * face.probabilities[face.label]:.0f}%"
        draw.text((left + 2, max(0, top - 12)), text, fill=(255, 255, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG")
