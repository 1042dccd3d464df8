"""A recorded run's network out of fer-bench, as one ONNX file a phone, a browser or a C++ program
can run (onnxruntime, ONNX Runtime Web, ...).

The file holds the Keras network its saved weights rebuild (base.ExportsNetwork), test-time
augmentation built in, converted by Keras's own `export(format="onnx")` (tf2onnx under TensorFlow):
it gives the probabilities `predict_proba` gives, before calibration. What the network needs around
it is in the file's metadata (`metadata_props`, keys `fer_bench.*`): the run, its classes in output
order, its input (the features it was trained on, their shape, the pixels' scaling), and the
temperature fer-bench calibrates its probabilities with (divide the log-probabilities by it, then
softmax).

An ensemble is written as its voting members, one such file each, in a folder with `ensemble.json`
(ENSEMBLE_FILE): each member's file, weight and temperature, and the vote that `predict` takes
(each member's probabilities calibrated by its temperature, weighted, summed). Its members may take
different inputs (a fusion network takes the face embedding too), which one graph could not hold.
"""

import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import ExportsNetwork
from fer_bench.runs import probabilities
from fer_bench.runs.predict import Predictor, is_ensemble
from fer_bench.runs.records import Record, saved_model

log = logging.getLogger("fer_bench")

FORMATS = ("onnx",)
OPSET = 17  # read by every onnxruntime release of the last years
METADATA_PREFIX = "fer_bench."
ENSEMBLE_FILE = "ensemble.json"
VOTE = "sum over members of weight x softmax(log(p) / temperature), p the member file's probabilities"


def default_out(record: Record) -> Path:
    """`EXPERIMENT-RUNID.onnx`; an ensemble's folder `EXPERIMENT-RUNID`."""
    return Path(f"{record.experiment}-{record.run_id}" + ("" if is_ensemble(record) else ".onnx"))


def export(record: Record, root: Path, out: Path, format: str = "onnx") -> Path:
    """Write `record`'s network (with saved weights, in the results folder `root`) to `out`; an
    ensemble's members and their vote into the folder `out`."""
    if format not in FORMATS:
        raise FerBenchError(f"--format {format}: fer-bench exports {', '.join(FORMATS)}")
    if is_ensemble(record):
        return _ensemble(record, root, out, format)
    if not isinstance(record.model(), ExportsNetwork):
        raise FerBenchError(
            f"run {record.run_id} ({record.experiment}): model {record.spec.model.name} is no Keras "
            "network that fer-bench can export"
        )
    model = saved_model(record, root)  # refuses, naming `fer-bench complete`, a run without weights
    network = model.exported_network()
    zeros = [np.zeros((1, *given.shape[1:]), np.float32) for given in network.inputs]
    network(zeros if len(zeros) > 1 else zeros[0])  # Keras exports only a network that has been called
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        converted = Path(scratch) / "network.onnx"
        network.export(str(converted), format="onnx", verbose=False, opset_version=OPSET)
        _with_metadata(converted, metadata(record, root, network)).replace(out)
    log.info(f"{record.experiment} (run {record.run_id}): its network written to {out}")
    return out


def metadata(record: Record, root: Path, network) -> dict[str, str]:
    """What a program running the file needs to know, as the file's metadata (strings)."""
    features = record.spec.features
    temperature = probabilities.temperature(root, record)
    inputs = [
        {"name": given.name, "shape": ["batch", *[int(d) for d in given.shape[1:]]], "dtype": "float32"}
        for given in network.inputs
    ]
    return {
        "run_id": record.run_id,
        "experiment": record.experiment,
        "classes": json.dumps(list(record.classes)),
        "outputs": "probabilities, one per class in `classes` order (before calibration)",
        "inputs": json.dumps(inputs),
        "features": json.dumps({"name": features.name, "params": features.params}),
        "features_summary": registry.get("features", features.name).summary,
        "temperature": f"{temperature.value:.6g}",
        "temperature_fitted_on": (
            f"{temperature.n_images} held-out Training images" if temperature.fitted else temperature.why_none
        ),
        "data": record.data.fingerprint,
        "git_commit": record.git_commit or "",
    }


def _ensemble(record: Record, root: Path, out: Path, format: str) -> Path:
    """The voting members' files in the folder `out`, and ENSEMBLE_FILE saying how they vote."""
    predictor = Predictor.load(record, root)  # refuses, in one line, a member without weights
    for member in predictor.members:  # before any file is written
        if not isinstance(member.model, ExportsNetwork):
            raise FerBenchError(
                f"ensemble {record.experiment} (run {record.run_id}): member {member.record.run_id} "
                f"({member.record.experiment}) is no Keras network that fer-bench can export"
            )
    out.mkdir(parents=True, exist_ok=True)
    members = []
    for member in predictor.members:
        file = f"{member.record.experiment}-{member.record.run_id}.onnx"
        export(member.record, root, out / file, format)
        members.append(
            {
                "file": file,
                "run_id": member.record.run_id,
                "experiment": member.record.experiment,
                "weight": member.weight,
                "temperature": member.temperature.value,
            }
        )
    vote = {
        "run_id": record.run_id,
        "experiment": record.experiment,
        "classes": list(record.classes),
        "vote": VOTE,
        "members": members,
    }
    (out / ENSEMBLE_FILE).write_text(json.dumps(vote, indent=1) + "\n")
    log.info(f"{record.experiment} (run {record.run_id}): {len(members)} members and their vote written to {out}")
    return out


def _with_metadata(file: Path, values: dict[str, str]) -> Path:
    import onnx

    model = onnx.load(str(file))
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, value
    model.doc_string = "fer-bench: " + values["experiment"] + " (run " + values["run_id"] + ")"
    onnx.save(model, str(file))
    return file
