"""An ensemble of recorded runs: the mean of their saved models' class probabilities (a soft vote).
With `calibrate = true` each member's are calibrated first by its own temperature (fitted on its
held-out Training images only, fer_bench/runs/probabilities.py `temperature`; 1.0 for a member that
stored none), so members over- and under-confident in different measure vote on one scale; the
default, false, averages them as given, as every ensemble recorded before `calibrate` did (their
run ids stand).

Members are run ids, so a run id of the ensemble names exactly the models it averages. They must
share one label space and one data set (fingerprint), that of the run; each gets its own inputs cut
from the ensemble's features (`pixels-embedding` carries the pixels, the embedding and both), so
members trained on pixels, on embeddings and on both can vote together.

Weights are equal, given (`weights`), or chosen by greedy forward selection with replacement
(Caruana et al. 2004) on PublicTest, as Kaggle's public board allowed: `select = "greedy"` reads the
members' stored PublicTest probabilities (fer_bench/runs/probabilities.py) and nothing else of a test
split; the record's `selection` says PublicTest was used, and PrivateTest stays the reported test.
Its file declares that rule (`[choose] split = "PublicTest", metric = "accuracy"`, fer_bench/specs/choice.py).
Training images are not used: the members were fitted on them, so their probabilities there say
nothing about their errors. Selection reads the probabilities that are averaged: calibrated ones
under `calibrate`.

Where every voting member stored out-of-fold Training probabilities (cross-fitted runs,
fer_bench/parts/models/cross_fitted.py), the ensemble's Training probabilities are their vote
(`out_of_fold_proba`), out of fold too, and so a teacher's; else a student gets in-sample ones.

`fer-bench predict` and `evaluate` rebuild a recorded ensemble from its `selection` (members and
weights) and its members' saved weights, with `soft_vote` (fer_bench/runs/predict.py).
"""

import math

import numpy as np

from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import IMAGE, IMAGE_AND_EMBEDDING, BuildsOnRuns, Model, OutOfFold
from fer_bench.parts.params import Interval, Options, Param, RunIds
from fer_bench.parts.registry import register
from fer_bench.scoring.calibration import Temperature

SELECTION_SPLIT = "PublicTest"
UNCALIBRATED = "the ensemble averages its members' probabilities as given (calibrate = false)"
_TINY = 1e-12


def soft_vote(probas, weights, temperatures):
    """The weighted sum of members' (n, classes) probabilities, each calibrated by its Temperature
    first (weights summing to 1); float64, NaN rows where a member covers none."""
    total = 0.0
    for proba, weight, temperature in zip(probas, weights, temperatures):
        total = total + weight * np.asarray(temperature.apply(np.asarray(proba, dtype=np.float64)), dtype=np.float64)
    return total


def choose_weights(candidates, labels, rounds):
    """Greedy forward selection with replacement: each round adds the candidate whose addition makes
    the running mean of probabilities most accurate on `labels` (ties: lower negative log-likelihood,
    then the earlier candidate); a candidate's weight is the share of rounds that added it."""
    rows = np.arange(len(labels))
    total, counts = np.zeros_like(candidates[0]), np.zeros(len(candidates))
    for step in range(1, rounds + 1):

        def score(i):
            mean = (total + candidates[i]) / step
            return (mean.argmax(axis=1) == labels).mean(), np.log(np.maximum(mean[rows, labels], _TINY)).mean()

        best = max(range(len(candidates)), key=score)
        counts[best] += 1
        total += candidates[best]
    return counts / rounds


