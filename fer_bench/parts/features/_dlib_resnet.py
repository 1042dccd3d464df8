"""dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) as a Keras model.

dlib runs this network one image at a time on one core. The same weights in Keras run in batches
on every core (or a GPU) and give the same 128-d descriptors to within float32 rounding.

The .dat file is dlib's own serialization: layers from the input up, each a name string followed by
its fields; integers are packed (a byte holding the sign and length, then little-endian bytes),
floats are a packed mantissa and exponent, and tensors are a version, four dimensions and raw
little-endian float32 values. Only the layers this network uses are read.
"""

import functools
import re
from typing import Any

import numpy as np

from fer_bench.backend import load_keras

keras = load_keras()
kl, ops = keras.layers, keras.ops
# mypy cannot resolve a base class through a value (Keras comes from load_keras()): Any to it
Layer: Any = kl.Layer

_LAYER = re.compile(rb"\x01[\x04-\x15](con_4|affine_|relu_|add_prev_|avg_pool_2|max_pool_2|fc_2|input_rgb_image_sized)")


class _Reader:
    def __init__(self, data, position):
        self.data, self.position = data, position

    def int(self):
        head = self.data[self.position]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.position + 1 : self.position + 1 + size], "little")
        self.position += 1 + size
        return -value if head & 0x80 else value

    def float(self):
        mantissa = self.int()
        return mantissa * 2.0 ** self.int()

    def string(self):
        size = self.int()
        self.position += size
        return self.data[self.position - size : self.position].decode()

    def tensor(self):
        if self.int() != 2:
            raise ValueError("unsupported dlib tensor version")
        count = int(np.prod([self.int() for _ in range(4)]))
        values = np.frombuffer(self.data, "<f4", count, self.position)
        self.position += 4 * count
        return values


def read_layers(path):
    """The network's layers, input first, as dicts of their type and parameters."""
    data = open(path, "rb").read()
    layers = []
    for match in _LAYER.finditer(data):
        reader = _Reader(data, match.start())
        kind = reader.string()
        if kind == "con_4":
            params = reader.tensor()
            n_filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(7))
            n_weights = len(params) - n_filters
            shape = (n_filters, n_weights // (n_filters * rows * cols), rows, cols)
            layers.append(
                {
                    "type": "con",
                    "filters": params[:n_weights].reshape(shape),
                    "bias": params[n_weights:],
                    "stride": (stride_y, stride_x),
                    "padding": (pad_y, pad_x),
                }
            )
        elif kind == "affine_":
            params = reader.tensor()
            half = len(params) // 2
            layers.append({"type": "affine", "gamma": params[:half], "beta": params[half:]})
        elif kind in ("max_pool_2", "avg_pool_2"):
            rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.int() for _ in range(6))
            if pad_y or pad_x:
                raise ValueError("padded pooling is not supported")
            layers.append({"type": kind[:8], "size": (rows, cols), "stride": (stride_y, stride_x)})
        elif kind == "fc_2":
            n_outputs, n_inputs = reader.int(), reader.int()
            layers.append(
                {"type": "fc", "weights": reader.tensor()[: n_inputs * n_outputs].reshape(n_inputs, n_outputs)}
            )
        elif kind == "input_rgb_image_sized":
            mean = [reader.float() for _ in range(3)]
            layers.append({"type": "input", "mean": mean, "size": (reader.int(), reader.int())})
        else:
            layers.append({"type": kind.rstrip("_")})
    return layers


def build_model(layers):
    """Keras model: uint8-range RGB chips (N, 150, 150, 3) -> (N, 128) descriptors."""
    spec = layers[0]
    inputs = keras.Input((*spec["size"], 3))
    x = Normalize(spec["mean"])(inputs)
    block_input = previous = None
    for layer in layers[1:]:
        kind = layer["type"]
        if kind == "con":
            if previous in ("max_pool", "add_relu"):
                block_input = x  # a residual block starts here
            pad_y, pad_x = layer["padding"]
            if pad_y or pad_x:
                x = kl.ZeroPadding2D(((pad_y, pad_y), (pad_x, pad_x)))(x)
            n_filters, _, rows, cols = layer["filters"].shape
            conv = kl.Conv2D(n_filters, (rows, cols), strides=layer["stride"], padding="valid")
            x = conv(x)
            conv.set_weights([np.transpose(layer["filters"], (2, 3, 1, 0)), layer["bias"]])
        elif kind == "affine":
            x = Affine(layer["gamma"], layer["beta"])(x)
        elif kind == "relu":
            x = kl.ReLU()(x)
        elif kind == "max_pool":
            x = kl.MaxPooling2D(layer["size"], layer["stride"])(x)
        elif kind == "avg_pool" and layer["size"] == (0, 0):
            x = kl.GlobalAveragePooling2D()(x)
        elif kind == "avg_pool":  # on the shortcut of a down-sampling block
            block_input = kl.AveragePooling2D(layer["size"], layer["stride"])(block_input)
        elif kind == "add_prev":
            x = AddZeroPadded()(x, block_input)
        elif kind == "fc":
            dense = kl.Dense(layer["weights"].shape[1], use_bias=False)
            x = dense(x)
            dense.set_weights([layer["weights"]])
        previous = "add_relu" if kind == "relu" and previous == "add_prev" else kind
    return keras.Model(inputs, x, name="dlib_resnet_v1")


@functools.cache
def descriptor_model():
    import face_recognition_models

    return build_model(read_layers(face_recognition_models.face_recognition_model_location()))


@functools.cache
def descriptor_stages():
    """(trunk, head) of the descriptor model: chips -> (N, 256) pooled features, and its last layer,
    the projection to 128, on its own, with the same weights.

    Apart so that each can be batched as it must be for its output to be the same whatever the batch
    (`embedding.describe`): oneDNN's matrix product rounds a row differently by the number of rows.
    """
    model = descriptor_model()
    pooled = model.layers[-2].output
    head_input = keras.Input(pooled.shape[1:])
    return keras.Model(model.inputs, pooled, name="dlib_resnet_v1_trunk"), keras.Model(
        head_input, model.layers[-1](head_input), name="dlib_resnet_v1_head"
    )


class Normalize(Layer):
    """dlib's input_rgb_image: subtract the channel means, divide by 256."""

    def __init__(self, mean, **kwargs):
        super().__init__(**kwargs)
        self.mean = np.asarray(mean, dtype="float32")

    def call(self, x):
        return (ops.cast(x, "float32") - self.mean) / 256.0


class Affine(Layer):
    """dlib's affine_ layer: a fixed per-channel scale and shift."""

    def __init__(self, gamma, beta, **kwargs):
        super().__init__(**kwargs)
        self.gamma, self.beta = np.asarray(gamma, "float32"), np.asarray(beta, "float32")

    def call(self, x):
        return x * self.gamma + self.beta


class AddZeroPadded(Layer):
    """dlib's add_prev_: tensors of different shapes add as if zero-padded at the end."""

    def call(self, a, b):
        shape = [max(i, j) for i, j in zip(a.shape[1:], b.shape[1:])]

        def pad(t):
            return ops.pad(t, [[0, 0]] + [[0, size - dim] for size, dim in zip(shape, t.shape[1:])])

        return pad(a) + pad(b)
