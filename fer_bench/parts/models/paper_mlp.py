"""The study's MLP on the 128-d embedding, layer for layer (names match the study's .h5 file)."""

import numpy as np

from fer_bench.backend import load_keras
from fer_bench.data.dataset import FER2013_CLASSES
from fer_bench.parts.base import Model, ReportsEpochs, SavesWeights, SoftTargets, ValidationPlan
from fer_bench.parts.models._keras_training import DenseWeights, fit_dense_classifier
from fer_bench.parts.params import Interval, Options, Param
from fer_bench.parts.registry import register


def build_paper_mlp(
    input_shape=(128,), batch_norm=True, l2_scale=1.0, architecture="paper", n_classes=len(FER2013_CLASSES)
):
    keras = load_keras()
    layers, regularizers = keras.layers, keras.regularizers

    def l2(factor):
        return regularizers.L2(factor * l2_scale) if l2_scale > 0 else None

    inputs = keras.Input(input_shape)
    x = layers.Flatten(name="flatten")(inputs)
    if batch_norm:
        x = layers.BatchNormalization(name="batch_normalization")(x)
    if architecture == "paper":
        x = layers.Dense(128, activation="relu", kernel_regularizer=l2(0.003), name="dense")(x)
        x = layers.Dense(86, activation="relu", kernel_regularizer=l2(0.002), name="dense_1")(x)
        x = layers.Dense(64, activation="relu", name="dense_2")(x)
        x = layers.Dense(32, activation="tanh", name="dense_3")(x)
        x = layers.Dense(16, activation="relu", bias_regularizer=l2(0.001), name="dense_4")(x)
    else:
        x = layers.Dense(128, activation="relu", kernel_regularizer=l2(0.003), name="dense")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="dense_5")(x)
    return keras.Model(inputs, outputs, name="paper_mlp")


def load_study_weights(model, h5_path):
    """Load the study's Keras 2.1 weights into `build_paper_mlp()` by layer name."""
    import h5py

    with h5py.File(h5_path, "r") as f:
        group = f["model_weights"]
        for layer in model.layers:
            if layer.name not in group or not layer.weights:
                continue
            stored = group[layer.name][layer.name]
            layer.set_weights([np.asarray(stored[w.name + ":0"]) for w in layer.weights])
    return model


@register("model", "paper-mlp")
class PaperMLP(Model, ReportsEpochs, SoftTargets, DenseWeights, SavesWeights):
    """The study's Keras MLP: BatchNorm, Dense 128-86-64-32(tanh)-16-7, Adam, 300 epochs."""

    # 2: trains one compiled call per epoch by default, its batches shuffled by numpy from the seed
    version = "2"
    family = "MLP"

    smoke_params = {"epochs": 2}

    parameters = {
        "epochs": Param(300, Interval(1)),
        "batch_size": Param(32, Interval(1)),
        "learning_rate": Param(0.001, Interval(0, closed="neither")),
        "validation_split": Param(0.2, Interval(0, 1, closed="neither")),
        "resample_first": Param(True),
        "batch_norm": Param(True),
        "l2_scale": Param(1.0),
        "architecture": Param("paper", Options("paper", "one-hidden")),
        "early_stopping_patience": Param(0),
        "training_loop": Param("compiled", Options("compiled", "keras-fit")),
    }
    model = None

    def validation_plan(self):
        return ValidationPlan(self.validation_split, self.resample_first)

    def network(self, input_shape, n_classes):
        return build_paper_mlp(input_shape, self.batch_norm, self.l2_scale, self.architecture, n_classes)

    def fit(self, data):
        keras = load_keras()
        keras.utils.set_random_seed(data.seed)
        self.model = self.network(data.X.shape[1:], len(data.classes))
        reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=10, min_lr=0.001)
        return fit_dense_classifier(self.model, data, self.get_params(), "paper-mlp", [reduce_lr])

    def predict_proba(self, X):
        return self.model.predict(X, batch_size=1024, verbose=0)

    dense_network = network  # what DenseWeights.load rebuilds
