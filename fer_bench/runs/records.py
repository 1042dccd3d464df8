"""Run records: one JSON object per line in `<results>/runs.jsonl`, appended and never rewritten.

A `Record` is one run, ok or failed, read and written in one shape (`fer-bench show NAME --format
json` prints it: the contract other tools read). An append is one write of the whole line and an
fsync, made under an exclusive flock on the file; readers take a shared one, so no reader sees a
write in progress and no two appenders interleave. A writer killed mid-write leaves a torn last
line: readers report and skip it, and the next appender seals it with SEAL and a newline before
writing, so a record is there whole or not at all. Any other line that is no record (an edit, a
damaged disk) is refused in one line naming the file and line, by every command that reads the
records: a benchmark does not drop a record silently.

A record is built by `new_record` alone (`completed` copies one, adding the weights saved after it
ran; `pruned`, without the weights removed after it ran) and read by `Record.from_dict` alone. Each
line carries the `schema` it was written in; the reader upgrades an older line (as benchopt's
`read_results` does), so the rest of the code reads one shape. Only a spec keeps the shape it was
recorded in, since its hash is the run id: one recorded before run ids named part versions and the backend reads back
unversioned (RunSpec.versioned), running on the backend its record's hardware names.
"""

import fcntl
import functools
import json
import logging
import os
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from fer_bench.data.dataset import FER2013_CLASSES, data_name, label_source, scored_against
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import History, Model, SavesWeights, Selection
from fer_bench.runs import layout, provenance
from fer_bench.scoring.metrics import SplitMetrics
from fer_bench.specs.choice import RecordedRule
from fer_bench.specs.experiment import RunSpec

SCHEMA = 1  # of the records written now; a line without one is older (_upgrade)
REPORT_SPLIT = "PrivateTest"
OK, FAILED = "ok", "failed"
log = logging.getLogger("fer_bench")
_reported_torn: set[tuple[Path, int]] = set()  # (path, line number): each torn line is reported once per process
# Ends a torn line when the next appender seals it: ASCII's "cancel", which JSON escapes inside
# strings, so no whole record holds it; it tells a crash's torn line from a damaged one.
SEAL = b"\x18"


def report_split(splits) -> str:
    """The split a run is reported on: PrivateTest (Kaggle's private board), else the first one."""
    splits = list(splits)
    return REPORT_SPLIT if REPORT_SPLIT in splits else splits[0]


@dataclass(frozen=True)
class RunData:
    """The data set a run was made on, or an evaluation scored."""

    source: str
    layout: str
    fingerprint: str
    n_images: int
    classes: tuple  # the label space
    labels: str  # where the labels come from: Dataset.labels_name, or "folders" for a collection
    images: str | None = None  # Dataset.images_fingerprint; None where recorded before it was
    n_train_fit: int | None = None  # the Training images the model was fitted on; None unless fitted

    @property
    def name(self) -> str:
        """The data set's name on boards (data_name)."""
        return data_name(self.source)

    @classmethod
    def of(cls, dataset, n_train_fit=None):
        return cls(
            dataset.source,
            dataset.layout,
            dataset.fingerprint,
            len(dataset),
            dataset.classes,
            dataset.labels_name,
            dataset.images_fingerprint,
            n_train_fit,
        )

    @property
    def label_source(self):
        return label_source(self.labels)

    @property
    def scored_against(self):
        """What its test scores are comparable by (dataset.scored_against)."""
        return scored_against(self.fingerprint, self.images, self.labels)

    def to_dict(self):
        """As recorded: what is unknown (None) left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if k == "classes" else v for k, v in values.items() if v is not None}


# The fields of a record with keys of their own, as the JSON line holds them (TypedDicts are plain
# dicts when running: a line reads and writes back byte for byte). A key a record made before it
# was kept may lack is NotRequired.


class Hardware(TypedDict, total=False):
    """The machine a run ran on (provenance.hardware); every record read has `keras_backend`."""

    keras_backend: str  # filled in where recorded before it was kept (_upgrade)
    machine: str
    cores: int
    processor: str
    isa: str  # the instruction-set level (backend.ISA_LEVELS)
    accelerator: str | None  # the GPU the backend computed on, or None


class Timings(TypedDict, total=False):
    """Seconds: `total` in every record made, the stages where the run fitted a model."""

    total: float
    features: float
    load: float  # a Pretrained model made ready
    fit: float
    predict: float
    fit_earlier_attempts: float  # what interrupted processes trained before a fit resumed (runner.earlier_attempts)


class SearchSummary(TypedDict):
    """The search that chose a run's parameters (sweeps/tuning.summary)."""

    name: str
    storage: str  # redacted
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    metric: str
    validation: str
    sampler_seed: int
    n_trials: int


