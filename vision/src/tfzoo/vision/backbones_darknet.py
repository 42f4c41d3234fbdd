"""Darknet-53-like backbone (YOLOv3's feature extractor) with width and depth multipliers.

Darknet-53 (Redmon & Farhadi, 2018): a 3x3 stem of 32 channels, then five stages, each a stride-2
3x3 conv followed by residual blocks (1x1 conv to half the channels, 3x3 conv back, added to the
input) — [1, 2, 8, 8, 4] blocks at 64, 128, 256, 512 and 1024 channels. Every conv is conv + batch
norm + leaky ReLU (slope 0.1). The stage outputs at strides 8, 16 and 32 feed YOLO's head; Mask R-CNN's
FPN also takes the stride-4 one (`darknet53_pyramid`).

`width` multiplies the channels (rounded to a multiple of 8, at least 8) and `depth` the number of
blocks (ceil, at least 1), so `width=0.25, depth=0.34` is a CPU-sized [1, 1, 3, 3, 2] network of
8..256 channels; `width=depth=1` is the published one.

Built from plain Keras layers in functional style, so `.keras` files need no custom objects.
"""

from __future__ import annotations

import math

import keras

STAGE_BLOCKS = (1, 2, 8, 8, 4)
STAGE_CHANNELS = (64, 128, 256, 512, 1024)
STEM_CHANNELS = 32


def scaled_channels(channels: int, width: float) -> int:
    """`channels * width` rounded to a multiple of 8, at least 8."""
    return max(8, int(round(channels * width / 8.0)) * 8)


def scaled_blocks(blocks: int, depth: float) -> int:
    """`ceil(blocks * depth)`, at least 1 (so every stage keeps a residual block)."""
    return max(1, math.ceil(blocks * depth - 1e-9))


def conv_bn_leaky(x, filters: int, kernel_size: int, *, strides: int = 1, name: str):
    """Conv (no bias: batch norm has one) + batch norm + leaky ReLU 0.1, Darknet's unit."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                            name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.97, epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.LeakyReLU(negative_slope=0.1, name=f"{name}_act")(x)


def darknet_residual(x, filters: int, *, name: str):
    """1x1 to filters/2, 3x3 back to filters, plus the input."""
    y = conv_bn_leaky(x, max(8, filters // 2), 1, name=f"{name}_a")
    y = conv_bn_leaky(y, filters, 3, name=f"{name}_b")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _darknet_stages(inputs, *, width: float, depth: float, stem: str, stage_name) -> list:
    """The five stage outputs (strides 2..32); `stage_name(s)` prefixes the layers of stage s."""
    x = conv_bn_leaky(inputs, scaled_channels(STEM_CHANNELS, width), 3, name=stem)
    outputs = []
    for stage, (blocks, channels) in enumerate(zip(STAGE_BLOCKS, STAGE_CHANNELS), start=1):
        filters = scaled_channels(channels, width)
        x = conv_bn_leaky(x, filters, 3, strides=2, name=f"{stage_name(stage)}_down")
        for block in range(scaled_blocks(blocks, depth)):
            x = darknet_residual(x, filters, name=f"{stage_name(stage)}_r{block}")
        outputs.append(x)
    return outputs


def darknet53_features(inputs, *, width: float = 1.0, depth: float = 1.0, name: str = "darknet"):
    """The stride-8, 16 and 32 feature maps of a (scaled) Darknet-53 on `inputs` [B, H, W, 3].

    Returns (c3, c4, c5) Keras tensors.
    """
    outputs = _darknet_stages(inputs, width=width, depth=depth, stem=f"{name}_stem",
                              stage_name=lambda stage: f"{name}_s{stage}")
    return outputs[2], outputs[3], outputs[4]


def darknet53_pyramid(inputs, *, width: float = 1.0, depth: float = 1.0):
    """The stride-4, 8, 16 and 32 feature maps (c2, c3, c4, c5) of a (scaled) Darknet-53, for an FPN.

    Stage s's layers are named `conv{s}_*` (the stem `conv1_stem_*`), as in keras.applications'
    ResNets, so Mask R-CNN's `3+`/`4+`/`5+` stage regexes select Darknet stages 3..5 the same way.
    The layers and their order are those of `darknet53`, so its saved weights load into either.
    """
    outputs = _darknet_stages(inputs, width=width, depth=depth, stem="conv1_stem",
                              stage_name=lambda stage: f"conv{stage}")
    return tuple(outputs[1:])


def darknet53(*, input_shape=(None, None, 3), width: float = 1.0, depth: float = 1.0) -> keras.Model:
    """A Keras model: image -> [c3, c4, c5] (strides 8, 16, 32)."""
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, list(darknet53_features(inputs, width=width, depth=depth)), name="darknet53")
