"""A small residual CNN and a recipe sized for two CPU cores: FER2013 at about 66% in minutes.

What makes it fast (measured on 2-core AMD EPYC machines, TensorFlow's CPU kernels; issue 25's note):
- a stem of `width` channels then three stages of one residual block each (2, 4 and 8 x `width`
  channels at 24, 12 and 6 pixels): 305k parameters and 45 MFLOPs an image at width 16, against
  0.71 GFLOPs for `cnn`. Depthwise-separable convolutions would cost fewer FLOPs but run about 3x
  slower per FLOP on these kernels, and XLA (`jit_compile`) about 2x slower: neither is used.
- random `crop`-pixel crops and mirrors in training, the centre crop at test, done inside the
  network in one gather per batch (FaceAugment): no per-batch Python work (`mirror` and
  `random_crop` turn either off, for ablations; with neither, nor rotation, zoom or erasing, the
  network has no augmentation layer); at test the mirror too (`tta`), and with `tta_shift` each
  view shifted by that many pixels four ways (ten views: airbench's flip-and-translate);
- AdamW, one warm-up epoch, then cosine decay to zero, label smoothing: the last epoch is the
  model (no best-epoch search, so `epochs` fixes the work on any machine); with `ema` the model is
  the exponential moving average of its weights over the steps instead (airbench's weight
  averaging: momentum 0.999 averages about the last 1,000 steps);
- `steps_per_execution` batches per call into the framework;
- bfloat16 mixed precision where the CPU multiplies it natively and the network is wide enough to
  gain (`precision = "auto"`: 1.45x at width 32, 0.8x at width 16 on AVX-512 BF16).
With `with_embedding` (model `cnn-fast-fusion`) the 128-d face embedding joins the pooled image
features before the classifier, as `fusion` does for `cnn`.
Inherits from `cnn` the teacher (distillation), checkpoints, flip test-time augmentation and the
float16 weights file.
"""

from contextlib import contextmanager
from typing import ClassVar

from fer_bench.backend import load_keras, native_bfloat16
from fer_bench.parts.models.cnn import CNN, EMBEDDING, IMAGE_SHAPE
from fer_bench.parts.params import Interval, Options, Param, RunIds
from fer_bench.parts.registry import register

# Where bfloat16 starts to pay on CPUs that multiply it natively (see the module's doc).
BFLOAT16_MIN_WIDTH = 32


@contextmanager
def _dtype_policy(precision):
    """Layers built inside take `precision`'s Keras dtype policy; the global one is restored after."""
    keras = load_keras()
    saved = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(saved)


def build_fast_cnn(params, n_classes, with_embedding=False):
    """The network; `with_embedding` adds the 128-d embedding as a second input, joined before the head."""
    from fer_bench.parts.models._augment import FaceAugment

    keras = load_keras()
    layers = keras.layers
    p = params
    side = IMAGE_SHAPE[0]

    def conv_bn(x, filters, stride, name, relu=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x

    def residual(x, filters, name):
        shortcut = x
        if x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(x)
            shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
        x = conv_bn(x, filters, 1, f"{name}_a")
        x = conv_bn(x, filters, 1, f"{name}_b", relu=False)
        return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, shortcut]))

    image = keras.Input(IMAGE_SHAPE, name="pixels")
    # A random crop is a shift of up to half the margin, then the centre crop (also at test).
    shift = (side - p["crop"]) / 2 / side if p["random_crop"] else 0.0
    x = image
    if p["mirror"] or shift or p["rotation"] or p["zoom"] or p["erasing"]:
        x = FaceAugment(p["rotation"], p["zoom"], shift, p["erasing"], mirror=p["mirror"], name="augment")(x)
    x = layers.CenterCrop(p["crop"], p["crop"], name="crop")(x)
    x = layers.Rescaling(2.0, offset=-1.0, name="to_symmetric")(x)  # [0, 1] -> [-1, 1]
    with _dtype_policy(p["precision"]):  # the convolutions in bfloat16, the augmentation in float32
        x = conv_bn(x, p["width"], p["stem_stride"], "stem")
        for stage in range(3):
            if stage or p["stem_stride"] == 1:
                x = layers.MaxPooling2D(2, padding="same", name=f"pool{stage}")(x)
            for block in range(p["blocks"]):
                x = residual(x, p["width"] * 2 ** (stage + 1), f"stage{stage}_{block}")
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        inputs = [image]
        if with_embedding:
            embedding = keras.Input((EMBEDDING,), name="embedding")
            e = layers.BatchNormalization(name="embedding_bn")(embedding)
            e = layers.Dense(EMBEDDING, activation="relu", name="embedding_dense")(e)
            x = layers.Concatenate(name="fuse")([x, e])
            inputs.append(embedding)
        x = layers.Dropout(p["dropout"], name="head_drop")(x)
        outputs = layers.Dense(n_classes, name="logits")(x)
        outputs = layers.Activation("softmax", dtype="float32", name="classes")(outputs)
    return keras.Model(
        inputs if with_embedding else image, outputs, name="cnn_fast_fusion" if with_embedding else "cnn_fast"
    )