class MemberTemperature(TypedDict):
    temperature: float
    fitted_on: int  # the held-out images it was fitted on


class Evaluation(TypedDict):
    """A saved model scored on a collection (fer_bench/runs/evaluation.py)."""

    of_run: str
    of_experiment: str
    faces: str  # how faces were cut: "crop", or a detector's
    detector: str | None
    excluded: dict[str, str]  # {label: why its images are left out}
    n_refused: int
    refused: list[str]  # the first of the images refused, each as its error
    labels: dict[str, str]  # split -> the true labels, as metrics.encode_predictions
    calibration: NotRequired[str]
    temperatures: NotRequired[dict[str, MemberTemperature]]  # by member run id


class Amendment(TypedDict):
    """When, by which command and code, on which machine weights were saved or removed after a run."""

    created: str
    command: str | None
    git_commit: str | None
    versions: dict[str, str]
    hardware: Hardware


@dataclass(frozen=True)
class Record:
    """One run as recorded. `spec` is the RunSpec (parts, parameters, versions, backend, seed,
    data fingerprint); `metrics` has a SplitMetrics per test split; a failed run has `error`."""

    run_id: str
    experiment: str
    status: str  # OK or FAILED
    spec: RunSpec
    seed: int
    created: str
    data: RunData
    command: str | None = None
    description: str = ""
    versions: dict[str, str] = field(default_factory=dict)  # of the packages
    git_commit: str | None = None
    hardware: Hardware = field(default_factory=Hardware)
    timings: Timings = field(default_factory=Timings)
    metrics: dict[str, SplitMetrics] = field(default_factory=dict)  # split -> SplitMetrics
    predictions: dict[str, str] = field(default_factory=dict)  # split -> metrics.encode_predictions
    history: History | None = None  # per-epoch lists of a model that reports epochs
    # on the Training images its fit held out (probabilities.HOLDOUT), for choices between runs that
    # may read no test image; None where it held none out, or was recorded before this was kept
    held_out: SplitMetrics | None = None
    artefact: str | None = None  # saved weights, relative to the results folder
    probabilities: str | None = None  # each image's class probabilities (fer_bench/runs/probabilities.py), relative
    selection: Selection | None = None  # what a model made of recorded runs chose, and on which split
    search: SearchSummary | None = None  # the search that chose this run's parameters
    rule: RecordedRule | None = (
        None  # the choice rule it was recorded under (specs/choice.py Rule.recorded), beside the spec
    )
    evaluation: Evaluation | None = None  # a saved model evaluated on a collection (fer_bench/runs/evaluation.py)
    completed: Amendment | None = None  # weights saved after the run (fer_bench/runs/completion.py): when, how, where
    pruned: Amendment | None = None  # weights removed after the run (fer_bench/runs/pruning.py): when, how
    error: str | None = None
    traceback: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Record":
        """The one reader of a record line, of any schema (an older one is upgraded first)."""
        values = _upgrade(values)
        known = {f.name for f in fields(cls)} - {"extra"}
        record = {k: v for k, v in values.items() if k in known}
        # unversioned specs are not schema 0's alone: an evaluation of such a run copies its spec
        record["spec"] = RunSpec.from_dict(values["spec"], values["hardware"]["keras_backend"])
        record["data"] = RunData(**{**values["data"], "classes": tuple(values["data"]["classes"])})
        record["metrics"] = {split: SplitMetrics.from_dict(m) for split, m in values.get("metrics", {}).items()}
        record["held_out"] = SplitMetrics.from_dict(values["held_out"]) if values.get("held_out") else None
        extra = {k: v for k, v in values.items() if k not in known and k != "schema"}
        return cls(**record, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        values["spec"] = self.spec.to_dict()
        values["data"] = self.data.to_dict()
        values["metrics"] = {split: m.to_dict() for split, m in self.metrics.items()}
        values["held_out"] = self.held_out.to_dict() if self.held_out else None
        return {**values, **self.extra, "schema": SCHEMA}

    @property
    def ok(self):
        return self.status == OK

    @property
    def classes(self):
        """The label space."""
        return self.data.classes

    @property
    def scored_against(self):
        """What its test scores are comparable by (RunData.scored_against); an evaluation's, by the
        collection alone, apart from runs trained on it."""
        return f"evaluated:{self.data.fingerprint}" if self.evaluation else self.data.scored_against

    @property
    def report_split(self):
        return report_split(self.metrics)

    @property
    def config_id(self):
        return self.spec.config_id

    @property
    def backend(self):
        return self.spec.backend

    def part(self, kind):
        """Its `kind` part, created from its spec (untrained)."""
        return self.spec.part(kind).create(kind)

    def model(self) -> Model:
        model = self.part("model")
        assert isinstance(model, Model)  # register() refuses a model part that does not derive from it
        return model

    @functools.cached_property
    def ungrouped_splits(self) -> bool:
        """Whether its fit split Training (a hold-out, folds) without keeping copies together: it was
        recorded before splits were grouped (fer_bench/data/copies.py), so its held-out figures, and
        a temperature fitted on its held-out or out-of-fold probabilities, are flattered by copies of
        images it fitted on."""
        part = registry.find("model", self.spec.model.name)
        if self.spec.split_groups or part is None:
            return False
        # Its parameters as recorded, unchecked: the part's current code may refuse what older code took.
        factory = part.factory
        assert issubclass(factory, Model)  # register() refuses a model part that does not derive from it
        model = object.__new__(factory)
        model.__dict__.update({name: p.default for name, p in part.factory.parameters.items()})
        model.__dict__.update(self.spec.model.params)
        return model.splits_training()

    def outdated_parts(self):
        """The parts whose code changed since this run ("kind/name vX, now vY"), [] if none did.
        A record made before run ids named part versions lists every part."""
        changed = []
        for kind in registry.KINDS:
            recorded = self.spec.part(kind)
            part = registry.find(kind, recorded.name)
            current = part.version if part else "gone"
            if recorded.version != current:
                changed.append(f"{kind}/{recorded.name} {_version(recorded.version)}, now {_version(current)}")
        return changed


def _upgrade(values: dict) -> dict:
    """A record line as this version writes it (benchopt's `read_results`): all that older records
    lack is filled here. Schema 0 (no `schema`: records made before it was written) is upgraded by
    giving the data FER2013's classes and labels where recorded before the label space travelled
    with the data, and the hardware the default Keras backend where recorded before it was named.
    The spec is kept as recorded (its hash is the run id): parts without versions and no backend
    are read as such (RunSpec.from_dict)."""
    if values.get("schema", 0) >= SCHEMA:
        return values
    data = {"classes": FER2013_CLASSES, "labels": "fer2013", **values["data"]}
    hardware = {"keras_backend": "tensorflow", **values.get("hardware", {})}
    return {**values, "data": data, "hardware": hardware, "schema": SCHEMA}


def new_record(
    spec: RunSpec, experiment, description, status, data: RunData, command=None, run_id=None, **values
) -> Record:
    """The one builder of a record: `spec` run now (or evaluated, under its own `run_id`), with its
    provenance; `values` sets the other fields."""
    return Record(
        run_id=run_id or spec.run_id,
        experiment=experiment,
        status=status,
        spec=spec,
        seed=spec.seed,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        description=description,
        data=data,
        versions=provenance.versions(),
        git_commit=provenance.git_commit(),
        hardware=provenance.hardware(),
        **values,
    )


def completed(record: Record, artefact, probabilities, command=None) -> Record:
    """`record` again with the weights (and probabilities) saved for it after it ran, by a refit
    whose predictions equal the recorded ones: appended after it, the line that readers now find
    last. Everything the run recorded is kept; `completed` says when, by which command and
    code, on which machine."""
    return replace(record, artefact=artefact, probabilities=probabilities, completed=_how(command), pruned=None)


def pruned(record: Record, command=None) -> Record:
    """`record` again without its weights, removed after it ran (fer_bench/runs/pruning.py);
    `pruned` says when, by which command and code."""
    return replace(record, artefact=None, pruned=_how(command))


def _how(command: str | None) -> Amendment:
    """When, by which command and code, on which machine: what `completed` and `pruned` say."""
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "git_commit": provenance.git_commit(),
        "versions": provenance.versions(),
        "hardware": provenance.hardware(),
    }


