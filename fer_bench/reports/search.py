"""`results/searches/NAME.md`: best parameters, the top trials, the study's figures, the test figures."""

from dataclasses import dataclass

from tabulate import tabulate

from fer_bench.analysis.boards import UNGROUPED
from fer_bench.analysis.pairs import Paired, paired
from fer_bench.data.dataset import SPLITS
from fer_bench.reports import figures
from fer_bench.reports.base import Report
from fer_bench.runs import layout
from fer_bench.runs.records import Record
from fer_bench.specs.search import Search

TOP = 10


@dataclass
class Trial:
    number: int
    value: float
    seconds: float | None  # None: no start or end time
    worker: str
    params: dict
    grouped: bool  # its validation splits kept copies of an image together (trials before that did not)


@dataclass
class Reference:
    """An untuned run the search file names (`compare_with`), paired with the tuned run."""

    name: str
    record: Record
    result: Paired


@dataclass
class SearchInfo:
    search: Search
    summary: dict  # the study's summary now (tuning.summary)
    record: Record  # the best trial's run
    states: dict  # COMPLETE, PRUNED, FAIL, RUNNING -> trials
    completed: list  # Trial, best first
    importances: dict | None  # None: too few trials or parameters
    references: list  # Reference

    @property
    def split(self):
        return self.record.report_split


def references(search: Search, record: Record, records, dataset, split) -> list:
    """The tuned run against the untuned runs its search file names, paired on the images both
    evaluate (McNemar exact)."""
    labels = dataset.labels[dataset.indices(split)]
    found_references = []
    for name in search.compare_with:
        found = [
            r
            for r in records
            if r.experiment == name
            and r.ok
            and r.data.fingerprint == record.data.fingerprint
            and split in r.predictions
        ]
        if not found:
            continue
        reference = ([r for r in found if r.seed == 0] or found)[-1]  # seed 0, the shipped experiments' own
        found_references.append(Reference(name, reference, paired(record, reference, labels, split)))
    return found_references


def _ungrouped_trials_note(completed) -> list[str]:
    ungrouped = sum(not t.grouped for t in completed)
    if not ungrouped:
        return []
    return [
        f"{UNGROUPED}: {ungrouped} of the {len(completed)} complete trials ran before fer-bench's splits of "
        "Training kept copies of an image together: a copy of some validation images was among the images they "
        "fitted on, which flatters their validation figure against later trials'.",
        "",
    ]


