"""A configurable MLP on the embedding: the study's network as one point of a searchable family."""

import numpy as np

from fer_bench.models.keras_training import carve_validation, history_of, one_hot, progress_callback
from fer_bench.models.paper_mlp import N_CLASSES, STEPS_PER_EXECUTION
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
        X_fit, y_fit, X_val, y_val = carve_validation(X, y, resampler, seed, p["validation_split"], False)
        self.model = self.build(X.shape[1:])
        self.model.compile(
            optimizer=keras.optimizers.Adam(p["learning_rate"]),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=STEPS_PER_EXECUTION,
        )
        callbacks = [progress_callback(p["epochs"], "mlp")]
        if p["early_stopping_patience"]:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=p["early_stopping_patience"], restore_best_weights=True
                )
            )
        if self.epoch_callback:
            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=self.epoch_callback))
        result = self.model.fit(
            X_fit,
            one_hot(y_fit),
            validation_data=(X_val, one_hot(y_val)),
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            shuffle=True,
            class_weight=resampler.class_weight(y_fit),
            callbacks=callbacks,
            verbose=0,
        )
        self.history = history_of(result)

    def predict_proba(self, X):
        return np.asarray(self.model.predict(X, batch_size=1024, verbose=0))
