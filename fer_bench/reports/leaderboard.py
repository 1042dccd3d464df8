"""The markdown leaderboard: every recorded run beside the Kaggle top 10 and the study's figures, drawn
from the boards of analysis/boards.py (which runs, grouped how, ranked how, named how).

A board's main table has a row per configuration, its seeds folded into mean +/- standard deviation,
shown with the code and hardware of the runs it builds on; its configurations of older code are ranked
apart, below it: `fer-bench run NAME` computes them again under a new run id. On FER2013's labels and
PrivateTest, the Kaggle 2013 top 10 and published figures (analysis/reference.py) are ranked among the
current code's configurations. Every run, each seed apart and with every column (parts and parameters,
accuracy on the covered images, macro-F1, PublicTest, the Kaggle place, ...), is in the board's details
at the end of the file, which the main table links. Each heading and column names the images and
classes its accuracy is computed on.

Where `fer-bench labels` has stored the yardsticks of the data set (fer_bench/analysis/yardsticks.py), every
board gains the clean accuracy (test images with no copy in Training) and the FER2013 board the
accuracy against the FER+ majority, with the rank it would give (in the details). The FER+ board then
also gives the training modes that grids measure with seeds, against their majority cell, beside
Barsoum et al.'s (analysis/ferplus_modes.py); grid cells otherwise stay in their grid's report.

The boards of runs of a model trained elsewhere have the same columns, and a table that asks whether
the network saw FER2013's test images: its accuracy on the test images with a copy in Training against
the rest, and on PublicTest against PrivateTest.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fer_bench.analysis import ranks, yardsticks
from fer_bench.analysis.boards import (
    OUTDATED,
    UNGROUPED,
    Board,
    BoardView,
    board_view,
    boards,
    configuration_names,
    run_name,
    shown_params,
)
from fer_bench.analysis.configurations import Configuration, configuration_id, family, training_seconds
from fer_bench.analysis.reference import (
    BARSOUM_BY_MODE,
    FERPLUS_PUBLISHED,
    KAGGLE_TEAMS,
    KAGGLE_TOP10,
    MODE_NAMES,
    STUDY,
    Reference,
    among,
    kaggle_place,
)
from fer_bench.reports.base import Report, reports_to_link
from fer_bench.reports.markdown import replace_block
from fer_bench.runs import layout
from fer_bench.runs.records import REPORT_SPLIT, Record

KAGGLE_MARKS = f"K1 to K{len(KAGGLE_TOP10)}"  # the rank column of the Kaggle places among a board's rows
ONE_SEED = "¹"
SELECTED = "(selection)"


@dataclass
class LeaderboardInfo:
    views: list  # BoardView, in the boards' order
    shown: dict  # part name -> the parameters shown beside it
    links: dict = field(default_factory=dict)  # title -> report paths relative to the board
    frontier: bool = False  # whether the frontier report and its figure lie beside the board


def ungrouped_note(configurations) -> list[str]:
    """The line under a table that explains UNGROUPED, where one of its rows has the mark."""
    if not any(c.ungrouped_splits for c in configurations):
        return []
    return [
        f"{UNGROUPED}: recorded before fer-bench's splits of Training kept copies of an image together (it, or a "
        "run it builds on): some images its fit held out for validation, or its folds, have a copy among the "
        "images it fitted on, which flatters its held-out figures and any temperature fitted on them; its test "
        "images were sealed as ever. `fer-bench run NAME` records it with grouped splits."
    ]


def _describe(part, shown):
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in part.params.items()
        if k in shown.get(part.name, ())
    )
    return part.name + (f" ({params})" if params else "")


def _duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _hardware(record: Record):
    """Where the run computed: its GPU, else its CPU core count and instruction-set level (recorded
    since the fast CNN); and the Keras backend if not the default."""
    isa = record.hardware.get("isa")
    where = record.hardware.get("accelerator") or f"{record.hardware.get('cores', '?')} cores" + (
        f" {isa}" if isa else ""
    )
    return where + (f", {record.backend}" if record.backend != "tensorflow" else "")


def _run_seconds(record: Record):
    """The run's time, plus the training that interrupted earlier attempts did for a resumed fit."""
    return record.timings["total"] + record.timings.get("fit_earlier_attempts", 0.0)


