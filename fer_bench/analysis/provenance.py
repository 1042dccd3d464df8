"""What a run builds on, and what that makes true of it (DESIGN.md, Trust: provenance propagates).

A run built on recorded runs (an ensemble: every candidate it read, chosen or not; a distilled
student: its teacher) is no newer than the code of those runs and trained wherever they trained,
transitively: a student of an ensemble of GPU runs trained on a GPU too. A cross-fitted run fits its
copies itself and builds on none.
"""

from fer_bench.runs.records import Record


def builds_on(record: Record) -> list[str]:
    """The run ids of the runs it builds on directly: an ensemble's members, a student's teacher."""
    return [m["run_id"] for m in record.selection.get("members", [])] if record.selection else []


def lineage(record: Record, by_run_id: dict) -> list[Record]:
    """The recorded runs it builds on, directly or through them, each once, in the order met (a run id
    that `by_run_id` lacks is left out)."""
    found, pending = {}, builds_on(record)
    while pending:
        run_id = pending.pop(0)
        if run_id in by_run_id and run_id not in found:
            found[run_id] = by_run_id[run_id]
            pending += builds_on(found[run_id])
    return list(found.values())


def older_code(record: Record, by_run_id: dict) -> bool:
    """Whether its parts' code, or that of a recorded run it builds on, changed since it was recorded."""
    return any(r.outdated_parts() for r in (record, *lineage(record, by_run_id)))


def trained_on_accelerator(record: Record, by_run_id: dict) -> bool:
    """Whether it, or a recorded run it builds on, trained on an accelerator."""
    return any(r.hardware.get("accelerator") for r in (record, *lineage(record, by_run_id)))
