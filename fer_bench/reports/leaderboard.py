"""The markdown leaderboard: every recorded run beside the Kaggle top 10 and the study's figures.

Runs are grouped by what they were tested against (data.scored_against: the data set's
fingerprint; for FER+ labels, the images and the FER+ majority): a number is only ranked against
numbers measured on the same images and labels. Within a group, runs rank by accuracy over all
images of the report split (records.report_split). A run whose parts' code has changed since it
was recorded is marked: `fer-bench run NAME` computes it again under a new run id.

Where `fer-bench labels` has stored the yardsticks of the data set (fer_bench/analysis/yardsticks.py), every
board gains the clean accuracy (test images with no copy in Training) and the FER2013 board the
accuracy against the FER+ majority, with the rank it would give.

Runs of a model trained elsewhere (base.Pretrained: a saved network of another project) get boards
of their own, "trained elsewhere", with the same columns, and a table that asks whether the network
saw FER2013's test images: its accuracy on the test images with a copy in Training against the rest,
and on PublicTest against PrivateTest.

Beside each part's name the board shows the parameters that the report file
`experiments/reports/leaderboard.toml` lists for it; a part it does not list shows the parameters
whose values differ among its runs on the boards.
"""

from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from fer_bench.analysis import yardsticks
from fer_bench.analysis.configurations import fold
from fer_bench.analysis.reference import FERPLUS_PUBLISHED, KAGGLE_TEAMS, KAGGLE_TOP10, STUDY, kaggle_place
from fer_bench.parts import registry
from fer_bench.parts.base import Pretrained
from fer_bench.reports.base import Report
from fer_bench.reports.markdown import replace_block
from fer_bench.runs import layout
from fer_bench.runs.records import REPORT_SPLIT, Record, RunData, report_split
from fer_bench.specs import files

OUTDATED = "†"
SELECTED = "(selection)"


@dataclass
class Board:
    data: RunData
    split: str
    runs: list
    elsewhere: bool = False  # runs of models trained elsewhere (trained_elsewhere)

    @property
    def ferplus(self):
        """Whether the board's runs learnt FER+ labels (and are tested on its majority)."""
        return self.data.label_source == "ferplus"

    @property
    def evaluated(self):
        """Whether the board holds saved models evaluated on a collection (fer_bench/runs/evaluation.py)."""
        return self.runs[0].evaluation is not None


def trained_elsewhere(record: Record) -> bool:
    """Whether the run's model was trained elsewhere, not fitted by the run (base.Pretrained)."""
    part = registry.find("model", record.spec.model.name)
    return part is not None and issubclass(part.factory, Pretrained)


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
        elsewhere = record.evaluation is None and trained_elsewhere(record)
        groups.setdefault((record.scored_against, elsewhere), []).append(record)
    result = []
    order = lambda item: (item[1][0].evaluation is not None, item[0][1], item[1][0].data.label_source == "ferplus",  # noqa: E731
                          -len(item[1]))  # fmt: skip
    for (_, elsewhere), runs in sorted(groups.items(), key=order):
        split = report_split(s for r in runs for s in r.metrics)
        ranked = sorted((r for r in runs if split in r.metrics), key=lambda r: -r.metrics[split].accuracy_all)
        result.append(Board(runs[0].data, split, ranked, elsewhere))
    return result


@dataclass
class BoardView:
    """A board and what its table adds from the data set's yardsticks, where `fer-bench labels` stored them."""

    board: Board
    has_yardsticks: bool
    clean: dict | None = None  # run id -> yardsticks.Score on the test images without a copy in Training
    ferplus: dict | None = None  # run id -> (Score against the FER+ majority, the rank it gives); FER2013 runs
    copied: dict | None = None  # run id -> Score on the test images with a copy in Training; trained elsewhere


@dataclass
class LeaderboardInfo:
    views: list  # BoardView, in the boards' order
    shown: dict  # part name -> the parameters shown beside it
    links: dict = field(default_factory=dict)  # title -> report paths relative to the board