def _places(runs) -> list:
    """Where `runs` computed, each place once, accelerators first."""
    return list(dict.fromkeys(_hardware(r) for r in sorted(runs, key=lambda r: not r.hardware.get("accelerator"))))


def _time_on(runs, seconds, added="") -> str:
    """The mean over `runs` of `seconds` (of a run), whether a fit was resumed, `added`, and where they ran."""
    text = _duration(float(np.mean([seconds(r) for r in runs])))
    text += ", resumed" if any("fit_earlier_attempts" in r.timings for r in runs) else ""
    return f"{text}{added}, {' / '.join(_places(runs))}"


def _training_on(configuration: Configuration) -> str:
    """Its fits' mean time and where they ran, and the recorded runs it builds on (directly or through
    them), whose training is theirs, with where they ran where that is not where it did."""
    runs, built_on = configuration.runs, configuration.lineage
    if not built_on:
        return _time_on(runs, training_seconds)
    count = f" + {len(built_on)} run{'s' if len(built_on) > 1 else ''}"
    if set(_places(built_on)) <= set(_places(runs)):
        return _time_on(runs, training_seconds, count)
    return f"{_time_on(runs, training_seconds)}{count} on {' / '.join(_places(built_on))}"


def _selected_on(record: Record, split):
    """A mark on a split's score where the run chose its members or weights on that split: it is
    then no test of the run."""
    return f" {SELECTED}" if record.selection and record.selection.get("on") == split else ""


def _percent(value):
    return f"{100 * value:.2f}"


def _mean_std(configuration: Configuration, split):
    """Its accuracy over all images of `split`: the mean +/- standard deviation over seeds, or one seed's."""
    mean, std = configuration.mean_std(split)
    return _percent(mean) + (f" ± {_percent(std)}" if std is not None else "")


def _coverage(configuration: Configuration, split):
    return f"{100 * np.mean([r.metrics[split].coverage for r in configuration.runs]):.1f}%"


def _rank_change(before, after):
    return "=" if before == after else (f"↑{before - after}" if after < before else f"↓{after - before}")


def _published(reference: Reference) -> str:
    """A reference's accuracy as published (in %), with no fewer than two decimals."""
    score = reference.accuracy
    return f"{score:.2f}" if round(score, 2) == score else f"{score:g}"


def _reference_source(reference: Reference) -> str:
    return reference.source + (f": {reference.how}" if reference.how else "")


def _in_board_order(configurations, references, split):
    """(rank, configuration, its name) per configuration, ranked as given, with (its mark, reference, None)
    per reference among them (analysis/reference.among)."""
    names = dict(zip(map(id, configurations), configuration_names(configurations)))
    ranks = {id(c): rank for rank, c in enumerate(configurations, start=1)}
    return [
        (item.mark, item, None) if isinstance(item, Reference) else (ranks[id(item)], item, names[id(item)])
        for item in among(configurations, lambda c: 100 * c.mean_std(split)[0], references)
    ]


def _rank(view: BoardView, configuration: Configuration, rank) -> str:
    """The rank, with the interval of its ranks where it has one (ranks.py), marked where one seed
    borrows the table's seeds' spread."""
    key = configuration.first.run_id
    interval = next((table.intervals[key] for table in view.ranks.values() if key in table.intervals), None)
    if interval is None:
        return str(rank)
    return f"{rank} ({interval.low}–{interval.high})" + (ONE_SEED if interval.borrowed else "")


def _ranks_note(table: ranks.Ranks | None) -> list:
    """What the intervals beside a table's ranks are, as lines below it; none without intervals."""
    if table is None:
        return []
    note = (
        f"`#`: the rank and, in brackets, its {100 * ranks.LEVEL:.0f}% interval: the ranks it takes in "
        f"{ranks.N_REPLICATES} replicates that resample the test images (the same ones for every row) and draw "
        "each row's seeds' spread, the lowest and highest 2.5% left out (docs/ranks.md)"
    )
    if table.pooled_std is not None:
        note += (
            f"; {ONE_SEED} one seed: its spread is the pooled seed standard deviation of the rows with several "
            f"({_percent(table.pooled_std)} points)"
        )
    else:
        note += "; no row has several seeds: the intervals count the test images alone"
    if table.missing:
        note += f"; {table.missing} without per-image predictions: no interval"
    return [note + ".", ""]


