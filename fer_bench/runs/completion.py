"""Saved weights for a run recorded without them (`fer-bench complete`): its model is fitted again
from the recorded spec and seed, on the same data, and kept only if it is the recorded model.

A run of a model that saves weights records them as it runs (runner.py); one recorded before its
model could save them has none, so predict, evaluate and probabilities cannot use it. Completing it
fits its model again exactly as the run did (features from the cache, the same resampler, seed and
validation rows) and predicts its test splits: only where every prediction equals the recorded one
are the weights saved, at the path a run would give them, and the record appended again with them
(records.completed), so the record and its weights describe one model. Where any prediction
differs (other code, another CPU or backend) nothing is saved. A refit gives the recorded
predictions where it runs on the machine kind the run ran on (the ISA level fer-bench records, the
Keras backend, the GPU if any): `kind` names it, and a refusal names both kinds.
"""

import logging

from fer_bench.data.labels import Labels
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import BuildsOnRuns, Pretrained, SavesWeights
from fer_bench.runs import fitting, layout, probabilities, provenance
from fer_bench.runs.claims import claim
from fer_bench.runs.records import Record, completed
from fer_bench.runs.workspace import Workspace
from fer_bench.scoring.metrics import decode_predictions

log = logging.getLogger("fer_bench")


def has_weights(record: Record, root) -> bool:
    return record.artefact is not None and (root / record.artefact).exists()


def kind(hardware) -> str:
    """The machine kind a refit must match to give the same predictions, in words."""
    device = hardware.get("accelerator") or "CPU"
    isa = hardware.get("isa") or "ISA level not recorded"
    return f"{hardware.get('processor') or 'unknown processor'} ({device}, {isa}, {hardware.get('keras_backend')})"


def check_completable(record: Record):
    """A one-line FerBenchError where `record`'s model cannot be fitted again to save its weights."""
    name = f"run {record.run_id} ({record.experiment})"
    if not record.ok:
        raise FerBenchError(f"{name} failed: there is no model to complete; run it again")
    model = record.model()
    if isinstance(model, Pretrained):
        raise FerBenchError(f"{name}: {model.key} was trained elsewhere, its weights are its own file; run it again")
    if not isinstance(model, SavesWeights):
        builds = " (it is rebuilt from the runs it builds on)" if isinstance(model, BuildsOnRuns) else ""
        raise FerBenchError(f"{name}: {model.key} saves no weights{builds}")
    outdated = record.outdated_parts()
    if outdated:
        raise FerBenchError(
            f"{name}: its parts changed since it ran ({'; '.join(outdated)}), so it cannot be "
            f"fitted again as it was; `fer-bench run {record.experiment}` records it anew"
        )


def complete(record: Record, workspace: Workspace) -> tuple[Record, bool]:
    """Fit `record`'s model again on the workspace's data (labelled as the run was); if its predictions on the
    recorded test splits all equal the recorded ones, save its weights (and its probabilities if the
    run kept none) and append the completed record. Returns (the record with its weights, whether
    they were saved now); a record that has its weights is returned as it is."""
    store, cache = workspace.store, workspace.cache
    if has_weights(record, store.root):
        log.info(f"{record.experiment} (run {record.run_id}) has its weights already: {record.artefact}")
        return record, False
    check_completable(record)
    dataset = workspace.labelled(Labels.named(record.data.labels))
    if dataset.fingerprint != record.data.fingerprint:
        raise FerBenchError(
            f"run {record.run_id} was trained on data {record.data.fingerprint}, "
            f"not {dataset.fingerprint} ({dataset.source})"
        )
    with claim(store.root, record.run_id):  # no run of the same spec writes its weights meanwhile
        latest = store.ok_record(record.run_id) or record
        if has_weights(latest, store.root):
            return latest, False
        model, features, resampler = record.model(), record.part("features"), record.part("resampler")
        if isinstance(model, BuildsOnRuns):
            model.use_runs(probabilities.StoredRuns(workspace), features, dataset)
        feature_set = features.extract(dataset, cache=cache)
        train, y = fitting.training_rows(dataset, feature_set.covered)
        recorded_on, here = kind(record.hardware), kind(provenance.hardware())
        log.info(
            f"fitting {model.key} of {record.experiment} (run {record.run_id}) again on {len(train)} "
            f"Training images, seed {record.seed}; recorded on {recorded_on}, here {here}"
            + ("" if recorded_on == here else ": predictions may differ on another machine kind")
        )
        groups = fitting.training_groups(dataset, train, record.spec.split_groups)
        fitting.fit(model, resampler, feature_set.X[train], y, record.seed, dataset.classes, groups=groups)

        split_rows = {split: dataset.indices(split) for split in record.predictions}
        held_out = probabilities.holdout_rows(
            model, dataset, feature_set.covered, record.seed, record.spec.split_groups
        )
        if held_out is not None:
            split_rows[probabilities.HOLDOUT] = held_out
        by_split = probabilities.of_splits(model, dataset, feature_set, split_rows)
        differ = total = 0
        for split, recorded in record.predictions.items():
            recorded = decode_predictions(recorded)
            now = by_split[split].predictions
            total += len(recorded)
            differ += len(recorded) if len(now) != len(recorded) else int((now != recorded).sum())
        if differ:
            raise FerBenchError(
                f"run {record.run_id} ({record.experiment}): fitted again, its model predicts "
                f"{differ} of {total} test images differently from the recorded run; nothing saved. "
                f"It refits identically only with the code and machine kind it ran on: {recorded_on} "
                f"(here {here}); `fer-bench run {record.experiment} --seed {record.seed} --force` records it anew here"
            )

        assert isinstance(model, SavesWeights)  # check_completable refused any other
        artefact = fitting.save_weights(model, store.root, record.run_id)
        if probabilities.stored_path(store.root, latest) is None:
            stored = probabilities.save(store.root, record.run_id, by_split)
        else:  # kept as they are (they may hold Training's too)
            stored = latest.probabilities or layout.probabilities(record.run_id)
        done = completed(latest, artefact, stored, workspace.command)
        store.append(done)
        log.info(
            f"{record.experiment} (run {record.run_id}): its {total} test predictions are the recorded ones; "
            f"weights saved to {artefact}"
        )
        return done, True