def _version(version):
    return "unversioned" if version is None else version if version == "gone" else f"v{version}"


def select(records, name_or_id):
    """Records whose experiment is, or whose run id starts with (6+ characters), `name_or_id`."""
    return [
        r for r in records if r.experiment == name_or_id or (len(name_or_id) >= 6 and r.run_id.startswith(name_or_id))
    ]


def last_lines(records) -> list[Record]:
    """Each run's last line, in the order of those lines: what it is now. An earlier line of a run
    completed or pruned since names weights it gained or lost after."""
    last = {record.run_id: number for number, record in enumerate(records)}
    return [record for number, record in enumerate(records) if last[record.run_id] == number]


def latest_ok(records, name_or_id) -> Record:
    """The ok run of an experiment name or run-id prefix that ran last, as its last ok line says. A
    run completed or pruned since is appended again: that line does not make it the latest (pruning
    older runs made `export cnn-fast-long` pick one of them)."""
    found = [r for r in select(records, name_or_id) if r.ok]
    if not found:
        raise FerBenchError(f"no successful recorded run matches {name_or_id!r}")
    return max(reversed(last_lines(found)), key=lambda r: r.created)  # a tie: the later line


def saved_model(record: Record, results_root: Path):
    """The model part of a recorded run, rebuilt from its spec with the weights it saved."""
    if not record.artefact:
        raise FerBenchError(f"run {record.run_id} ({record.experiment}) saved no weights")
    path = Path(results_root) / record.artefact
    if not path.exists():
        raise FerBenchError(f"{path}: the weights of run {record.run_id} are missing")
    model = record.model()
    assert isinstance(model, SavesWeights)  # only such a model's run saves weights
    return model.load(path, record.classes)


