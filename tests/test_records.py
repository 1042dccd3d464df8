"""Records: the one reader upgrades older lines, a record reads back as written, and gives back its parts."""

import json
from dataclasses import replace

from fer_bench.cli import main
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.parts import registry
from fer_bench.runs.records import SCHEMA, Record, RecordStore
from fer_bench.testing import example_record

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
