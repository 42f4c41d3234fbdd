"""Oracles for generative.gan's GAN-CLS labels, presets and networks (no training).

The losses themselves are tested with tfzoo.common.gan_losses (common/tests/test_gan_losses.py).
"""

from __future__ import annotations

import typing
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.config import validate
from tfzoo.common.errors import ConfigError
from tfzoo.generative.gan import losses
from tfzoo.generative.gan.config import ARCHS, CONDITIONINGS, VARIANTS, GANConfig, options
from tfzoo.generative.gan.model import build_discriminator, build_encoder, build_generator, latent_dim


def test_wrong_labels_always_differ():
    labels = tf.constant(np.arange(2000) % 10, tf.int32)
    wrong = losses.wrong_labels(labels, 10, tf.constant([3, 4], tf.int64)).numpy()
    assert np.all(wrong != labels.numpy())
    assert wrong.min() >= 0 and wrong.max() <= 9
    assert len(np.unique(wrong[labels.numpy() == 0])) == 9  # every other class is drawn


def test_presets_fill_blanks_and_explicit_options_win():
    opts = options(GANConfig(variant="wgan-gp"))
    assert (opts.loss, opts.arch, opts.n_critic, opts.z_dist) == ("wgan-gp", "mlp", 5, "uniform")
    assert options(GANConfig(variant="gan-cls")).conditioning == "matching"
    assert options(GANConfig(variant="aegan")).encoder == "aegan"
    mixed = options(GANConfig(variant="wgan-gp", arch="dcgan", n_critic=2))
    assert (mixed.arch, mixed.n_critic, mixed.loss) == ("dcgan", 2, "wgan-gp")
    # Choices are Literals, checked when a config is built (--set, TOML, presets, config.json).
    with pytest.raises(ConfigError, match="'variant': found 'bogus', expected one of dcgan, infogan"):
        validate(GANConfig(variant="bogus"))
    with pytest.raises(ConfigError, match="'gp': found 'both'"):
        validate(GANConfig(gp="both"))
    with pytest.raises(ConfigError, match="encoder_steps >= 1"):
        options(GANConfig(variant="aegan", encoder_steps=0))


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


def test_every_variant_is_listed_and_a_preset():
    from tfzoo.common.gan_losses import LOSSES
    from tfzoo.common.registry import get_task
    from tfzoo.generative.gan.config import Loss, Variant

    assert set(VARIANTS) == {"dcgan", "infogan", "infogan-ac", "acgan", "aegan", "wgan-gp", "lsgan", "gan-cls"}
    assert set(VARIANTS) == set(typing.get_args(Variant)) and typing.get_args(Loss)[1:] == LOSSES
    presets = get_task("generative.gan").presets()
    assert set(presets) == {"tiny", "book", *VARIANTS}
    for variant in VARIANTS:  # each variant's preset is the book's settings for it, and validates
        assert validate(presets[variant]()) == GANConfig.book(variant)


def test_common_losses_give_the_numbers_of_the_copies_they_replaced():
    # The formulas generative.gan.losses and generative.superres.task had before tfzoo.common.gan_losses,
    # written out: the shared functions must give the same floats, bit for bit.
    from tfzoo.common import gan_losses
    from tfzoo.generative.superres.config import BOOK_LS

    rng = np.random.default_rng(3)
    score = tf.constant(rng.normal(size=(6, 1)), tf.float32)  # gan heads: [N, 1]
    flat = tf.reshape(score, [-1])
    for ls_sigmoid in (False, True):
        x = tf.sigmoid(flat) if ls_sigmoid else flat
        kw = {"ls_sigmoid": ls_sigmoid}
        old = {("bce", "real"): tf.nn.softplus(-flat), ("bce", "fake"): tf.nn.softplus(flat),
               ("ls", "real"): 0.5 * tf.square(x - 1.0), ("ls", "fake"): 0.5 * tf.square(x),
               ("wgan-gp", "real"): -flat, ("wgan-gp", "fake"): flat}
        for kind in ("bce", "ls", "wgan-gp"):
            np.testing.assert_array_equal(gan_losses.d_real(kind, score, **kw), old[kind, "real"])
            np.testing.assert_array_equal(gan_losses.d_fake(kind, score, **kw), old[kind, "fake"])
            np.testing.assert_array_equal(gan_losses.g_loss(kind, score, **kw), old[kind, "real"])
    real = tf.constant(rng.normal(size=(3, 4, 4, 1)), tf.float32)  # SRGAN's patch scores
    fake = tf.constant(rng.normal(size=(3, 4, 4, 1)), tf.float32)
    axes = [1, 2, 3]
    old_d = {"ls": tf.reduce_mean(tf.square(real - 1.0), axis=axes) + tf.reduce_mean(tf.square(fake), axis=axes),
             "bce": tf.reduce_mean(tf.nn.softplus(-real), axis=axes) + tf.reduce_mean(tf.nn.softplus(fake), axis=axes)}
    old_g = {"ls": tf.reduce_mean(tf.square(fake - 1.0), axis=axes), "bce": tf.reduce_mean(tf.nn.softplus(-fake), axis=axes)}
    for kind in ("ls", "bce"):
        np.testing.assert_array_equal(gan_losses.d_loss(kind, real, fake, ls_weight=BOOK_LS), old_d[kind])
        np.testing.assert_array_equal(gan_losses.g_loss(kind, fake, ls_weight=BOOK_LS), old_g[kind])
