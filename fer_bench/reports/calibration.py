"""`fer-bench calibration`: how well each run's probabilities are calibrated on its report split,
before and after temperature scaling fitted on its held-out Training images, as a markdown report
with reliability diagrams (`<results>/calibration/`).

It reads the stored probabilities (fer_bench/runs/probabilities.py, `stored`) only: no model is run,
and no test image reaches the temperature fit.
"""

from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.reports import figures
from fer_bench.reports.base import Report
from fer_bench.runs import layout, probabilities
from fer_bench.scoring import calibration

REPORT_FILE = "calibration.md"
UNGROUPED = "(ungrouped)"
FIGURE_FILE = "reliability.png"


def stored(records, root: Path) -> dict:
    """{run id: {split: SplitProbabilities}}: each run's report split, and its held-out and Training
    images where it stored them; what `CalibrationReport.compute` reads."""
    kept = {}
    for record in records:
        found = probabilities.stored_splits(root, record)
        extra = [s for s in (probabilities.HOLDOUT, TRAIN_SPLIT) if s in found]
        kept[record.run_id] = probabilities.load(root, record, [record.report_split, *extra])
    return kept


def measured(split, test, held) -> dict:
    """The calibration of a run on `split` (its SplitProbabilities `test`), and after temperature
    scaling fitted on `held` (probabilities.fitted_on: the Training images it held out, or its
    out-of-fold Training probabilities; None where it has neither):
    {split, n, accuracy, confidence, before, temperature, after, bins_before, bins_after}."""
    scored = test.covered & (test.labels >= 0)
    y, proba = test.labels[scored], test.proba[scored]
    result = {
        "split": split,
        "n": int(scored.sum()),
        **_accuracy_and_confidence(y, proba),
        "before": calibration.measure(y, proba),
        "bins_before": calibration.reliability(y, proba),
        "temperature": None,
        "after": None,
        "bins_after": None,
    }
    if held is not None:
        temperature = probabilities.temperature_of(held).value  # as predict, evaluate and ensembles use it
        scaled = calibration.scaled(proba, temperature)
        result |= {
            "temperature": temperature,
            "after": calibration.measure(y, scaled),
            "bins_after": calibration.reliability(y, scaled),
        }
    return result


def _accuracy_and_confidence(y, proba):
    return {"accuracy": float((proba.argmax(axis=1) == y).mean()), "confidence": float(proba.max(axis=1).mean())}


def on_training(train) -> dict:
    """Accuracy and mean top probability on the Training images (their SplitProbabilities), for a run
    that stored them (a teacher): the targets a student learns, in-sample or out of fold."""
    scored = train.covered & (train.labels >= 0)
    return {
        "n": int(scored.sum()),
        **_accuracy_and_confidence(train.labels[scored], train.proba[scored]),
        "out_of_fold": train.out_of_fold,
    }


@dataclass
class CalibrationInfo:
    found: list  # (record, measured)
    teachers: list  # (record, on_training) of the runs that stored their Training probabilities


class CalibrationReport(Report[CalibrationInfo]):
    folder = layout.CALIBRATION
    title = "Calibration (NLL, Brier, ECE; before and after temperature scaling)"
    link_order = 50

    def compute(self, records, kept) -> CalibrationInfo:
        """`kept`: the runs' stored probabilities (`stored`)."""
        found, teachers = [], []
        for r in records:
            splits = kept[r.run_id]
            found.append((r, measured(r.report_split, splits[r.report_split], probabilities.fitted_on(splits))))
            if TRAIN_SPLIT in splits:
                teachers.append((r, on_training(splits[TRAIN_SPLIT])))
        return CalibrationInfo(found, teachers)

    def file_name(self, info) -> str:
        return REPORT_FILE

    def figures(self, info: CalibrationInfo):
        if info.found:
            curves = [(f"{r.experiment} seed {r.seed} ({r.run_id[:6]})", _curves(m)) for r, m in info.found]
            yield FIGURE_FILE, figures.reliability_diagrams(curves)

    def markdown(self, info: CalibrationInfo, command: str) -> str:
        rows = [
            [
                r.experiment,
                r.seed,
                f"`{r.run_id}`",
                m["split"],
                m["n"],
                f"{100 * m['accuracy']:.2f}",
                f"{100 * m['confidence']:.2f}",
                *_figures(m["before"]),
                _temperature(r, m),
                *(_figures(m["after"]) if m["after"] else ["—"] * 3),
            ]
            for r, m in info.found
        ]
        headers = [
            "experiment",
            "seed",
            "run id",
            "split",
            "images",
            "accuracy %",
            "mean confidence %",
            "NLL",
            "Brier",
            "ECE %",
            "temperature",
            "NLL after",
            "Brier after",
            "ECE % after",
        ]
        lines = [
            "# Calibration",
            "",
            f"Generated by `{command}` from the probabilities each run stored for every test image",
            f"(`{layout.probabilities('<run id>')}`). Do not edit by hand.",
            "",
            "Measured on each run's report split, over the images it evaluated. NLL: mean negative",
            "log-likelihood of the true class (nats); Brier: mean squared error of the probability vector",
            "(summed over classes); ECE: expected calibration error over 15 equal-width confidence bins;",
            "mean confidence: the mean top probability (below the accuracy: under-confident).",
            "`after`: the probabilities divided in log space by one temperature T, fitted (minimum NLL) on",
            "the Training images the run held out for validation (a cross-fitted run: on its out-of-fold",
            "Training probabilities), never on a test split; T > 1 means the",
            "model was over-confident. Temperature scaling leaves every prediction, so the accuracy, as it is.",
            "A run that held out no real images (its validation set was resampled, or it had none) has no T.",
            f"{UNGROUPED}: a T fitted on a split made before splits kept copies together (fer_bench/data/copies.py):",
            "some of the images it was fitted on have a copy among the images the run was fitted on.",
            "",
            tabulate(rows, headers, tablefmt="github", disable_numparse=True)
            if rows
            else "_No run has stored probabilities._",
            "",
        ]
        if info.teachers:
            rows = [
                [
                    r.experiment,
                    f"`{r.run_id}`",
                    t["n"],
                    f"{100 * t['accuracy']:.2f}",
                    f"{100 * t['confidence']:.2f}",
                    "out of fold" if t["out_of_fold"] else "in-sample",
                ]
                for r, t in info.teachers
            ]
            lines += [
                "Runs that stored their Training probabilities (teachers): what a student distilled from them",
                "learns. In-sample where the run was fitted on those images; out of fold where each image's",
                "came from a copy that was not (a cross-fitted run, an ensemble of such).",
                "",
                tabulate(
                    rows,
                    ["experiment", "run id", "Training images", "accuracy %", "mean confidence %", "probabilities"],
                    tablefmt="github",
                    disable_numparse=True,
                ),
                "",
            ]
        if info.found:
            lines += [f"![reliability diagrams]({FIGURE_FILE})", ""]
        return "\n".join(lines)


def _temperature(record, m):
    if not m["temperature"]:
        return "—"
    return f"{m['temperature']:.3f}" + (f" {UNGROUPED}" if record.ungrouped_splits else "")


def _figures(c: calibration.Calibration):
    return [f"{c.nll:.3f}", f"{c.brier:.3f}", f"{100 * c.ece:.2f}"]


def _curves(m):
    scaled = [(f"T = {m['temperature']:.2f}", m["bins_after"])] if m["after"] else []
    return [("as trained", m["bins_before"]), *scaled]
