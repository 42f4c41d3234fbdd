"""Pyramid anchors and the box coding of Mask R-CNN (normalised yxyx boxes, as everywhere in tfzoo).

One anchor per (level, position, ratio): scale s on level P2..P6, h = s/sqrt(r), w = s*sqrt(r), centred
on each feature cell. At 128 px that is (32² + 16² + 8² + 4² + 2²) x 3 = 4,092 anchors. Deltas are
(dy, dx, log dh, log dw) divided by the standard deviations [0.1, 0.1, 0.2, 0.2].
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

FEATURE_STRIDES = (4, 8, 16, 32, 64)
BOX_STD = (0.1, 0.1, 0.2, 0.2)


@functools.lru_cache(maxsize=16)
def pyramid_anchors(
    image_size: int,
    scales: tuple[int, ...] = (8, 16, 32, 64, 128),
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
    anchor_stride: int = 1,
) -> np.ndarray:
    """float32 [A, 4] normalised yxyx, level by level, then row, column, ratio (the RPN's output order).

    Cached per image size: the same array object comes back for the same arguments (the book's cache
    test was inverted, S4 L136-L147).
    """
    out = []
    for scale, stride in zip(scales, FEATURE_STRIDES):
        cells = int(np.ceil(image_size / stride))
        centres = (np.arange(0, cells, anchor_stride) + 0.5) * stride
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        r = np.asarray(ratios, np.float64)
        h, w = scale / np.sqrt(r), scale * np.sqrt(r)
        cy, cx = cy.reshape(-1, 1), cx.reshape(-1, 1)
        boxes = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1).reshape(-1, 4)
        out.append(boxes / image_size)
    anchors = np.concatenate(out).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def anchors_per_level(image_size: int, num_ratios: int = 3, anchor_stride: int = 1) -> list[int]:
    """How many anchors each level P2..P6 holds."""
    return [len(range(0, int(np.ceil(image_size / s)), anchor_stride)) ** 2 * num_ratios for s in FEATURE_STRIDES]


def box_iou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """IoU of yxyx boxes a [N, 4] and b [M, 4] -> [N, M]."""
    a = a[:, None, :]
    b = b[None, :, :]
    ih = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0.0)
    iw = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = ih * iw
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / tf.maximum(area_a + area_b - inter, 1e-9)


def encode(boxes: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """Deltas [..., 4] that move `anchors` onto `boxes`, divided by BOX_STD."""
    ah, aw = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    bh, bw = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    ah, aw = tf.maximum(ah, 1e-6), tf.maximum(aw, 1e-6)
    dy = (boxes[..., 0] + 0.5 * bh - anchors[..., 0] - 0.5 * ah) / ah
    dx = (boxes[..., 1] + 0.5 * bw - anchors[..., 1] - 0.5 * aw) / aw
    dh = tf.math.log(tf.maximum(bh, 1e-6) / ah)
    dw = tf.math.log(tf.maximum(bw, 1e-6) / aw)
    return tf.stack([dy, dx, dh, dw], axis=-1) / tf.constant(BOX_STD, boxes.dtype)


def decode(deltas: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """Boxes [..., 4] from `anchors` moved by `deltas` (the inverse of `encode`)."""
    d = deltas * tf.constant(BOX_STD, deltas.dtype)
    h, w = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    cy, cx = anchors[..., 0] + 0.5 * h, anchors[..., 1] + 0.5 * w
    cy, cx = cy + d[..., 0] * h, cx + d[..., 1] * w
    # Cap log-scales so an untrained head cannot overflow exp.
    h = h * tf.exp(tf.minimum(d[..., 2], 4.0))
    w = w * tf.exp(tf.minimum(d[..., 3], 4.0))
    return tf.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=-1)
