"""A network saved as ONNX (a PyTorch network exported, or any other framework's), run by
onnxruntime and scored on the same yardsticks as every run.

The contract is saved-network's (fer_bench/parts/models/saved_network.py): the file (`path`), its
input (`size`, `channels`, `scaling`), its classes in order, matched to the data set's label space
by emotion; the file's sha256 in the run id; trained elsewhere, never fitted. Beside it:

- the input layout is read from the file: (batch, channels, height, width), as PyTorch exports, or
  (batch, height, width, channels), as Keras; `size` and `channels` must fit one of them (a
  dimension the file leaves open fits any);
- `outputs`: "probabilities" where the network ends in a softmax (checked as for Keras files), or
  "logits", which fer-bench turns into probabilities with a softmax;
- the batch dimension: open, or fixed at 1 (torch.onnx.export without `dynamic_axes` fixes it at its
  example input's size), and then images are run one at a time; fixed at another size is refused.

Every problem with the file (not ONNX, not one image input and one output, shapes that do not fit
the spec, a batch fixed at more than one) is one line, before any data loads where the file can say
so.
"""

from pathlib import Path

import numpy as np

from fer_bench.data.dataset import IMAGE_SIZE
from fer_bench.errors import FerBenchError
from fer_bench.parts.models.saved_network import SavedNetwork
from fer_bench.parts.params import Options, Param
from fer_bench.parts.registry import register

OUTPUTS = ("probabilities", "logits")


@register("model", "onnx-network")
class OnnxNetwork(SavedNetwork):
    """A network trained elsewhere, saved as ONNX (e.g. exported from PyTorch), run by onnxruntime
    without training; its file's sha256 is in the run id."""

    version = "1"
    parameters = {**SavedNetwork.parameters, "outputs": Param("probabilities", Options(*OUTPUTS))}
    formats = ".onnx"
    outputs: str  # "probabilities" or "logits", as the spec says
    channels_first = False  # the file's input layout, read when it is loaded
    one_at_a_time = False  # the file's batch is fixed at 1: images are run one at a time

    @classmethod
    def check_format(cls, file: Path, path: str):
        graph = _graph(file, path)
        weights = {tensor.name for tensor in graph.initializer}  # older exports list them as inputs too
        if len([given for given in graph.input if given.name not in weights]) != 1 or len(graph.output) != 1:
            raise FerBenchError(f"{path}: a network of one input and one output is needed")

    def _load(self, file):
        import onnxruntime

        try:
            session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001  onnxruntime raises its own kinds on a file it cannot run
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise FerBenchError(f"{self.path}: onnxruntime cannot run it ({first[:200]})") from None
        if len(session.get_inputs()) != 1 or len(session.get_outputs()) != 1:
            raise FerBenchError(f"{self.path}: a network of one input and one output is needed")
        given_in, given_out = session.get_inputs()[0].shape, session.get_outputs()[0].shape
        last, first = (self.size, self.size, self.channels), (self.channels, self.size, self.size)
        if len(given_in) != 4 or not (_fits(given_in[1:], last) or _fits(given_in[1:], first)):
            raise FerBenchError(
                f"{self.path}: the network takes input of shape {_shape(given_in)}; size and channels say "
                f"(batch, {', '.join(map(str, first))}) or (batch, {', '.join(map(str, last))})"
            )
        self.channels_first = not _fits(given_in[1:], last)
        if isinstance(given_in[0], int) and given_in[0] != 1:
            raise FerBenchError(
                f"{self.path}: the network takes input of shape {_shape(given_in)}, a fixed batch of {given_in[0]}; "
                'its batch dimension must be dynamic (torch.onnx.export(..., dynamic_axes={"input": {0: "batch"}}))'
            )
        self.one_at_a_time = given_in[0] == 1
        if len(given_out) != 2 or not _fits(given_out[1:], (len(self.classes),)):
            raise FerBenchError(
                f"{self.path}: the network gives output of shape {_shape(given_out)}; "
                f"`classes` names {len(self.classes)}"
            )
        return session

    def scores(self, inputs) -> np.ndarray:
        if self.channels_first:
            inputs = inputs.transpose(0, 3, 1, 2)
        name, inputs = self.network.get_inputs()[0].name, np.ascontiguousarray(inputs, dtype=np.float32)
        batches = [inputs[i : i + 1] for i in range(len(inputs))] if self.one_at_a_time else [inputs]
        given = np.concatenate([self.network.run(None, {name: batch})[0] for batch in batches])
        if self.outputs == "logits":
            given = np.exp(given - given.max(axis=1, keepdims=True))
            given /= given.sum(axis=1, keepdims=True)
        return given

    @classmethod
    def example(cls, folder, classes):
        """A grey 48x48 network, channels first as PyTorch exports it: a global average, a linear
        layer and a softmax over `classes` in reverse order."""
        names = tuple(reversed(classes))
        file = Path(folder) / "example.onnx"
        write_example(file, len(names), softmax=True)
        return {"path": str(file), "classes": names, "trained_on": "nothing (random weights)"}


def write_example(
    file: Path,
    n_classes: int,
    *,
    softmax: bool,
    channels_first=True,
    size=IMAGE_SIZE,
    channels=1,
    weights=None,
    bias=None,
    batch: int | None = None,
):
    """Write a tiny ONNX image classifier: global average pool, a linear layer (`weights` of shape
    (channels, n_classes), by default drawn from a fixed seed; `bias`, by default none), then a
    softmax, or nothing (it gives logits). Its batch dimension is open, or fixed at `batch`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if weights is None:
        weights = np.random.default_rng(0).normal(size=(channels, n_classes))
    bias = np.zeros(n_classes) if bias is None else bias
    shape = [batch, channels, size, size] if channels_first else [batch, size, size, channels]
    nodes = [] if channels_first else [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2])]
    nodes += [
        helper.make_node("GlobalAveragePool", ["image" if channels_first else "nchw"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["logits"]),
    ]
    nodes += [helper.make_node("Softmax", ["logits"], ["scores"], axis=1)] if softmax else []
    graph = helper.make_graph(
        nodes,
        "fer-bench-example",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("scores" if softmax else "logits", TensorProto.FLOAT, [batch, n_classes])],
        [
            numpy_helper.from_array(np.asarray(weights, np.float32), "weights"),
            numpy_helper.from_array(np.asarray(bias, np.float32), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    onnx.checker.check_model(model)
    onnx.save(model, file)


def _graph(file: Path, path: str):
    import onnx

    try:
        return onnx.load(str(file), load_external_data=False).graph
    except Exception as error:  # noqa: BLE001  a file that is no ONNX protobuf fails in many ways
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise FerBenchError(f"{path}: not an ONNX network ({first[:200]})") from None


def _fits(given, wanted) -> bool:
    """A shape from the file (a dimension may be open: a name or None) against the one wanted."""
    return len(given) == len(wanted) and all(not isinstance(g, int) or g == w for g, w in zip(given, wanted))


def _shape(given) -> str:
    return "(" + ", ".join(str(d) if isinstance(d, int) else "batch" for d in given) + ")"
