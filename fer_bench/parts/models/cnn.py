"""A compact VGG-style CNN on the 48x48 pixels, and its fusion with the 128-d face embedding.

Written with `keras` and `keras.ops` only, fed NumPy arrays: it trains on TensorFlow (the CPU
default), JAX or torch, on a GPU when the backend sees one. Augmentation layers live inside the
network, so they act in training only. The validation split is carved from Training; the epoch
with the best validation accuracy is the one kept; an interrupted fit resumes from its last
finished epoch (the run's checkpoint folder). With a `teacher` (a recorded run or ensemble, by run
id) it learns the teacher's probabilities mixed with the labels (fer_bench/parts/models/_distillation.py),
at `teacher_temperature` or, with `fit_teacher_temperature`, at the temperature fitted on a
cross-fitted teacher's out-of-fold probabilities of its fitting rows.
"""

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fer_bench.backend import load_keras
from fer_bench.errors import FerBenchError
from fer_bench.parts.base import (
    IMAGE,
    IMAGE_AND_EMBEDDING,
    BuildsOnRuns,
    ExportsNetwork,
    Model,
    ReportsEpochs,
    Resumable,
    SavesWeights,
    SoftTargets,
    ValidationPlan,
)
from fer_bench.parts.models._distillation import Distillation
from fer_bench.parts.models._keras_training import epoch_log_callback, fit_keras
from fer_bench.parts.params import Interval, Param, RunIds
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
            x = layers.Conv2D(
                filters, 3, padding="same", use_bias=False, kernel_regularizer=decay, name=f"conv{block}_{conv}"
            )(x)
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
class CNN(Model, SavesWeights, ExportsNetwork, Resumable, ReportsEpochs, SoftTargets, BuildsOnRuns):
    """VGG-style CNN on pixels: BatchNorm, dropout, augmentation, cosine LR, best-epoch selection, TTA;
    optionally distilled from a recorded teacher."""

    takes = frozenset({IMAGE})
    with_embedding = False
    smoke_params = {"width": 4, "blocks": 2, "head": 8, "epochs": 2, "warmup_epochs": 1, "batch_size": 16}
    added_later: ClassVar[tuple[str, ...]] = (
        "teacher",
        "teacher_temperature",
        "teacher_weight",
        "fit_teacher_temperature",
    )
    runs_param = "teacher"
    family = "CNN"

    parameters = {
        "width": Param(32, Interval(1)),
        "blocks": Param(4, Interval(1, 5)),
        "head": Param(256, Interval(1)),
        "dropout": Param(0.4, Interval(0, 1, closed="left")),
        "weight_decay": Param(0.0001, Interval(0)),
        "label_smoothing": Param(0.1, Interval(0, 1, closed="left")),
        "augment": Param(True),
        "rotation": Param(0.04, Interval(0)),
        "shift": Param(0.1, Interval(0)),
        "zoom": Param(0.1, Interval(0)),
        "erasing": Param(0.0, Interval(0, 1)),
        "epochs": Param(40, Interval(1)),
        "batch_size": Param(64, Interval(1)),
        "learning_rate": Param(0.002, Interval(0, closed="neither")),
        "warmup_epochs": Param(2, Interval(0)),
        "validation_split": Param(0.1, Interval(0, 1, closed="neither")),
        "patience": Param(10, Interval(0)),
        "tta": Param(True),
        "teacher": Param("", RunIds(optional=True)),
        "teacher_temperature": Param(2.0, Interval(0, closed="neither")),
        "teacher_weight": Param(0.7, Interval(0, 1)),
        "fit_teacher_temperature": Param(False),
    }
    model: Any = None  # the Keras network, once fitted or loaded
    _distilled = None  # with a teacher: Distillation, once use_runs found it
    _temperature = None  # the teacher's temperature `fit` used: given, or fitted

    @classmethod
    def family_of(cls, params):
        return "distilled student" if params.get("teacher") else cls.family

    def validate(self):
        if self.warmup_epochs >= self.epochs:
            raise ValueError("warmup_epochs must be < epochs")
        if self.fit_teacher_temperature and not self.teacher:
            raise ValueError("fit_teacher_temperature needs a teacher")
        if self.fit_teacher_temperature and self.teacher_temperature != self.parameters["teacher_temperature"].default:
            raise ValueError("give teacher_temperature or fit it (fit_teacher_temperature), not both")

    def validation_plan(self):
        return ValidationPlan(self.validation_split)

    def inputs(self, X):
        """Model inputs from features rows: an image batch (N, 48, 48, 1)."""
        return X.reshape(len(X), *IMAGE_SHAPE)

    def use_runs(self, runs, features, dataset):
        if self.teacher:
            self._distilled = Distillation.of(self.teacher, runs, dataset, self.key)
        if self.fit_teacher_temperature and not self._distilled.out_of_fold:
            raise FerBenchError(
                f"{self.key}: fit_teacher_temperature needs out-of-fold Training probabilities, and "
                f"teacher {self.teacher} ({self._distilled.experiment}) gives in-sample ones: "
                "teach with a cross-fitted run, or give teacher_temperature"
            )

    def choice(self):
        if not self.teacher:
            return None
        fitted = " (fitted on its out-of-fold probabilities)" if self.fit_teacher_temperature else ""
        return {
            "method": f"distilled: targets {self.teacher_weight:g} x the teacher's probabilities at temperature "
            f"{self._temperature:.4g}{fitted}, {1 - self.teacher_weight:g} x the labels",
            "on": None,
            "members": [
                {"run_id": self.teacher, "experiment": self._distilled.experiment, "weight": self.teacher_weight}
            ],
        }

    def fit(self, data):
        keras = load_keras()
        p = self.get_params()
        if self.teacher:
            if self._distilled is None:
                raise FerBenchError(f"{self.key}: fitted before its teacher was given (BuildsOnRuns.use_runs)")
            self._temperature = (
                self._distilled.fitted_temperature(data.X, data.y)
                if self.fit_teacher_temperature
                else self.teacher_temperature
            )
            y = self._distilled.targets(data.X, data.y, len(data.classes), self._temperature, self.teacher_weight)
            data = replace(data, y=y)
        keras.utils.set_random_seed(data.seed)
        self.model = self.network(len(data.classes))
        steps = -(-len(data.X) // p["batch_size"])
        self.model.compile(
            optimizer=self.optimizer(steps),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=p["label_smoothing"]),
            metrics=["accuracy"],
            steps_per_execution=self.batches_per_call(),
        )
        best = self.best_epoch_callback()
        checkpoint = data.checkpoint_dir
        epoch_log = epoch_log_callback(checkpoint and checkpoint / "epochs.json", self.name)
        callbacks = [cb for cb in (best, epoch_log) if cb]
        if checkpoint:
            callbacks.append(keras.callbacks.BackupAndRestore(str(checkpoint), delete_checkpoint=True))
        fit_keras(self.model, data, p, self.name, callbacks, self.inputs)
        history = epoch_log.history()
        if best:  # the epoch whose weights EarlyStopping restored (the best of this process's epochs)
            history["best_epoch"] = [float(best.best_epoch + 1)]
        self.model.set_weights([w.astype(np.float16).astype(np.float32) for w in self.model.get_weights()])
        return history

    # Batches per compiled call in `fit`: the same updates, fewer calls into the framework.
    steps_per_execution = 1

    def batches_per_call(self):
        """`steps_per_execution` where the backend can group batches; PyTorch's trainer takes one per call."""
        return 1 if load_keras().backend.backend() == "torch" else self.steps_per_execution

    def network(self, n_classes):
        return build_cnn(self.get_params(), n_classes, self.with_embedding)

    def optimizer(self, steps_per_epoch):
        """Adam on a warm-up then cosine schedule."""
        keras = load_keras()
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate / 10,
            decay_steps=steps_per_epoch * (self.epochs - self.warmup_epochs),
            warmup_target=self.learning_rate,
            warmup_steps=steps_per_epoch * self.warmup_epochs,
            alpha=0.01,
        )
        return keras.optimizers.Adam(schedule)

    def best_epoch_callback(self):
        """Keeps the epoch of best validation accuracy (None: the last epoch is the model)."""
        return load_keras().callbacks.EarlyStopping(
            monitor="val_accuracy", patience=self.patience or self.epochs, restore_best_weights=True
        )

    def test_views(self):
        """The views of each test image whose probabilities predict_proba averages, as (mirrored,
        rows, columns) it is shifted by: the image, and its mirror where `tta` is on."""
        return [(False, 0, 0), (True, 0, 0)] if self.tta else [(False, 0, 0)]

    def predict_proba(self, X):
        inputs = self.inputs(X)
        images, others = (inputs[0], inputs[1:]) if isinstance(inputs, list) else (inputs, None)
        probas = []
        for view in self.test_views():
            seen = np.ascontiguousarray(_view(images, *view, np))
            probas.append(self.model.predict(seen if others is None else [seen, *others], batch_size=512, verbose=0))
        return _mean(probas)

    def exported_network(self):
        """The network averaged over its test views (the mirror where `tta` is on), as predict_proba does."""
        network = self.portable_network()
        views = self.test_views()
        if len(views) == 1:
            return network
        keras = load_keras()
        inputs = [keras.Input(tuple(given.shape[1:]), name=given.name) for given in network.inputs]
        one = (lambda given: given[0]) if len(inputs) == 1 else list
        # training=False, as predict runs it: called without it inside another graph, a layer takes
        # its own default, and cnn-fast's augmentation layer then augments the exported network
        probas = [network(one([_view(inputs[0], *view, keras.ops), *inputs[1:]]), training=False) for view in views]
        return keras.Model(one(inputs), _mean(probas), name=f"{network.name}_tta")

    def portable_network(self):
        """The network as an exported file runs it: this one, whose layers compute in float32."""
        return self.model

    def save(self, path: Path):
        """The trained weights as float16 (`fit` already rounded them, so the saved model is the one
        that was evaluated); `load` rebuilds the network from the same parameters."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, *[w.astype(np.float16) for w in self.model.get_weights()])
        tmp.replace(path)

    def load(self, path: Path, classes):
        self.model = self.network(len(classes))
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


def _view(images, mirrored, rows, columns, ops):
    """Images (N, H, W, C) mirrored (W reversed) where asked, then rolled by `rows` and `columns`
    pixels (what leaves one side comes in on the other), with `ops`: numpy, or keras.ops in a graph."""
    if mirrored:
        images = ops.flip(images, axis=2)
    return ops.roll(images, (rows, columns), axis=(1, 2)) if rows or columns else images


def _mean(probas):
    """The mean of the views' probabilities, summed in order (predict_proba and the exported network
    add them alike)."""
    total = probas[0]
    for proba in probas[1:]:
        total = total + proba
    return total / len(probas)
