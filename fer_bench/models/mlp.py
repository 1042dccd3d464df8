"""A configurable MLP on the embedding: the study's network as one point of a searchable family."""

import numpy as np

from fer_bench.models.keras_training import N_CLASSES, carve_validation, fit_embedding_classifier
from fer_bench.registry import register


def layer_widths(width, depth):
    """`depth` widths narrowing by 2/3 from `width`, as the study's 128-86-64-... do; at least 16."""
    return [max(16, round(width * (2 / 3) ** i)) for i in range(depth)]


@register("model", "mlp")
class MLP:
    """BatchNorm, `depth` Dense ReLU layers from `width` down, dropout, L2; Adam; early stopping on real images."""

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
    ):
        if width < 1 or depth < 1 or epochs < 1 or batch_size < 1 or not 0 <= dropout < 1:
            raise ValueError("width, depth, epochs and batch_size must be >= 1 and 0 <= dropout < 1")
        if l2 < 0 or learning_rate <= 0 or not 0 < validation_split < 1 or early_stopping_patience < 0:
            raise ValueError("need l2 >= 0, learning_rate > 0, 0 < validation_split < 1, patience >= 0")
        self.params = dict(locals())
        del self.params["self"]
        self.model = None
        self.history = None
        self.epoch_callback = None  # set by a tuner: called with (epoch, logs) to report and prune

    def build(self, input_shape):
        import keras
        from keras import layers, regularizers

        p = self.params
        inputs = keras.Input(input_shape)
        x = layers.Flatten()(inputs)
        if p["batch_norm"]:
            x = layers.BatchNormalization()(x)
        penalty = regularizers.L2(p["l2"]) if p["l2"] else None
        for width in layer_widths(p["width"], p["depth"]):
            x = layers.Dense(width, activation="relu", kernel_regularizer=penalty)(x)
            if p["dropout"]:
                x = layers.Dropout(p["dropout"])(x)
        return keras.Model(inputs, layers.Dense(N_CLASSES, activation="softmax")(x), name="mlp")

    def fit(self, X, y, resampler, seed):
        import keras

        p = self.params
        keras.utils.set_random_seed(seed)
        split = carve_validation(X, y, resampler, seed, p["validation_split"], False)
        self.model = self.build(X.shape[1:])
        report = [keras.callbacks.LambdaCallback(on_epoch_end=self.epoch_callback)] if self.epoch_callback else []
        self.history = fit_embedding_classifier(self.model, split, resampler, p, "mlp", report)

    def predict_proba(self, X):
        return np.asarray(self.model.predict(X, batch_size=1024, verbose=0))
