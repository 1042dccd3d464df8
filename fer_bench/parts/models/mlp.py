"""A configurable MLP on the embedding: the study's network as one point of a searchable family."""

from typing import Literal

import numpy as np

from fer_bench.backend import load_keras
from fer_bench.parts.base import Model, ReportsEpochs, SoftTargets, ValidationPlan
from fer_bench.parts.models._keras_training import fit_dense_classifier
from fer_bench.parts.registry import register


def layer_widths(width, depth):
    """`depth` widths narrowing by 2/3 from `width`, as the study's 128-86-64-... do; at least 16."""
    return [max(16, round(width * (2 / 3) ** i)) for i in range(depth)]


@register("model", "mlp")
class MLP(Model, ReportsEpochs, SoftTargets):
    """BatchNorm, `depth` Dense ReLU layers from `width` down, dropout, L2; Adam; early stopping on real images."""

    # 2: trains one compiled call per epoch by default, its batches shuffled by numpy from the seed
    version = "2"

    smoke_params = {"epochs": 2}
    search_space = {
        "width": {"low": 32, "high": 512, "log": True},
        "depth": {"low": 1, "high": 6},
        "dropout": {"low": 0.0, "high": 0.5},
        "l2": {"low": 1e-6, "high": 1e-2, "log": True},
        "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
        "batch_size": {"choices": [32, 64, 128, 256]},
    }

    def __init__(
        self,
        width: int = 128,
        depth: int = 2,
        dropout: float = 0.3,
        l2: float = 0.0001,
        batch_norm: bool = True,
        learning_rate: float = 0.001,
        batch_size: int = 64,
        epochs: int = 200,
        validation_split: float = 0.1,
        early_stopping_patience: int = 20,
        training_loop: Literal["compiled", "keras-fit"] = "compiled",
    ):
        if width < 1 or depth < 1 or epochs < 1 or batch_size < 1 or not 0 <= dropout < 1:
            raise ValueError("width, depth, epochs and batch_size must be >= 1 and 0 <= dropout < 1")
        if l2 < 0 or learning_rate <= 0 or not 0 < validation_split < 1 or early_stopping_patience < 0:
            raise ValueError("need l2 >= 0, learning_rate > 0, 0 < validation_split < 1, patience >= 0")
        self.width, self.depth, self.dropout, self.l2, self.batch_norm = width, depth, dropout, l2, batch_norm
        self.learning_rate, self.batch_size, self.epochs = learning_rate, batch_size, epochs
        self.validation_split, self.early_stopping_patience = validation_split, early_stopping_patience
        self.training_loop = training_loop
        self.model = None

    def validation_plan(self):
        return ValidationPlan(self.validation_split)

    def build(self, input_shape, n_classes):
        keras = load_keras()
        layers = keras.layers
        inputs = keras.Input(input_shape)
        x = layers.Flatten()(inputs)
        if self.batch_norm:
            x = layers.BatchNormalization()(x)
        penalty = keras.regularizers.L2(self.l2) if self.l2 else None
        for width in layer_widths(self.width, self.depth):
            x = layers.Dense(width, activation="relu", kernel_regularizer=penalty)(x)
            if self.dropout:
                x = layers.Dropout(self.dropout)(x)
        return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="mlp")

    def fit(self, data):
        load_keras().utils.set_random_seed(data.seed)
        self.model = self.build(data.X.shape[1:], len(data.classes))
        return fit_dense_classifier(self.model, data, self.get_params(), "mlp")

    def predict_proba(self, X):
        return np.asarray(self.model.predict(X, batch_size=1024, verbose=0))
