"""Make a labelled photo collection from FER2013 test faces, to try `fer-bench evaluate` on data
laid out as users bring theirs: each face scaled up, tinted and placed on a coloured background,
saved as PNG, JPEG or BMP under label folders named as other data sets name them (anger,
Disgusted, fearful, ...), with a contempt folder (outside FER2013's label space), a corrupt file
and a 1x1 image.

    python -m benchmarks.photo_collection ../shared/fer2013 /tmp/photos --per-class 50

The images come from the test splits only (PrivateTest where there is one), so a model trained
on Training sees none of them; the collection is generated, never committed.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.data.loaders import load_dataset
from fer_bench.runs.records import report_split

FOLDER_NAMES = {
    "Angry": "anger",
    "Disgust": "Disgusted",
    "Fear": "fearful",
    "Happy": "happiness",
    "Sad": "sadness",
    "Surprise": "surprised",
    "Neutral": "neutral",
}
FORMATS = (("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"))
CONTEMPT_IMAGES = 3


def photo(face: np.ndarray, rng) -> Image.Image:
    """A 48x48 face scaled to 96-192 pixels, tinted, on a larger background of a random colour."""
    side = int(rng.integers(96, 193))
    tint = rng.uniform(0.75, 1.0, size=3)
    gray = np.asarray(Image.fromarray(face).resize((side, side), Image.BICUBIC), dtype=np.float32)
    rgb = Image.fromarray((gray[..., None] * tint).clip(0, 255).astype(np.uint8))
    width, height = int(side * rng.uniform(1.3, 2.2)), int(side * rng.uniform(1.2, 1.8))
    canvas = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, size=3)))
    canvas.paste(rgb, (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))))
    return canvas


def write_collection(data, out, per_class=50, seed=0) -> dict:
    """Write the collection under `out` from the FER2013 data set at `data`; {folder: images written}."""
    dataset = load_dataset(data)
    split = report_split(dataset.test_splits())
    rng = np.random.default_rng(seed)
    out = Path(out)
    written = {}
    for code, name in enumerate(FER2013_CLASSES):
        index = dataset.indices(split)
        index = index[dataset.labels[index] == code]
        chosen = rng.choice(index, size=min(per_class, len(index)), replace=False)
        written[FOLDER_NAMES[name]] = _save(dataset.images[chosen], out / FOLDER_NAMES[name], rng)
    neutral = dataset.indices(split)[dataset.labels[dataset.indices(split)] == FER2013_CLASSES.index("Neutral")]
    written["contempt"] = _save(dataset.images[neutral[-CONTEMPT_IMAGES:]], out / "contempt", rng)
    (out / "happiness" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    Image.new("L", (1, 1), 128).save(out / "neutral" / "one-pixel.png")
    return written


def _save(faces, folder: Path, rng) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for i, face in enumerate(faces):
        kind, suffix = FORMATS[i % len(FORMATS)]
        photo(face, rng).save(folder / f"{i:04d}{suffix}", format=kind)
    return len(faces)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="a FER2013 data set (any layout)")
    parser.add_argument("out", help="folder to write the collection into")
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    written = write_collection(args.data, args.out, args.per_class, args.seed)
    print(f"{args.out}: " + ", ".join(f"{folder} {n}" for folder, n in written.items()) + ", plus 2 bad files")


if __name__ == "__main__":
    main()