@register("model", "cnn-fast")
class FastCNN(CNN):
    """A residual CNN with a one-cycle recipe for 2 CPU cores (random crops, AdamW, cosine to zero,
    label smoothing, flip TTA); bfloat16 where the CPU runs it natively."""

    smoke_params = {"width": 4, "epochs": 2, "batch_size": 16}
    added_later: ClassVar[tuple[str, ...]] = ("mirror", "random_crop", "fit_teacher_temperature", "ema", "tta_shift")
    family = "fast CNN"
    parameters = {
        "width": Param(16, Interval(1)),
        "blocks": Param(1, Interval(1, 4)),
        "stem_stride": Param(1, Options(1, 2)),
        "dropout": Param(0.0, Interval(0, 1, closed="left")),
        "crop": Param(44, Interval(32, IMAGE_SHAPE[0])),
        "mirror": Param(True),  # random mirrors in training
        "random_crop": Param(True),  # random `crop`-pixel crops in training (else the centre crop)
        "rotation": Param(0.0, Interval(0)),
        "zoom": Param(0.0, Interval(0)),
        "erasing": Param(0.0, Interval(0, 1)),
        "label_smoothing": Param(0.1, Interval(0, 1, closed="left")),
        "epochs": Param(20, Interval(1)),
        "batch_size": Param(128, Interval(1)),
        "learning_rate": Param(0.003, Interval(0, closed="neither")),
        "weight_decay": Param(0.05, Interval(0)),
        "warmup_epochs": Param(1, Interval(0)),
        "ema": Param(0.0, Interval(0, 1, closed="left")),  # the weights' moving average's momentum; 0: none
        "validation_split": Param(0.1, Interval(0, 1, closed="neither")),
        "precision": Param("auto", Options("auto", "float32", "bfloat16")),
        "tta": Param(True),
        "tta_shift": Param(0, Interval(0)),  # test views shifted by this many pixels up, down, left, right too
        "teacher": Param("", RunIds(optional=True)),
        "teacher_temperature": Param(2.0, Interval(0, closed="neither")),
        "teacher_weight": Param(0.7, Interval(0, 1)),
        "fit_teacher_temperature": Param(False),
    }
    steps_per_execution = 8

    @classmethod
    def on_this_machine(cls, params):
        """ "auto" precision becomes bfloat16 where the CPU multiplies it natively and the network is
        wide enough to gain from it, float32 elsewhere; "bfloat16" asked for runs anywhere (slowly)."""
        if params["precision"] != "auto":
            return params
        fast = native_bfloat16() and params["width"] >= BFLOAT16_MIN_WIDTH
        return params | {"precision": "bfloat16" if fast else "float32"}

    def validate(self):
        super().validate()
        margin = (IMAGE_SHAPE[0] - self.crop) // 2
        if self.tta_shift > margin:
            raise ValueError(f"tta_shift must be <= {margin}, the margin the {self.crop}-pixel crop leaves")

    def test_views(self):
        """With `tta_shift`, each view (the image, its mirror) shifted by that many pixels in each of
        the four directions too, within the crop's margin: the centre crop then sees a window that
        random crops showed in training, and no pixel of the roll's other side."""
        views = super().test_views()
        by = self.tta_shift
        if not by:
            return views
        shifts = ((0, 0), (by, 0), (-by, 0), (0, by), (0, -by))
        return [(mirrored, rows, columns) for mirrored, _, _ in views for rows, columns in shifts]

    def network(self, n_classes):
        return build_fast_cnn(self.on_this_machine(self.get_params()), n_classes, self.with_embedding)

    def portable_network(self):
        """A network trained in bfloat16 as a float32 one with the same weights (its variables are
        float32 already): onnxruntime has no bfloat16 convolution on CPUs, and refuses such a file.
        Its probabilities differ from fer-bench's by bfloat16's rounding (a few thousandths)."""
        if all(layer.compute_dtype != "bfloat16" for layer in self.model.layers):
            return self.model
        params = self.on_this_machine(self.get_params()) | {"precision": "float32"}
        network = build_fast_cnn(params, self.model.outputs[0].shape[-1], self.with_embedding)
        network.set_weights(self.model.get_weights())
        return network

    def optimizer(self, steps_per_epoch):
        """AdamW: a linear warm-up from a tenth of the rate, then cosine decay to zero; with `ema`, the
        moving average of the weights, which Keras's `fit` copies into the network when it ends (the
        epochs' validation accuracy is the raw weights'; batch-norm statistics are not averaged)."""
        keras = load_keras()
        warmup = steps_per_epoch * self.warmup_epochs
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate / 10 if warmup else self.learning_rate,
            decay_steps=steps_per_epoch * (self.epochs - self.warmup_epochs),
            warmup_target=self.learning_rate if warmup else None,
            warmup_steps=warmup,
            alpha=0.0,
        )
        averaging = {"use_ema": True, "ema_momentum": self.ema} if self.ema else {}
        return keras.optimizers.AdamW(schedule, weight_decay=self.weight_decay, **averaging)

    def best_epoch_callback(self):
        return None