def default_results_dir() -> Path:
    return Path(os.environ.get("FER_BENCH_RESULTS", "results"))


class RecordStore:
    def __init__(self, root=None):
        self.root = Path(root) if root else default_results_dir()
        self.path = self.root / layout.RECORDS

    def with_records(self):
        """Itself, for commands that read records; a folder without a records file is refused (a
        typo in --results would otherwise give an empty report)."""
        if not self.path.is_file():
            raise FerBenchError(f"{self.root}: no run records here ({layout.RECORDS} missing); check --results")
        return self

    def check_writable(self):
        """Fail early, before any work, unless its records file and its folder (leaderboard, reports,
        weights) can be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as error:
            raise FerBenchError(f"results directory {self.root} is not writable ({error.strerror})") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise FerBenchError(f"results directory {self.root} is not writable (read-only folder)")
        return self

    def append(self, record: Record):
        line = (json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise FerBenchError(f"cannot write run records to {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes, or when this process dies
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = SEAL + b"\n" + line  # seal a torn last line left by a killed writer
            while line:
                line = line[os.write(fd, line) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def all(self) -> list[Record]:
        """Every intact record, oldest first; a torn line (the last, or one sealed) is reported (once)
        and skipped; any other line that is no record is refused."""
        try:
            with open(self.path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                content = handle.read()
        except FileNotFoundError:
            return []
        records, lines = [], content.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(Record.from_dict(json.loads(line.removesuffix(SEAL))))
            except (ValueError, TypeError, KeyError, AttributeError):
                if not line.endswith(SEAL) and number < len(lines):  # sealed, or the unfinished last
                    raise FerBenchError(
                        f"{self.path}, line {number}: not a whole record, and not torn by a crash "
                        f"(a torn line is the last, or sealed): the file was edited or damaged; "
                        f"restore it from a copy, or delete the line to drop it"
                    ) from None
                if (self.path, number) not in _reported_torn:
                    _reported_torn.add((self.path, number))
                    log.warning(f"{self.path}, line {number}: torn record skipped")
        return records

    def find(self, name_or_id) -> list[Record]:
        """Records (ok or failed) of an experiment name or run-id prefix; oldest first."""
        return select(self.all(), name_or_id)

    def ok_record(self, run_id) -> Record | None:
        """The latest `ok` record of exactly `run_id`, or None."""
        return next((r for r in reversed(self.all()) if r.run_id == run_id and r.ok), None)
