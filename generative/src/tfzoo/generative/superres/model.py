"""The super-resolution networks: ESPCN, the residual ESPCN (SRResNet-style generator) and SRGAN's discriminator.

Both generators end in a linear conv, a pixel shuffle (`depth_to_space`) and a clip to [0, 1]. The book's
93 puts a ReLU before the shuffle and 95 never clips (spec §5.5); neither is copied.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .config import SuperResConfig

__all__ = ["PixelShuffle", "UnitClip", "build_discriminator", "build_espcn", "build_generator", "build_residual"]


@keras.saving.register_keras_serializable(package="tfzoo.superres")
class PixelShuffle(keras.layers.Layer):
    """`tf.nn.depth_to_space(x, r)`: [N, h, w, C·r²] -> [N, h·r, w·r, C] (channel index (dy·r + dx)·C + c)."""

    def __init__(self, *, scale: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.scale)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        r = self.scale
        return (n, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="tfzoo.superres")
class UnitClip(keras.layers.Layer):
    """Clip to [0, 1] with a straight-through gradient.

    The output is always a valid image, but a plain clip would give zero gradient to every pixel
    that starts outside [0, 1], so those pixels would never learn; the gradient passes as if unclipped.
    """

    def call(self, inputs):
        return inputs + tf.stop_gradient(tf.clip_by_value(inputs, 0.0, 1.0) - inputs)


def _centred(inputs):
    # Zero-centred inputs ([-0.5, 0.5]) keep tanh units out of saturation; ESPCN reaches bicubic ~1.5x sooner.
    return keras.layers.Rescaling(1.0, offset=-0.5, name="centre")(inputs)


def build_espcn(config: SuperResConfig, channels: int) -> keras.Model:
    """ESPCN (实例93/94): conv5x5 -> conv3x3 -> conv3x3 (C·r², linear) -> depth_to_space(r) -> clip."""
    r = config.scale
    first, second = config.espcn_filters
    inputs = keras.Input((None, None, channels), name="lr")
    x = _centred(inputs)
    x = keras.layers.Conv2D(first, 5, padding="same", activation=config.activation, name="conv1")(x)
    x = keras.layers.Conv2D(second, 3, padding="same", activation=config.activation, name="conv2")(x)
    # Linear (no ReLU here); the 0.5 bias starts every pixel mid-range instead of at the clip's edge.
    x = keras.layers.Conv2D(channels * r * r, 3, padding="same", bias_initializer=keras.initializers.Constant(0.5),
                            name="conv3")(x)
    x = PixelShuffle(scale=r, name="pixel_shuffle")(x)
    return keras.Model(inputs, UnitClip(name="clip")(x), name="espcn")


def _upsampler(x, filters: int, r: int, index: int):
    x = keras.layers.Conv2D(filters * r * r, 3, padding="same", name=f"up{index}_conv")(x)
    x = PixelShuffle(scale=r, name=f"up{index}_shuffle")(x)
    return keras.layers.LeakyReLU(0.1, name=f"up{index}_lrelu")(x)


def build_residual(config: SuperResConfig, channels: int, *, name: str = "espcn_residual") -> keras.Model:
    """The residual ESPCN of 实例95 (SRResNet-like), also SRGAN's generator.

    conv5x5 LReLU(0.1) -> `res_blocks` x [conv3x3-BN-LReLU, conv3x3-BN, + skip] -> conv-BN + global skip
    -> upsamplers (x2: one, x4: two x2, x3: one x3) -> conv3x3 (C) -> clip.
    """
    f = config.filters
    inputs = keras.Input((None, None, channels), name="lr")
    x = keras.layers.Conv2D(f, 5, padding="same", name="head")(_centred(inputs))
    head = x = keras.layers.LeakyReLU(0.1, name="head_lrelu")(x)
    for b in range(config.res_blocks):
        y = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"res{b}_conv1")(x)
        y = keras.layers.BatchNormalization(name=f"res{b}_bn1")(y)
        y = keras.layers.LeakyReLU(0.1, name=f"res{b}_lrelu")(y)
        y = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"res{b}_conv2")(y)
        y = keras.layers.BatchNormalization(name=f"res{b}_bn2")(y)
        x = keras.layers.Add(name=f"res{b}_add")([x, y])
    x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name="body_conv")(x)
    x = keras.layers.BatchNormalization(name="body_bn")(x)
    x = keras.layers.Add(name="global_skip")([head, x])
    factors = {2: (2,), 3: (3,), 4: (2, 2)}[config.scale]
    for i, r in enumerate(factors):
        x = _upsampler(x, f, r, i)
    x = keras.layers.Conv2D(channels, 3, padding="same", bias_initializer=keras.initializers.Constant(0.5),
                            name="tail")(x)
    return keras.Model(inputs, UnitClip(name="clip")(x), name=name)


def build_generator(config: SuperResConfig, channels: int) -> keras.Model:
    """The generator of `config.variant`."""
    if config.variant == "espcn":
        return build_espcn(config, channels)
    return build_residual(config, channels)


def build_discriminator(config: SuperResConfig, channels: int) -> keras.Model:
    """SRGAN's D (实例96): conv1x1 -> convs (strides 2/1 alternating) with BN and LReLU -> flatten -> FC -> FC1.

    The book applies its dense layers to the 4-D map without flattening (S0 L23704), scoring each
    location on its own; `patch_d=True` keeps that form on purpose (1x1 convs), otherwise D flattens.
    """
    size = config.patch_size
    inputs = keras.Input((None, None, channels) if config.patch_d else (size, size, channels), name="hr")
    x = keras.layers.Conv2D(config.d_filters[0], 1, name="d_in")(inputs * 2.0 - 1.0)
    x = keras.layers.LeakyReLU(0.2)(x)
    for i, f in enumerate(config.d_filters):
        x = keras.layers.Conv2D(f, 3, strides=2 if i % 2 == 0 else 1, padding="same", use_bias=False,
                                name=f"d_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"d_bn{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    if config.patch_d:
        x = keras.layers.Conv2D(config.d_dense, 1, name="d_fc")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Conv2D(1, 1, name="d_logit")(x)  # [N, h, w, 1]: one score per location
    else:
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(config.d_dense, name="d_fc")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Dense(1, name="d_logit")(x)
    return keras.Model(inputs, x, name="discriminator")
