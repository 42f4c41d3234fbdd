"""The YOLOv3-style network and the geometry shared by its loss and decoder.

The model maps float images [B, S, S, 3] in [0, 1] to one tensor [B, N, 5 + K]: the predictions
of the three scales (strides 8, 16, 32) flattened and concatenated, N = 3 * sum(G_s²) with
G_s = S / stride. Row `offset_s + (i * G_s + j) * 3 + a` is anchor `a` of cell (row i, column j)
at scale `s`; its channels are tx, ty, tw, th, objectness and K class logits. A single output keeps
`.keras` round trips and SavedModel signatures simple; `grid_constants` gives the per-row facts
(cell, grid size, anchor) that turn a row into a box.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.vision.backbones_darknet import conv_bn_leaky, darknet53_features, scaled_channels
from tfzoo.vision.yolo.config import YOLOConfig

STRIDES = (8, 16, 32)
ANCHORS_PER_SCALE = 3
NUM_ANCHORS = ANCHORS_PER_SCALE * len(STRIDES)
# Objectness starts near 1% (focal-loss style prior): thousands of background rows would otherwise
# swamp the first steps with a large loss.
OBJECTNESS_PRIOR = 0.01


def check_config(config: YOLOConfig) -> None:
    """One-line ConfigErrors for settings the model cannot build (backbone and box_loss are Literal
    choices, checked when the config is built)."""
    if config.image_size <= 0 or config.image_size % STRIDES[-1]:
        raise ConfigError(f"image_size={config.image_size} must be a positive multiple of {STRIDES[-1]}, "
                          "the largest stride")
    if not (config.width > 0 and config.depth > 0):
        raise ConfigError(f"width and depth must be > 0, got width={config.width} depth={config.depth}")
    if not 0.0 < config.ignore_iou <= 1.0:
        raise ConfigError(f"ignore_iou={config.ignore_iou} must be in (0, 1]")


def multipliers(config: YOLOConfig) -> tuple[float, float]:
    """(width, depth): the config's for `darknet53`, 1 and 1 for `darknet53-full`."""
    return (1.0, 1.0) if config.backbone == "darknet53-full" else (config.width, config.depth)


def _conv_set(x, filters: int, *, name: str):
    """YOLOv3's five alternating 1x1 / 3x3 convs before each output."""
    for k, (size, mult) in enumerate(((1, 1), (3, 2), (1, 1), (3, 2), (1, 1))):
        x = conv_bn_leaky(x, filters * mult, size, name=f"{name}_{k}")
    return x


def build_yolo(config: YOLOConfig, *, num_classes: int) -> keras.Model:
    """Darknet backbone + feature-pyramid head (upsample + concat) -> [B, N, 5 + K] raw predictions."""
    check_config(config)
    width, depth = multipliers(config)
    size = config.image_size
    outputs_per_anchor = 5 + num_classes
    inputs = keras.Input((size, size, 3), name="image")
    c3, c4, c5 = darknet53_features(inputs, width=width, depth=depth)
    filters = [scaled_channels(c, width) for c in (128, 256, 512)]  # head widths at strides 8, 16, 32
    heads = []
    x = None
    for level, feature in ((2, c5), (1, c4), (0, c3)):
        if x is not None:
            # Route the coarser head up: 1x1 to half its width, 2x nearest upsample, concat the skip.
            x = conv_bn_leaky(x, filters[level], 1, name=f"head{level}_route")
            x = keras.layers.UpSampling2D(2, name=f"head{level}_up")(x)
            feature = keras.layers.Concatenate(name=f"head{level}_concat")([x, feature])
        x = _conv_set(feature, filters[level], name=f"head{level}_set")
        y = conv_bn_leaky(x, filters[level] * 2, 3, name=f"head{level}_out")
        y = keras.layers.Conv2D(ANCHORS_PER_SCALE * outputs_per_anchor, 1, name=f"head{level}_pred")(y)
        grid = size // STRIDES[level]
        heads.append(keras.layers.Reshape((grid * grid * ANCHORS_PER_SCALE, outputs_per_anchor),
                                          name=f"head{level}_rows")(y))
    heads.reverse()  # stride 8 first, matching the anchors sorted by area
    outputs = keras.layers.Concatenate(axis=1, name="predictions")(heads)
    model = keras.Model(inputs, outputs, name="yolo")
    prior = float(np.log(OBJECTNESS_PRIOR / (1.0 - OBJECTNESS_PRIOR)))
    for level in range(len(STRIDES)):
        layer = model.get_layer(f"head{level}_pred")
        bias = np.zeros((ANCHORS_PER_SCALE, outputs_per_anchor), np.float32)
        bias[:, 4] = prior
        layer.bias.assign(bias.reshape(-1))
    return model


def num_rows(image_size: int) -> int:
    """N, the number of prediction rows for a square image of `image_size` px."""
    return sum(ANCHORS_PER_SCALE * (image_size // s) ** 2 for s in STRIDES)


def grid_constants(image_size: int, anchors) -> dict[str, np.ndarray]:
    """Per-row geometry as float32 [N] arrays: column `gx`, row `gy`, grid size `g`, anchor `aw`, `ah`.

    Also `grid_sizes` [3] and `offsets` [3] (first row of each scale), for target assignment.
    `anchors` are 9 normalised (w, h) pairs sorted by area: three per scale, smallest at stride 8.
    """
    anchors = np.asarray(anchors, np.float32).reshape(NUM_ANCHORS, 2)
    parts = {k: [] for k in ("gx", "gy", "g", "aw", "ah")}
    grid_sizes, offsets, offset = [], [], 0
    for s, stride in enumerate(STRIDES):
        g = image_size // stride
        i, j, a = np.meshgrid(np.arange(g), np.arange(g), np.arange(ANCHORS_PER_SCALE), indexing="ij")
        scale_anchors = anchors[s * ANCHORS_PER_SCALE:(s + 1) * ANCHORS_PER_SCALE]
        parts["gx"].append(j.reshape(-1))
        parts["gy"].append(i.reshape(-1))
        parts["g"].append(np.full(i.size, g))
        parts["aw"].append(scale_anchors[a.reshape(-1), 0])
        parts["ah"].append(scale_anchors[a.reshape(-1), 1])
        grid_sizes.append(g)
        offsets.append(offset)
        offset += i.size
    out = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    out["grid_sizes"] = np.asarray(grid_sizes, np.int32)
    out["offsets"] = np.asarray(offsets, np.int32)
    out["anchors"] = anchors
    return out


def decode(raw: tf.Tensor, consts: dict[str, np.ndarray]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Raw rows [B, N, 5 + K] -> (boxes [B, N, 4] normalised yxyx, objectness logits [B, N], class logits [B, N, K]).

    YOLOv3's parametrisation: centre = (cell + sigmoid(t)) / G, size = anchor * exp(t). The log-size
    is capped at 4 (55x the anchor) so a wild early prediction cannot overflow.
    """
    raw = tf.cast(raw, tf.float32)
    cx = (consts["gx"] + tf.sigmoid(raw[..., 0])) / consts["g"]
    cy = (consts["gy"] + tf.sigmoid(raw[..., 1])) / consts["g"]
    w = consts["aw"] * tf.exp(tf.minimum(raw[..., 2], 4.0))
    h = consts["ah"] * tf.exp(tf.minimum(raw[..., 3], 4.0))
    boxes = tf.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)
    return boxes, raw[..., 4], raw[..., 5:]
