"""Weights removed from recorded runs (`fer-bench prune`): results/ travels with every clone, so the
weights that no ensemble, student or `predict` is to use are dropped, while each run's record and
stored probabilities stay (every board, grid report, comparison and ensemble search reads those).

The record is appended again without its weights, with `pruned` saying when, by which command and
code: the line that readers now find last. A run that another recorded run names (an ensemble's
member, a student's teacher) keeps its weights: the ensemble predicts with them, and a teacher's
Training probabilities are computed from them. `fer-bench complete` saves pruned weights again by
fitting the run once more.
"""

import shutil

from fer_bench.errors import FerBenchError
from fer_bench.parts.base import BuildsOnRuns
from fer_bench.runs.records import Record, RecordStore, pruned


def named_runs(record: Record) -> tuple:
    """The run ids a recorded run's model builds on (its ensemble members, its teacher)."""
    model = record.model()
    if not isinstance(model, BuildsOnRuns):
        return ()
    named = getattr(model, model.runs_param)
    return (named,) if isinstance(named, str) and named else tuple(named or ())


def check_prunable(record: Record, records) -> None:
    """A one-line FerBenchError where `record`'s weights cannot be removed."""
    name = f"run {record.run_id} ({record.experiment})"
    if not record.artefact:
        raise FerBenchError(f"{name} has no weights to remove")
    users = sorted({f"{r.experiment} (run {r.run_id})" for r in records if r.ok and record.run_id in named_runs(r)})
    if users:
        raise FerBenchError(f"{name}: {', '.join(users)} build(s) on it; its weights stay")


def prune(records: list[Record], store: RecordStore, command=None) -> list[Record]:
    """Remove the weights of `records` (all checked before any is touched) and append each record
    without them; returns the appended records."""
    everything = store.all()
    for record in records:
        check_prunable(record, everything)
    done = []
    for record in records:
        path = store.root / record.artefact
        after = pruned(record, command)
        store.append(after)  # first: a kill between the two leaves a file no record points to, not the reverse
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        done.append(after)
    return done
