"""YOLOv3 targets and loss, as TF ops run inside the train step.

Targets: each ground-truth box goes to the one anchor, among all nine, whose shape (w, h, centres
aligned) overlaps it best; that fixes the scale, and the box centre fixes the cell. Loss per image:

- objectness: BCE, 1 on assigned rows; 0 on the other rows unless their decoded box overlaps some
  ground truth above `ignore_iou` (a good box on the wrong anchor is not punished as background);
- classes: per-class BCE (sigmoid, YOLOv3) on assigned rows;
- box on assigned rows, weighted by 2 - w*h so small boxes count more: `giou` is 1 - GIoU of the
  decoded box, `xywh` is BCE of the cell offset plus squared error of the log-size.

Each term is summed over rows (YOLOv3 sums, so images with more objects weigh more); the task
averages over the global batch.
"""

from __future__ import annotations

import tensorflow as tf

from tfzoo.vision.yolo.model import ANCHORS_PER_SCALE, decode

_EPS = 1e-9


def _area(boxes):
    return tf.maximum(boxes[..., 2] - boxes[..., 0], 0.0) * tf.maximum(boxes[..., 3] - boxes[..., 1], 0.0)


def pairwise_iou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """IoU of yxyx boxes a [B, N, 4] and b [B, M, 4] -> [B, N, M] (batched, unlike boxes.iou_tf)."""
    a, b = a[:, :, None, :], b[:, None, :, :]
    top_left = tf.maximum(a[..., :2], b[..., :2])
    bottom_right = tf.minimum(a[..., 2:], b[..., 2:])
    inter = tf.reduce_prod(tf.maximum(bottom_right - top_left, 0.0), axis=-1)
    return inter / (_area(a) + _area(b) - inter + _EPS)


def giou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Elementwise generalised IoU of yxyx boxes [..., 4] -> [...], in (-1, 1]."""
    top_left = tf.maximum(a[..., :2], b[..., :2])
    bottom_right = tf.minimum(a[..., 2:], b[..., 2:])
    inter = tf.reduce_prod(tf.maximum(bottom_right - top_left, 0.0), axis=-1)
    union = _area(a) + _area(b) - inter
    hull = tf.reduce_prod(tf.maximum(tf.maximum(a[..., 2:], b[..., 2:]) - tf.minimum(a[..., :2], b[..., :2]), 0.0),
                          axis=-1)
    iou = inter / (union + _EPS)
    return iou - (hull - union) / (hull + _EPS)


def best_anchor(gt_boxes: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """Index 0..8 of the anchor whose (w, h) best overlaps each box's, centres aligned: [..., 4] -> [...]."""
    h = gt_boxes[..., 2] - gt_boxes[..., 0]
    w = gt_boxes[..., 3] - gt_boxes[..., 1]
    inter = tf.minimum(w[..., None], anchors[:, 0]) * tf.minimum(h[..., None], anchors[:, 1])
    union = (w * h)[..., None] + anchors[:, 0] * anchors[:, 1] - inter
    return tf.argmax(inter / (union + _EPS), axis=-1, output_type=tf.int32)


def assign_rows(gt_boxes: tf.Tensor, consts) -> tf.Tensor:
    """The prediction row of each ground-truth box: [B, M, 4] -> int32 [B, M]."""
    k = best_anchor(gt_boxes, tf.constant(consts["anchors"]))
    scale = k // ANCHORS_PER_SCALE
    grid = tf.gather(tf.constant(consts["grid_sizes"]), scale)
    offset = tf.gather(tf.constant(consts["offsets"]), scale)
    cy = (gt_boxes[..., 0] + gt_boxes[..., 2]) / 2
    cx = (gt_boxes[..., 1] + gt_boxes[..., 3]) / 2
    gridf = tf.cast(grid, tf.float32)
    i = tf.clip_by_value(tf.cast(tf.floor(cy * gridf), tf.int32), 0, grid - 1)
    j = tf.clip_by_value(tf.cast(tf.floor(cx * gridf), tf.int32), 0, grid - 1)
    return offset + (i * grid + j) * ANCHORS_PER_SCALE + k % ANCHORS_PER_SCALE