def shown_params(found, listed) -> dict:
    """Per part on the boards, the parameters shown beside its name: those `listed` names (the report
    file's), else those whose values differ among its runs."""
    values = {}
    for board in found:
        for r in board.runs:
            for kind in ("features", "model"):
                part = r.spec.part(kind)
                for k, v in part.params.items():
                    values.setdefault(part.name, {}).setdefault(k, set()).add(repr(v))
    return {name: set(listed[name]) if name in listed else {k for k, seen in params.items() if len(seen) > 1}
            for name, params in values.items()}  # fmt: skip


def _view(board: Board, yard: yardsticks.Yardsticks | None) -> BoardView:
    measured = yard.splits.get(board.split) if yard else None
    view = BoardView(board, yard is not None)
    if measured is not None:
        view.clean = {r.run_id: yardsticks.clean_score(r, measured, board.split) for r in board.runs}
        if board.elsewhere:
            view.copied = {r.run_id: yardsticks.copied_score(r, measured, board.split) for r in board.runs}
        if not board.ferplus:
            view.ferplus = yardsticks.ferplus_ranking(board.runs, measured, board.split)
    return view


def _experiment(record: Record):
    return record.experiment + (f" {OUTDATED}" if record.outdated_parts() else "")


def _describe(part, shown):
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in part.params.items()
        if k in shown.get(part.name, ())
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
    """Where the run computed: its GPU, else its CPU core count and instruction-set level (recorded
    since the fast CNN); and the Keras backend if not the default."""
    isa = record.hardware.get("isa")
    where = record.hardware.get("accelerator") or f"{record.hardware.get('cores', '?')} CPU cores" + (
        f" {isa}" if isa else ""
    )
    return where + (f", {record.backend}" if record.backend != "tensorflow" else "")


def _selected_on(record: Record, split):
    """A mark on a split's score where the run chose its members or weights on that split: it is
    then no test of the run."""
    return f" {SELECTED}" if (record.selection or {}).get("on") == split else ""


def _percent(value):
    return f"{100 * value:.2f}"


def _rank_change(before, after):
    return "=" if before == after else (f"↑{before - after}" if after < before else f"↓{after - before}")


def board_table(view: BoardView, shown):
    """The board's table; with the data set's yardsticks, its clean accuracy (and for FER2013-labelled
    runs the FER+ accuracy and the rank it gives) beside the headline."""
    board, clean, ferplus = view.board, view.clean, view.ferplus
    other = "PublicTest" if board.split == REPORT_SPLIT else None
    kaggle = board.split == REPORT_SPLIT and not board.ferplus
    headers = ["#", "experiment", "seed", "features", "resampler", "model"]
    headers += ["trained on"] if board.ferplus else []
    headers += [f"{board.split} acc. (all images)"]
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
        row = [rank, _experiment(r), r.seed, _describe(spec.features, shown), spec.resampler.name,
               _describe(spec.model, shown)]  # fmt: skip
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
        row += [f"{_run_time(r.timings)} ({_hardware(r)})", f"`{r.run_id}`"]
        rows.append(row)
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def evaluation_table(board: Board, shown):
    """An evaluation board's table: each saved model, how its faces were cut, its scores and recall."""
    headers = ["#", "model run", "seed", "features", "model", "faces", f"{board.split} acc. (all images)",
               "evaluated (coverage)", "acc. on evaluated", "macro-F1", "recall per class", "refused files",
               "time (on)", "run id"]  # fmt: skip
    rows = []
    for rank, r in enumerate(board.runs, start=1):
        m, how = r.metrics[board.split], r.evaluation
        faces = how["faces"] + (f" ({how['detector']})" if how["detector"] else "")
        recall = m.recall_text(name_width=3, digits=0)
        rows.append([rank, f"{_experiment(r).split('@')[0]} (`{how['of_run']}`)", r.seed,
                     _describe(r.spec.features, shown), _describe(r.spec.model, shown), faces,
                     _percent(m.accuracy_all),
                     f"{m.n_evaluated}/{m.n_total} ({100 * m.coverage:.1f}%)", _percent(m.accuracy),
                     _percent(m.macro_f1), recall, how["n_refused"], f"{_run_time(r.timings)} ({_hardware(r)})",
                     f"`{r.run_id}`"])  # fmt: skip
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def _evaluation_section(board: Board, shown):
    d = board.data
    excluded = {label: why for r in board.runs for label, why in r.evaluation["excluded"].items()}
    lines = [
        f"## Evaluated on {d.layout} `{d.name}` ({d.n_images} images, fingerprint `{d.fingerprint}`)",
        "",
        "Saved models run on a collection they were not trained on (`fer-bench evaluate`), scored over the",
        "classes it shares with each model's label space. `faces`: crop (the whole image is the face) or",
        "detect (the largest face the detector finds; an image without one counts as wrong in the first",
        "column). Refused files (unreadable, or too small to show a face) are left out of the scores.",
        "",
        evaluation_table(board, shown),
        "",
    ]
    if excluded:
        lines += ["Excluded: " + "; ".join(f"`{label}` ({why})" for label, why in sorted(excluded.items())) + ".", ""]
    return lines


