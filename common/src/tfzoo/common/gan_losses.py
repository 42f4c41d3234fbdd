"""Per-example GAN losses and the WGAN-GP gradient penalty (generative.gan and generative.superres).

A score is the discriminator's raw output (a logit for "bce"), one per example (`[N]`, `[N, 1]`) or
one per location (`[N, h, w, 1]`, PatchGAN-style). Every function returns one value per example, the
mean over the score's other axes, so a task averages them over the global batch
(`tf.nn.compute_average_loss`) and the losses stay right under distribution.

`kind` names the loss (LOSSES):
- "bce": the non-saturating GAN: D minimises −log σ(real) − log(1 − σ(fake)), G minimises −log σ(fake).
- "ls": least squares (LSGAN): D minimises w·(real − 1)² + w·fake², G minimises w·(fake − 1)², with
  w = `ls_weight` (½ as Mao et al.; 1 makes them plain MSEs, as the book's SRGAN). `ls_sigmoid`
  squashes the score through a sigmoid first, as the book's LSGAN does.
- "wgan-gp": the Wasserstein critic: D minimises fake − real, G minimises −fake; add `gradient_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

__all__ = ["LOSSES", "d_fake", "d_loss", "d_real", "g_loss", "gradient_penalty"]

LOSSES = ("bce", "ls", "wgan-gp")


def _per_example(values: tf.Tensor) -> tf.Tensor:
    """The mean over every axis but the first (per-location scores count as one per example)."""
    return tf.reduce_mean(values, axis=list(range(1, len(values.shape)))) if len(values.shape) > 1 else values


def _check(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(LOSSES)}")


def _toward(kind: str, score: tf.Tensor, target: float, *, ls_sigmoid: bool, ls_weight: float) -> tf.Tensor:
    """The per-example term that pushes `score` toward real (target 1) or fake (target 0)."""
    _check(kind)
    if kind == "bce":
        # softplus(-s) = -log σ(s), softplus(s) = -log(1 - σ(s)), stable for any logit.
        values = tf.nn.softplus(-score if target else score)
    elif kind == "ls":
        values = ls_weight * tf.square((tf.sigmoid(score) if ls_sigmoid else score) - target)
    else:
        values = -score if target else score
    return _per_example(values)


def d_real(kind: str, score: tf.Tensor, *, ls_sigmoid: bool = False, ls_weight: float = 0.5) -> tf.Tensor:
    """The discriminator's term for samples it should call real."""
    return _toward(kind, score, 1.0, ls_sigmoid=ls_sigmoid, ls_weight=ls_weight)


def d_fake(kind: str, score: tf.Tensor, *, ls_sigmoid: bool = False, ls_weight: float = 0.5) -> tf.Tensor:
    """The discriminator's term for samples it should call fake (generated, or GAN-CLS's mismatched pairs)."""
    return _toward(kind, score, 0.0, ls_sigmoid=ls_sigmoid, ls_weight=ls_weight)


def d_loss(kind: str, real_score: tf.Tensor, fake_score: tf.Tensor, *, ls_sigmoid: bool = False,
           ls_weight: float = 0.5) -> tf.Tensor:
    """The discriminator's loss on one real and one fake batch: `d_real + d_fake` (no gradient penalty)."""
    options = {"ls_sigmoid": ls_sigmoid, "ls_weight": ls_weight}
    return d_real(kind, real_score, **options) + d_fake(kind, fake_score, **options)


def g_loss(kind: str, fake_score: tf.Tensor, *, ls_sigmoid: bool = False, ls_weight: float = 0.5) -> tf.Tensor:
    """The generator's term: non-saturating BCE, LS toward 1, or minus the critic (the fakes called real)."""
    return _toward(kind, fake_score, 1.0, ls_sigmoid=ls_sigmoid, ls_weight=ls_weight)


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
    if mode not in ("two-sided", "one-sided"):
        raise ValueError(f"unknown gradient penalty mode {mode!r}; choose two-sided or one-sided")
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
