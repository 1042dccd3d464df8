"""Records: the one reader upgrades older lines, a record reads back as written, and gives back its parts."""

import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fer_bench.cli import main
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.runs.records import (
    FAILED,
    OK,
    SCHEMA,
    Record,
    RecordStore,
    RunData,
    completed,
    last_lines,
    latest_ok,
    new_record,
    pruned,
    report_split,
    saved_model,
    select,
)
from fer_bench.scoring.metrics import split_metrics
from fer_bench.specs.experiment import PartSpec
from fer_bench.testing import example_record, simulated_dataset

# a line of results/runs.jsonl as the first fer-bench wrote it (metrics left out): no schema, no part
# versions, no backend in its spec, no classes, labels or images in its data
OLD_LINE = {
    "command": "fer-bench run paper",
    "created": "2026-11-27T00:34:10+00:00",
    "data": {
        "fingerprint": "ae9679c8208ffa62",
        "layout": "usage folders",
        "n_images": 35887,
        "n_train_fit": 19993,
        "source": "/work/shared/fer2013",
    },
    "description": "The study: face_recognition embeddings of detected faces, SMOTE, the paper's MLP",
    "experiment": "paper",
    "git_commit": "23bc63d8a2cbef7be7da3714e1f70a4ac0606eec",
    "hardware": {"cores": 2, "keras_backend": "tensorflow", "machine": "x86_64", "processor": "AMD EPYC"},
    "run_id": "107f28e4462b",
    "seed": 0,
    "spec": {
        "data": "ae9679c8208ffa62",
        "experiment": "paper",
        "features": {"name": "embedding", "params": {"jitters": 1, "protocol": "detector", "upsample": 1}},
        "model": {
            "name": "paper-mlp",
            "params": {
                "architecture": "paper",
                "batch_norm": True,
                "batch_size": 32,
                "early_stopping_patience": 0,
                "epochs": 300,
                "l2_scale": 1.0,
                "learning_rate": 0.001,
                "resample_first": True,
                "validation_split": 0.2,
            },
        },
        "resampler": {"name": "smote", "params": {"k_neighbors": 5}},
        "seed": 0,
        "test_splits": ["PublicTest", "PrivateTest"],
    },
    "status": "ok",
    "timings": {"features": 0.16, "fit": 430.77, "predict": 0.39, "total": 431.33},
    "versions": {"keras": "3.15.1", "numpy": "2.4.6", "python": "3.11.7"},
}


def test_an_old_record_is_upgraded_by_the_reader_and_keeps_its_ids():
    record = Record.from_dict(json.loads(json.dumps(OLD_LINE)))
    assert record.spec.to_dict() == OLD_LINE["spec"]  # exactly as recorded: its hash is the run id
    assert record.spec.run_id == record.run_id == "107f28e4462b"
    assert record.config_id == "107f28e4462b"  # before run ids named versions, the config id was the run id
    assert record.classes == FER2013_CLASSES and record.data.labels == "fer2013" and record.data.images is None
    assert record.backend == "tensorflow" and not record.spec.versioned
    assert record.hardware["processor"] == "AMD EPYC" and record.extra == {}  # kept; nothing added
    assert record.spec.model.version is None and record.spec.model.params["epochs"] == 300
    assert len(record.outdated_parts()) == len(registry.KINDS)
    written = record.to_dict()
    assert written["schema"] == SCHEMA and written["spec"] == OLD_LINE["spec"]
    assert Record.from_dict(json.loads(json.dumps(written))) == record  # upgraded once, then read as is


def test_an_old_record_without_hardware_ran_on_the_default_backend():
    line = {key: value for key, value in OLD_LINE.items() if key != "hardware"}
    assert Record.from_dict(line).backend == "tensorflow"


def test_a_new_record_reads_back_as_written(tmp_path):
    record = example_record(timings={"total": 3.0}, history={"loss": [1.0, 0.5]}, extra={"later": 1})
    written = record.to_dict()
    assert written["schema"] == SCHEMA and written["spec"]["backend"] == "tensorflow"
    assert written["spec"]["model"]["version"] == registry.get("model", "logreg").version
    assert written["data"]["classes"] == list(FER2013_CLASSES) and "n_train_fit" not in written["data"]
    assert Record.from_dict(json.loads(json.dumps(written))) == record
    store = RecordStore(tmp_path)
    store.append(record)
    assert store.all() == [record]


def test_a_records_held_out_figures_read_back_and_its_line_is_written_in_key_order(tmp_path):
    """The held-out metrics (the boards' held-out column, the temperatures' images) survive the
    round trip; a line is compact with its keys sorted, so one record always writes the same bytes."""
    held_out = split_metrics(np.array([0, 1, 2, 0]), np.array([0, 1, 1, 0]), FER2013_CLASSES[:3])
    record = example_record(held_out=held_out)
    store = RecordStore(tmp_path)
    store.append(record)
    assert store.all()[0].held_out == held_out
    written = (tmp_path / "runs.jsonl").read_text()
    assert written == json.dumps(json.loads(written), sort_keys=True, separators=(",", ":")) + "\n"