def summary_table(view: BoardView, configurations, references=()) -> str:
    """A main table: a row per configuration, its seeds folded (the yardsticks' columns: their mean), and a
    row per reference among them."""
    board, split = view.board, view.board.split
    headers = ["#", "experiment", f"{split} acc. ({board.scored_on})", "seeds"]
    if view.clean is not None:
        headers.append(f"clean acc. ({next(iter(view.clean.values())).n} images)")
    if view.ferplus is not None:
        n_ferplus = next(iter(view.ferplus.values()))[0].n
        headers.append(f"FER+ acc. ({n_ferplus} images, {len(board.data.classes)} classes)")
    headers += ["coverage", "run time (on)" if board.elsewhere else "training (on)", "run id"]
    rows = []
    for rank, c, name in _in_board_order(configurations, references, split):
        if name is None:
            rows.append([rank, f"_{c.name}_", _published(c)] + [""] * (len(headers) - 5) + [_reference_source(c), ""])
            continue
        row = [_rank(view, c, rank), name, _mean_std(c, split), len(c.runs)]
        if view.clean is not None:
            row.append(_percent(np.mean([view.clean[r.run_id].accuracy for r in c.runs])))
        if view.ferplus is not None:
            row.append(_percent(np.mean([view.ferplus[r.run_id][0].accuracy for r in c.runs])))
        time = _time_on(c.runs, _run_seconds) if board.elsewhere else _training_on(c)
        rows.append(row + [_coverage(c, split), time, f"`{configuration_id(c.first)}`"])
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _faces(record: Record) -> str:
    how = record.evaluation
    assert how is not None  # shown for evaluations only
    return how["faces"] + (f" ({how['detector']})" if how["detector"] else "")


