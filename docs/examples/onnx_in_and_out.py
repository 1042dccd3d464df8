"""ONNX in and out (docs/onnx.md), on a simulated data set, in a temporary folder; nothing is downloaded.

In: a network written with the `onnx` package as another framework would export it (channels first,
pixels in 0-255, its own class order, logits out) is scored by model `onnx-network`.
Out: a small fer-bench network is trained, exported as `fer-bench export` writes it, and run by
onnxruntime alone, which gives the probabilities `fer-bench predict` gives.
"""

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import fer_bench
from fer_bench.testing import simulated_dataset

# The network's classes in its own order; fer-bench matches them to the data set's by emotion.
CLASSES = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear"]


def write_network(path: Path, data) -> None:
    """A linear network, input (batch, 1, 48, 48) of pixels in 0-255, logits out in CLASSES' order.
    Its weights, "trained elsewhere", are the Training faces' class means, centred: templates."""
    training = data.splits == "Training"
    pixels = data.images[training].reshape(-1, 48 * 48).astype(np.float32)
    mean = pixels.mean(axis=0)
    means = [pixels[data.labels[training] == data.classes.index(name.title())].mean(axis=0) for name in CLASSES]
    weights = (np.stack(means) - mean).T / 255**2  # (2304, classes)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("Gemm", ["flat", "weights", "bias"], ["logits"]),  # flat @ weights + bias
        ],
        "templates",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 48, 48])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(CLASSES)])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(-mean @ weights, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(folder: Path) -> None:
    data = simulated_dataset()  # 48x48 stripe patterns, one angle a class, under noise
    where = {"data": data, "results": folder / "results", "cache": folder / "cache"}

    # In: the file and what it needs, as an experiment; run scores it as it scores any run.
    write_network(folder / "templates.onnx", data)
    (folder / "templates.toml").write_text(
        f"""
[features]
name = "pixels"
[model]
name = "onnx-network"
path = {json.dumps(str(folder / "templates.onnx"))}
size = 48
channels = 1
scaling = "0-255"
classes = {json.dumps(CLASSES)}
outputs = "logits"
trained_on = "the simulated Training faces' class means"
"""
    )
    scored = fer_bench.run(str(folder / "templates.toml"), **where)
    accuracy = scored.metrics["PrivateTest"].accuracy
    print(f"in: the ONNX network (run {scored.run_id}), PrivateTest accuracy {accuracy:.3f}")
    assert accuracy > 0.5  # chance is 1/7: its classes landed in the right columns

    # Out: a small MLP on the pixels, trained and recorded, then exported.
    (folder / "small-mlp.toml").write_text('[features]\nname = "pixels"\n[model]\nname = "mlp"\nepochs = 30\n')
    trained = fer_bench.run(str(folder / "small-mlp.toml"), **where)
    exported = fer_bench.export(trained.run_id, results=where["results"], out=folder / "small-mlp.onnx")

    # onnxruntime alone: classes, input (48x48 grey, in [0, 1]) and temperature are in its metadata.
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    classes = json.loads(metadata["fer_bench.classes"])
    temperature = float(metadata["fer_bench.temperature"])
    faces = data.images[data.indices("PrivateTest")][::6]  # a face of each class, (7, 48, 48) uint8
    given = session.run(None, {session.get_inputs()[0].name: faces[..., None].astype(np.float32) / 255})[0]
    calibrated = softmax(np.log(np.maximum(given, 1e-12)) / temperature)  # as fer-bench calibrates

    # predict, given the same faces as image files, gives the same probabilities (to its 4 decimals).
    files = []
    for i, face in enumerate(faces):
        files.append(folder / f"face-{i}.png")
        Image.fromarray(face).save(files[-1])
    predicted = fer_bench.predict(files, model=trained.run_id, results=where["results"], faces="crop", progress=False)
    for (file, (face,)), row in zip(predicted.images, calibrated):
        print(f"out: {Path(file).name}: {classes[row.argmax()]} {row.max():.4f}")
        np.testing.assert_allclose([face.probabilities[name] for name in classes], row, atol=1e-4)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        main(Path(folder))
