"""Classify the faces in any photo with a saved model (`fer-bench predict`).

Faces are found with face_recognition's HOG detector, each box widened to FER2013's framing and
cut to 48x48 grayscale; an image in which no face is found is classified as a whole when it is
already a face crop (at most 96 pixels a side), else it is an error.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fer_bench import registry
from fer_bench.data.dataset import CLASS_NAMES, IMAGE_SIZE
from fer_bench.data.loaders import read_gray
from fer_bench.errors import FerBenchError

FRAME_MARGIN = 0.25  # FER2013 crops show about this much beyond dlib's face box on each side
WHOLE_IMAGE_MAX_SIDE = 96
PREDICTABLE_FEATURES = ("pixels", "pixels-embedding")


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


def choose_record(records, name=None):
    """The named record (experiment or run id), else the best recorded model with saved weights."""
    usable = [
        r
        for r in records
        if r.get("status") == "ok" and r.get("artefact") and r["spec"]["features"]["name"] in PREDICTABLE_FEATURES
    ]
    if name:
        usable = [r for r in usable if r["experiment"] == name or (len(name) >= 6 and r["run_id"].startswith(name))]
        if not usable:
            raise FerBenchError(f"no recorded run of {name!r} has saved weights to predict with")
        return usable[-1]
    if not usable:
        raise FerBenchError("no recorded run has saved weights: run `fer-bench run cnn` first")
    return max(usable, key=lambda r: r["metrics"].get("PrivateTest", next(iter(r["metrics"].values())))["accuracy_all"])


def load_model(record, results_root: Path):
    path = results_root / record["artefact"]
    if not path.is_file():
        raise FerBenchError(f"{path}: the weights of run {record['run_id']} are missing")
    spec = record["spec"]["model"]
    return registry.get("model", spec["name"]).create(spec["params"]).load(path)


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


def features_of(crops, feature_name):
    """Model input rows for 48x48 uint8 crops, as the registered features would give them."""
    pixels = crops.astype(np.float32) / 255.0
    if feature_name == "pixels":
        return pixels[..., None]
    from fer_bench.features.embedding import encode_images

    _, embeddings = encode_images(crops)
    return np.concatenate([pixels.reshape(len(crops), -1), embeddings.astype(np.float32)], axis=1)


def predict_image(path, model, feature_name):
    gray = read_gray(path)
    boxes = find_faces(gray)
    if not boxes:
        raise FerBenchError(f"{path}: no face found")
    size = (IMAGE_SIZE, IMAGE_SIZE)
    crops = np.stack([np.asarray(gray.crop(box[:4]).resize(size, Image.BILINEAR), dtype=np.uint8) for box in boxes])
    proba = model.predict_proba(features_of(crops, feature_name))
    return [
        Face(box[:4], {name: round(float(p), 4) for name, p in zip(CLASS_NAMES, row)}, box[4])
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
