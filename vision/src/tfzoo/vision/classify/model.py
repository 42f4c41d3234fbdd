"""The classifiers of vision.classify (spec §2.1), all as functional Keras models.

Inputs are float32 images in [0, 1] of shape `input_shape`; every model outputs LOGITS (the
loss is from-logits cross-entropy, never the book's `-Σ y·log(softmax)`, book bug 4).

Layer names are part of the API: the DeconvNet visualiser (`deconv.py`) walks `conv1`, `pool1`,
`conv2`, `pool2`, ... and the last layer is always `logits`. Conv models pool with
`MaxPoolWithArgmax` so the argmax needed for unpooling is part of the graph.
"""

import keras

from tfzoo.common.errors import ConfigError
from tfzoo.common.layers import Maxout, MaxPoolWithArgmax
from tfzoo.vision.classify.config import MODELS
from tfzoo.vision.layers import FactorisedConv, MultiKernelBlock, Sobel

L = keras.layers


def build_model(config, *, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """Build `config.model` for images of `input_shape` (H, W, C) and `num_classes` classes."""
    builders = {
        "softmax": _softmax,
        "mlp": _mlp,
        "maxout": _maxout,
        "lenet": _lenet,
        "cnn-gap": _cnn,
        "cnn-factorised": _cnn,
        "cnn-multikernel": _cnn,
        "cnn-bn": _cnn,
        "rnn": _rnn,
    }
    # config.model, stem and cell are Literal choices, checked when the config is built.
    assert set(builders) == set(MODELS), "builders and config.MODELS disagree"
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="image")
    x = Sobel(name="sobel")(inputs) if config.stem == "sobel" else inputs
    logits = builders[config.model](x, config, num_classes)
    return keras.Model(inputs, logits, name=config.model.replace("-", "_"))


def _dropout(x, rate, name):
    return L.Dropout(rate, name=name)(x) if rate > 0 else x


def _softmax(x, config, num_classes):
    x = L.Flatten(name="flatten")(x)
    return L.Dense(num_classes, name="logits")(x)


def _mlp(x, config, num_classes):
    x = L.Flatten(name="flatten")(x)
    for i, units in enumerate(config.hidden, start=1):
        x = L.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = _dropout(x, config.dropout, f"dropout{i}")
    return L.Dense(num_classes, name="logits")(x)


def _maxout(x, config, num_classes):
    # u units of k pieces each: the book's preset (u=1) is a 1-unit bottleneck, book() only.
    units, pieces = config.maxout_units, config.maxout_pieces
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(units * pieces, name="maxout_linear")(x)
    x = Maxout(num_units=units, name="maxout")(x)
    x = _dropout(x, config.dropout, "dropout")
    return L.Dense(num_classes, name="logits")(x)


def _conv_block(x, index, conv, *, batch_norm=False, momentum=0.9):
    """conv{i} (linear) -> [bn{i}] -> relu{i} -> pool{i}; returns the pooled tensor."""
    x = conv(x)
    if batch_norm:
        x = L.BatchNormalization(momentum=momentum, name=f"bn{index}")(x)
    x = L.ReLU(name=f"relu{index}")(x)
    pooled, _argmax = MaxPoolWithArgmax(pool_size=2, strides=2, padding="SAME", name=f"pool{index}")(x)
    return pooled


def _lenet(x, config, num_classes):
    # The table's 32/64/512 at the default filters=64; scaled from `filters` so tiny() is tiny.
    f, k = config.filters, config.kernel_size
    x = _conv_block(x, 1, L.Conv2D(max(f // 2, 1), k, padding="same", name="conv1"))
    x = _conv_block(x, 2, L.Conv2D(f, k, padding="same", name="conv2"))
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(8 * f, activation="relu", name="fc1")(x)
    x = L.Dropout(0.5, name="dropout")(x)
    return L.Dense(num_classes, name="logits")(x)


def _cnn(x, config, num_classes):
    """cnn-gap and its variants: two conv/pool blocks, a linear conv to classes, then GAP."""
    f, k, name = config.filters, config.kernel_size, config.model
    bn = name == "cnn-bn"
    # BN makes the conv bias redundant (its beta does the same job).
    x = _conv_block(
        x, 1, L.Conv2D(f, k, padding="same", use_bias=not bn, name="conv1"), batch_norm=bn, momentum=config.bn_momentum
    )
    if name == "cnn-factorised":
        conv2 = FactorisedConv(filters=f, kernel_size=k, name="conv2")
    elif name == "cnn-multikernel":
        conv2 = MultiKernelBlock(filters=f, name="conv2")
    else:
        conv2 = L.Conv2D(f, k, padding="same", use_bias=not bn, name="conv2")
    x = _conv_block(x, 2, conv2, batch_norm=bn, momentum=config.bn_momentum)
    # No ReLU on the class maps: the book's ReLU here clips negative logits (book bug 3).
    x = L.Conv2D(num_classes, k, padding="same", name="class_conv")(x)
    return L.GlobalAveragePooling2D(name="logits")(x)


def _rnn(x, config, num_classes):
    cells = {"lstm": L.LSTM, "gru": L.GRU}
    if not config.rnn_units:
        raise ConfigError("rnn_units must name at least one layer size")
    height, width, channels = x.shape[1:]
    # Rows are the time steps; each row's pixels and channels form one feature vector.
    x = L.Reshape((height, width * channels), name="rows")(x)
    last = len(config.rnn_units)
    for i, units in enumerate(config.rnn_units, start=1):
        layer = cells[config.cell](units, return_sequences=i < last, name=f"{config.cell}{i}")
        if config.bidirectional:
            layer = L.Bidirectional(layer, name=f"bi{config.cell}{i}")
        x = layer(x)
    x = _dropout(x, config.dropout, "dropout")
    return L.Dense(num_classes, name="logits")(x)
