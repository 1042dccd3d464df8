"""On-the-fly augmentation of face batches inside the network, with `keras.ops` only.

Keras' own RandomRotation/RandomZoom/RandomTranslation run about 100 times slower than the whole
CNN step on the JAX backend (measured on an H200: 450 ms against 4 ms per batch of 128). One
random affine map per image (mirror, rotation, zoom, shift), sampled at the nearest pixel with a
single gather, does the same work for a negligible cost on every backend.
"""

import math
from typing import Any

from fer_bench.backend import load_keras

keras = load_keras()
ops = keras.ops
# mypy cannot resolve a base class through a value (Keras comes from load_keras()): Any to it
Layer: Any = keras.layers.Layer


@keras.saving.register_keras_serializable("fer_bench")
class FaceAugment(Layer):
    """Training only: random mirror (unless `mirror` is off), rotation (fraction of a turn), zoom,
    shift (fraction of the side) and, with probability `erasing`, a random rectangle replaced by noise."""

    def __init__(self, rotation=0.04, zoom=0.1, shift=0.1, erasing=0.0, seed=None, mirror=True, **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift, self.erasing, self.seed = rotation, zoom, shift, erasing, seed
        self.mirror = mirror
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        n = ops.shape(images)[0]
        h, w, c = images.shape[1], images.shape[2], images.shape[3]

        def uniform(low, high, shape=None):
            return keras.random.uniform(shape or (n,), low, high, seed=self.seed_generator)

        angle = uniform(-self.rotation, self.rotation) * 2 * math.pi
        scale = 1 + uniform(-self.zoom, self.zoom)
        mirror = ops.where(uniform(0, 1) < 0.5, -1.0, 1.0)  # drawn either way: the same draws follow
        if not self.mirror:
            mirror = ops.ones_like(mirror)
        tx, ty = uniform(-self.shift, self.shift) * w, uniform(-self.shift, self.shift) * h
        ys = ops.reshape(ops.arange(h, dtype="float32") - (h - 1) / 2, (1, h, 1))
        xs = ops.reshape(ops.arange(w, dtype="float32") - (w - 1) / 2, (1, 1, w))

        def per_image(v):
            return ops.reshape(v, (-1, 1, 1))

        x_out = xs * per_image(mirror) - per_image(tx)
        y_out = ys - per_image(ty)
        cos, sin, scale = per_image(ops.cos(angle)), per_image(ops.sin(angle)), per_image(scale)
        x_src = ops.clip(ops.round((cos * x_out + sin * y_out) / scale + (w - 1) / 2), 0, w - 1)
        y_src = ops.clip(ops.round((cos * y_out - sin * x_out) / scale + (h - 1) / 2), 0, h - 1)
        index = ops.cast(ops.reshape(y_src * w + x_src, (-1, h * w, 1)), "int32")
        flat = ops.reshape(images, (-1, h * w, c))
        out = ops.reshape(ops.take_along_axis(flat, ops.repeat(index, c, axis=2), axis=1), (-1, h, w, c))
        if self.erasing > 0:
            eh, ew = per_image(uniform(0.15, 0.4) * h), per_image(uniform(0.15, 0.4) * w)
            y0, x0 = per_image(uniform(0, 1)) * (h - eh), per_image(uniform(0, 1)) * (w - ew)
            inside = (ys + (h - 1) / 2 >= y0) & (ys + (h - 1) / 2 < y0 + eh)
            inside = inside & (xs + (w - 1) / 2 >= x0) & (xs + (w - 1) / 2 < x0 + ew)
            inside = inside & (per_image(uniform(0, 1)) < self.erasing)
            noise = uniform(0, 1, (n, h, w, c))
            out = ops.where(ops.expand_dims(inside, -1), noise, out)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {
            "rotation": self.rotation,
            "zoom": self.zoom,
            "shift": self.shift,
            "erasing": self.erasing,
            "seed": self.seed,
            "mirror": self.mirror,
        }