def build_targets(gt_boxes: tf.Tensor, gt_classes: tf.Tensor, consts, num_classes: int) -> dict[str, tf.Tensor]:
    """Dense targets over the N rows: `positive` [B, N], `boxes` [B, N, 4], `classes` one-hot [B, N, K].

    gt_classes is int [B, M] with 0 for padding. Built by comparing each row with each box's row
    (no scatter, so deterministic on every device); when two boxes want one row the first wins.
    """
    valid = gt_classes > 0
    rows = tf.where(valid, assign_rows(gt_boxes, consts), -1)  # [B, M]
    n = consts["gx"].shape[0]
    match = tf.equal(tf.range(n, dtype=tf.int32)[None, :, None], rows[:, None, :])  # [B, N, M]
    positive = tf.reduce_any(match, axis=-1)
    first = tf.argmax(tf.cast(match, tf.int32), axis=-1, output_type=tf.int32)  # [B, N]
    boxes = tf.gather(gt_boxes, first, batch_dims=1)
    classes = tf.one_hot(tf.gather(tf.cast(gt_classes, tf.int32), first, batch_dims=1) - 1, num_classes)
    positive_f = tf.cast(positive, tf.float32)
    return {"positive": positive_f, "boxes": boxes * positive_f[..., None], "classes": classes * positive_f[..., None]}


def yolo_loss(raw: tf.Tensor, gt_boxes: tf.Tensor, gt_classes: tf.Tensor, consts, *, num_classes: int,
              ignore_iou: float = 0.5, box_loss: str = "giou") -> dict[str, tf.Tensor]:
    """Per-image loss terms {"box", "obj", "cls"}, each [B], for raw rows [B, N, 5 + K]."""
    raw = tf.cast(raw, tf.float32)
    gt_boxes = tf.cast(gt_boxes, tf.float32)
    targets = build_targets(gt_boxes, gt_classes, consts, num_classes)
    positive = targets["positive"]
    boxes, obj_logits, cls_logits = decode(raw, consts)

    # Background rows whose box already overlaps a ground truth well are left out of the objectness loss.
    valid = tf.cast(gt_classes > 0, tf.float32)[:, None, :]
    best_iou = tf.reduce_max(pairwise_iou(tf.stop_gradient(boxes), gt_boxes) * valid, axis=-1)
    negative = (1.0 - positive) * tf.cast(best_iou <= ignore_iou, tf.float32)
    obj_bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=obj_logits)
    obj = tf.reduce_sum(obj_bce * (positive + negative), axis=-1)

    cls_bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets["classes"], logits=cls_logits)
    cls = tf.reduce_sum(tf.reduce_sum(cls_bce, axis=-1) * positive, axis=-1)

    t = targets["boxes"]
    th, tw = t[..., 2] - t[..., 0], t[..., 3] - t[..., 1]
    weight = (2.0 - tw * th) * positive
    if box_loss == "giou":
        per_row = 1.0 - giou(boxes, t)
    else:
        g = consts["g"]
        offset_x = (t[..., 1] + t[..., 3]) / 2 * g - consts["gx"]
        offset_y = (t[..., 0] + t[..., 2]) / 2 * g - consts["gy"]
        xy = (tf.nn.sigmoid_cross_entropy_with_logits(labels=offset_x, logits=raw[..., 0])
              + tf.nn.sigmoid_cross_entropy_with_logits(labels=offset_y, logits=raw[..., 1]))
        # log(w / anchor); a padding row (w = 0) is masked by `weight` but must stay finite.
        log_w = tf.math.log(tf.maximum(tw, _EPS) / consts["aw"])
        log_h = tf.math.log(tf.maximum(th, _EPS) / consts["ah"])
        wh = tf.square(raw[..., 2] - log_w) + tf.square(raw[..., 3] - log_h)
        per_row = xy + 0.5 * wh
    box = tf.reduce_sum(per_row * weight, axis=-1)
    return {"box": box, "obj": obj, "cls": cls}
