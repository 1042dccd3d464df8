"""Weights removed from recorded runs (`fer-bench prune`): results/ travels with every clone, so the
weights that no ensemble, student or `predict` is to use are dropped, while each run's record and
stored probabilities stay (every board, grid report, comparison and ensemble search reads those).

The record is appended again without its weights, with `pruned` saying when, by which command and
code: the line that readers now find last. A run that another recorded run names (an ensemble's
member, a student's teacher) keeps its weights: the ensemble predicts with them, and a teacher's
Training probabilities are computed from them. An ensemble, which has no weights of its own, is
pruned to retire it: appended with `pruned`, it holds its members no more (a pruned student still
holds its teacher: `fer-bench complete` fits it again from the teacher's probabilities), and it
predicts only while its members keep their weights. `fer-bench complete` saves pruned weights
again by fitting the run once more.
"""

import shutil

from fer_bench.errors import FerBenchError
from fer_bench.parts.base import BuildsOnRuns, SavesWeights
from fer_bench.runs.records import Record, RecordStore, last_lines, pruned


def named_runs(record: Record) -> tuple:
    """The run ids a recorded run's model builds on (its ensemble members, its teacher)."""
    model = record.model()
    if not isinstance(model, BuildsOnRuns):
        return ()
    named = getattr(model, model.runs_param)
    return (named,) if isinstance(named, str) and named else tuple(named or ())


def retires(record: Record) -> bool:
    """Whether pruning `record` retires it rather than removing weights: a run built on recorded runs
    that saves no weights of its own (an ensemble)."""
    return bool(named_runs(record)) and not isinstance(record.model(), SavesWeights)


def check_prunable(record: Record, records) -> None:
    """A one-line FerBenchError where `record`'s weights cannot be removed (or, an ensemble, it
    cannot be retired)."""
    name = f"run {record.run_id} ({record.experiment})"
    if record.pruned and retires(record):
        raise FerBenchError(f"{name} is retired already: it holds its members no more")
    if not (record.artefact or retires(record)):
        raise FerBenchError(f"{name} has no weights to remove")
    retired = {r.run_id for r in last_lines(records) if r.pruned and retires(r)}
    users = sorted(
        {
            f"{r.experiment} (run {r.run_id})"
            for r in records
            if r.ok and r.run_id not in retired and record.run_id in named_runs(r)
        }
    )
    if users:
        raise FerBenchError(f"{name}: {', '.join(users)} build(s) on it; its weights stay")


def prune(records: list[Record], store: RecordStore, command=None) -> list[Record]:
    """Remove the weights of `records` (all checked before any is touched) and append each record
    without them, an ensemble among them retired; returns the appended records."""
    # An ensemble retired in the same call holds its members no more when they are checked.
    everything = store.all() + [pruned(r) for r in records if retires(r)]
    for record in records:
        check_prunable(record, everything)
    done = []
    for record in records:
        after = pruned(record, command)
        store.append(after)  # first: a kill between the two leaves a file no record points to, not the reverse
        path = store.root / record.artefact if record.artefact else None  # an ensemble retired has none
        if path and path.is_dir():
            shutil.rmtree(path)
        elif path:
            path.unlink(missing_ok=True)
        done.append(after)
    return done
