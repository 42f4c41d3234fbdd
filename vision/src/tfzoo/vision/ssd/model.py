"""The SSD network: backbone features at strides 8/16/32, extra stride-2 layers, and per-map conv heads."""

from __future__ import annotations

import math

import keras
import numpy as np

from tfzoo.vision.backbones_mobilenet import _width, backbone_features, conv_bn_act
from tfzoo.vision.ssd.anchors import boxes_per_cell, feature_sizes


def build_model(config, *, num_classes: int) -> keras.Model:
    """float images [B, S, S, 3] in [0, 1] -> [B, A, 4 + K + 1]: box offsets then class logits (0 = background).

    One output tensor (not two) so a `.keras` reload is compared and served like any single-output model.
    """
    size = config.image_size
    sizes = feature_sizes(size, config.num_maps)  # checks divisibility first: a one-line ConfigError
    images = keras.Input((size, size, 3), name="images")
    features = backbone_features(images, name=config.backbone, alpha=config.alpha, depth=config.depth)
    x = features[-1]
    width = _width(config.extra_channels, config.alpha)
    for k in range(config.num_maps - 3):
        # SSD's extra layers: a 1×1 bottleneck then a 3×3 stride-2 conv halve the map.
        x = conv_bn_act(x, max(8, width // 2), kernel=1, name=f"extra{k + 1}_reduce")
        x = conv_bn_act(x, width, stride=2, name=f"extra{k + 1}")
        features.append(x)
    n = boxes_per_cell(config.aspect_ratios, config.extra_ratio_one)
    locs, logits = [], []
    for k, (feature, side) in enumerate(zip(features, sizes)):
        if config.head_channels:
            feature = conv_bn_act(feature, config.head_channels, name=f"head{k + 1}")
        loc = keras.layers.Conv2D(n * 4, 3, padding="same", name=f"loc{k + 1}")(feature)
        cls = keras.layers.Conv2D(n * (num_classes + 1), 3, padding="same", name=f"cls{k + 1}")(feature)
        locs.append(keras.layers.Reshape((side * side * n, 4), name=f"loc{k + 1}_flat")(loc))
        logits.append(keras.layers.Reshape((side * side * n, num_classes + 1), name=f"cls{k + 1}_flat")(cls))
    loc = keras.layers.Concatenate(axis=1, name="loc")(locs)
    cls = keras.layers.Concatenate(axis=1, name="cls")(logits)
    out = keras.layers.Concatenate(axis=-1, name="ssd")([loc, cls])
    model = keras.Model(images, out, name=f"ssd_{config.backbone}")
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            # Keras' 0.99 (MobileNetV2: 0.999) lags far behind the weights over a few thousand CPU steps, and
            # evaluation then runs on stale statistics; the momentum is saved in each layer's config.
            layer.momentum = config.bn_momentum
    prior = math.log(config.background_prior * num_classes / (1.0 - config.background_prior))
    for k in range(len(sizes)):
        # Start every default box at P(background) = background_prior (the focal-loss paper's prior trick):
        # the first steps then learn objects instead of unlearning a uniform guess on ~99% background boxes.
        layer = model.get_layer(f"cls{k + 1}")
        bias = np.zeros((n, num_classes + 1), np.float32)
        bias[:, 0] = prior
        layer.bias.assign(bias.reshape(-1))
    return model


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
