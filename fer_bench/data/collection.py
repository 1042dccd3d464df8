"""A labelled image collection of the user's own, `<root>/<label>/<image>`, to evaluate saved models
on (`fer-bench evaluate`).

Images may be of any format, size and colour, in subfolders of a label folder too. Label folders
are matched to a model's label space through EMOTION_NAMES, whatever their case: `anger`, `Angry`
and `angry_faces` are all anger. A name must name exactly one emotion: beside its emotion's words
it may hold numbers and NEUTRAL_WORDS only, so `not_happy` is refused, never read as happiness.
A folder named after an emotion outside the model's label space
(contempt, for a FER2013 model) is excluded and reported, never mapped to a neighbour; a folder
whose name is no emotion is an error, as is a collection with no image under a known label.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fer_bench.data.loaders import IMAGE_SUFFIXES
from fer_bench.errors import FerBenchError

# Each emotion fer-bench knows, with the names data sets and people give it (lower case).
EMOTION_NAMES = {
    "anger": ("anger", "angry", "mad"),
    "contempt": ("contempt", "contemptuous"),
    "disgust": ("disgust", "disgusted"),
    "fear": ("fear", "fearful", "afraid", "scared"),
    "happiness": ("happiness", "happy", "joy", "smile"),
    "neutral": ("neutral", "calm"),
    "sadness": ("sadness", "sad"),
    "surprise": ("surprise", "surprised"),
}
_EMOTION_OF = {name: emotion for emotion, names in EMOTION_NAMES.items() for name in names}
# Words a name may hold beside its emotion's, which say nothing of the emotion (`angry_faces`).
NEUTRAL_WORDS = frozenset({"face", "faces", "image", "images", "photo", "photos", "picture", "pictures"})


def _words(name: str) -> set:
    """The words of a name that may say which emotion it is: not its numbers, not NEUTRAL_WORDS."""
    return {w for w in re.split(r"[^a-z]+", name.lower()) if w} - NEUTRAL_WORDS


def emotion(name: str) -> str | None:
    """The emotion a class or folder name stands for (`Angry`, `anger_faces`, `7-happy`), or None
    where its words name none, two, or one beside any other word (`not_happy`): never guessed."""
    found = {_EMOTION_OF.get(w) for w in _words(name)}
    return found.pop() if len(found) == 1 else None


def class_codes(classes) -> dict:
    """{emotion: code} of a model's label space; a class that names no emotion is left out."""
    return {emotion(name): code for code, name in enumerate(classes) if emotion(name)}


def match_labels(names, classes, where) -> tuple[dict, dict]:
    """({name: code in `classes`}, {name: why it is excluded}) for a collection's label names."""
    codes = class_codes(classes)
    matched, excluded = {}, {}
    for name in names:
        found = emotion(name)
        if found is None:
            raise FerBenchError(f"{where}/{name}: {_no_emotion(name)}")
        if found in codes:
            matched[name] = codes[found]
        else:
            excluded[name] = f"{found} is not in the model's label space ({', '.join(classes)})"
    return matched, excluded


def _no_emotion(name: str) -> str:
    """Why a name stands for no emotion, in one line."""
    known = ", ".join(sorted(_EMOTION_OF))
    named = sorted({_EMOTION_OF[w] for w in _words(name) if w in _EMOTION_OF})
    others = sorted(w for w in _words(name) if w not in _EMOTION_OF)
    if named and others:
        return (
            f"{name!r} names {' and '.join(named)} beside other words ({', '.join(others)}); a label folder names "
            f"exactly one emotion ({known}), with numbers or {', '.join(sorted(NEUTRAL_WORDS))} beside it at most"
        )
    if named:
        return f"{name!r} names more than one emotion ({', '.join(named)})"
    return f"{name!r} names no emotion fer-bench knows ({known})"


@dataclass(frozen=True)
class Collection:
    root: Path
    files: list  # image files under a matched label folder, sorted
    labels: list  # their codes in the model's label space
    excluded: dict  # {folder: why it is excluded, with its image count}
    fingerprint: str  # of every image file's bytes and label folder, matched or not


def load_collection(root, classes) -> Collection:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FerBenchError(f"{root}: not a folder of label folders")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise FerBenchError(f"{root}: no label folders (expected <label>/<image> files, e.g. happy/001.jpg)")
    matched, excluded = match_labels([f.name for f in folders], classes, root)
    digest = hashlib.sha256()
    files, labels, excluded_counts = [], [], {}
    for folder in folders:
        images = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for image in images:
            digest.update(f"{image.relative_to(root)}\n".encode())
            digest.update(hashlib.sha256(image.read_bytes()).digest())
        if folder.name in excluded:
            excluded_counts[folder.name] = f"{len(images)} images: {excluded[folder.name]}"
        elif not images:
            raise FerBenchError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        else:
            files += images
            labels += [matched[folder.name]] * len(images)
    if not files:
        raise FerBenchError(f"{root}: no images under a label of the model's label space ({', '.join(classes)})")
    return Collection(root, files, labels, excluded_counts, digest.hexdigest()[:16])
