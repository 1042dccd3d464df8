"""Published figures the leaderboard is read against (percent)."""

from dataclasses import dataclass
from typing import Any

KAGGLE_TEAMS = 56
# Private-board scores of the top 10 of 56 teams; only the winner is named in our sources.
KAGGLE_TOP10 = (
    ("Tang 2013 (SVM-loss CNN)", 71.162),
    ("2nd", 69.2),
    ("3rd", 68.8),
    ("4th", 67.4),
    ("5th", 65.2),
    ("6th", 65.0),
    ("7th", 64.4),
    ("8th", 64.2),
    ("9th", 63.1),
    ("10th", 62.1),
)

# Published FER2013 figures on PrivateTest (all its images), with how each chose its model.
FER2013_PUBLISHED = (
    ("Pramerdorfer & Kampel 2016", 75.2, "ensemble of CNNs"),
    ("Khaireddin & Chen 2021", 73.28, "single VGG-style net, chosen on PrivateTest"),
)
KAGGLE_SOURCE = f"Kaggle 2013 private board, of {KAGGLE_TEAMS} teams"
PUBLISHED_SOURCE = "published"


@dataclass(frozen=True)
class Reference:
    """A published PrivateTest figure (all 3,589 images, FER2013's labels) ranked among a board's configurations."""

    mark: str  # in the rank column: "K1" to "K10" for a Kaggle place, "ref" for a paper
    name: str
    accuracy: float  # percent
    source: str  # KAGGLE_SOURCE or PUBLISHED_SOURCE
    how: str = ""  # how it chose its model, where published


REFERENCES = tuple(
    sorted(
        [Reference(f"K{place}", team, score, KAGGLE_SOURCE) for place, (team, score) in enumerate(KAGGLE_TOP10, 1)]
        + [Reference("ref", name, score, PUBLISHED_SOURCE, how) for name, score, how in FER2013_PUBLISHED],
        key=lambda reference: -reference.accuracy,
    )
)


def among(ranked, percent_of, references=REFERENCES) -> list:
    """`ranked` (best first) with `references` placed by accuracy (`percent_of` an item: its accuracy in
    percent); an item ranks above a reference only when more accurate, as `kaggle_place` has it."""
    merged, pending = [], list(references)
    for item in ranked:
        while pending and pending[0].accuracy >= percent_of(item):
            merged.append(pending.pop(0))
        merged.append(item)
    return merged + pending


# The study's own model (reference/face_emotions_model_...h5) on the study's own embeddings;
# tests/test_reference.py re-measures these from ../shared/fer2013/reference.
STUDY: dict[str, Any] = {
    "reported_accuracy": 54.0,
    "PublicTest": {"n_faces": 2493, "n_total": 3589, "accuracy": 50.66, "accuracy_all": 35.19},
    "PrivateTest": {"n_faces": 2469, "n_total": 3589, "accuracy": 53.99, "accuracy_all": 37.14},
}


def kaggle_place(accuracy_percent):
    """Where a PrivateTest accuracy would have ranked among the Kaggle teams (top 10 known)."""
    for place, (_, score) in enumerate(KAGGLE_TOP10, start=1):
        if accuracy_percent > score:
            return f"{place} of {KAGGLE_TEAMS}"
    return f"below 10th of {KAGGLE_TEAMS}"


# Published FER+ results: accuracy (%) on FER+'s test set (FER2013's PrivateTest images that keep a
# label) against the majority label, 8 classes, with what each model was trained on.
# Barsoum et al.'s VGG13 in each of their training modes (fer_bench/data/ferplus.py MODES).
BARSOUM_BY_MODE = {"probability": 84.99, "crossentropy": 84.72, "multi_target": 83.97, "majority": 83.85}
MODE_NAMES = {
    "probability": "probability",
    "crossentropy": "cross-entropy",
    "multi_target": "multi-target",
    "majority": "majority",
}
FERPLUS_PUBLISHED = (
    *(
        (f"Barsoum et al. 2016, VGG13, {MODE_NAMES[mode]} mode", score, "FER+ Training, from scratch")
        for mode, score in BARSOUM_BY_MODE.items()
    ),
    ("later work, about 88-90", None, "face-recognition pre-training (e.g. MS-Celeb-1M) + FER+ Training"),
)
