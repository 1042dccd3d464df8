"""Whether a model's probabilities mean what they say: negative log-likelihood, Brier score, expected
calibration error over 15 equal-width confidence bins (Guo et al. 2017), reliability bins for the
diagram, and temperature scaling: one scalar T with softmax(log p / T), fitted on held-out Training
images by minimum NLL, never on a test split. A `Temperature` is the one a run's probabilities are
used with (predict, evaluate, an ensemble's average): 1.0, and why, where none was fitted.
"""

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
_TINY = 1e-12


@dataclass(frozen=True)
class Calibration:
    nll: float
    brier: float
    ece: float


def measure(y_true, proba) -> Calibration:
    """Calibration of (n, classes) probabilities against true codes `y_true` (n,)."""
    y_true, proba = np.asarray(y_true), _normalised(proba)
    rows = np.arange(len(y_true))
    one_hot = np.zeros_like(proba)
    one_hot[rows, y_true] = 1.0
    return Calibration(
        nll=float(-np.log(np.maximum(proba[rows, y_true], _TINY)).mean()),
        brier=float(((proba - one_hot) ** 2).sum(axis=1).mean()),
        ece=float(sum(n * abs(acc - conf) for n, acc, conf in reliability(y_true, proba)) / len(y_true)),
    )


def reliability(y_true, proba, bins=ECE_BINS):
    """[(images, accuracy, mean confidence)] per non-empty confidence bin, bins of equal width on (0, 1]."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y_true)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return [
        (int((which == b).sum()), float(correct[which == b].mean()), float(confidence[which == b].mean()))
        for b in range(bins)
        if (which == b).any()
    ]


def scaled(proba, temperature):
    """softmax(log p / T): the probabilities made softer (T > 1) or sharper (T < 1); the argmax stays."""
    logits = np.log(np.maximum(_normalised(proba), _TINY)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Temperature:
    """The temperature a run's probabilities are used with: fitted on `n_images` held-out Training
    images, or 1.0 (the probabilities as the model gives them) where none was, `why_none` saying why."""

    value: float = 1.0
    n_images: int = 0
    why_none: str = ""

    @property
    def fitted(self):
        return self.n_images > 0

    def apply(self, proba):
        """`scaled(proba, value)` (NaN rows stay NaN); the probabilities untouched at 1.0."""
        if self.value == 1.0:
            return proba
        proba = np.asarray(proba, dtype=np.float64)
        out = np.full_like(proba, np.nan)
        rows = ~np.isnan(proba).any(axis=1)
        out[rows] = scaled(proba[rows], self.value)
        return out

    def __str__(self):
        if self.fitted:
            return f"temperature {self.value:.2f} (fitted on {self.n_images:,} held-out Training images)"
        return f"temperature 1.0, uncalibrated ({self.why_none})" if self.why_none else "temperature 1.0"


def fit_temperature(y_true, proba) -> float:
    """The T in [0.05, 20] that minimises the NLL of `scaled(proba, T)`: pass held-out images only."""
    from scipy.optimize import minimize_scalar

    y_true, proba = np.asarray(y_true), _normalised(proba)
    rows = np.arange(len(y_true))

    def nll(log_t):
        return -np.log(np.maximum(scaled(proba, np.exp(log_t))[rows, y_true], _TINY)).mean()

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(best.x))


def _normalised(proba):
    """float64 rows summing to one."""
    proba = np.asarray(proba, dtype=np.float64)
    return proba / proba.sum(axis=1, keepdims=True)