def seen_table(view: BoardView):
    """Per run trained elsewhere: what it says it was trained on, and the gaps that show test images
    it saw: the copies of Training images among the report split's against the rest, and PublicTest
    against PrivateTest."""
    board, split = view.board, view.board.split
    other = "PublicTest" if split == REPORT_SPLIT else None
    headers = ["experiment", "trained on (as its maker says)"]
    if view.copied is not None:
        n_copied, n_rest = next(iter(view.copied.values())).n, next(iter(view.clean.values())).n
        headers += [f"{split}: copies of Training images ({n_copied})", f"the rest ({n_rest})", "gap"]
    headers += [f"{other} acc. (all)", f"{split} acc. (all)", "gap"] if other else []
    headers += ["run id"]
    rows = []
    for r in board.runs:
        row = [_experiment(r), r.spec.model.params.get("trained_on", "")]
        if view.copied is not None:
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


def _elsewhere_section(view: BoardView, shown):
    d = view.board.data
    lines = [
        f"## Trained elsewhere: {d.layout} `{d.name}` ({d.n_images} images, fingerprint `{d.fingerprint}`)",
        "",
        "Networks trained outside fer-bench (model `saved-network`: a saved file, named in the run id by its",
        "checksum), run on this data set's test images without training here. What they were trained on is",
        "their makers' word: a network that saw Training scores higher on the test images with a copy in",
        "Training than on the rest, as every run here does; one that saw PublicTest scores higher there than",
        "on PrivateTest.",
        "",
    ]
    if not view.has_yardsticks:
        lines += ["_`fer-bench labels` adds the clean, FER+ and copies columns._", ""]
    return lines + [board_table(view, shown), "", seen_table(view), ""]


def _board_section(view: BoardView, shown):
    board = view.board
    d, m = board.data, board.runs[0].metrics[board.split]
    if board.evaluated:
        return _evaluation_section(board, shown)
    if board.elsewhere:
        return _elsewhere_section(view, shown)
    if not board.ferplus:
        lines = [f"## {d.layout} `{d.name}` ({d.n_images} images, fingerprint `{d.fingerprint}`)", ""]
        if not view.has_yardsticks:
            lines += ["_`fer-bench labels` adds the clean and FER+ columns._", ""]
        return lines + [board_table(view, shown), "", *_seeds_section(board)]
    published = [[name, f"{score:.2f}" if score else "", trained] for name, score, trained in FERPLUS_PUBLISHED]
    return [
        f"## FER+ labels: {d.layout} `{d.name}` (images `{d.images}`)",
        "",
        f"Trained on FER+ Training targets (the mode in `trained on`), tested on the FER+ majority label of "
        f"the {m.n_total - m.n_unlabelled} {board.split} images that have one ({m.n_unlabelled} of {m.n_total} "
        "have none: no clear majority, unknown, not a face, or no image in FER+); 8 classes, contempt "
        "included. Validation comes from Training only. No Kaggle column: the 2013 teams were scored on "
        "FER2013's labels.",
        "",
        board_table(view, shown),
        "",
        *_seeds_section(board),
        f"Published on FER+ ({board.split} = FER+'s test set, majority label, accuracy %):",
        "",
        tabulate(published, ["model", "accuracy %", "trained on"], tablefmt="github", disable_numparse=True),
        "",
    ]


