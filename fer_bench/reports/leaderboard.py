"""The markdown leaderboard: every recorded run beside the Kaggle top 10 and the study's figures.

Runs are grouped by what they were tested against (data.scored_against: the data set's
fingerprint; for FER+ labels, the images and the FER+ majority): a number is only ranked against
numbers measured on the same images and labels. Within a group, runs rank by accuracy over all
images of the report split (records.report_split). A run whose parts' code has changed since it
was recorded is marked: `fer-bench run NAME` computes it again under a new run id.

Where `fer-bench labels` has stored the yardsticks of the data set (fer_bench/analysis/yardsticks.py), every
board gains the clean accuracy (test images with no copy in Training) and the FER2013 board the
accuracy against the FER+ majority, with the rank it would give.
"""

from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from fer_bench.analysis import yardsticks
from fer_bench.analysis.reference import FERPLUS_PUBLISHED, KAGGLE_TEAMS, KAGGLE_TOP10, STUDY, kaggle_place
from fer_bench.reports.markdown import replace_block
from fer_bench.runs.records import REPORT_SPLIT, Record, RunData, report_split

OUTDATED = "†"
SELECTED = "(selection)"
SHOWN_PARAMS = {"protocol", "C", "gamma", "n_neighbors", "epochs", "width", "depth"}


@dataclass
class Board:
    data: RunData
    split: str
    runs: list

    @property
    def ferplus(self):
        """Whether the board's runs learnt FER+ labels (and are tested on its majority)."""
        return self.data.label_source == "ferplus"

    @property
    def evaluated(self):
        """Whether the board holds saved models evaluated on a collection (fer_bench/runs/evaluation.py)."""
        return self.runs[0].evaluation is not None


def latest_per_run(records):
    """The latest ok record of each configuration on each Keras backend, grid cells (`GRID/LABEL`)
    left to their grid's report, and of each evaluation of a model on a collection: a run made
    again, with the same code or after its parts changed, replaces its earlier record on the board (a
    record of the current code is never replaced by an older one)."""
    latest = {}
    for record in records:
        if record.ok and "/" not in record.experiment:
            how = record.evaluation and (record.evaluation["faces"], record.evaluation["detector"])
            key = (record.config_id, record.backend, record.scored_against, how)
            if key not in latest or not (record.outdated_parts() and not latest[key].outdated_parts()):
                latest[key] = record
    return list(latest.values())


def boards(records):
    groups = {}
    for record in latest_per_run(records):
        groups.setdefault(record.scored_against, []).append(record)
    result = []
    order = lambda runs: (runs[0].evaluation is not None, runs[0].data.label_source == "ferplus", -len(runs))  # noqa: E731
    for runs in sorted(groups.values(), key=order):
        split = report_split(s for r in runs for s in r.metrics)
        ranked = sorted((r for r in runs if split in r.metrics), key=lambda r: -r.metrics[split].accuracy_all)
        result.append(Board(runs[0].data, split, ranked))
    return result


def _experiment(record: Record):
    return record.experiment + (f" {OUTDATED}" if record.outdated_parts() else "")


def _describe(part):
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in part.params.items() if k in SHOWN_PARAMS
    )
    return part.name + (f" ({params})" if params else "")


def _duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _run_time(timings):
    """The run's time, plus the training that interrupted earlier attempts did for a resumed fit."""
    earlier = timings.get("fit_earlier_attempts")
    if earlier is None:
        return _duration(timings["total"])
    return f"{_duration(timings['total'] + earlier)}, resumed"


def _hardware(record: Record):
    """Where the run computed: its GPU, else its CPU core count; and the Keras backend if not the default."""
    where = record.hardware.get("accelerator") or f"{record.hardware.get('cores', '?')} CPU cores"
    return where + (f", {record.backend}" if record.backend != "tensorflow" else "")


def _selected_on(record: Record, split):
    """A mark on a split's score where the run chose its members or weights on that split: it is
    then no test of the run."""
    return f" {SELECTED}" if (record.selection or {}).get("on") == split else ""


def _percent(value):
    return f"{100 * value:.2f}"


def _rank_change(before, after):
    return "=" if before == after else (f"↑{before - after}" if after < before else f"↓{after - before}")


