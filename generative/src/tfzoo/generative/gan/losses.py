"""GAN-CLS's mismatched labels; the GAN losses themselves are `tfzoo.common.gan_losses`."""

from __future__ import annotations

import tensorflow as tf


def wrong_labels(labels: tf.Tensor, num_classes: int, seed: tf.Tensor) -> tf.Tensor:
    """Labels that always differ from `labels`: add 1..K-1 modulo K (the book's batch matches ~10%)."""
    labels = tf.cast(labels, tf.int32)
    shift = tf.random.stateless_uniform(tf.shape(labels), seed, minval=1, maxval=num_classes, dtype=tf.int32)
    return (labels + shift) % num_classes
