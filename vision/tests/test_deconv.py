"""DeconvNet projections: the book's transposed-conv oracle, adjointness, shapes and the figure."""

from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.vision.classify import deconv
from tfzoo.vision.classify.config import ClassifyConfig
from tfzoo.vision.classify.model import build_model
from tfzoo.vision.layers import FactorisedConv, MultiKernelBlock

CONV_MODELS = ["cnn-gap", "cnn-bn", "cnn-factorised", "cnn-multikernel", "lenet"]


def config(model, **overrides):
    return replace(ClassifyConfig.tiny(), model=model, filters=4, **overrides)


def images(shape, n=2):
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_transposed_conv_oracle(padding):
    # S0 L8091–L8170: the 2×2 filter [1, 0, -1, -2] at stride 2 over ones[1, 4, 4, 1].
    ones = tf.ones([1, 4, 4, 1])
    kernel = tf.reshape(tf.constant([1.0, 0.0, -1.0, -2.0]), [2, 2, 1, 1])
    conv = tf.nn.conv2d(ones, kernel, strides=2, padding=padding)
    np.testing.assert_array_equal(conv.numpy(), np.full((1, 2, 2, 1), -2.0))
    back = tf.nn.conv2d_transpose(conv, kernel, [1, 4, 4, 1], strides=2, padding=padding)
    rows = [[-2, 0, -2, 0], [2, 4, 2, 4]] * 2
    np.testing.assert_array_equal(back.numpy()[0, ..., 0], np.array(rows, np.float32))


def test_transpose_is_the_adjoint_of_each_block():
    # <A x, y> == <x, Aᵀ y> pins the stride-1 SAME transposed conv deconv.py uses.
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 9, 7, 3)), tf.float32)
    conv = keras.layers.Conv2D(5, 5, padding="same", use_bias=False)
    block = MultiKernelBlock(filters=2)
    for layer in (conv, block):
        forward = layer(x) - layer(tf.zeros_like(x))  # the linear part (drop biases)
        y = tf.constant(rng.normal(size=forward.shape), tf.float32)
        lhs = tf.reduce_sum(forward * y)
        rhs = tf.reduce_sum(x * deconv._transpose_block(layer, y))
        np.testing.assert_allclose(lhs.numpy(), rhs.numpy(), rtol=1e-4)


def test_factorised_transpose_goes_back_through_both_kernels():
    layer = FactorisedConv(filters=3, kernel_size=5)
    y = tf.ones((1, 9, 9, 3))
    layer(y)
    expected = deconv._transpose(layer.conv_nx1, tf.nn.relu(deconv._transpose(layer.conv_1xn, y)))
    np.testing.assert_allclose(deconv._transpose_block(layer, y), expected)


@pytest.mark.parametrize("name", CONV_MODELS)
def test_projections_have_the_input_shape(name):
    for shape in [(20, 24, 3), (28, 28, 1)]:
        keras.utils.set_random_seed(0)
        model = build_model(config(name), input_shape=shape, num_classes=10)
        batch = images(shape)
        projections = deconv.deconv_projections(model, batch)
        assert len(projections) == 2
        for projection in projections:
            assert projection.shape == batch.shape and projection.dtype == np.float32
            assert np.all(np.isfinite(projection)) and np.any(projection != 0)
            # Each image is projected from its own activations only.
            assert not np.allclose(projection[0], projection[1])


def test_sobel_stem_projects_to_the_edge_map():
    model = build_model(config("cnn-bn", stem="sobel"), input_shape=(20, 24, 3), num_classes=10)
    projections = deconv.deconv_projections(model, images((20, 24, 3)))
    assert [p.shape for p in projections] == [(2, 20, 24, 1)] * 2


def test_non_conv_models_are_refused():
    for name in ("softmax", "mlp", "maxout", "rnn"):
        model = build_model(config(name), input_shape=(28, 28, 1), num_classes=10)
        with pytest.raises(ConfigError, match="conv1"):
            deconv.deconv_projections(model, images((28, 28, 1)))


def test_figure_is_written(tmp_path):
    model = build_model(config("cnn-bn"), input_shape=(20, 24, 3), num_classes=10)
    out = tmp_path / "deconv.png"
    deconv.deconv_figure(model, images((20, 24, 3), n=3), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
