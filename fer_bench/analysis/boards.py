"""The board model: recorded runs grouped into boards, and a board's runs into configurations, with
their names; reports draw it (reports/leaderboard.py, frontier.py, labels.py).

Runs are grouped by what they were tested against (data.scored_against: the data set's
fingerprint; for FER+ labels, the images and the FER+ majority): a number is only ranked against
numbers measured on the same images and labels. A board is named by its data set's layout, name and
fingerprint, never by where the data set lies on a machine. Runs of a model trained elsewhere
(base.Pretrained: a saved network of another project) get boards of their own.

A board's configurations (analysis/configurations.py: a spec but for its seed) fold its seeds, ranked
by their mean accuracy over all images of the report split (records.report_split). Provenance
propagates (analysis/provenance.py): a configuration built on recorded runs (an ensemble's members, a
student's teacher, and theirs) carries their code and hardware. Configurations whose parts' code, or
that of a run they build on, has changed since they were recorded are older code (OUTDATED), ranked
apart. A board's view (BoardView) adds what the data set's yardsticks give, where `fer-bench labels`
stored them (analysis/yardsticks.py): the clean and FER+ accuracies, rank intervals, and on the FER+
board the training modes that grids measure (analysis/ferplus_modes.py).

Beside each part's name, the parameters that the report file `experiments/reports/leaderboard.toml`
lists for it; a part it does not list shows the parameters whose values differ among its runs on the
boards.
"""

from dataclasses import dataclass, field

from fer_bench.analysis import ferplus_modes, ranks, yardsticks
from fer_bench.analysis.configurations import distinct_names, faces_cut, fold
from fer_bench.analysis.provenance import older_code
from fer_bench.analysis.reference import REFERENCES
from fer_bench.parts import registry
from fer_bench.parts.base import Pretrained
from fer_bench.runs.records import REPORT_SPLIT, Record, RunData, report_split
from fer_bench.specs import files

OUTDATED = "†"  # marks the name of older code
UNGROUPED = "‡"  # marks the name of a run whose splits of Training did not keep an image's copies together


@dataclass
class Board:
    data: RunData
    split: str
    runs: list
    elsewhere: bool = False  # runs of models trained elsewhere (trained_elsewhere)
    by_run_id: dict = field(default_factory=dict)  # every ok record, for the runs these build on

    @property
    def ferplus(self):
        """Whether the board's runs learnt FER+ labels (and are tested on its majority)."""
        return self.data.label_source == "ferplus"

    @property
    def evaluated(self):
        """Whether the board holds saved models evaluated on a collection (fer_bench/runs/evaluation.py)."""
        return self.runs[0].evaluation is not None

    @property
    def title(self):
        """Its data set's layout, name and fingerprint (a FER+ board's: its images')."""
        d = self.data
        if self.ferplus:
            return f"FER+ labels: {d.layout} `{d.name}` ({self.split}: {self.scored_on}; images `{d.images}`)"
        about = f"{d.layout} `{d.name}` ({d.n_images} images, fingerprint `{d.fingerprint}`)"
        if self.evaluated:
            return f"Evaluated on {about}"
        return f"Trained elsewhere: {about}" if self.elsewhere else about

    @property
    def scored_on(self):
        """The images and classes of its split that its accuracy is computed on: all those labelled."""
        m = self.runs[0].metrics[self.split]
        labelled = " with a FER+ majority" if self.ferplus else ""
        return f"all {m.n_total - m.n_unlabelled} images{labelled}, {len(self.data.classes)} classes"

    @property
    def anchor(self):
        """The id of its details section, which its main table links."""
        return f"details-{self.runs[0].scored_against.replace(':', '-')}" + ("-elsewhere" if self.elsewhere else "")


def trained_elsewhere(record: Record) -> bool:
    """Whether the run's model was trained elsewhere, not fitted by the run (base.Pretrained)."""
    part = registry.find("model", record.spec.model.name)
    return part is not None and issubclass(part.factory, Pretrained)


def latest_per_run(records):
    """The latest ok record of each configuration on each Keras backend, grid cells (`GRID/LABEL`)
    left to their grid's report, and of each evaluation of a model on a collection: a run made
    again, with the same code or after its parts changed, replaces its earlier record on the board (a
    record of the current code is never replaced by an older one); one with grouped splits of Training
    sits beside one recorded before they were grouped (Record.ungrouped_splits), each its own row."""
    latest = {}
    for record in records:
        if record.ok and "/" not in record.experiment:
            key = (record.config_id, record.spec.split_groups, record.backend, record.scored_against, faces_cut(record))
            if key not in latest or not (record.outdated_parts() and not latest[key].outdated_parts()):
                latest[key] = record
    return list(latest.values())


