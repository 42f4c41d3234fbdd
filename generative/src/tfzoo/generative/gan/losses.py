"""Per-example GAN losses, the gradient penalty and GAN-CLS's mismatched labels.

Every function returns one value per example, so the task averages them over the
global batch (`tf.nn.compute_average_loss`) and the losses stay right under distribution.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def _flat(score: tf.Tensor) -> tf.Tensor:
    return tf.reshape(score, [-1])


def _ls_input(score: tf.Tensor, ls_sigmoid: bool) -> tf.Tensor:
    # LS losses act on the raw output; the book squashes it through a sigmoid first.
    return tf.sigmoid(score) if ls_sigmoid else score


def d_real(loss: str, score: tf.Tensor, *, ls_sigmoid: bool = False) -> tf.Tensor:
    """The discriminator's term for samples it should call real."""
    score = _flat(score)
    if loss == "bce":
        return tf.nn.softplus(-score)  # -log sigmoid(s)
    if loss == "ls":
        return 0.5 * tf.square(_ls_input(score, ls_sigmoid) - 1.0)
    return -score  # wgan-gp: the critic raises real scores


def d_fake(loss: str, score: tf.Tensor, *, ls_sigmoid: bool = False) -> tf.Tensor:
    """The discriminator's term for samples it should call fake (generated or mismatched)."""
    score = _flat(score)
    if loss == "bce":
        return tf.nn.softplus(score)  # -log(1 - sigmoid(s))
    if loss == "ls":
        return 0.5 * tf.square(_ls_input(score, ls_sigmoid))
    return score


def g_loss(loss: str, fake_score: tf.Tensor, *, ls_sigmoid: bool = False) -> tf.Tensor:
    """The generator's term: non-saturating BCE, LS toward 1, or minus the critic."""
    score = _flat(fake_score)
    if loss == "bce":
        return tf.nn.softplus(-score)
    if loss == "ls":
        return 0.5 * tf.square(_ls_input(score, ls_sigmoid) - 1.0)
    return -score


def gradient_penalty(
    critic: Callable[[tf.Tensor], tf.Tensor],
    real: tf.Tensor,
    fake: tf.Tensor,
    epsilon: tf.Tensor,
    *,
    weight: float = 10.0,
    mode: str = "two-sided",
) -> tf.Tensor:
    """λ·(‖∇D(x̂)‖₂ − 1)² per example, x̂ = εx + (1−ε)G(z) with ε ~ U(0, 1) of shape [N].

    `one-sided` is the book's λ·max(0, ‖∇‖ − 1), unsquared as in S0 L22318. The inner tape is
    nested inside the caller's, so the penalty's own gradient reaches the critic's weights.
    """
    eps = tf.reshape(tf.cast(epsilon, real.dtype), [-1] + [1] * (len(real.shape) - 1))
    mixed = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = tf.reduce_sum(critic(mixed))
    grad = tape.gradient(score, mixed)
    norm = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grad, [tf.shape(grad)[0], -1])), axis=1) + 1e-12)
    if mode == "two-sided":
        return weight * tf.square(norm - 1.0)
    return weight * tf.nn.relu(norm - 1.0)


def wrong_labels(labels: tf.Tensor, num_classes: int, seed: tf.Tensor) -> tf.Tensor:
    """Labels that always differ from `labels`: add 1..K-1 modulo K (the book's batch matches ~10%)."""
    labels = tf.cast(labels, tf.int32)
    shift = tf.random.stateless_uniform(tf.shape(labels), seed, minval=1, maxval=num_classes, dtype=tf.int32)
    return (labels + shift) % num_classes