def evaluation_summary(view: BoardView, configurations) -> str:
    """An evaluation board's main table: a row per saved model's configuration and way of cutting the
    faces, its seeds folded."""
    split = view.board.split
    headers = ["#", "model run", "faces", f"{split} acc. (all images)", "seeds", "coverage", "time (on)"]
    names = configuration_names(configurations)
    rows = [
        [
            rank,
            f"{name} (`{configuration_id(c.first)}`)",
            _faces(c.first),
            _mean_std(c, split),
            len(c.runs),
            _coverage(c, split),
            _time_on(c.runs, _run_seconds),
        ]
        for rank, (c, name) in enumerate(zip(configurations, names), start=1)
    ]
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def board_table(view: BoardView, shown):
    """The board's details: every run with every column; with the data set's yardsticks, its clean
    accuracy (and for FER2013-labelled runs the FER+ accuracy and the rank it gives)."""
    board, clean, ferplus = view.board, view.clean, view.ferplus
    other = "PublicTest" if board.split == REPORT_SPLIT else None
    kaggle = board.split == REPORT_SPLIT and not board.ferplus
    headers = ["#", "experiment", "seed", "features", "resampler", "model"]
    headers += ["trained on"] if board.ferplus else []
    headers += [f"{board.split} acc. ({board.scored_on})"]
    if clean is not None:
        headers += [f"clean acc. ({next(iter(clean.values())).n} images without a copy in Training)"]
    headers += ["evaluated (coverage)", "acc. on evaluated", "macro-F1"]
    if ferplus is not None:
        headers += [f"acc. vs FER+ majority ({next(iter(ferplus.values()))[0].n} images)", "FER+ rank (change)"]
    headers += [f"{other} acc. (all)"] if other else []
    headers += [f"Kaggle place (of {KAGGLE_TEAMS})"] if kaggle else []
    headers += ["run time (on)", "run id"]
    rows = []
    for rank, r in enumerate(board.runs, start=1):
        m, spec = r.metrics[board.split], r.spec
        row = [
            rank,
            run_name(r, board),
            r.seed,
            _describe(spec.features, shown),
            spec.resampler.name,
            _describe(spec.model, shown),
        ]
        row += [r.data.labels.removeprefix("ferplus-")] if board.ferplus else []
        row += [_percent(m.accuracy_all)]
        row += [_percent(clean[r.run_id].accuracy)] if clean is not None else []
        labelled = m.n_total - m.n_unlabelled
        row += [f"{m.n_evaluated}/{labelled} ({100 * m.coverage:.1f}%)", _percent(m.accuracy), _percent(m.macro_f1)]
        if ferplus is not None:
            score, ferplus_rank = ferplus[r.run_id]
            row += [_percent(score.accuracy), f"{ferplus_rank} ({_rank_change(rank, ferplus_rank)})"]
        if other:
            row.append(_percent(r.metrics[other].accuracy_all) + _selected_on(r, other) if other in r.metrics else "")
        if kaggle:
            row.append(kaggle_place(100 * m.accuracy_all))
        row += [_time_on([r], _run_seconds), f"`{r.run_id}`"]
        rows.append(row)
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def evaluation_table(board: Board, shown):
    """An evaluation board's details: each saved model, how its faces were cut, its scores and recall."""
    headers = [
        "#",
        "model run",
        "seed",
        "features",
        "model",
        "faces",
        f"{board.split} acc. (all images)",
        "evaluated (coverage)",
        "acc. on evaluated",
        "macro-F1",
        "recall per class",
        "refused files",
        "time (on)",
        "run id",
    ]
    rows = []
    for rank, r in enumerate(board.runs, start=1):
        m, how = r.metrics[board.split], r.evaluation
        recall = m.recall_text(name_width=3, digits=0)
        rows.append(
            [
                rank,
                f"{run_name(r, board)} (`{how['of_run']}`)",
                r.seed,
                _describe(r.spec.features, shown),
                _describe(r.spec.model, shown),
                _faces(r),
                _percent(m.accuracy_all),
                f"{m.n_evaluated}/{m.n_total} ({100 * m.coverage:.1f}%)",
                _percent(m.accuracy),
                _percent(m.macro_f1),
                recall,
                how["n_refused"],
                _time_on([r], _run_seconds),
                f"`{r.run_id}`",
            ]
        )
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def seen_table(view: BoardView):
    """Per run trained elsewhere: what it says it was trained on, and the gaps that show test images
    it saw: the copies of Training images among the report split's against the rest, and PublicTest
    against PrivateTest."""
    board, split = view.board, view.board.split
    other = "PublicTest" if split == REPORT_SPLIT else None
    headers = ["experiment", "trained on (as its maker says)"]
    if view.copied is not None:
        assert view.clean is not None  # set with `copied` (BoardView)
        n_copied, n_rest = next(iter(view.copied.values())).n, next(iter(view.clean.values())).n
        headers += [f"{split}: copies of Training images ({n_copied})", f"the rest ({n_rest})", "gap"]
    headers += [f"{other} acc. (all)", f"{split} acc. (all)", "gap"] if other else []
    headers += ["run id"]
    rows = []
    for r in board.runs:
        row = [run_name(r, board), r.spec.model.params.get("trained_on", "")]
        if view.copied is not None:
            assert view.clean is not None  # set with `copied` (BoardView)
            copied, rest = view.copied[r.run_id].accuracy, view.clean[r.run_id].accuracy
            row += [_percent(copied), _percent(rest), f"{100 * (copied - rest):+.2f}"]
        if other:
            if other in r.metrics:
                public, private = r.metrics[other].accuracy_all, r.metrics[split].accuracy_all
                row += [_percent(public), _percent(private), f"{100 * (public - private):+.2f}"]
            else:
                row += ["", _percent(r.metrics[split].accuracy_all), ""]
        rows.append(row + [f"`{r.run_id}`"])
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _trained_where(configurations) -> str:
    """Whether any of them trained on an accelerator, or built on a run that did, and which."""
    accelerated = [c for c in configurations if c.accelerators]
    if not accelerated:
        return "All of them, and the runs they build on, trained on CPU cores."
    names = ", ".join(dict.fromkeys(a for c in accelerated for a in c.accelerators))
    return (
        f"{len(accelerated)} of them trained on a GPU ({names}), or built on runs that did: their training column "
        "names it."
    )