def board_table(board: Board, yard: yardsticks.Yardsticks | None = None):
    """The board's table; with the data set's yardsticks, its clean accuracy (and for FER2013-labelled
    runs the FER+ accuracy and the rank it gives) beside the headline."""
    other = "PublicTest" if board.split == REPORT_SPLIT else None
    kaggle = board.split == REPORT_SPLIT and not board.ferplus
    measured = yard.splits.get(board.split) if yard else None
    headers = ["#", "experiment", "seed", "features", "resampler", "model"]
    headers += ["trained on"] if board.ferplus else []
    headers += [f"{board.split} acc. (all images)"]
    if measured is not None:
        clean = {r.run_id: yardsticks.clean_score(r, measured, board.split) for r in board.runs}
        headers += [f"clean acc. ({next(iter(clean.values())).n} images without a copy in Training)"]
    headers += ["evaluated (coverage)", "acc. on evaluated", "macro-F1"]
    if measured is not None and not board.ferplus:
        ferplus = yardsticks.ferplus_ranking(board.runs, measured, board.split)
        headers += [f"acc. vs FER+ majority ({next(iter(ferplus.values()))[0].n} images)", "FER+ rank (change)"]
    headers += [f"{other} acc. (all)"] if other else []
    headers += [f"Kaggle place (of {KAGGLE_TEAMS})"] if kaggle else []
    headers += ["run time (on)", "run id"]
    rows = []
    for rank, r in enumerate(board.runs, start=1):
        m, spec = r.metrics[board.split], r.spec
        row = [rank, _experiment(r), r.seed, _describe(spec.features), spec.resampler.name,
               _describe(spec.model)]  # fmt: skip
        row += [r.data.labels.removeprefix("ferplus-")] if board.ferplus else []
        row += [_percent(m.accuracy_all)]
        row += [_percent(clean[r.run_id].accuracy)] if measured is not None else []
        labelled = m.n_total - m.n_unlabelled
        row += [f"{m.n_evaluated}/{labelled} ({100 * m.coverage:.1f}%)", _percent(m.accuracy), _percent(m.macro_f1)]
        if measured is not None and not board.ferplus:
            score, ferplus_rank = ferplus[r.run_id]
            row += [_percent(score.accuracy), f"{ferplus_rank} ({_rank_change(rank, ferplus_rank)})"]
        if other:
            row.append(_percent(r.metrics[other].accuracy_all) + _selected_on(r, other) if other in r.metrics else "")
        if kaggle:
            row.append(kaggle_place(100 * m.accuracy_all))
        row += [f"{_run_time(r.timings)} ({_hardware(r)})", f"`{r.run_id}`"]
        rows.append(row)
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def evaluation_table(board: Board):
    """An evaluation board's table: each saved model, how its faces were cut, its scores and recall."""
    headers = ["#", "model run", "seed", "features", "model", "faces", f"{board.split} acc. (all images)",
               "evaluated (coverage)", "acc. on evaluated", "macro-F1", "recall per class", "refused files",
               "time (on)", "run id"]  # fmt: skip
    rows = []
    for rank, r in enumerate(board.runs, start=1):
        m, how = r.metrics[board.split], r.evaluation
        faces = how["faces"] + (f" ({how['detector']})" if how["detector"] else "")
        recall = ", ".join(f"{name[:3]} {100 * value:.0f}" for name, value in m.per_class_recall.items())
        rows.append([rank, f"{_experiment(r).split('@')[0]} (`{how['of_run']}`)", r.seed, _describe(r.spec.features),
                     _describe(r.spec.model), faces, _percent(m.accuracy_all),
                     f"{m.n_evaluated}/{m.n_total} ({100 * m.coverage:.1f}%)", _percent(m.accuracy),
                     _percent(m.macro_f1), recall, how["n_refused"], f"{_run_time(r.timings)} ({_hardware(r)})",
                     f"`{r.run_id}`"])  # fmt: skip
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _evaluation_section(board: Board):
    d = board.data
    excluded = {label: why for r in board.runs for label, why in r.evaluation["excluded"].items()}
    lines = [
        f"## Evaluated on {d.layout} `{d.source}` ({d.n_images} images, fingerprint `{d.fingerprint}`)",
        "",
        "Saved models run on a collection they were not trained on (`fer-bench evaluate`), scored over the",
        "classes it shares with each model's label space. `faces`: crop (the whole image is the face) or",
        "detect (the largest face the detector finds; an image without one counts as wrong in the first",
        "column). Refused files (unreadable, or too small to show a face) are left out of the scores.",
        "",
        evaluation_table(board),
        "",
    ]
    if excluded:
        lines += ["Excluded: " + "; ".join(f"`{label}` ({why})" for label, why in sorted(excluded.items())) + ".", ""]
    return lines


def _board_section(board: Board, yard):
    d, m = board.data, board.runs[0].metrics[board.split]
    if board.evaluated:
        return _evaluation_section(board)
    if not board.ferplus:
        lines = [f"## {d.layout} `{d.source}` ({d.n_images} images, fingerprint `{d.fingerprint}`)", ""]
        if yard is None:
            lines += ["_`fer-bench labels` adds the clean and FER+ columns._", ""]
        return lines + [board_table(board, yard), ""]
    published = [[name, f"{score:.2f}" if score else "", trained] for name, score, trained in FERPLUS_PUBLISHED]
    return [
        f"## FER+ labels: {d.layout} `{d.source}` (images `{d.images}`)",
        "",
        f"Trained on FER+ Training targets (the mode in `trained on`), tested on the FER+ majority label of "
        f"the {m.n_total - m.n_unlabelled} {board.split} images that have one ({m.n_unlabelled} of {m.n_total} "
        "have none: no clear majority, unknown, not a face, or no image in FER+); 8 classes, contempt "
        "included. Validation comes from Training only. No Kaggle column: the 2013 teams were scored on "
        "FER2013's labels.",
        "",
        board_table(board, yard),
        "",
        f"Published on FER+ ({board.split} = FER+'s test set, majority label, accuracy %):",
        "",
        tabulate(published, ["model", "accuracy %", "trained on"], tablefmt="github", disable_numparse=True),
        "",
    ]


