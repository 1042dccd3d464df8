"""Where FER2013's crop lies around each detector's box: the `crop_framing` and `photo_framing`
constants of fer_bench/detectors, measured on random Training faces (seed 0), as they are, and
enlarged 4x on a grey background as a face in a photo.

    python -m benchmarks.measure_framing        # a few minutes: the CNN detector is slow on a CPU
"""

import numpy as np

from benchmarks.common import data_path
from fer_bench.data import load_dataset
from fer_bench.parts import detectors

FACES = {"hog": 2000, "cnn": 300}


def main():
    dataset = load_dataset(data_path())
    chosen = np.random.default_rng(0).choice(dataset.indices("Training"), max(FACES.values()), replace=False)
    for name, n in FACES.items():
        for enlarge, constant in ((1, "crop_framing"), (4, "photo_framing")):
            framing, found = detectors.measure_framing(detectors.get(name), dataset.images[chosen[:n]], enlarge)
            print(f"{name}.{constant} = {framing}  (one face found in {found} of {n})")


if __name__ == "__main__":
    main()