def boards(records):
    """The boards of the records' latest runs (latest_per_run), each ranked by accuracy over all images of
    its split: those of runs trained here (FER2013's labels before FER+'s), then those of runs trained
    elsewhere, then the evaluations; the board of more runs first among alike."""
    records = list(records)
    by_run_id = {r.run_id: r for r in records if r.ok}
    groups = {}
    for record in latest_per_run(records):
        elsewhere = record.evaluation is None and trained_elsewhere(record)
        groups.setdefault((record.scored_against, elsewhere), []).append(record)
    result = []

    def order(item):
        (_, elsewhere), runs = item
        return runs[0].evaluation is not None, elsewhere, runs[0].data.label_source == "ferplus", -len(runs)

    for (_, elsewhere), runs in sorted(groups.items(), key=order):
        split = report_split(s for r in runs for s in r.metrics)
        ranked = sorted((r for r in runs if split in r.metrics), key=lambda r: -r.metrics[split].accuracy_all)
        result.append(Board(runs[0].data, split, ranked, elsewhere, by_run_id))
    return result


@dataclass
class BoardView:
    """A board, its configurations, and what its tables add from the data set's yardsticks, where
    `fer-bench labels` stored them."""

    board: Board
    has_yardsticks: bool
    configurations: list = field(default_factory=list)  # Configuration, by mean accuracy, best first
    clean: dict | None = None  # run id -> yardsticks.Score on the test images without a copy in Training
    ferplus: dict | None = None  # run id -> (Score against the FER+ majority, the rank it gives); FER2013 runs
    copied: dict | None = None  # run id -> Score on the test images with a copy in Training; trained elsewhere
    modes: list = field(default_factory=list)  # ferplus_modes.ModeRow: a FER+ board's modes that grids compare
    ranks: dict = field(default_factory=dict)  # "current", "older" -> ranks.Ranks of that table; none without labels

    @property
    def current(self) -> list:
        """The configurations of the main table: of the current code (an evaluated saved model, whatever
        its code, is what it is)."""
        return [c for c in self.configurations if self.board.evaluated or not c.older_code]

    @property
    def older(self) -> list:
        """The configurations ranked apart: recorded by code of their parts, or built on runs recorded by
        code of theirs, that has changed since."""
        return [c for c in self.configurations if not self.board.evaluated and c.older_code]

    @property
    def references(self) -> tuple:
        """The published figures ranked among its current configurations: on FER2013's labels and
        PrivateTest, for runs trained here."""
        board = self.board
        kaggle = board.split == REPORT_SPLIT and not (board.ferplus or board.evaluated or board.elsewhere)
        return REFERENCES if kaggle else ()


def board_view(board: Board, yard: yardsticks.Yardsticks | None, records=()) -> BoardView:
    """The board with what its yardsticks add; `records`, every record, for the FER+ modes of grids."""
    measured = yard.splits.get(board.split) if yard else None
    ranked = sorted(fold(board.runs, board.by_run_id), key=lambda c: -c.mean_std(board.split)[0])
    view = BoardView(board, yard is not None, ranked)
    if measured is not None:
        view.clean = {r.run_id: yardsticks.clean_score(r, measured, board.split) for r in board.runs}
        truth = yardsticks.own_truth(board.runs[0], measured)
        tables = {"current": view.current, "older": view.older}
        view.ranks = {
            name: ranks.rank_configurations(table, truth, board.split)
            for name, table in tables.items()
            if len(table) > 1
        }
        if board.elsewhere:
            view.copied = {r.run_id: yardsticks.copied_score(r, measured, board.split) for r in board.runs}
        if not board.ferplus:
            view.ferplus = yardsticks.ferplus_ranking(board.runs, measured, board.split)
        else:
            against = board.runs[0].scored_against
            cells = [
                r
                for r in records
                if r.ok
                and "/" in r.experiment
                and r.scored_against == against
                and board.split in r.metrics
                and not r.outdated_parts()
            ]
            view.modes = ferplus_modes.mode_rows(cells, measured, board.split)
    return view


def run_name(record: Record, board: Board):
    """Its experiment (an evaluation's: the evaluated model's), marked where its code, or that of a run it
    builds on, changed."""
    return record.experiment.split("@")[0] + (f" {OUTDATED}" if older_code(record, board.by_run_id) else "")


def configuration_names(configurations):
    """Their names in a table: each experiment, told apart from others of its name, marked where its code
    changed and where its splits of Training (or those of a run it builds on) were not grouped."""
    return [
        name.split("@")[0] + (f" {OUTDATED}" if c.older_code else "") + (f" {UNGROUPED}" if c.ungrouped_splits else "")
        for c, name in zip(configurations, distinct_names(configurations))
    ]


def shown_params(found, listed) -> dict:
    """Per part on the boards, the parameters shown beside its name: those `listed` names (the report
    file's), else those whose values differ among its runs."""
    values: dict[str, dict[str, set[str]]] = {}  # part -> parameter -> the values seen, as repr
    for board in found:
        for r in board.runs:
            for kind in ("features", "model"):
                part = r.spec.part(kind)
                for k, v in part.params.items():
                    values.setdefault(part.name, {}).setdefault(k, set()).add(repr(v))
    return {
        name: set(listed[name]) if name in listed else {k for k, seen in params.items() if len(seen) > 1}
        for name, params in values.items()
    }


def listed_params() -> dict:
    """The report file's {part name: parameters shown beside it} (experiments/reports/leaderboard.toml)."""
    path = files.find_file("leaderboard", "report")
    return files.read_toml(path).get("shown_params", {})