def _main_caption(view: BoardView) -> str:
    """The sentence over a board's main table: what it ranks, on which images, and where they trained."""
    board = view.board
    among_them = (
        f", among the Kaggle 2013 top {len(KAGGLE_TOP10)} ({KAGGLE_MARKS}) and published figures (ref)"
        if view.references
        else ""
    )
    ranked = f"by mean {board.split} accuracy ({board.scored_on}){among_them}."
    if board.elsewhere:
        return f"Networks trained elsewhere, run by the current code, {ranked}"
    return f"Configurations of the current code (the runs they build on too), {ranked} {_trained_where(view.current)}"


def _ranked(view: BoardView):
    """The board's main table, the link to its details, and its configurations of older code apart."""
    if view.board.evaluated:
        lines = [evaluation_summary(view, view.current)]
    elif view.current:
        lines = [
            _main_caption(view),
            "",
            summary_table(view, view.current, view.references),
            *["", *_ranks_note(view.ranks.get("current"))][:2],
            *ungrouped_note(view.current),
        ]
    else:
        lines = ["_No run of the current code yet._"]
    lines += ["", f"Every run, each seed apart, with every column: [details](#{view.board.anchor}).", ""]
    if view.older:  # never on an evaluation board
        lines += [
            f"### Older code {OUTDATED}",
            "",
            "These configurations' parts, or those of the recorded runs they build on (an ensemble's members, a",
            "student's teacher), have changed since they were recorded (or they were recorded before run ids named",
            "part versions and the Keras backend): `fer-bench run NAME` computes them with the current code, once",
            "the runs they build on are computed again."
            + ("" if view.board.elsewhere else f" {_trained_where(view.older)}"),
            "",
            summary_table(view, view.older),
            "",
            *_ranks_note(view.ranks.get("older")),
            *[line for line in ungrouped_note(view.older) for line in (line, "")],
        ]
    return lines


def _board_section(view: BoardView):
    board = view.board
    m = board.runs[0].metrics[board.split]
    lines = [f"## {board.title}", ""]
    if board.evaluated:
        lines += [
            "Saved models run on a collection they were not trained on (`fer-bench evaluate`), scored over the",
            "classes it shares with each model's label space. `faces`: crop (the whole image is the face) or",
            "detect (the largest face the detector finds; an image without one counts as wrong in the first",
            "column). Refused files (unreadable, or too small to show a face) are left out of the scores. A model",
            f"of older code ({OUTDATED}) ranks with the rest: its saved weights are what was evaluated.",
            "",
        ]
        excluded = {label: why for r in board.runs for label, why in r.evaluation["excluded"].items()}
        lines += _ranked(view)
        if excluded:
            lines += [
                "Excluded: " + "; ".join(f"`{label}` ({why})" for label, why in sorted(excluded.items())) + ".",
                "",
            ]
        return lines
    if board.ferplus:
        published = [[name, f"{score:.2f}" if score else "", trained] for name, score, trained in FERPLUS_PUBLISHED]
        return lines + [
            f"Trained on FER+ Training targets (the mode: `trained on` in the details), tested on the FER+ majority "
            f"label of the {m.n_total - m.n_unlabelled} {board.split} images that have one ({m.n_unlabelled} of "
            f"{m.n_total} have none: no clear majority, unknown, not a face, or no image in FER+); 8 classes, "
            "contempt included. Validation comes from Training only. No Kaggle column: the 2013 teams were scored "
            "on FER2013's labels.",
            "",
            *_ranked(view),
            *_modes_table(view),
            f"Published on FER+ ({board.split} = FER+'s test set, majority label, accuracy %):",
            "",
            tabulate(published, ["model", "accuracy %", "trained on"], tablefmt="github", disable_numparse=True),
            "",
        ]
    if board.elsewhere:
        lines += [
            "Networks trained outside fer-bench (model `saved-network`: a saved file, named in the run id by its",
            "checksum), run on this data set's test images without training here. What they were trained on is",
            "their makers' word: a network that saw Training scores higher on the test images with a copy in",
            "Training than on the rest, as every run here does; one that saw PublicTest scores higher there than",
            "on PrivateTest.",
            "",
        ]
    if not view.has_yardsticks:
        lines += [
            f"_`fer-bench labels` adds the clean{', FER+ and copies' if board.elsewhere else ' and FER+'} columns._",
            "",
        ]
    lines += _ranked(view)
    return lines + ([seen_table(view), ""] if board.elsewhere else [])