REPORT_FOLDERS = {
    "grids": "Grid reports (ablations over seeds, with intervals and tests)",
    "searches": "Search reports (Optuna)",
    "comparisons": "Paired comparisons (McNemar)",
    yardsticks.LABELS_DIR: "Label reports (FER+ against FER2013's labels; test images copied from Training)",
    "calibration": "Calibration (NLL, Brier, ECE; before and after temperature scaling)",
}


def render(records, reports=None, measured=()):
    """The board; `reports` maps a folder of REPORT_FOLDERS to the report paths linked from it,
    `measured` holds the yardsticks of the data sets (yardsticks.load_all)."""
    lines = [
        "# fer-bench leaderboard",
        "",
        "Generated by `fer-bench leaderboard` (and after every `fer-bench run`) from the run records in",
        "`runs.jsonl`, each of which holds the command that made it. Do not edit by hand.",
        "",
        "Runs are ranked by accuracy on **all** test images: an image whose features could not be",
        "computed (no face found under the `detector` protocol) counts as wrong. `acc. on evaluated` is",
        "the accuracy on the covered images only, the figure the study reported. Accuracies in %.",
        f"{OUTDATED}: the run's parts have changed since it was recorded (or it was recorded before run ids",
        "named part versions and the Keras backend); `fer-bench run NAME` computes it with the current code.",
        f"{SELECTED}: the run chose its members or weights on that split (an ensemble, as Kaggle's public",
        "board allowed), so it is no test of the run there; PrivateTest stays one.",
        "",
    ]
    for folder, title in REPORT_FOLDERS.items():
        if (reports or {}).get(folder):
            links = ", ".join(f"[{Path(r).stem}]({r})" for r in reports[folder])
            lines += [f"{title}: {links}.", ""]
    found = boards(records)
    if not found:
        lines += ["_No runs recorded yet._", ""]
    for board in found:
        lines += _board_section(board, yardsticks.for_record(measured, board.runs[0]))
    kaggle = [[i, team, f"{score:g}"] for i, (team, score) in enumerate(KAGGLE_TOP10, 1)]
    study = [
        [
            split,
            f"{STUDY[split]['n_faces']}/{STUDY[split]['n_total']}",
            f"{STUDY[split]['accuracy']:.2f}",
            f"{STUDY[split]['accuracy_all']:.2f}",
        ]
        for split in ("PublicTest", "PrivateTest")
    ]
    lines += [
        f"## Kaggle 2013 private leaderboard, top 10 of {KAGGLE_TEAMS} teams (all 3,589 PrivateTest images)",
        "",
        tabulate(kaggle, ["place", "team", "accuracy %"], tablefmt="github", disable_numparse=True),
        "",
        "## The study",
        "",
        f"Reported: {STUDY['reported_accuracy']:.0f}% accuracy. Measured with the study's own model and",
        "embeddings (`reference/` in the data set; `tests/test_reference.py` checks these figures), on",
        "the images in which dlib's HOG detector found exactly one face:",
        "",
        tabulate(
            study,
            ["split", "faces evaluated", "acc. on faces %", "acc. over all images %"],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]
    return "\n".join(lines)


def headline(records, top=6):
    found = boards(records)
    if not found:
        return "_No runs recorded yet._"
    board = found[0]
    rows = [
        [
            _experiment(r),
            r.seed,
            _describe(r.spec.model),
            _describe(r.spec.features),
            _percent(r.metrics[board.split].accuracy_all),
            f"{r.metrics[board.split].n_evaluated}/{r.metrics[board.split].n_total}",
            _percent(r.metrics[board.split].accuracy),
        ]
        for r in board.runs[:top]
    ]
    headers = [
        "experiment",
        "seed",
        "model",
        "features",
        f"{board.split} acc. (all images)",
        "evaluated",
        "acc. on evaluated",
    ]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def update_readme(records, readme: Path):
    """Replace the README's leaderboard block with the current headline."""
    replace_block(readme, "leaderboard", headline(records))


def write(records, path: Path):
    """Write the board; it links every report found in the REPORT_FOLDERS beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reports = {
        folder: [p.relative_to(path.parent).as_posix() for p in sorted((path.parent / folder).glob("*.md"))]
        for folder in REPORT_FOLDERS
    }
    path.write_text(render(records, reports, yardsticks.load_all(path.parent)))
    return path
