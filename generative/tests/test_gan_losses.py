"""Oracles for generative.gan's losses, presets and networks (no training)."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.generative.gan import losses
from tfzoo.generative.gan.config import ARCHS, CONDITIONINGS, VARIANTS, GANConfig, options
from tfzoo.generative.gan.model import build_discriminator, build_encoder, build_generator, latent_dim


@pytest.mark.parametrize("weight", [1.0, 10.0])
def test_gradient_penalty_of_a_linear_critic(weight):
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(12,)), tf.float32)
    critic = lambda x: tf.linalg.matvec(tf.reshape(x, [-1, 12]), w)  # noqa: E731
    real = tf.constant(rng.normal(size=(5, 3, 4, 1)), tf.float32)
    fake = tf.constant(rng.normal(size=(5, 3, 4, 1)), tf.float32)
    eps = tf.constant(rng.uniform(size=(5,)), tf.float32)
    norm = float(np.linalg.norm(w.numpy()))
    two = losses.gradient_penalty(critic, real, fake, eps, weight=weight)
    np.testing.assert_allclose(two.numpy(), np.full(5, weight * (norm - 1) ** 2), rtol=1e-5)
    one = losses.gradient_penalty(critic, real, fake, eps, weight=weight, mode="one-sided")
    np.testing.assert_allclose(one.numpy(), np.full(5, weight * max(norm - 1, 0.0)), rtol=1e-5)


def test_gradient_penalty_reaches_the_critic_weights():
    layer = keras.layers.Dense(1)
    x = tf.random.normal([4, 6])
    layer.build((None, 6))
    with tf.GradientTape() as tape:
        gp = tf.reduce_mean(losses.gradient_penalty(layer, x, -x, tf.fill([4], 0.3)))
    grads = tape.gradient(gp, layer.trainable_variables)
    assert grads[0] is not None and float(tf.norm(grads[0])) > 0


def test_wrong_labels_always_differ():
    labels = tf.constant(np.arange(2000) % 10, tf.int32)
    wrong = losses.wrong_labels(labels, 10, tf.constant([3, 4], tf.int64)).numpy()
    assert np.all(wrong != labels.numpy())
    assert wrong.min() >= 0 and wrong.max() <= 9
    assert len(np.unique(wrong[labels.numpy() == 0])) == 9  # every other class is drawn


def test_loss_values():
    zero, one = tf.zeros([3, 1]), tf.ones([3, 1])
    np.testing.assert_allclose(losses.d_real("bce", zero), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(losses.d_fake("bce", zero), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(losses.d_real("ls", one), 0.0)
    np.testing.assert_allclose(losses.d_fake("ls", one), 0.5)
    np.testing.assert_allclose(losses.g_loss("ls", zero), 0.5)
    np.testing.assert_allclose(losses.g_loss("ls", zero, ls_sigmoid=True), 0.5 * 0.25)
    np.testing.assert_allclose(losses.d_real("wgan-gp", one), -1.0)
    np.testing.assert_allclose(losses.d_fake("wgan-gp", one), 1.0)
    np.testing.assert_allclose(losses.g_loss("wgan-gp", one), -1.0)


def test_presets_fill_blanks_and_explicit_options_win():
    opts = options(GANConfig(variant="wgan-gp"))
    assert (opts.loss, opts.arch, opts.n_critic, opts.z_dist) == ("wgan-gp", "mlp", 5, "uniform")
    assert options(GANConfig(variant="gan-cls")).conditioning == "matching"
    assert options(GANConfig(variant="aegan")).encoder == "aegan"
    mixed = options(GANConfig(variant="wgan-gp", arch="dcgan", n_critic=2))
    assert (mixed.arch, mixed.n_critic, mixed.loss) == ("dcgan", 2, "wgan-gp")
    with pytest.raises(ConfigError, match="unknown variant 'bogus'"):
        options(GANConfig(variant="bogus"))
    with pytest.raises(ConfigError, match="unknown gp"):
        options(GANConfig(gp="both"))


@pytest.mark.parametrize(
    ("arch", "conditioning"),
    [("dcgan", c) for c in CONDITIONINGS] + [(a, "acgan") for a in ARCHS if a != "dcgan"],
)
def test_networks_build_and_shapes(arch, conditioning):
    config = replace(GANConfig.tiny(), arch=arch, conditioning=conditioning)
    opts = options(config)
    shape = (64, 64, 1) if arch == "dcgan-large" else (28, 28, 1)
    generator = build_generator(config, opts, shape, 10)
    disc = build_discriminator(config, opts, shape, 10)
    images = generator(np.zeros((2, latent_dim(config, opts, 10)), np.float32))
    assert images.shape == (2, *shape)
    inputs = {"image": images, "label": tf.one_hot([1, 2], 10)} if conditioning == "matching" else images
    out = disc(inputs)
    assert out["score"].shape == (2, 1)
    assert ("class_logits" in out) == opts.has_class_head and ("codes" in out) == opts.has_codes
    assert build_encoder(config, shape, 7)(images).shape == (2, 7)


@pytest.mark.parametrize("arch", ARCHS)
def test_wgan_gp_critic_has_no_batchnorm(arch):
    config = replace(GANConfig.tiny(variant="wgan-gp"), arch=arch)
    shape = (64, 64, 1) if arch == "dcgan-large" else (28, 28, 1)
    critic = build_discriminator(config, options(config), shape, 10)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in critic.layers)


def test_every_variant_is_listed():
    assert set(VARIANTS) == {"dcgan", "infogan", "infogan-ac", "acgan", "aegan", "wgan-gp", "lsgan", "gan-cls"}