def _modes_table(view: BoardView):
    """Barsoum et al.'s training modes as grids measure them with seeds, beside their published figures."""
    if not view.modes:
        return []
    split = view.board.split
    rows = [
        [
            f"[`{row.grid}`](grids/{row.grid}.md)",
            MODE_NAMES.get(row.mode, row.mode),
            len(row.configuration.runs),
            _mean_std(row.configuration, split),
            "reference"
            if row.delta is None
            else f"{100 * row.delta:+.2f} ({100 * row.delta_ci[0]:+.2f} to {100 * row.delta_ci[1]:+.2f})",
            f"{BARSOUM_BY_MODE[row.mode]:.2f}" if row.mode in BARSOUM_BY_MODE else "",
        ]
        for row in view.modes
    ]
    return [
        "The FER+ training modes measured here with seeds: grid cells that change only the mode, against the",
        "grid's `majority` cell (the difference of the means, with a paired bootstrap 95% interval over the test",
        "images), beside Barsoum et al.'s VGG13 in the same mode:",
        "",
        tabulate(
            rows,
            ["grid", "mode", "seeds", f"{split} acc. %", "points vs majority (95% CI)", "Barsoum et al. %"],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]


def _details_section(view: BoardView, shown):
    board = view.board
    table = evaluation_table(board, shown) if board.evaluated else board_table(view, shown)
    return [f'<a id="{board.anchor}"></a>', "", f"### {board.title}", "", table, ""]


def linked_reports(root: Path) -> dict:
    """{title: the paths, relative to `root`, of the reports in that folder} for every report the board
    links (base.reports_to_link)."""
    folders: dict[str | None, str] = {}
    for report in reports_to_link():
        folders.setdefault(report.title, report.folder)
    return {
        title: [p.relative_to(root).as_posix() for p in sorted((root / folder).glob("*.md"))]
        for title, folder in folders.items()
    }


FRONTIER_PICTURE = "accuracy against training CPU-minutes, every configuration on the boards"


class LeaderboardReport(Report[LeaderboardInfo]):
    folder = ""

    def compute(self, records, measured=(), links=None, listed=None, frontier=False) -> LeaderboardInfo:
        """`measured`: the yardsticks of the data sets (yardsticks.load_all); `links`: linked_reports;
        `listed`: listed_params; `frontier`: whether the frontier report lies beside the board."""
        found = boards(records)
        views = [board_view(board, yardsticks.for_record(measured, board.runs[0]), records) for board in found]
        return LeaderboardInfo(views, shown_params(found, listed or {}), links or {}, frontier)

    def file_name(self, info) -> str:
        return layout.LEADERBOARD

    def markdown(self, info: LeaderboardInfo, command: str) -> str:
        """The board; it names its own command, `fer-bench leaderboard`, whichever wrote it."""
        lines = [
            "# fer-bench leaderboard",
            "",
            "Generated by `fer-bench leaderboard` (and after every `fer-bench run`) from the run records in",
            "`runs.jsonl`, each of which holds the command that made it. Do not edit by hand.",
            "",
        ]
        if info.frontier:
            lines += [f"[![{FRONTIER_PICTURE}]({layout.FRONTIER_FIGURE})]({layout.FRONTIER})", ""]
        lines += [
            "A row is a configuration (an experiment's parts, parameters and Keras backend), its `seeds` folded:",
            "accuracy in %, the mean ± standard deviation over its seeds (one seed: its accuracy), over **all** the",
            "test images: an image whose features could not be computed (no face found under the `detector`",
            "protocol) counts as wrong, and `coverage` is the share of images it scored. `clean acc.`: on the test",
            "images without a copy in Training; `FER+ acc.`: against the FER+ majority label. `training`: its fit's",
            "wall time (mean over seeds) and where it ran; `+ N runs`: it builds on N recorded runs (an ensemble's",
            "members, a student's teacher, and the runs they build on), whose training is theirs, and where they ran",
            "if elsewhere. `run id`: the configuration's (its seed 0's). Configurations of code changed since they",
            f"were recorded, or built on runs that were ({OUTDATED}), rank apart, below each board. On FER2013's",
            f"PrivateTest, the Kaggle 2013 private board's top {len(KAGGLE_TOP10)} ({KAGGLE_MARKS}, of {KAGGLE_TEAMS} "
            "teams) and published figures (ref) rank among the current code's configurations, on all 3,589 images.",
            "Each board's details, at the end, hold every run and every column, with the Kaggle place of each.",
            "",
        ]
        if not info.views:
            lines += ["_No runs recorded yet._", ""]
        for view in info.views:
            lines += _board_section(view)
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
        reports = [
            f"{title}: {', '.join(f'[{Path(r).stem}]({r})' for r in paths)}."
            for title, paths in info.links.items()
            if paths
        ]
        if reports:
            lines += ["## More reports", ""]
            for report in reports:
                lines += [report, ""]
        if info.views:
            lines += [
                "## Details",
                "",
                "Every run of each board, each seed apart (older code marked †), ranked by accuracy over all images.",
                "Beside each part, the parameters that tell runs apart. `evaluated (coverage)`: the images scored of",
                "those labelled; `acc. on evaluated`: on those alone, the figure the study reported. `FER+ rank",
                "(change)`: the rank the FER+ majority gives among these runs, and its change.",
                f"{SELECTED}: the run chose its members or weights on that split (an ensemble, as Kaggle's public",
                "board allowed), so it is no test of the run there; PrivateTest stays one.",
                "",
            ]
        for view in info.views:
            lines += _details_section(view, info.shown)
        return "\n".join(lines)


def headline(info: LeaderboardInfo, results: str, top=10):
    """The README's block: the top of the first board's main table, down to its `top`-th configuration of
    the current code, the references among them included, and links to the whole board and the frontier;
    `results`: the results folder, relative to the README."""
    if not info.views:
        return "_No runs recorded yet._"
    view = info.views[0]
    board, best = view.board, view.current[:top]
    ordered = _in_board_order(view.current, view.references, board.split)
    configuration_rows = [i for i, (_, _, name) in enumerate(ordered) if name is not None]
    shown = ordered[: configuration_rows[len(best) - 1] + 1] if best else []
    rows = [
        [rank, f"_{c.name}_", "reference", _published(c), "", _reference_source(c)]
        if name is None
        else [_rank(view, c, rank), name, family(c.first), _mean_std(c, board.split), len(c.runs), _training_on(c)]
        for rank, c, name in shown
    ]
    headers = ["#", "experiment", "family", f"{board.split} acc. ({board.scored_on})", "seeds", "training (on)"]
    references = ", with the published figures ranked among them" if view.references else ""
    marks = (
        f" {KAGGLE_MARKS}: the Kaggle 2013 private board's top {len(KAGGLE_TOP10)}; ref: a paper."
        if view.references
        else ""
    )
    lines = [
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
        "",
        f"The {len(best)} best configurations of the current code (the runs they build on too) on {board.title}"
        f"{references}. {_trained_where(best)}",
        "Accuracy in %, the mean ± standard deviation over seeds; training: the fit's wall time and where it ran,",
        f"with the recorded runs it builds on.{marks}",
        *_ranks_note(view.ranks.get("current"))[:1],
        *ungrouped_note(best),
        f"Every board, older code and every column: [{results}/{layout.LEADERBOARD}]({results}/{layout.LEADERBOARD}).",
    ]
    if info.frontier:
        lines += ["", f"[![{FRONTIER_PICTURE}]({results}/{layout.FRONTIER_FIGURE})]({results}/{layout.FRONTIER})"]
    return "\n".join(lines)


def update_readme(info: LeaderboardInfo, readme: Path, results_root: Path):
    """Replace the README's leaderboard block with the current headline, its links relative to the README."""
    results = os.path.relpath(Path(results_root).resolve(), Path(readme).resolve().parent)
    replace_block(readme, "leaderboard", headline(info, Path(results).as_posix()))
