"""SSD default boxes and the matcher that assigns ground truth to them.

Default boxes (Liu et al. 2016, §2.2): map k of m gets scale s_k = s_min + (s_max - s_min)(k - 1)/(m - 1); each
aspect ratio a gives a box of width s_k·√a and height s_k/√a centred on every cell; ratio 1 also gets the extra scale
√(s_k·s_{k+1}) (s_{m+1} = 1). Boxes are normalised yxyx, ordered map by map, then row, column, box — the order the
heads' reshapes produce.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.vision.detection import boxes as box_ops


def feature_sizes(image_size: int, num_maps: int) -> list[int]:
    """Sides of the feature maps: strides 8, 16, 32, ... (one per map)."""
    largest = 2 ** (num_maps + 2)
    if not 4 <= num_maps <= 6:
        raise ConfigError(f"num_maps={num_maps} must be between 4 and 6")
    if image_size % largest:
        raise ConfigError(f"image_size={image_size} must be divisible by the largest stride {largest} "
                          f"(num_maps={num_maps})")
    return [image_size // 2 ** (k + 3) for k in range(num_maps)]


def scales(num_maps: int, min_scale: float, max_scale: float) -> list[float]:
    """s_1..s_m linear from min_scale to max_scale."""
    return [min_scale + (max_scale - min_scale) * k / (num_maps - 1) for k in range(num_maps)]


def boxes_per_cell(aspect_ratios, extra_ratio_one: bool = True) -> int:
    """Default boxes at each feature-map cell."""
    return len(aspect_ratios) + int(extra_ratio_one)


def default_boxes(
    sizes: list[int],
    *,
    min_scale: float = 0.2,
    max_scale: float = 0.9,
    aspect_ratios=(1.0, 2.0, 0.5),
    extra_ratio_one: bool = True,
    clip: bool = True,
) -> np.ndarray:
    """Default boxes for feature maps of the given sides: float32 [A, 4] normalised yxyx."""
    s = scales(len(sizes), min_scale, max_scale) + [1.0]
    out = []
    for k, size in enumerate(sizes):
        shapes = [(s[k] * math.sqrt(a), s[k] / math.sqrt(a)) for a in aspect_ratios]  # (w, h)
        if extra_ratio_one:
            extra = math.sqrt(s[k] * s[k + 1])
            shapes.append((extra, extra))
        centres = (np.arange(size, dtype=np.float64) + 0.5) / size
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        wh = np.asarray(shapes)  # [n, 2]
        # [size, size, n, 4] in row, column, box order.
        y1 = cy[..., None] - wh[:, 1] / 2
        x1 = cx[..., None] - wh[:, 0] / 2
        y2 = cy[..., None] + wh[:, 1] / 2
        x2 = cx[..., None] + wh[:, 0] / 2
        out.append(np.stack([y1, x1, y2, x2], axis=-1).reshape(-1, 4))
    anchors = np.concatenate(out).astype(np.float32)
    return np.clip(anchors, 0.0, 1.0) if clip else anchors


def anchors_for(config) -> np.ndarray:
    """The default boxes of an SSDConfig."""
    return default_boxes(
        feature_sizes(config.image_size, config.num_maps),
        min_scale=config.min_scale,
        max_scale=config.max_scale,
        aspect_ratios=config.aspect_ratios,
        extra_ratio_one=config.extra_ratio_one,
        clip=config.clip_anchors,
    )


def batch_iou(gt: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """IoU of gt boxes [B, M, 4] with anchors [A, 4]: [B, M, A]."""
    g = gt[:, :, None, :]
    a = anchors[None, None, :, :]
    inter_h = tf.maximum(tf.minimum(g[..., 2], a[..., 2]) - tf.maximum(g[..., 0], a[..., 0]), 0.0)
    inter_w = tf.maximum(tf.minimum(g[..., 3], a[..., 3]) - tf.maximum(g[..., 1], a[..., 1]), 0.0)
    inter = inter_h * inter_w
    area_g = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    return inter / tf.maximum(area_g + area_a - inter, 1e-8)


def match(gt_boxes, gt_classes, anchors, *, iou_threshold: float = 0.5, variances=(0.1, 0.1, 0.2, 0.2)):
    """Assign ground truth to default boxes (SSD §2.2 "matching strategy").

    Each default box takes the GT it overlaps most; it is positive when that IoU >= `iou_threshold`. Every GT
    also claims its best default box whatever the IoU, so no object goes unmatched (two GTs with the same best
    box: the one with the higher IoU keeps it).

    Args:
        gt_boxes: [B, M, 4] normalised yxyx, padded. gt_classes: [B, M] int, 1..K, 0 = padding.
        anchors: [A, 4].
    Returns:
        (classes [B, A] int32 with 0 = background, deltas [B, A, 4] (boxes.encode of the matched GT; zeros
        for background), matched [B, A, 4] the matched GT boxes).
    """
    gt_boxes = tf.convert_to_tensor(gt_boxes, tf.float32)
    gt_classes = tf.cast(gt_classes, tf.int32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    valid = gt_classes > 0  # [B, M]
    iou = batch_iou(gt_boxes, anchors)
    iou = tf.where(valid[..., None], iou, -1.0)  # padding never wins
    num_anchors = tf.shape(anchors)[0]
    # Best default box per GT, forced positive by raising its IoU above any real one (2 + IoU keeps the
    # stronger claim when two GTs share a best box).
    best_anchor = tf.argmax(iou, axis=2, output_type=tf.int32)  # [B, M]
    forced = tf.one_hot(best_anchor, num_anchors, on_value=True, off_value=False) & valid[..., None]
    iou = tf.where(forced, 2.0 + iou, iou)
    best_gt = tf.argmax(iou, axis=1, output_type=tf.int32)  # [B, A]
    best_iou = tf.reduce_max(iou, axis=1)
    positive = best_iou >= iou_threshold
    classes = tf.where(positive, tf.gather(gt_classes, best_gt, batch_dims=1), 0)
    matched = tf.gather(gt_boxes, best_gt, batch_dims=1)  # [B, A, 4]
    deltas = box_ops.encode(matched, tf.broadcast_to(anchors[None], tf.shape(matched)), variances)
    deltas = tf.where(positive[..., None], deltas, 0.0)
    return classes, deltas, matched
