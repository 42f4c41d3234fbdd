"""VAE and CVAE models (实例82-83): an encoder to (μ, log σ²) and a decoder that is its own model.

The losses live in the task's `train_step`, not in the models: Keras 3 has no symbolic
`add_loss` (keras-team/keras#19560), and the book's batch-summed loss tied the learning rate to
the batch size (S0 L19658-L19665). Here the loss is per example, then averaged over the batch.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfzoo_generative")
class OneHot(keras.layers.Layer):
    """Integer labels [N] -> one-hot float [N, num_classes]."""

    def __init__(self, *, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def call(self, labels):
        return tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def kl_divergence(mu: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per example, summed over the latent dimensions (closed form)."""
    return -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=-1)


def reconstruction_nll(likelihood: str, target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Per-example negative log-likelihood summed over pixels: BCE (bernoulli) or ½·SSE (gaussian)."""
    target = tf.reshape(target, [tf.shape(target)[0], -1])
    output = tf.reshape(output, [tf.shape(output)[0], -1])
    if likelihood == "bernoulli":
        output = tf.clip_by_value(output, 1e-7, 1.0 - 1e-7)
        return -tf.reduce_sum(target * tf.math.log(output) + (1.0 - target) * tf.math.log(1.0 - output), -1)
    return 0.5 * tf.reduce_sum(tf.square(target - output), -1)


def build_models(config: Any, shape: tuple[int, int, int], num_classes: int) -> dict[str, keras.Model]:
    """encoder: x[, y] -> (μ, log σ²); decoder: z[, y] -> image mean; model: x[, y] -> decoder(μ)."""
    conditional = config.variant == "cvae"
    image = keras.Input(shape, name="image")
    label = keras.Input((), dtype="int64", name="label")
    h = keras.layers.Dense(config.hidden, activation="relu", name="enc_hidden")(keras.layers.Flatten()(image))
    if conditional:
        # 实例83: the label gets its own hidden layer, concatenated with h1 before the heads.
        y = keras.layers.Dense(config.label_units, activation="relu", name="enc_label")(
            OneHot(num_classes=num_classes)(label))
        h = keras.layers.Concatenate()([h, y])
    mu = keras.layers.Dense(config.latent_dim, name="mu")(h)
    logvar = keras.layers.Dense(config.latent_dim, name="logvar")(h)
    enc_inputs = [image, label] if conditional else image
    encoder = keras.Model(enc_inputs, [mu, logvar], name="encoder")

    z = keras.Input((config.latent_dim,), name="z")
    dec_label = keras.Input((), dtype="int64", name="label")
    d = keras.layers.Concatenate()([z, OneHot(num_classes=num_classes)(dec_label)]) if conditional else z
    d = keras.layers.Dense(config.hidden, activation="relu", name="dec_hidden")(d)
    # Bernoulli: pixel probabilities; Gaussian: the linear mean (the book's), clipped only for display.
    activation = "sigmoid" if config.likelihood == "bernoulli" else None
    d = keras.layers.Dense(math.prod(shape), activation=activation, name="pixels")(d)
    decoder = keras.Model([z, dec_label] if conditional else z, keras.layers.Reshape(shape)(d), name="decoder")

    # The deterministic reconstruction x -> decoder(μ), for predict, export and the smoke round trip.
    image2 = keras.Input(shape, name="image")
    label2 = keras.Input((), dtype="int64", name="label")
    mu2, _ = encoder([image2, label2] if conditional else image2)
    recon = decoder([mu2, label2] if conditional else mu2)
    model = keras.Model([image2, label2] if conditional else image2, recon, name=config.variant)
    return {"model": model, "encoder": encoder, "decoder": decoder}
