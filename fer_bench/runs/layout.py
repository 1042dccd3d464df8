"""The results folder's layout: every file and folder fer-bench keeps under `<results>`, named here
only. Paths of one run's files are relative to the results folder, as records store them.

    runs.jsonl            the run records (records.py)
    LEADERBOARD.md        the board (reports/leaderboard.py)
    frontier.md, .png     accuracy for training time (reports/frontier.py)
    models/               weights and probabilities, by run id
    claims/               locks of the runs in progress (claims.py)
    grids/ searches/ comparisons/ labels/ calibration/   reports, one folder per kind
"""

RECORDS = "runs.jsonl"
LEADERBOARD = "LEADERBOARD.md"
MODELS = "models"
CLAIMS = "claims"
GRIDS = "grids"
SEARCHES = "searches"
COMPARISONS = "comparisons"
LABELS = "labels"
CALIBRATION = "calibration"
FRONTIER = "frontier.md"
FRONTIER_FIGURE = "frontier.png"
CHECKPOINTS = "checkpoints"  # in the feature cache, not the results: a resumed fit's checkpoints, by run id


def weights(run_id, suffix="npz") -> str:
    """A run's saved weights, in the format its model's `weights_suffix` names (npz, skops)."""
    return f"{MODELS}/{run_id}.weights.{suffix}"


def probabilities(run_id) -> str:
    return f"{MODELS}/{run_id}.probabilities.npz"