@register("model", "ensemble")
class Ensemble(Model, BuildsOnRuns, OutOfFold):
    """Soft vote of recorded runs' saved models (with `calibrate`, each calibrated by its temperature):
    equal, given, or PublicTest-chosen weights; no training."""

    takes = frozenset({IMAGE, IMAGE_AND_EMBEDDING})
    takes_class_weights = False
    runs_param = "members"
    family = "ensemble"

    parameters = {
        "members": Param((), RunIds()),
        "weights": Param(()),
        "select": Param("none", Options("none", "greedy")),
        "rounds": Param(20, Interval(1)),
        "calibrate": Param(False),
    }
    added_later = ("calibrate",)
    calibrate: bool
    _runs = None  # the members as recorded (RecordedRun), in `members` order
    _recorded = None  # RecordedRuns: their saved models and stored probabilities
    _feeds = None  # per member: its inputs from the ensemble's features rows
    _chosen = None  # per member: its weight, summing to 1
    _temperatures = None  # per member: the Temperature its probabilities are used with
    _models = None

    def validate(self):
        w = self.weights
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in w)
        if w and (not numbers or len(w) != len(self.members) or min(w) < 0 or sum(w) <= 0):
            raise ValueError("weights must be one non-negative number per member, not all zero")
        if w and self.select != "none":
            raise ValueError("give weights or select them, not both")

    def refuse(self, setup):
        return None if self.members else f"{self.key}: name its members, one or more run ids"

    def use_runs(self, runs, features, dataset):
        found = {m: runs.run(m) for m in self.members}
        missing = [m for m, run in found.items() if run is None]
        if missing:
            raise FerBenchError(f"{self.key}: no successful run {missing[0]} in {runs.where}")
        members = list(found.values())
        for run in members:
            if not run.saved_weights:
                raise FerBenchError(f"{self.key}: member {run.run_id} ({run.experiment}) saved no weights")
        _same(self.key, members, "label spaces", lambda r: r.classes, dataset.classes)
        _same(self.key, members, "data fingerprints", lambda r: r.data_fingerprint, dataset.fingerprint)
        self._feeds = [_feed(self.key, features, run) for run in members]
        self._runs, self._recorded = members, runs

    def fit(self, data):
        if self._runs is None:
            raise FerBenchError(f"{self.key}: fitted before its runs were given (BuildsOnRuns.use_runs)")
        self._temperatures = [
            self._recorded.temperature(run.run_id) if self.calibrate else Temperature(why_none=UNCALIBRATED)
            for run in self._runs
        ]
        if self.select == "greedy":
            weights = choose_weights(*self._selection_data(), self.rounds)
        else:
            weights = np.asarray(self.weights or [1.0] * len(self.members), dtype=np.float64)
        self._chosen = weights / weights.sum()
        self._models = [self._recorded.model(run.run_id) if w > 0 else None for run, w in zip(self._runs, self._chosen)]
        return None

    def _selection_data(self):
        """(each member's probabilities, the labels) on the SELECTION_SPLIT images every member covers:
        read from the stored probabilities, of that split only."""
        stored = [self._recorded.probabilities(run.run_id, SELECTION_SPLIT) for run in self._runs]
        if any(not np.array_equal(s.rows, stored[0].rows) for s in stored):
            raise FerBenchError(f"{self.key}: the members' stored {SELECTION_SPLIT} probabilities are of other images")
        covered = np.logical_and.reduce([s.covered for s in stored]) & (stored[0].labels >= 0)
        return (
            [t.apply(s.proba[covered].astype(np.float64)) for s, t in zip(stored, self._temperatures)],
            stored[0].labels[covered],
        )

    def predict_proba(self, X):
        used = [i for i, model in enumerate(self._models) if model is not None]
        return soft_vote(
            [self._models[i].predict_proba(self._feeds[i](X)) for i in used],
            [self._chosen[i] for i in used],
            [self._temperatures[i] for i in used],
        )

    def out_of_fold_proba(self, rows, X, y, seed, groups=None):
        """The vote of the voting members' stored out-of-fold probabilities of `rows` (NaN rows where
        a member has none); None unless every voting member stored such."""
        voting = [i for i, weight in enumerate(self._chosen) if weight > 0]
        if not all(self._runs[i].out_of_fold for i in voting):
            return None
        stored = [self._recorded.probabilities(self._runs[i].run_id, TRAIN_SPLIT) for i in voting]
        return soft_vote(
            [_at_rows(s, rows) for s in stored],
            [self._chosen[i] for i in voting],
            [self._temperatures[i] for i in voting],
        ).astype(np.float32)

    def chooses_on(self):
        return (SELECTION_SPLIT, "accuracy") if self.select == "greedy" else None

    def choice(self):
        method = {"greedy": f"greedy forward selection on {SELECTION_SPLIT} accuracy, {self.rounds} rounds"}
        return {
            "method": method.get(self.select, "given weights" if self.weights else "equal weights"),
            "on": SELECTION_SPLIT if self.select == "greedy" else None,
            "members": [
                {"run_id": run.run_id, "experiment": run.experiment, "weight": round(float(w), 6)}
                | ({"temperature": round(t.value, 6)} if self.calibrate else {})
                for run, w, t in zip(self._runs, self._chosen, self._temperatures)
            ],
        }


def _at_rows(stored, rows):
    """The stored probabilities (SplitProbabilities) of data set `rows`; NaN rows for those it lacks."""
    position = {row: i for i, row in enumerate(stored.rows.tolist())}
    proba = np.full((len(rows), stored.proba.shape[1]), np.nan, dtype=np.float32)
    found = [(i, position[row]) for i, row in enumerate(np.asarray(rows).tolist()) if row in position]
    if found:
        into, of = np.array(found).T
        proba[into] = stored.proba[of]
    return proba


def _same(key, runs, what, value_of, expected):
    """Refuse members that differ from each other, or from the run's data, in `value_of`."""
    first = runs[0]
    for run in runs[1:]:
        if value_of(run) != value_of(first):
            raise FerBenchError(
                f"{key}: members with different {what}: {_named(first, value_of)} and {_named(run, value_of)}"
            )
    if value_of(first) != expected:
        raise FerBenchError(
            f"{key}: the members' {what[:-1]} ({_shown(value_of(first))}) is not the data's ({_shown(expected)})"
        )


def _named(run, value_of):
    return f"{run.run_id} ({run.experiment}: {_shown(value_of(run))})"


def _shown(value):
    return f"{len(value)} classes" if isinstance(value, tuple) else value


def _feed(key, features, run):
    """A function giving `run`'s model its inputs from rows of `features` (an ensemble's features part)."""
    name, params = run.features
    feed = features.inputs_for(name, registry.get("features", name).resolve(params))
    if feed is None:
        raise FerBenchError(
            f"{key}: member {run.run_id} ({run.experiment}) takes features {name} {params}, "
            f"which features {features.name} {features.get_params()} cannot give"
        )
    return feed
