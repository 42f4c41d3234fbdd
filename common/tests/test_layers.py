"""Shared layers against NumPy references and the book's unpooling oracle."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.layers import Maxout, MaxPoolWithArgmax, MaxUnpool2D


def _distinct(shape, seed=0):
    """Values without ties, so the max position is unambiguous."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32) / 10


def _np_pool(x, k=2):
    b, h, w, c = x.shape
    return x.reshape(b, h // k, k, w // k, k, c).max(axis=(2, 4))


def _np_unpool_of_pool(x, k=2):
    """Keep each window's max where it is, zero the rest (no ties)."""
    up = np.repeat(np.repeat(_np_pool(x, k), k, axis=1), k, axis=2)
    return np.where(x == up, x, 0.0)


def test_maxout_numpy_reference_on_fixed_weights():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], np.float32)
    kernel = np.arange(18, dtype=np.float32).reshape(3, 6) / 10 - 0.8
    dense = keras.layers.Dense(6, use_bias=False)
    dense.build((None, 3))
    dense.set_weights([kernel])
    got = Maxout(num_units=2)(dense(x)).numpy()
    # tf.contrib's grouping: unit i is the max of features [i*k, (i+1)*k).
    want = (x @ kernel).reshape(2, 2, 3).max(axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_maxout_other_axis_and_dynamic_batch():
    x = _distinct((2, 6, 5))
    want = x.reshape(2, 3, 2, 5).max(axis=2)
    layer = Maxout(num_units=3, axis=1)
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, 6, 5])])
    np.testing.assert_array_equal(fn(x).numpy(), want)


def test_maxout_width_not_divisible():
    with pytest.raises(ValueError, match=r"7.*num_units=3"):
        Maxout(num_units=3)(np.zeros((2, 7), np.float32))


def test_maxout_gradient():
    x = tf.constant(_distinct((2, 6)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = Maxout(num_units=3)(x)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    grad = tape.gradient(loss, x).numpy()
    # The gradient reaches only the winning piece of each unit.
    groups = x.numpy().reshape(2, 3, 2)
    want = (groups == groups.max(-1, keepdims=True)) * np.array([1.0, 2.0, 3.0])[None, :, None]
    np.testing.assert_array_equal(grad, want.reshape(2, 6))


def test_pool_unpool_book_oracle():
    # S0 L8232-L8384: rows of (r, r + 4) repeated along the width.
    img = np.array([[[r, r + 4.0]] * 4 for r in range(4)], np.float32)[None]
    pooled, argmax = MaxPoolWithArgmax(pool_size=2, strides=2)(img)
    np.testing.assert_array_equal(pooled.numpy()[0], [[[1, 5], [1, 5]], [[3, 7], [3, 7]]])
    np.testing.assert_array_equal(argmax.numpy()[0], [[[8, 9], [12, 13]], [[24, 25], [28, 29]]])
    assert argmax.dtype == tf.int64
    restored = MaxUnpool2D(size=2)(pooled, argmax).numpy()[0]
    want = np.zeros((4, 4, 2), np.float32)
    want[1, 0] = want[1, 2] = [1, 5]
    want[3, 0] = want[3, 2] = [3, 7]
    np.testing.assert_array_equal(restored, want)


def test_pool_numpy_reference_and_gradient():
    x = tf.constant(_distinct((2, 4, 6, 3)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled, argmax = MaxPoolWithArgmax()(x)
        loss = tf.reduce_sum(pooled)
    np.testing.assert_array_equal(pooled.numpy(), _np_pool(x.numpy()))
    # Flat batch-included indices point at the max values.
    np.testing.assert_array_equal(x.numpy().reshape(-1)[argmax.numpy()], pooled.numpy())
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_array_equal(grad, (_np_unpool_of_pool(x.numpy()) != 0).astype(np.float32))


def test_unpool_dynamic_batch():
    pool, unpool = MaxPoolWithArgmax(), MaxUnpool2D()

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 2], tf.float32)])
    def round_trip(x):
        return unpool(*pool(x))

    for batch in (1, 3):
        x = _distinct((batch, 4, 4, 2), seed=batch)
        np.testing.assert_array_equal(round_trip(x).numpy(), _np_unpool_of_pool(x))


def test_unpool_odd_size():
    x = _distinct((2, 5, 5, 1))
    pooled, argmax = MaxPoolWithArgmax()(x)
    by_size = MaxUnpool2D(output_size=(5, 5))(pooled, argmax).numpy()
    by_like = MaxUnpool2D()(pooled, argmax, output_shape=tf.constant(x)).numpy()
    np.testing.assert_array_equal(by_size, by_like)
    assert by_size.shape == x.shape
    # Every pooled value sits where it came from; everything else is zero.
    kept = by_size != 0
    np.testing.assert_array_equal(by_size[kept], x[kept])
    assert kept.sum() == pooled.numpy().size


def test_keras_round_trip(tmp_path):
    inputs = keras.Input((4, 4, 2))
    pooled, argmax = MaxPoolWithArgmax(pool_size=2, strides=2, padding="same")(inputs)
    up = MaxUnpool2D(size=2)(pooled, argmax, output_shape=inputs)
    fixed = MaxUnpool2D(size=2, output_size=(4, 4))(pooled, argmax)
    h = keras.layers.Flatten()(keras.layers.Add()([up, fixed]))
    h = keras.layers.Dense(6, kernel_initializer=keras.initializers.GlorotUniform(seed=1))(h)
    model = keras.Model(inputs, Maxout(num_units=3)(h))
    path = tmp_path / "layers.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _distinct((3, 4, 4, 2))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert loaded.get_layer(index=-1).get_config()["num_units"] == 3
    assert loaded.get_layer(index=1).get_config()["padding"] == "SAME"
