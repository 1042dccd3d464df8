"""A configurable MLP on the embedding: the study's network as one point of a searchable family."""

import numpy as np

from fer_bench.backend import load_keras
from fer_bench.parts.base import Model, ReportsEpochs, SavesWeights, SoftTargets, ValidationPlan
from fer_bench.parts.models._keras_training import DenseWeights, fit_dense_classifier
from fer_bench.parts.params import Choices, Interval, Options, Param, Range
from fer_bench.parts.registry import register


def layer_widths(width, depth):
    """`depth` widths narrowing by 2/3 from `width`, as the study's 128-86-64-... do; at least 16."""
    return [max(16, round(width * (2 / 3) ** i)) for i in range(depth)]


@register("model", "mlp")
class MLP(Model, ReportsEpochs, SoftTargets, DenseWeights, SavesWeights):
    """BatchNorm, `depth` Dense ReLU layers from `width` down, dropout, L2; Adam; early stopping on real images."""

    # 2: trains one compiled call per epoch by default, its batches shuffled by numpy from the seed
    version = "2"
    family = "MLP"

    smoke_params = {"epochs": 2}

    parameters = {
        "width": Param(128, Interval(1), search=Range(32, 512, log=True)),
        "depth": Param(2, Interval(1), search=Range(1, 6)),
        "dropout": Param(0.3, Interval(0, 1, closed="left"), search=Range(0.0, 0.5)),
        "l2": Param(0.0001, Interval(0), search=Range(1e-6, 1e-2, log=True)),
        "batch_norm": Param(True),
        "learning_rate": Param(0.001, Interval(0, closed="neither"), search=Range(1e-4, 1e-2, log=True)),
        "batch_size": Param(64, Interval(1), search=Choices(32, 64, 128, 256)),
        "epochs": Param(200, Interval(1)),
        "validation_split": Param(0.1, Interval(0, 1, closed="neither")),
        "early_stopping_patience": Param(20, Interval(0)),
        "training_loop": Param("compiled", Options("compiled", "keras-fit")),
    }
    model = None

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

    dense_network = build  # what DenseWeights.load rebuilds
