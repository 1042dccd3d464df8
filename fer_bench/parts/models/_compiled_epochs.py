"""Training a small network in one compiled call per epoch instead of one call per batch.

A batch-32 step of the paper MLP costs the framework far more than its arithmetic
(results/benchmarks.md): stock `fit` pays that per batch. Here an epoch's full batches run as one
XLA-compiled loop over the model's own `train_step` (`lax.scan` on JAX, a `tf.while_loop` with
`jit_compile` on TensorFlow), so every update is Keras's own, step for step; other backends take
one `train_on_batch` per batch, the same updates without the speed.

The batches: each epoch a permutation from numpy's generator seeded by the fit's seed, cut into
`batch_size` rows in order, the last batch short; class weights become sample weights as `fit`
makes them. Callbacks get `fit`'s epoch logs (loss, accuracy, val_loss, val_accuracy) with the
model's variables current, so ReduceLROnPlateau, EarlyStopping and a tuner's reports work
unchanged. tests/test_compiled_epochs.py checks the compiled loop against `train_on_batch` over the
same batches.
"""

import numpy as np

from fer_bench.backend import load_keras

# Validation is inference only (batch norm uses its moving statistics), so its batch size changes
# nothing but the summation order; a large one keeps it to a few calls.
VALIDATION_BATCH = 1024


def epoch_batches(X, targets, sample_weight, batch_size, rng):
    """One epoch's batches in training order (shuffled by `rng`, or as they are without one), as
    groups of equal-sized batches stacked on a new first axis: the full batches, then the short last
    one (if any). Each batch is (x, y) or (x, y, w)."""
    order = rng.permutation(len(X)) if rng else slice(None)
    arrays = [a[order] for a in (X, targets, sample_weight) if a is not None]
    full = len(X) // batch_size * batch_size
    groups = [tuple(a[:full].reshape(-1, batch_size, *a.shape[1:]) for a in arrays)] if full else []
    if full < len(X):
        groups.append(tuple(a[None, full:] for a in arrays))
    return groups


def class_sample_weights(targets, class_weight):
    """Keras's `class_weight` as per-sample weights: the weight of each row's (arg-max) class."""
    if not class_weight:
        return None
    weights = np.array([class_weight.get(c, 1.0) for c in range(targets.shape[1])], dtype=np.float32)
    return weights[targets.argmax(axis=1)]


def fit_compiled(
    model, X, targets, *, validation, epochs, batch_size, seed, class_weight=None, callbacks=(), stepper=None
):
    """Train a compiled Keras `model` like `model.fit(..., shuffle=True)`; returns its history
    ({metric: [value per epoch]}). `validation` is (X, targets) or None; `stepper` defaults to the
    backend's compiled loop (`PerBatch` gives the slow reference)."""
    keras = load_keras()
    sample_weight = class_sample_weights(targets, class_weight)
    model._symbolic_build(data_batch=(X[:batch_size], targets[:batch_size]))  # variables exist before compiling
    stepper = stepper or compiled_stepper(model)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs)
    rng = np.random.default_rng(seed)
    validation_batches = validation and epoch_batches(*validation, None, VALIDATION_BATCH, rng=None)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        logs = stepper(epoch_batches(X, targets, sample_weight, batch_size, rng))
        if validation_batches:
            model.reset_metrics()
            measured = stepper.evaluate(validation_batches)
            logs |= {f"val_{name}": value for name, value in measured.items()}
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return {metric: [float(v) for v in values] for metric, values in history.history.items()}


def compiled_stepper(model):
    backend = load_keras().backend.backend()
    if backend == "jax":
        return JaxScan(model)
    if backend == "tensorflow":
        return TensorFlowLoop(model)
    return PerBatch(model)


def _floats(logs):
    return {name: float(np.asarray(value)) for name, value in logs.items()}


class PerBatch:
    """One `train_on_batch` per batch: stock Keras's path, the reference the compiled loops must match."""

    def __init__(self, model):
        self.model = model

    def __call__(self, groups):
        # train_on_batch reports one batch: the epoch's means are combined here, weighted by rows
        # as `fit`'s loss and accuracy accumulate (sample weights weight the loss within a batch).
        totals, rows = {}, 0
        for group in groups:
            for batch in zip(*group):
                logs = _floats(self.model.train_on_batch(*batch, return_dict=True))
                for name, value in logs.items():
                    totals[name] = totals.get(name, 0.0) + value * len(batch[0])
                rows += len(batch[0])
        return {name: total / rows for name, total in totals.items()}

    def evaluate(self, groups):
        X, targets = (np.concatenate([a.reshape(-1, *a.shape[2:]) for a in arrays]) for arrays in zip(*groups))
        return self.model.evaluate(X, targets, batch_size=VALIDATION_BATCH, verbose=0, return_dict=True)


class JaxScan:
    """Each group of equal batches in one jitted `lax.scan` over the model's stateless `train_step`,
    its variables read before the epoch and written back after it."""

    def __init__(self, model):
        import jax

        def step(state, batch):
            logs, state = model.train_step(state, batch)
            return state, logs

        def test(state, batch):
            logs, state = model.test_step(state, batch)
            return state, logs

        self.model = model
        self.train_scan = jax.jit(lambda state, batches: jax.lax.scan(step, state, batches), donate_argnums=0)
        self.test_scan = jax.jit(lambda state, batches: jax.lax.scan(test, state, batches), donate_argnums=0)

    def __call__(self, groups):
        model = self.model  # the variables in the order of the JAX trainer's state
        variables = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
        return self._run(self.train_scan, variables, groups)

    def evaluate(self, groups):
        model = self.model
        return self._run(
            self.test_scan, (model.trainable_variables, model.non_trainable_variables, model.metrics_variables), groups
        )

    @staticmethod
    def _run(scan, variables, groups):
        state = tuple([v.value for v in part] for part in variables)
        for group in groups:
            state, logs = scan(state, group)
        for part, values in zip(variables, state):
            for variable, value in zip(part, values):
                variable.assign(value)
        return _floats({name: values[-1] for name, values in logs.items()})


class TensorFlowLoop:
    """Each group of equal batches in one `tf.while_loop` over the model's `train_step`, XLA-compiled
    for the epoch's full batches. The short last batch and validation (a few large batches) run as
    a plain TensorFlow graph: TensorFlow keeps every XLA program for the life of the process, so
    each one compiled costs memory (and seconds) for good."""

    def __init__(self, model):
        import tensorflow as tf

        def compiled_loop(step, jit_compile):
            @tf.function(jit_compile=jit_compile)
            def loop(batches):
                logs = step(tuple(a[0] for a in batches))

                def body(i, _):
                    return i + 1, step(tuple(a[i] for a in batches))

                return tf.while_loop(lambda i, _: i < tf.shape(batches[0])[0], body, (tf.constant(1), logs))[1]

            return loop

        self.xla_train_loop = compiled_loop(model.train_step, jit_compile=True)
        self.train_loop = compiled_loop(model.train_step, jit_compile=False)
        self.test_loop = compiled_loop(model.test_step, jit_compile=False)

    def __call__(self, groups):
        for group in groups:
            logs = (self.xla_train_loop if len(group[0]) > 1 else self.train_loop)(group)
        return _floats(logs)

    def evaluate(self, groups):
        for group in groups:
            logs = self.test_loop(group)
        return _floats(logs)