def test_a_field_a_later_version_names_extra_reads_back_too():
    record = example_record(extra={"extra": 1, "later": [2]})
    assert Record.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_show_prints_an_old_record_with_its_spec_as_recorded(tmp_path, capsys):
    (tmp_path / "runs.jsonl").write_text(json.dumps(OLD_LINE) + "\n")
    assert main(["show", "paper", "--format", "json", "--results", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["spec"] == OLD_LINE["spec"] and shown["run_id"] == OLD_LINE["run_id"]
    assert shown["timings"] == OLD_LINE["timings"] and shown["versions"] == OLD_LINE["versions"]


def test_a_record_gives_back_its_parts():
    record = example_record()
    model = record.model()
    assert isinstance(model, registry.get("model", "logreg").factory)
    assert model.get_params() == registry.get("model", "logreg").create({}).get_params()
    assert isinstance(record.part("features"), registry.get("features", "pixels").factory)


def test_an_evaluation_of_an_old_run_keeps_its_unversioned_spec():
    old = Record.from_dict(OLD_LINE)
    evaluation = replace(example_record("e" * 12, "paper@photos"), spec=old.spec, evaluation={"of_run": old.run_id})
    written = json.loads(json.dumps(evaluation.to_dict()))
    assert written["schema"] == SCHEMA and written["spec"] == OLD_LINE["spec"]
    assert Record.from_dict(written) == evaluation and Record.from_dict(written).config_id == old.config_id


def test_a_run_is_reported_on_privatetest_if_it_has_it_else_on_its_first_split():
    assert report_split(["PublicTest", "PrivateTest"]) == "PrivateTest"
    assert report_split(iter(["photos", "PublicTest"])) == "photos"


def test_a_runs_data_names_the_data_set_as_loaded():
    dataset = simulated_dataset({"Training": 2, "PublicTest": 1, "PrivateTest": 1})
    data = RunData.of(dataset, n_train_fit=14)
    assert (data.source, data.layout, data.fingerprint, data.n_images) == (
        dataset.source,
        dataset.layout,
        dataset.fingerprint,
        28,
    )
    assert (data.classes, data.labels, data.images, data.n_train_fit) == (
        FER2013_CLASSES,
        dataset.labels_name,
        dataset.images_fingerprint,
        14,
    )
    assert data.to_dict()["classes"] == list(FER2013_CLASSES) and "n_train_fit" not in RunData.of(dataset).to_dict()


def test_outdated_parts_name_each_changed_version_and_each_part_gone():
    record = example_record()
    current = registry.get("model", "logreg").version
    assert record.outdated_parts() == []

    def with_model(name, version):
        return replace(record, spec=replace(record.spec, model=PartSpec(name, {}, version)))

    assert with_model("logreg", "0").outdated_parts() == [f"model/logreg v0, now v{current}"]
    assert with_model("no-such-model", "3").outdated_parts() == ["model/no-such-model v3, now gone"]
    assert "features/pixels unversioned, now v" in example_record(versioned=False).outdated_parts()[0]


def test_runs_are_found_by_experiment_or_a_run_id_prefix_of_six_characters_or_more():
    a, b = example_record("abcdef123456", "first"), example_record("abcdeg123456", "second")
    assert select([a, b], "second") == [b] and select([a, b], "abcdef") == [a]
    assert select([a, b], "abcde") == [] and select([a, b], "abcdef1234567") == []


def test_each_run_is_what_its_last_line_says():
    a, b = example_record("a" * 12, "a"), example_record("b" * 12, "b")
    a_pruned = replace(a, artefact=None)
    assert last_lines([a, b, a_pruned]) == [b, a_pruned]


def test_the_latest_run_is_the_one_that_ran_last_not_one_pruned_or_completed_since():
    older = replace(example_record("a" * 12, "exp", artefact="models/a.npz"), created="2026-12-02T04:29:00+00:00")
    newer = replace(example_record("b" * 12, "exp", artefact="models/b.npz"), created="2026-12-08T02:48:00+00:00")
    older_pruned = pruned(older, "fer-bench prune aaaaaa")
    assert latest_ok([older, newer, older_pruned], "exp") == newer
    newer_pruned = pruned(newer, "fer-bench prune bbbbbb")
    assert latest_ok([older, newer, older_pruned, newer_pruned], "exp") == newer_pruned  # as its last line says
    assert latest_ok([newer, older], "exp") == newer and latest_ok([older_pruned, older], "aaaaaa") == older


def test_the_latest_ok_record_of_an_experiment_skips_failed_runs():
    runs = [example_record(f"{n}" * 12, "exp") for n in range(3)] + [example_record("f" * 12, "exp", status=FAILED)]
    assert latest_ok(runs, "exp") == runs[2]
    with pytest.raises(FerBenchError, match="no successful recorded run matches 'other'"):
        latest_ok(runs, "other")
    store = RecordStore(Path(os.environ["FER_BENCH_RESULTS"]))  # the test's results folder
    for record in runs:
        store.append(record)
    assert store.ok_record("1" * 12) == runs[1] and store.ok_record("f" * 12) is None
    assert store.find("exp") == runs and store.find("1" * 6) == [runs[1]]


def test_a_run_without_weights_or_whose_weights_are_gone_has_no_saved_model(tmp_path):
    with pytest.raises(FerBenchError, match=r"run abc123def456 \(example\) saved no weights"):
        saved_model(example_record(), tmp_path)
    with pytest.raises(FerBenchError, match="the weights of run abc123def456 are missing"):
        saved_model(example_record(artefact="models/gone.skops"), tmp_path)


def test_the_results_folder_is_fer_bench_results_or_results(tmp_path, monkeypatch):
    assert RecordStore().path == Path(os.environ["FER_BENCH_RESULTS"]) / "runs.jsonl"
    monkeypatch.delenv("FER_BENCH_RESULTS")
    assert RecordStore().root == Path("results") and RecordStore(tmp_path).root == tmp_path
    with pytest.raises(FerBenchError, match="no run records here"):
        RecordStore(tmp_path).with_records()


def test_a_results_folder_is_made_with_its_records_file_or_refused_in_one_line(tmp_path, monkeypatch):
    store = RecordStore(tmp_path / "new" / "results")
    assert store.check_writable().with_records() is store and store.check_writable() is store  # made, then found
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644 & ~_umask()
    (tmp_path / "file").write_text("")
    with pytest.raises(FerBenchError, match="is not writable"):
        RecordStore(tmp_path / "file" / "results").check_writable()
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)  # as for a user, not root
    with pytest.raises(FerBenchError, match=r"is not writable \(read-only folder\)"):
        store.check_writable()


def test_a_read_only_records_file_is_refused_by_the_check_as_for_a_user(tmp_path, monkeypatch):
    store = RecordStore(tmp_path).check_writable()
    opened = os.open

    def read_only(path, flags, *mode):  # the file's permissions as a user meets them (root writes any file)
        if Path(path) == store.path and flags & os.O_ACCMODE != os.O_RDONLY:
            raise PermissionError(13, "Permission denied")
        return opened(path, flags, *mode)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(FerBenchError, match=r"is not writable \(Permission denied\)"):
        store.check_writable()


def test_a_first_record_makes_its_folders_and_a_file_of_mode_644_or_is_refused_naming_the_file(tmp_path):
    store = RecordStore(tmp_path / "new" / "results")
    store.append(example_record())
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644 & ~_umask() and len(store.all()) == 1
    (tmp_path / "file").write_text("")
    blocked = RecordStore(tmp_path / "file" / "results")
    with pytest.raises(FerBenchError, match=f"^cannot write run records to {re.escape(str(blocked.path))}: "):
        blocked.append(example_record())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_record_completed_or_pruned_says_when_and_by_which_command():
    record = example_record(pruned={"command": "fer-bench prune example"})
    done = completed(record, "models/w.npz", "probabilities/p.npz", "fer-bench complete example")
    assert (done.artefact, done.probabilities, done.pruned) == ("models/w.npz", "probabilities/p.npz", None)
    again = pruned(done, "fer-bench prune again")
    assert again.artefact is None and again.probabilities == "probabilities/p.npz"
    for how, command in ((done.completed, "fer-bench complete example"), (again.pruned, "fer-bench prune again")):
        assert set(how) == {"created", "command", "git_commit", "versions", "hardware"} and how["command"] == command
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", how["created"])  # UTC, to the second


def test_a_new_record_is_its_spec_run_now():
    spec, data = example_record().spec, example_record().data
    record = new_record(spec, "exp", "what it is", OK, data, command="fer-bench run exp", timings={"total": 1.0})
    assert (record.run_id, record.experiment, record.status, record.spec, record.seed) == (
        spec.run_id,
        "exp",
        OK,
        spec,
        spec.seed,
    )
    assert (record.command, record.description, record.data, record.timings) == (
        "fer-bench run exp",
        "what it is",
        data,
        {"total": 1.0},
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record.created)
    assert record.versions and record.hardware and record.git_commit
    assert new_record(spec, "exp@photos", "", OK, data, run_id="e" * 12).run_id == "e" * 12  # an evaluation's own