class SearchReport(Report[SearchInfo]):
    folder = layout.SEARCHES
    title = "Search reports (Optuna)"
    link_order = 20

    def compute(self, search: Search, study, summary, record: Record, records, dataset) -> SearchInfo:
        """`summary` is the study's summary now (tuning.summary); `record` the best trial's run."""
        from fer_bench.sweeps import studies  # Optuna, loaded by the searches only

        trials = studies.trials(study)
        states = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
        completed = [
            Trial(t.number, t.value, _seconds(t), t.user_attrs.get("worker", ""), t.params, "splits" in t.user_attrs)
            for t in sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: -t.value)
        ]
        importances = studies.importances(study) if len(completed) >= 3 and len(search.space) >= 2 else None
        found = references(search, record, records, dataset, record.report_split)
        return SearchInfo(search, summary, record, states, completed, importances, found)

    def file_name(self, info: SearchInfo) -> str:
        return f"{info.search.name}.md"

    def figures(self, info: SearchInfo):
        name = info.search.name
        history = sorted((t.number, t.value) for t in info.completed)
        yield f"{name}/history.png", figures.optimisation_history(history, info.search.metric)
        if info.importances is not None:
            yield f"{name}/importance.png", figures.importance_chart(info.importances)
        yield f"{name}/confusion.png", figures.confusion_matrix(info.record, info.split)
        if info.record.history:
            yield f"{name}/curves.png", figures.training_curves(info.record)

    def markdown(self, info: SearchInfo, command: str) -> str:
        search, summary, record, split, states = info.search, info.summary, info.record, info.split, info.states
        rows = [
            [
                t.number,
                f"{100 * t.value:.2f}" + ("" if t.grouped else f" {UNGROUPED}"),
                "" if t.seconds is None else f"{t.seconds:.0f} s",
                t.worker,
                ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()),
            ]
            for t in info.completed[:TOP]
        ]
        metrics = [
            [
                s,
                f"{100 * m.accuracy:.2f}",
                f"{m.n_evaluated}/{m.n_total}",
                f"{100 * m.accuracy_all:.2f}",
                f"{100 * m.macro_f1:.2f}",
            ]
            for s, m in _in_split_order(record)
        ]
        compared = [
            [
                f"`{ref.name}` (run `{ref.record.run_id}`)",
                ref.result.shared,
                f"{100 * ref.result.accuracy_a:.2f}",
                f"{100 * ref.result.accuracy_b:.2f}",
                f"{100 * ref.record.metrics[split].accuracy_all:.2f}",
                f"{ref.result.only_a} / {ref.result.only_b}",
                f"{ref.result.p:.2g}",
            ]
            for ref in info.references
        ]
        lines = [
            f"# Search `{search.name}`",
            "",
            f"Generated by `{command}`; do not edit by hand. Search file: `experiments/searches/{search.name}.toml`.",
            search.description,
            "",
            f"Study storage: `{summary['storage']}` (open it with `optuna-dashboard <url>`). "
            f"Sampler: TPE, seed {search.sampler_seed}; pruner: median (Keras trials report validation accuracy "
            f"per epoch). Trials: {states['COMPLETE']} complete, {states['PRUNED']} pruned, {states['FAIL']} failed.",
            "",
            f"Objective: **{search.metric}** on validation images carved from Training only "
            f"({summary['validation']}); PublicTest and PrivateTest were never seen by any trial.",
            "",
            f"## Best trial: #{summary['best_trial']}, validation {search.metric} {100 * summary['best_value']:.2f}%",
            "",
            tabulate(
                [[k, _fmt(v)] for k, v in summary["best_params"].items()], ["parameter", "value"], tablefmt="github"
            ),
            "",
            f"Evaluated once on the test splits as run `{record.run_id}` (`fer-bench show {search.name}`):",
            "",
            tabulate(
                metrics,
                ["split", "acc. on evaluated %", "evaluated", "acc. all images %", "macro-F1 %"],
                tablefmt="github",
                disable_numparse=True,
            ),
            "",
            f"Against the untuned runs on {split}, paired on the images both evaluate (McNemar's exact test; "
            "b = images only the tuned run gets right, c = only the other):",
            "",
            tabulate(
                compared,
                [
                    "untuned run",
                    "shared images",
                    "tuned acc. %",
                    "untuned acc. %",
                    "untuned acc. all images %",
                    "b / c",
                    "p",
                ],
                tablefmt="github",
                disable_numparse=True,
            ),
            "",
            f"## Top {min(TOP, len(info.completed))} trials",
            "",
            tabulate(
                rows,
                ["trial", f"validation {search.metric} %", "time", "worker", "parameters"],
                tablefmt="github",
                disable_numparse=True,
            ),
            "",
            *_ungrouped_trials_note(info.completed),
            f"![optimisation history]({search.name}/history.png)",
        ]
        if info.importances is not None:
            lines += [f"![parameter importance]({search.name}/importance.png)"]
        lines += [
            "",
            f"Test figures of the best trial's run ({split}):",
            "",
            f"![confusion matrix]({search.name}/confusion.png)",
        ]
        if record.history:
            lines += [f"![training curves]({search.name}/curves.png)"]
        return "\n".join(lines) + "\n"


def _fmt(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _seconds(trial):
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


def _in_split_order(record: Record):
    """The record's (split, metrics), FER2013's splits in the data set's order (a record read back
    may hold them in another), any other split after them, as held."""
    return sorted(record.metrics.items(), key=lambda item: SPLITS.index(item[0]) if item[0] in SPLITS else len(SPLITS))