def _seeds_section(board: Board):
    """The configurations the board holds several seeds of, each folded into mean +/- std."""
    several = [c for c in fold(board.runs) if len(c.runs) > 1]
    if not several:
        return []
    rows = []
    for c in several:
        mean, std = c.mean_std(board.split)
        values = 100 * c.accuracies(board.split)
        rows.append([_experiment(c.first), c.first.backend, ", ".join(map(str, c.seeds)),
                     f"{100 * mean:.2f} +/- {100 * std:.2f}", f"{values.min():.2f} - {values.max():.2f}"])  # fmt: skip
    headers = ["experiment", "backend", "seeds", f"{board.split} acc. (all images), mean +/- std", "range"]
    return ["Configurations with several seeds (standard deviation over seeds):", "",
            tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]  # fmt: skip


def linked_reports(root: Path) -> dict:
    """{title: the paths, relative to `root`, of the reports in that folder} for every registered report
    the board links (fer_bench/reports/__init__.py)."""
    from fer_bench.reports import REPORTS

    folders = {}
    for report in REPORTS:
        if report.title:
            folders.setdefault(report.title, report.folder)
    return {
        title: [p.relative_to(root).as_posix() for p in sorted((root / folder).glob("*.md"))]
        for title, folder in folders.items()
    }


def listed_params() -> dict:
    """The report file's {part name: parameters shown beside it} (experiments/reports/leaderboard.toml)."""
    path = files.find_file("leaderboard", "report")
    return files.read_toml(path).get("shown_params", {})


class LeaderboardReport(Report[LeaderboardInfo]):
    folder = ""

    def compute(self, records, measured=(), links=None, listed=None) -> LeaderboardInfo:
        """`measured`: the yardsticks of the data sets (yardsticks.load_all); `links`: linked_reports;
        `listed`: listed_params."""
        found = boards(records)
        views = [_view(board, yardsticks.for_record(measured, board.runs[0])) for board in found]
        return LeaderboardInfo(views, shown_params(found, listed or {}), links or {})

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
            "Runs are ranked by accuracy on **all** test images: an image whose features could not be",
            "computed (no face found under the `detector` protocol) counts as wrong. `acc. on evaluated` is",
            "the accuracy on the covered images only, the figure the study reported. Accuracies in %.",
            f"{OUTDATED}: the run's parts have changed since it was recorded (or it was recorded before run ids",
            "named part versions and the Keras backend); `fer-bench run NAME` computes it with the current code.",
            f"{SELECTED}: the run chose its members or weights on that split (an ensemble, as Kaggle's public",
            "board allowed), so it is no test of the run there; PrivateTest stays one.",
            "",
        ]
        for title, paths in info.links.items():
            if paths:
                links = ", ".join(f"[{Path(r).stem}]({r})" for r in paths)
                lines += [f"{title}: {links}.", ""]
        if not info.views:
            lines += ["_No runs recorded yet._", ""]
        for view in info.views:
            lines += _board_section(view, info.shown)
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


def headline(info: LeaderboardInfo, top=6):
    """The README's block: the first board's top runs."""
    if not info.views:
        return "_No runs recorded yet._"
    board, shown = info.views[0].board, info.shown
    rows = [
        [
            _experiment(r),
            r.seed,
            _describe(r.spec.model, shown),
            _describe(r.spec.features, shown),
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


def update_readme(info: LeaderboardInfo, readme: Path):
    """Replace the README's leaderboard block with the current headline."""
    replace_block(readme, "leaderboard", headline(info))
