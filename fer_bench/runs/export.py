"""A recorded run's network out of fer-bench, as one ONNX file a phone, a browser or a C++ program
can run (onnxruntime, ONNX Runtime Web, ...).

The file holds the Keras network its saved weights rebuild (base.ExportsNetwork), test-time
augmentation built in, converted by Keras's own `export(format="onnx")` (tf2onnx under TensorFlow):
it gives the probabilities `predict_proba` gives, before calibration. What the network needs around
it is in the file's metadata (`metadata_props`, keys `fer_bench.*`): the run, its classes in output
order, its input (the features it was trained on, their shape, the pixels' scaling), and the
temperature fer-bench calibrates its probabilities with (divide the log-probabilities by it, then
softmax).
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
from fer_bench.runs.records import Record, saved_model

log = logging.getLogger("fer_bench")

FORMATS = ("onnx",)
OPSET = 17  # read by every onnxruntime release of the last years
METADATA_PREFIX = "fer_bench."


def export(record: Record, root: Path, out: Path, format: str = "onnx") -> Path:
    """Write `record`'s network (with saved weights, in the results folder `root`) to `out`."""
    if format not in FORMATS:
        raise FerBenchError(f"--format {format}: fer-bench exports {', '.join(FORMATS)}")
    if not isinstance(record.model(), ExportsNetwork):
        raise FerBenchError(
            f"run {record.run_id} ({record.experiment}): model {record.spec.model.name} is no single Keras "
            "network that fer-bench can export (an ensemble: export its members)"
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


def _with_metadata(file: Path, values: dict[str, str]) -> Path:
    import onnx

    model = onnx.load(str(file))
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, value
    model.doc_string = "fer-bench: " + values["experiment"] + " (run " + values["run_id"] + ")"
    onnx.save(model, str(file))
    return file
