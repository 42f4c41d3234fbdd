"""Streaming metrics, the Fréchet distance, PSNR and the from-logits loss oracle."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.metrics import ConfusionMatrix, crop_border, frechet_distance, luma, psnr, psnr_per_image


def test_cross_entropy_from_logits():
    # S0 L4789-L4916: losses take logits; the book's double softmax gave
    # [0.56551915, 1.47432232], which is the bug this prevents.
    logits = np.array([[2.0, 0.5, 6.0], [0.1, 0.0, 3.0]], np.float32)
    labels = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)(labels, logits)
    np.testing.assert_allclose(loss.numpy(), [0.02215516, 3.09967351], rtol=1e-6)
    assert float(tf.reduce_sum(loss)) == pytest.approx(3.12183, abs=1e-5)


def test_confusion_matrix_streams_logits_and_labels():
    cm = ConfusionMatrix(num_classes=3)
    cm.update_state([0, 1, 2, 2], [[5.0, 0.0, 0.0], [0.0, 0.1, 2.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    cm.update_state(np.array([[1], [1]]), np.array([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1]]))
    cm.update_state([2], [2], sample_weight=[3.0])
    want = np.array([[1, 0, 0], [0, 2, 1], [1, 0, 4]], np.float32)
    np.testing.assert_array_equal(cm.result().numpy(), want)
    cm.reset_state()
    assert cm.result().numpy().sum() == 0


def test_confusion_matrix_in_tf_function_and_config():
    cm = ConfusionMatrix(num_classes=2, name="cm")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 2], tf.float32)])
    def update(y, p):
        cm.update_state(y, p)

    update(tf.constant([0, 1, 1]), tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    update(tf.constant([0]), tf.constant([[0.0, 1.0]]))
    np.testing.assert_array_equal(cm.result().numpy(), [[1, 1], [1, 1]])
    again = ConfusionMatrix.from_config(cm.get_config())
    assert again.num_classes == 2 and again.name == "cm"
    assert all(v.aggregation == "sum" for v in cm.variables)


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance: only the shift of the means counts.
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    assert frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-6)
    # 1-D closed form: (m1 - m2)^2 + (s1 - s2)^2.
    x = rng.normal(size=(1000, 1))
    s1, s2 = x.std(ddof=1), 3 * x.std(ddof=1)
    assert frechet_distance(x, 3 * x + 2) == pytest.approx((2 + 2 * x.mean()) ** 2 + (s1 - s2) ** 2, rel=1e-6)


def test_frechet_distance_singular_covariance_and_bad_shapes():
    rng = np.random.default_rng(1)
    # Fewer samples than dimensions: singular covariances, sqrtm must still be real and finite.
    d = frechet_distance(rng.normal(size=(5, 16)), rng.normal(size=(5, 16)))
    assert np.isfinite(d) and d > 0
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def test_psnr_by_hand():
    a = np.full((2, 4, 4, 1), 100.0)
    b = a.copy()
    b[0, 0, 0, 0] += 8.0  # one error of 8 in 32 pixels: MSE 64 / 32 = 2
    assert psnr(a, b, max_val=255.0) == pytest.approx(10 * np.log10(255.0**2 / 2), rel=1e-12)
    assert psnr(a / 255, b / 255, max_val=1.0) == pytest.approx(10 * np.log10(255.0**2 / 2), rel=1e-12)
    assert psnr(a, a, max_val=255.0) == float("inf")
    # The error sits on the rim: a border of 1 crops it away.
    assert psnr(a, b, max_val=255.0, border=1) == float("inf")
    assert crop_border(a, 1).shape == (2, 2, 2, 1) and crop_border(a, 0) is a


def test_psnr_per_image_against_tf_image_psnr():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 8, 8, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    got = psnr_per_image(a, b, max_val=1.0)
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), tf.image.psnr(a, b, max_val=1.0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(psnr_per_image(a * 255, b * 255, max_val=255.0).numpy(), got.numpy(), rtol=1e-5)
    cropped = psnr_per_image(a, b, max_val=1.0, border=2)
    np.testing.assert_allclose(cropped.numpy(), tf.image.psnr(a[:, 2:-2, 2:-2], b[:, 2:-2, 2:-2], 1.0).numpy(),
                               rtol=1e-5)
    # By hand for one image: every pixel off by 0.1 is an MSE of 0.01, 20 dB.
    np.testing.assert_allclose(psnr_per_image(a[:1], a[:1] + 0.1, max_val=1.0).numpy(), [20.0], rtol=1e-5)
    # Identical images: the MSE floor keeps it finite (100 dB) where tf.image.psnr is inf.
    same = psnr_per_image(a, a, max_val=1.0).numpy()
    np.testing.assert_allclose(same, 100.0, rtol=1e-6)
    # Flat [N, D] batches and the NumPy version agree image by image.
    np.testing.assert_allclose(psnr_per_image(a.reshape(3, -1), b.reshape(3, -1), max_val=1.0).numpy(), got.numpy())
    np.testing.assert_allclose(got.numpy(), [psnr(a[i], b[i], max_val=1.0) for i in range(3)], rtol=1e-5)


def test_psnr_per_image_in_a_tf_function():
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)] * 2)
    def score(x, y):
        return psnr_per_image(x, y, max_val=1.0, border=1)

    x = tf.zeros([2, 6, 6, 1])
    np.testing.assert_allclose(score(x, x + 0.5).numpy(), [10 * np.log10(4.0)] * 2, rtol=1e-5)


def test_luma():
    rgb = np.array([[[[255.0, 0.0, 0.0], [0.0, 255.0, 0.0], [0.0, 0.0, 255.0], [255.0, 255.0, 255.0]]]])
    np.testing.assert_allclose(luma(rgb)[0, 0, :, 0], [0.299 * 255, 0.587 * 255, 0.114 * 255, 255.0])
    np.testing.assert_allclose(luma(rgb, weights=(0.3, 0.59, 0.11))[0, 0, :, 0], [76.5, 150.45, 28.05, 255.0])
    grey = np.ones((1, 2, 2, 1))
    assert luma(grey) is grey
