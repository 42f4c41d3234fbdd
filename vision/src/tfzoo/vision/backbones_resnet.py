"""FPN backbones for Mask R-CNN: C2-C5 from a ResNet or Darknet-53, P2-P6 from a feature pyramid.

`resnet18` is built from Keras layers with a width multiplier (the CPU default); `resnet50` and
`resnet101` come from `keras.applications` with `weights=None` (nothing is downloaded; an optional
`weights_file` loads saved weights). `darknet53` is the sequel's suggested swap (S4 L713-L725): the
Darknet-53-like stages of backbones_darknet with width and depth multipliers, its stage layers named
`conv2_`..`conv5_` like the applications' ResNets. The FPN layers are named `fpn_*` so training stages
can select them, as in the book's project (S4 L580-L588).
"""

from __future__ import annotations

import os
import warnings

import keras
from keras import layers

from tfzoo.common.errors import ConfigError
from tfzoo.vision.backbones_darknet import darknet53_pyramid

BACKBONES = ("resnet18", "resnet50", "resnet101", "darknet53")
DARKNET_DEPTH = 0.34  # blocks per stage ceil(n * 0.34) = [1, 1, 3, 3, 2], YOLO's CPU default
# The last layer of each stage C2..C5 in keras.applications' ResNets.
_APP_OUTPUTS = {
    "resnet50": ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    "resnet101": ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out", "conv5_block3_out"),
}
LARGEST_STRIDE = 64  # P6


def _basic_block(x, filters: int, stride: int, name: str):
    """A ResNet-18 basic block: two 3x3 convs with a projection shortcut when the shape changes."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _resnet18(image, width: float):
    def w(n: int) -> int:
        return max(4, int(round(n * width)))

    x = layers.Conv2D(w(64), 7, strides=2, padding="same", use_bias=False, name="conv1")(image)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    outputs = []
    for stage, filters in enumerate((64, 128, 256, 512), start=2):
        for block in range(2):
            stride = 2 if block == 0 and stage > 2 else 1
            x = _basic_block(x, w(filters), stride, name=f"res{stage}_block{block + 1}")
        outputs.append(x)
    return outputs


def resnet_fpn(
    *,
    image_size: int,
    arch: str = "resnet18",
    width: float = 1.0,
    depth: float = DARKNET_DEPTH,
    fpn_channels: int = 256,
    train_bn: bool = True,
    weights_file: str = "",
    name: str = "backbone",
) -> keras.Model:
    """Image float32 [S, S, 3] in [0, 1] -> [P2, P3, P4, P5, P6] at strides 4, 8, 16, 32, 64.

    Args:
        image_size: S, divisible by 64 (P6's stride).
        arch: resnet18 | resnet50 | resnet101 | darknet53.
        width: channel multiplier of resnet18 and darknet53 (the keras.applications ResNets have fixed widths).
        depth: residual-block multiplier of darknet53 (ignored by the ResNets).
        fpn_channels: channels of every pyramid level (256 in the book).
        train_bn: False freezes every BatchNormalization layer (inference mode), as for pretrained weights.
        weights_file: optional `.weights.h5` for the ResNet or Darknet part (for darknet53, one saved from
            `backbones_darknet.darknet53` or from this backbone's nested `darknet53` model at the same
            width and depth).
    """
    if arch not in BACKBONES:
        raise ConfigError(f"unknown backbone {arch!r}; choose one of {', '.join(BACKBONES)}")
    if image_size <= 0 or image_size % LARGEST_STRIDE:
        raise ConfigError(f"image_size {image_size} must be a positive multiple of {LARGEST_STRIDE} (P6's stride)")
    image = keras.Input((image_size, image_size, 3), name="image")
    # [0, 1] -> [-1, 1]: zero-centred inputs for a network trained from scratch.
    x = layers.Rescaling(2.0, offset=-1.0, name="normalise")(image)
    if arch == "resnet18":
        c2, c3, c4, c5 = _resnet18(x, width)
    elif arch == "darknet53":
        c2, c3, c4, c5 = _darknet53(image_size, width, depth, weights_file)(x)
    else:
        app = keras.applications.ResNet50 if arch == "resnet50" else keras.applications.ResNet101
        resnet = app(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
        if weights_file:
            resnet.load_weights(weights_file)
        inner = keras.Model(resnet.input, [resnet.get_layer(n).output for n in _APP_OUTPUTS[arch]], name=arch)
        c2, c3, c4, c5 = inner(x)
    f = fpn_channels
    p5 = layers.Conv2D(f, 1, name="fpn_c5p5")(c5)
    p4 = layers.Add(name="fpn_p4add")([layers.UpSampling2D(2, name="fpn_p5upsampled")(p5),
                                       layers.Conv2D(f, 1, name="fpn_c4p4")(c4)])
    p3 = layers.Add(name="fpn_p3add")([layers.UpSampling2D(2, name="fpn_p4upsampled")(p4),
                                       layers.Conv2D(f, 1, name="fpn_c3p3")(c3)])
    p2 = layers.Add(name="fpn_p2add")([layers.UpSampling2D(2, name="fpn_p3upsampled")(p3),
                                       layers.Conv2D(f, 1, name="fpn_c2p2")(c2)])
    # 3x3 convs smooth the aliasing of the upsampled sums.
    p2 = layers.Conv2D(f, 3, padding="same", name="fpn_p2")(p2)
    p3 = layers.Conv2D(f, 3, padding="same", name="fpn_p3")(p3)
    p4 = layers.Conv2D(f, 3, padding="same", name="fpn_p4")(p4)
    p5 = layers.Conv2D(f, 3, padding="same", name="fpn_p5")(p5)
    # P6 (RPN only) is a stride-2 subsample of P5.
    p6 = layers.MaxPooling2D(1, strides=2, name="fpn_p6")(p5)
    model = keras.Model(image, [p2, p3, p4, p5, p6], name=name)
    if not train_bn:
        for layer in _all_layers(model):
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    return model


def _darknet53(image_size: int, width: float, depth: float, weights_file: str) -> keras.Model:
    """Darknet-53 stages as a nested model (so `weights_file` can load into it) -> [C2, C3, C4, C5]."""
    if width <= 0 or depth <= 0:
        raise ConfigError(f"darknet53 needs width > 0 and depth > 0, got width={width}, depth={depth}")
    image = keras.Input((image_size, image_size, 3), name="darknet_input")
    model = keras.Model(image, list(darknet53_pyramid(image, width=width, depth=depth)), name="darknet53")
    if weights_file:
        if not os.path.isfile(weights_file):
            raise ConfigError(f"backbone_weights {weights_file!r} does not exist")
        # Keras raises for variables of the wrong shape or count but only warns (keeping the fresh
        # weights) for layers missing from the file; both mean the file is another architecture.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(weights_file)
            except ValueError as error:
                problem = str(error).splitlines()[0].rstrip(":")
            else:
                skipped = [w for w in caught if "skipping" in str(w.message).lower()]
                problem = f"{len(skipped)} parts were not in the file" if skipped else ""
        if problem:
            raise ConfigError(f"backbone_weights {weights_file!r} does not fit darknet53 at width={width}, "
                              f"depth={depth} (save it from a darknet53 of that size): {problem}")
    return model


def _all_layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
