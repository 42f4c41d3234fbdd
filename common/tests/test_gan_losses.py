"""tfzoo.common.gan_losses against the formulas written out by hand on small fixed scores."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common import gan_losses

SCORES = np.array([[-2.0], [0.0], [0.5], [3.0]], np.float32)  # [N, 1], as generative.gan's heads


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_bce_is_the_non_saturating_gan():
    s = SCORES[:, 0].astype(np.float64)
    np.testing.assert_allclose(gan_losses.d_real("bce", SCORES), -np.log(_sigmoid(s)), rtol=1e-6)
    np.testing.assert_allclose(gan_losses.d_fake("bce", SCORES), -np.log(1 - _sigmoid(s)), rtol=1e-6)
    np.testing.assert_allclose(gan_losses.g_loss("bce", SCORES), -np.log(_sigmoid(s)), rtol=1e-6)
    zero = tf.zeros([3, 1])
    np.testing.assert_allclose(gan_losses.d_loss("bce", zero, zero), 2 * np.log(2.0), rtol=1e-6)


def test_least_squares_with_its_weight_and_the_books_sigmoid():
    s = SCORES[:, 0].astype(np.float64)
    np.testing.assert_allclose(gan_losses.d_real("ls", SCORES), 0.5 * (s - 1) ** 2, rtol=1e-6)
    np.testing.assert_allclose(gan_losses.d_fake("ls", SCORES), 0.5 * s**2, rtol=1e-6)
    np.testing.assert_allclose(gan_losses.g_loss("ls", SCORES), 0.5 * (s - 1) ** 2, rtol=1e-6)
    np.testing.assert_allclose(gan_losses.d_loss("ls", SCORES, SCORES, ls_weight=1.0), (s - 1) ** 2 + s**2, rtol=1e-6)
    np.testing.assert_allclose(gan_losses.g_loss("ls", SCORES, ls_sigmoid=True),
                               0.5 * (_sigmoid(s) - 1) ** 2, rtol=1e-6)
    np.testing.assert_allclose(gan_losses.d_fake("ls", SCORES, ls_sigmoid=True), 0.5 * _sigmoid(s) ** 2, rtol=1e-6)


def test_wgan_critic_terms():
    s = SCORES[:, 0]
    np.testing.assert_allclose(gan_losses.d_real("wgan-gp", SCORES), -s)
    np.testing.assert_allclose(gan_losses.d_fake("wgan-gp", SCORES), s)
    np.testing.assert_allclose(gan_losses.g_loss("wgan-gp", SCORES), -s)
    np.testing.assert_allclose(gan_losses.d_loss("wgan-gp", SCORES, 2 * SCORES), s)


def test_per_location_scores_average_to_one_value_per_example():
    # SRGAN's patch discriminator scores each location: [N, h, w, 1] -> [N].
    patches = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3, 1) / 4 - 1
    for kind in gan_losses.LOSSES:
        for fn in (gan_losses.d_real, gan_losses.d_fake, gan_losses.g_loss):
            per = fn(kind, patches)
            assert per.shape == (2,)
            # Each example's value is the mean of the term over its locations, scored as [N*h*w, 1].
            flat = fn(kind, patches.reshape(-1, 1)).numpy().reshape(2, -1).mean(1)
            np.testing.assert_allclose(per.numpy(), flat, rtol=1e-6)
    assert gan_losses.d_real("bce", tf.zeros([5])).shape == (5,)  # [N] scores stay [N]
    with pytest.raises(ValueError, match="unknown GAN loss 'hinge'"):
        gan_losses.d_real("hinge", patches)


@pytest.mark.parametrize("weight", [1.0, 10.0])
def test_gradient_penalty_of_a_linear_critic(weight):
    # A linear critic's gradient is w everywhere: the penalty is λ(‖w‖ − 1)², or λ·max(0, ‖w‖ − 1) one-sided.
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(12,)), tf.float32)
    critic = lambda x: tf.linalg.matvec(tf.reshape(x, [-1, 12]), w)  # noqa: E731
    real = tf.constant(rng.normal(size=(5, 3, 4, 1)), tf.float32)
    fake = tf.constant(rng.normal(size=(5, 3, 4, 1)), tf.float32)
    eps = tf.constant(rng.uniform(size=(5,)), tf.float32)
    norm = float(np.linalg.norm(w.numpy()))
    two = gan_losses.gradient_penalty(critic, real, fake, eps, weight=weight)
    np.testing.assert_allclose(two.numpy(), np.full(5, weight * (norm - 1) ** 2), rtol=1e-5)
    one = gan_losses.gradient_penalty(critic, real, fake, eps, weight=weight, mode="one-sided")
    np.testing.assert_allclose(one.numpy(), np.full(5, weight * max(norm - 1, 0.0)), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown gradient penalty mode"):
        gan_losses.gradient_penalty(critic, real, fake, eps, mode="both")


def test_gradient_penalty_reaches_the_critic_weights():
    layer = keras.layers.Dense(1)
    x = tf.random.normal([4, 6])
    layer.build((None, 6))
    with tf.GradientTape() as tape:
        gp = tf.reduce_mean(gan_losses.gradient_penalty(layer, x, -x, tf.fill([4], 0.3)))
    grads = tape.gradient(gp, layer.trainable_variables)
    assert grads[0] is not None and float(tf.norm(grads[0])) > 0
