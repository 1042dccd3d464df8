"""Published figures the leaderboard is read against (percent)."""

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

# The study's own model (reference/face_emotions_model_...h5) on the study's own embeddings;
# tests/test_reference.py re-measures these from ../shared/fer2013/reference.
STUDY = {
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
MODE_NAMES = {"probability": "probability", "crossentropy": "cross-entropy", "multi_target": "multi-target",
              "majority": "majority"}  # fmt: skip
FERPLUS_PUBLISHED = (
    *(
        (f"Barsoum et al. 2016, VGG13, {MODE_NAMES[mode]} mode", score, "FER+ Training, from scratch")
        for mode, score in BARSOUM_BY_MODE.items()
    ),  # fmt: skip
    ("later work, about 88-90", None, "face-recognition pre-training (e.g. MS-Celeb-1M) + FER+ Training"),
)
