"""vision.classify models: shapes, a descent step, .keras round trips, BN eval mode, Sobel."""

from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.config import validate
from tfzoo.common.errors import ConfigError
from tfzoo.vision.classify.config import MODELS, ClassifyConfig
from tfzoo.vision.classify.model import build_model
from tfzoo.vision.layers import FactorisedConv, MultiKernelBlock, Sobel

SHAPES = [(28, 28, 1), (32, 32, 3), (20, 24, 3)]
NUM_CLASSES = 10
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def config(model, **overrides):
    return replace(ClassifyConfig.tiny(), model=model, **overrides)


def batch(shape, n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((n, *shape), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=n)
    return images, labels


@pytest.mark.parametrize("name", MODELS)
def test_builds_outputs_logits_and_descends(name):
    for shape in SHAPES:  # one test per model: the shapes share its setup cost
        keras.utils.set_random_seed(0)
        model = build_model(config(name), input_shape=shape, num_classes=NUM_CLASSES)
        images, labels = batch(shape)
        logits = model(images, training=False)
        assert logits.shape == (4, NUM_CLASSES) and logits.dtype == tf.float32, shape
        assert model.get_layer("logits") is model.layers[-1]

        # Training mode (dropout, batch statistics) gives a gradient for every weight.
        with tf.GradientTape() as tape:
            loss = LOSS(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None and np.all(np.isfinite(g)) for g in grads), shape

        # One plain gradient step lowers the loss on the same batch. Inference mode keeps the
        # loss deterministic (no dropout, no moving-statistics update between evaluations).
        with tf.GradientTape() as tape:
            before = LOSS(labels, model(images, training=False))
        grads = tape.gradient(before, model.trainable_variables)
        for variable, grad in zip(model.trainable_variables, grads, strict=True):
            variable.assign_sub(1e-2 * grad)
        after = LOSS(labels, model(images, training=False))
        assert float(after) < float(before), shape


def round_trip(model, path):
    images, _ = batch(model.input.shape[1:])
    model.save(path)
    loaded = keras.models.load_model(path)
    expected = model(images, training=False)
    np.testing.assert_allclose(loaded(images, training=False), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip(name, tmp_path):
    model = build_model(config(name), input_shape=(20, 24, 3), num_classes=NUM_CLASSES)
    round_trip(model, tmp_path / "model.keras")


def test_keras_round_trip_with_sobel_stem(tmp_path):
    for name in ("cnn-bn", "rnn"):
        model = build_model(config(name, stem="sobel"), input_shape=(20, 24, 3), num_classes=NUM_CLASSES)
        assert model.get_layer("sobel").output.shape == (None, 20, 24, 1)
        round_trip(model, tmp_path / f"{name}.keras")


def test_bn_evaluation_does_not_depend_on_the_batch():
    # Book bug 1: 实例54 evaluated BN with batch statistics.
    shape = (28, 28, 1)
    model = build_model(config("cnn-bn"), input_shape=shape, num_classes=NUM_CLASSES)
    images, _ = batch(shape, n=8)
    for _ in range(3):  # move the moving statistics away from their initial values
        model(images * 3.0, training=True)
    alone = model(images[:1], training=False)
    with_others = model(images, training=False)[:1]
    np.testing.assert_allclose(alone, with_others, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(images, verbose=0)[:1], alone, rtol=1e-5, atol=1e-5)
    # The check can fail: in training mode the same image's output does depend on the batch.
    assert not np.allclose(model(images[:1], training=True), model(images, training=True)[:1])


def test_cnn_bn_has_bn_before_relu_and_linear_logits_conv():
    model = build_model(config("cnn-bn"), input_shape=(28, 28, 1), num_classes=NUM_CLASSES)
    names = [layer.name for layer in model.layers]
    assert names.index("conv1") < names.index("bn1") < names.index("relu1") < names.index("pool1")
    assert model.get_layer("bn1").momentum == pytest.approx(0.9)
    # Book bug 3: no ReLU on the class maps, so logits can be negative.
    assert model.get_layer("class_conv").activation.__name__ == "linear"


def test_multikernel_has_a_true_1x1_branch():
    # Book bug 2: 实例53's "1×1" branch is 3×3.
    block = MultiKernelBlock(filters=2)
    assert block(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 8, 8, 8)
    assert [b.kernel.shape[:2] for b in block.branches] == [(1, 1), (3, 3), (5, 5), (7, 7)]


def test_factorised_conv_kernels():
    layer = FactorisedConv(filters=4, kernel_size=5)
    assert layer(np.zeros((2, 9, 11, 3), np.float32)).shape == (2, 9, 11, 4)
    assert layer.conv_nx1.kernel.shape == (5, 1, 3, 4) and layer.conv_1xn.kernel.shape == (1, 5, 4, 4)


def test_unknown_model_stem_and_cell_are_config_errors():
    with pytest.raises(ConfigError, match="config key 'model': found 'resnet'") as info:
        validate(config("resnet"))
    assert all(name in str(info.value) for name in MODELS)
    with pytest.raises(ConfigError, match="config key 'cell': found 'tcn', expected one of lstm, gru"):
        validate(config("rnn", cell="tcn"))
    with pytest.raises(ConfigError, match="config key 'stem': found 'prewitt', expected one of none, sobel"):
        validate(config("cnn-gap", stem="prewitt"))


def test_rnn_bidirectional_stack():
    cfg = config("rnn", cell="gru", rnn_units=(8, 6), bidirectional=True)
    model = build_model(cfg, input_shape=(20, 24, 3), num_classes=NUM_CLASSES)
    assert model.get_layer("rows").output.shape == (None, 20, 72)
    assert model.get_layer("bigru2").output.shape == (None, 12)
    assert model(batch((20, 24, 3))[0]).shape == (4, NUM_CLASSES)


def step_edge(channels=1):
    image = np.zeros((1, 10, 12, channels), np.float32)
    image[:, :, 6:, :] = 1.0  # a vertical edge between columns 5 and 6
    return image


def test_sobel_vertical_edge_responds_only_at_the_edge():
    out = Sobel(direction="x", padding="reflect")(step_edge())[0, ..., 0].numpy()
    expected = np.zeros((10, 12), np.float32)
    expected[:, 5:7] = 4.0  # (1 + 2 + 1) × the unit step
    np.testing.assert_allclose(out, expected)
    magnitude = Sobel(direction="magnitude", padding="reflect")(step_edge())[0, ..., 0].numpy()
    np.testing.assert_allclose(magnitude, expected, atol=1e-6)
    assert not np.any(Sobel(direction="y")(step_edge()).numpy())
    # Zero padding (the book's SAME) also "finds" an edge at the image border.
    zero = Sobel(direction="x", padding="zero")(step_edge())[0, ..., 0].numpy()
    assert np.any(zero[:, -1] != 0) and np.any(zero[0, :] != 0)


def test_sobel_colour_modes_and_no_weights():
    rgb = step_edge(channels=3)
    summed = Sobel(direction="x", colour="sum")(rgb)[0, ..., 0].numpy()
    luma = Sobel(direction="x", colour="luma")(rgb)[0, ..., 0].numpy()
    assert summed[0, 5] == pytest.approx(12.0) and luma[0, 5] == pytest.approx(4.0)
    layer = Sobel()
    layer(rgb)
    assert layer.weights == []
    assert Sobel.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ConfigError):
        Sobel(direction="diagonal")
