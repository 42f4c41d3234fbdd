"""Streaming metrics, the Fréchet distance and the from-logits loss oracle."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.metrics import ConfusionMatrix, frechet_distance


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
