"""MobileNet-like backbones for the one-stage detectors (SSD).

- `mobilenet`: MobileNet-v1's depthwise-separable stack (3×3 depthwise -> BN -> ReLU6 -> 1×1 pointwise -> BN
  -> ReLU6) with a width multiplier `alpha` and a depth knob (how many 512-wide stride-16 blocks; 5 as published).
- `mobilenetv2`: `keras.applications.MobileNetV2(weights=None)`, trained from scratch (nothing is downloaded).

Both return the feature maps at strides 8, 16 and 32 of a float image input in [0, 1]; SSD adds its own extra
stride-2 layers on top. Built from plain Keras layers, so `.keras` files need no custom objects.
"""

from __future__ import annotations

import keras

from tfzoo.common.errors import ConfigError

BACKBONES = ("mobilenet", "mobilenetv2")
# keras.applications layer names of MobileNetV2 at strides 8, 16 and 32 (the inputs of its stride-2 blocks).
_V2_LAYERS = ("block_6_expand_relu", "block_13_expand_relu", "out_relu")


def _width(channels: int, alpha: float) -> int:
    # Round to a multiple of 8 as MobileNet does, never below 8, so tiny alphas still give usable widths.
    return max(8, int(channels * alpha + 4) // 8 * 8)


def conv_bn_act(x, filters: int, *, kernel: int = 3, stride: int = 1, name: str):
    """Conv (no bias) -> BatchNorm -> ReLU6."""
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x)


def depthwise_separable(x, filters: int, *, stride: int = 1, name: str):
    """MobileNet's block: 3×3 depthwise (stride) -> BN -> ReLU6 -> 1×1 pointwise -> BN -> ReLU6."""
    x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    return conv_bn_act(x, filters, kernel=1, name=f"{name}_pw")


def mobilenet_features(images, *, alpha: float = 1.0, depth: int = 5):
    """MobileNet-v1 features of `images` (float [B, S, S, 3] in [0, 1]) at strides 8, 16 and 32."""
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_unit_range")(images)
    x = conv_bn_act(x, _width(32, alpha), stride=2, name="stem")
    # (filters, stride) of MobileNet-v1 up to stride 8.
    for i, (filters, stride) in enumerate(((64, 1), (128, 2), (128, 1), (256, 2), (256, 1))):
        x = depthwise_separable(x, _width(filters, alpha), stride=stride, name=f"block{i + 1}")
    s8 = x
    x = depthwise_separable(x, _width(512, alpha), stride=2, name="block6")
    for i in range(depth):
        x = depthwise_separable(x, _width(512, alpha), name=f"block{7 + i}")
    s16 = x
    x = depthwise_separable(x, _width(1024, alpha), stride=2, name="block_s32a")
    s32 = depthwise_separable(x, _width(1024, alpha), name="block_s32b")
    return [s8, s16, s32]


def mobilenetv2_features(images, *, alpha: float = 1.0):
    """keras.applications MobileNetV2 (random init) features at strides 8, 16 and 32."""
    size = images.shape[1]
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_unit_range")(images)
    base = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, include_top=False, weights=None, name="mobilenetv2"
    )
    extractor = keras.Model(base.input, [base.get_layer(n).output for n in _V2_LAYERS], name="mobilenetv2_features")
    return list(extractor(x))


def backbone_features(images, *, name: str, alpha: float, depth: int = 5):
    """Feature maps at strides 8, 16 and 32 for backbone `name` (one of BACKBONES)."""
    if name == "mobilenet":
        return mobilenet_features(images, alpha=alpha, depth=depth)
    if name == "mobilenetv2":
        return mobilenetv2_features(images, alpha=alpha)
    raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
