"""Autoencoder models (实例76-80).

Every non-stacked variant is one functional `keras.Model` image -> reconstruction whose code
layer is named "code", so `encoder(model)` (and `decoder(model)` for the dense variants) recover the
two halves without a second set of weights; the task names them "encoder" and "decoder".
The stacked variant (实例80) shares its layers between four models, one per training stage, so
weights carry over from stage to stage (the book re-initialised them every time).
"""

from __future__ import annotations

import math
from typing import Any

import keras

from tfzoo.common.layers import MaxPoolWithArgmax, MaxUnpool2D
from tfzoo.generative.autoencoder.config import WIDTHS


def widths(config: Any) -> tuple[int, ...]:
    """Hidden widths from input to code."""
    return tuple(config.hidden) or WIDTHS[config.variant]


def _dense_ae(config: Any, shape: tuple[int, int, int], *, linear_code: bool, dropout: float) -> keras.Model:
    sizes = widths(config)
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Flatten()(inputs)
    for i, units in enumerate(sizes):
        last = i == len(sizes) - 1
        # 实例77's 2-D code is linear, so the codes spread over the plane instead of saturating.
        activation = None if last and linear_code else config.activation
        x = keras.layers.Dense(units, activation=activation, name="code" if last else f"enc{i + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    for i, units in enumerate(reversed(sizes[:-1])):
        x = keras.layers.Dense(units, activation=config.activation, name=f"dec{i + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(math.prod(shape), activation="sigmoid", name="pixels")(x)
    return keras.Model(inputs, keras.layers.Reshape(shape)(x), name=f"ae_{config.variant}")


def _conv_ae(config: Any, shape: tuple[int, int, int]) -> keras.Model:
    """conv5x5 -> conv3x3 -> argmax pool -> unpool -> two transposed convs (实例78), any batch size."""
    f1, f2 = config.conv_filters
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(f1, 5, padding="same", activation="relu", name="conv1")(inputs)
    features = keras.layers.Conv2D(f2, 3, padding="same", activation="relu", name="conv2")(x)
    pooled, argmax = MaxPoolWithArgmax(pool_size=2, strides=2, name="pool")(features)
    code = keras.layers.Identity(name="code")(pooled)
    # Unpooling to the pooled tensor's own shape handles odd sizes and a dynamic batch
    # (the book's static-batch unpool forced evaluation on a training-size batch).
    x = MaxUnpool2D(size=2, name="unpool")(code, argmax, features)
    x = keras.layers.Conv2DTranspose(f1, 3, padding="same", activation="relu", name="deconv1")(x)
    outputs = keras.layers.Conv2DTranspose(shape[-1], 5, padding="same", activation="sigmoid", name="deconv2")(x)
    return keras.Model(inputs, outputs, name="ae_conv")


def build_autoencoder(config: Any, shape: tuple[int, int, int]) -> keras.Model:
    """The reconstruction model of a non-stacked variant."""
    if config.variant == "conv":
        return _conv_ae(config, shape)
    dropout = config.dropout if config.variant == "denoising" else 0.0
    return _dense_ae(config, shape, linear_code=config.variant == "linear2d", dropout=dropout)


def encoder(model: keras.Model) -> keras.Model:
    """image -> code, sharing the autoencoder's weights."""
    return keras.Model(model.inputs, model.get_layer("code").output, name="encoder")


def decoder(model: keras.Model) -> keras.Model | None:
    """code -> image, sharing a dense autoencoder's weights; None for conv, whose unpooling needs the
    encoder's argmax switches."""
    names = [layer.name for layer in model.layers]
    if "unpool" in names:
        return None
    code = model.get_layer("code")
    x = inputs = keras.Input((code.units,), name="code")
    for layer in model.layers[names.index("code") + 1:]:  # a chain: every layer after the code, in order
        x = layer(x)
    return keras.Model(inputs, x, name="decoder")


def build_stacked(config: Any, shape: tuple[int, int, int], num_classes: int) -> dict[str, keras.Model]:
    """Models of 实例80 over shared layers.

    dae1: image -> enc1 (dropout) -> dec1, trained on noisy images;
    ae2: layer-1 code -> enc2 -> dec2;
    head: layer-2 code -> class logits;
    model: image -> enc1 -> enc2 -> head, the classifier fine-tuned at the end;
    before: a copy of `model` that keeps the weights at the end of the head stage.
    """
    h1, h2 = widths(config)[:2]
    act = config.activation
    enc1 = keras.layers.Dense(h1, activation=act, name="enc1")
    dec1 = keras.layers.Dense(math.prod(shape), activation="sigmoid", name="dec1")
    enc2 = keras.layers.Dense(h2, activation=act, name="enc2")
    dec2 = keras.layers.Dense(h1, activation=act, name="dec2")
    head = keras.layers.Dense(num_classes, name="head")

    image = keras.Input(shape, name="image")
    flat = keras.layers.Flatten()(image)
    x = keras.layers.Dropout(config.stacked_dropout)(enc1(flat))
    dae1 = keras.Model(image, keras.layers.Reshape(shape)(dec1(x)), name="dae1")

    code1 = keras.Input((h1,), name="code1")
    ae2 = keras.Model(code1, dec2(enc2(code1)), name="ae2")
    code2 = keras.Input((h2,), name="code2")
    head_model = keras.Model(code2, head(code2), name="head")

    image2 = keras.Input(shape, name="image")
    logits = head(enc2(enc1(keras.layers.Flatten()(image2))))
    model = keras.Model(image2, logits, name="stacked")
    before = keras.models.clone_model(model)
    before.trainable = False
    return {"model": model, "dae1": dae1, "ae2": ae2, "head": head_model, "before": before}
