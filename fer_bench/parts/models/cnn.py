"""A compact VGG-style CNN on the 48x48 pixels, and its fusion with the 128-d face embedding.

Written with `keras` and `keras.ops` only, fed NumPy arrays: it trains on TensorFlow (the CPU
default), JAX or torch, on a GPU when the backend sees one. Augmentation layers live inside the
network, so they act in training only. The validation split is carved from Training; the epoch
with the best validation accuracy is the one kept; an interrupted fit resumes from its last
finished epoch (the run's checkpoint folder). With a `teacher` (a recorded run or ensemble, by run
id) it learns the teacher's probabilities mixed with the labels (fer_bench/parts/models/_distillation.py).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from fer_bench.backend import load_keras
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import (
    IMAGE,
    IMAGE_AND_EMBEDDING,
    BuildsOnRuns,
    Model,
    ReportsEpochs,
    Resumable,
    SavesWeights,
    SoftTargets,
    ValidationPlan,
)
from fer_bench.parts.models._distillation import Distillation
from fer_bench.parts.models._keras_training import epoch_log_callback, fit_keras
from fer_bench.parts.registry import register

IMAGE_SHAPE = (48, 48, 1)
PIXELS = 48 * 48
EMBEDDING = 128


def build_cnn(params, n_classes, with_embedding=False):
    """The network; `with_embedding` adds the 128-d embedding as a second input, joined before the head."""
    from fer_bench.parts.models._augment import FaceAugment

    keras = load_keras()
    layers = keras.layers
    p = params
    image = keras.Input(IMAGE_SHAPE, name="pixels")
    x = image
    if p["augment"]:
        x = FaceAugment(p["rotation"], p["zoom"], p["shift"], p["erasing"], name="augment")(x)
    decay = keras.regularizers.L2(p["weight_decay"]) if p["weight_decay"] > 0 else None
    for block in range(p["blocks"]):
        filters = p["width"] * 2**block
        for conv in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=decay,
                              name=f"conv{block}_{conv}")(x)  # fmt: skip
            x = layers.BatchNormalization(name=f"bn{block}_{conv}")(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        x = layers.Dropout(p["dropout"] / 2, name=f"drop{block}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    inputs = [image]
    if with_embedding:
        embedding = keras.Input((EMBEDDING,), name="embedding")
        e = layers.BatchNormalization(name="embedding_bn")(embedding)
        e = layers.Dense(128, activation="relu", kernel_regularizer=decay, name="embedding_dense")(e)
        x = layers.Concatenate(name="fuse")([x, e])
        inputs.append(embedding)
    x = layers.Dense(p["head"], use_bias=False, kernel_regularizer=decay, name="head")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(p["dropout"], name="head_drop")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="fusion" if with_embedding else "cnn")


@register("model", "cnn")
class CNN(Model, SavesWeights, Resumable, ReportsEpochs, SoftTargets, BuildsOnRuns):
    """VGG-style CNN on pixels: BatchNorm, dropout, augmentation, cosine LR, best-epoch selection, TTA;
    optionally distilled from a recorded teacher."""

    takes = frozenset({IMAGE})
    with_embedding = False
    smoke_params = {"width": 4, "blocks": 2, "head": 8, "epochs": 2, "warmup_epochs": 1, "batch_size": 16}
    added_later = ("teacher", "teacher_temperature", "teacher_weight")
    runs_param = "teacher"

    def __init__(
        self,
        width: int = 32,
        blocks: int = 4,
        head: int = 256,
        dropout: float = 0.4,
        weight_decay: float = 0.0001,
        label_smoothing: float = 0.1,
        augment: bool = True,
        rotation: float = 0.04,
        shift: float = 0.1,
        zoom: float = 0.1,
        erasing: float = 0.0,
        epochs: int = 40,
        batch_size: int = 64,
        learning_rate: float = 0.002,
        warmup_epochs: int = 2,
        validation_split: float = 0.1,
        patience: int = 10,
        tta: bool = True,
        teacher: str = "",
        teacher_temperature: float = 2.0,
        teacher_weight: float = 0.7,
    ):
        if width < 1 or not 1 <= blocks <= 5 or head < 1 or epochs < 1 or batch_size < 1:
            raise ValueError("width, head, epochs and batch_size must be >= 1 and blocks in 1..5")
        if not 0 <= dropout < 1 or not 0 < validation_split < 1 or learning_rate <= 0 or weight_decay < 0:
            raise ValueError("need 0 <= dropout < 1, 0 < validation_split < 1, learning_rate > 0, weight_decay >= 0")
        if not 0 <= label_smoothing < 1 or min(rotation, shift, zoom, erasing) < 0 or erasing > 1:
            raise ValueError("label_smoothing in [0, 1), rotation/shift/zoom >= 0, erasing in [0, 1]")
        if warmup_epochs < 0 or warmup_epochs >= epochs or patience < 0:
            raise ValueError("need 0 <= warmup_epochs < epochs and patience >= 0")
        self.width, self.blocks, self.head, self.dropout = width, blocks, head, dropout
        self.weight_decay, self.label_smoothing = weight_decay, label_smoothing
        self.augment, self.rotation, self.shift, self.zoom, self.erasing = augment, rotation, shift, zoom, erasing
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.warmup_epochs, self.validation_split = warmup_epochs, validation_split
        if (teacher and len(teacher) != 12) or teacher_temperature <= 0 or not 0 <= teacher_weight <= 1:
            raise ValueError("teacher must be a run id (12 characters), teacher_temperature > 0, "
                             "teacher_weight in [0, 1]")  # fmt: skip
        self.patience, self.tta = patience, tta
        self.teacher, self.teacher_temperature, self.teacher_weight = teacher, teacher_temperature, teacher_weight
        self.model = None
        self._distilled = None  # with a teacher: Distillation, once use_runs found it

    def validation_plan(self):
        return ValidationPlan(self.validation_split)

    def inputs(self, X):
        """Model inputs from features rows: an image batch (N, 48, 48, 1)."""
        return X.reshape(len(X), *IMAGE_SHAPE)

    def use_runs(self, runs, features, dataset):
        if self.teacher:
            self._distilled = Distillation.of(self.teacher, runs, dataset, self.key)

    def choice(self):
        if not self.teacher:
            return None
        return {"method": f"distilled: targets {self.teacher_weight:g} x the teacher's probabilities at temperature "
                f"{self.teacher_temperature:g}, {1 - self.teacher_weight:g} x the labels", "on": None,
                "members": [{"run_id": self.teacher, "experiment": self._distilled.experiment,
                             "weight": self.teacher_weight}]}  # fmt: skip

    def fit(self, data):
        keras = load_keras()
        p = self.get_params()
        if self.teacher:
            if self._distilled is None:
                raise FerBenchError(f"{self.key}: fitted before its teacher was given (BuildsOnRuns.use_runs)")
            y = self._distilled.targets(data.X, data.y, len(data.classes), self.teacher_temperature,
                                        self.teacher_weight)  # fmt: skip
            data = replace(data, y=y)
        keras.utils.set_random_seed(data.seed)
        self.model = build_cnn(p, len(data.classes), self.with_embedding)
        steps = -(-len(data.X) // p["batch_size"])
        schedule = keras.optimizers.schedules.CosineDecay(
            p["learning_rate"] / 10,
            decay_steps=steps * (p["epochs"] - p["warmup_epochs"]),
            warmup_target=p["learning_rate"],
            warmup_steps=steps * p["warmup_epochs"],
            alpha=0.01,
        )
        self.model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=p["label_smoothing"]),
            metrics=["accuracy"],
        )
        best = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=p["patience"] or p["epochs"], restore_best_weights=True
        )
        checkpoint = data.checkpoint_dir
        epoch_log = epoch_log_callback(checkpoint and checkpoint / "epochs.json", self.name)
        callbacks = [best, epoch_log]
        if checkpoint:
            callbacks.append(keras.callbacks.BackupAndRestore(str(checkpoint), delete_checkpoint=True))
        fit_keras(self.model, data, p, self.name, callbacks, self.inputs)
        history = epoch_log.history()
        # the epoch whose weights EarlyStopping restored (the best of this process's epochs)
        history["best_epoch"] = [float(best.best_epoch + 1)]
        self.model.set_weights([w.astype(np.float16).astype(np.float32) for w in self.model.get_weights()])
        return history

    def predict_proba(self, X):
        inputs = self.inputs(X)
        proba = self.model.predict(inputs, batch_size=512, verbose=0)
        if self.tta:  # average with the mirror image
            mirror = lambda images: np.ascontiguousarray(images[:, :, ::-1])  # noqa: E731
            flipped = [mirror(inputs[0]), *inputs[1:]] if isinstance(inputs, list) else mirror(inputs)
            proba = (proba + self.model.predict(flipped, batch_size=512, verbose=0)) / 2
        return proba

    def save(self, path: Path):
        """The trained weights as float16 (`fit` already rounded them, so the saved model is the one
        that was evaluated); `load` rebuilds the network from the same parameters."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, *[w.astype(np.float16) for w in self.model.get_weights()])
        tmp.replace(path)

    def load(self, path: Path, classes):
        self.model = build_cnn(self.get_params(), len(classes), self.with_embedding)
        with np.load(path) as stored:
            self.model.set_weights([stored[f"arr_{i}"].astype(np.float32) for i in range(len(stored.files))])
        return self


@register("model", "fusion")
class Fusion(CNN):
    """The CNN with the 128-d embedding as a second input (features `pixels-embedding`)."""

    takes = frozenset({IMAGE_AND_EMBEDDING})
    with_embedding = True

    def inputs(self, X):
        return [X[:, :PIXELS].reshape(len(X), *IMAGE_SHAPE), np.ascontiguousarray(X[:, PIXELS:])]
