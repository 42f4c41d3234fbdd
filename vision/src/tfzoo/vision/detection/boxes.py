"""Box formats, IoU/GIoU, centre/size coding, k-means anchors, NMS and box-consistent augmentation.

Convention everywhere in tfzoo: boxes are normalised ``yxyx`` float32 in [0, 1] (y1, x1, y2, x2), class ids are
1..K with 0 = background/padding. Functions without a ``_tf`` suffix take and return numpy arrays unless their
docstring says they are TF ops (encode/decode/nms and the augmentation, which run inside tf.data and graphs).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfzoo.vision.detection.augment import (
    augment,
    colour_jitter,
    letterbox,
    random_crop,
    random_expand,
    random_flip,
    unletterbox_boxes,
)

__all__ = [
    "augment",
    "coco_xywh_to_yxyx",
    "colour_jitter",
    "decode",
    "encode",
    "giou_tf",
    "iou",
    "iou_tf",
    "kmeans_anchors",
    "letterbox",
    "mask_to_box",
    "nms",
    "random_crop",
    "random_expand",
    "random_flip",
    "unletterbox_boxes",
    "voc_to_yxyx",
    "wh_iou",
    "yxyx_to_coco_xywh",
]

VARIANCES = (0.1, 0.1, 0.2, 0.2)
_EPS = 1e-9


# ---------------------------------------------------------------------------------------------- IoU


def iou(a, b) -> np.ndarray:
    """Pairwise IoU of ``a`` [N, 4] and ``b`` [M, 4] (yxyx, any consistent unit) -> float32 [N, M]."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    y1 = np.maximum(a[:, None, 0], b[None, :, 0])
    x1 = np.maximum(a[:, None, 1], b[None, :, 1])
    y2 = np.minimum(a[:, None, 2], b[None, :, 2])
    x2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, _EPS), 0.0).astype(np.float32)


def iou_tf(a, b) -> tf.Tensor:
    """Pairwise IoU as a TF op: ``a`` [N, 4], ``b`` [M, 4] -> [N, M] (0 where the union is empty)."""
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    ay1, ax1, ay2, ax2 = tf.unstack(a[:, None, :], axis=-1)
    by1, bx1, by2, bx2 = tf.unstack(b[None, :, :], axis=-1)
    inter = tf.maximum(tf.minimum(ay2, by2) - tf.maximum(ay1, by1), 0.0) * tf.maximum(
        tf.minimum(ax2, bx2) - tf.maximum(ax1, bx1), 0.0
    )
    union = tf.maximum(ay2 - ay1, 0.0) * tf.maximum(ax2 - ax1, 0.0) + tf.maximum(by2 - by1, 0.0) * tf.maximum(
        bx2 - bx1, 0.0
    ) - inter
    return tf.math.divide_no_nan(inter, union)


def giou_tf(a, b) -> tf.Tensor:
    """Elementwise generalised IoU of broadcastable ``a`` [..., 4] and ``b`` [..., 4] (a TF op, in [-1, 1])."""
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    ay1, ax1, ay2, ax2 = tf.unstack(a, axis=-1)
    by1, bx1, by2, bx2 = tf.unstack(b, axis=-1)
    area_a = tf.maximum(ay2 - ay1, 0.0) * tf.maximum(ax2 - ax1, 0.0)
    area_b = tf.maximum(by2 - by1, 0.0) * tf.maximum(bx2 - bx1, 0.0)
    inter = tf.maximum(tf.minimum(ay2, by2) - tf.maximum(ay1, by1), 0.0) * tf.maximum(
        tf.minimum(ax2, bx2) - tf.maximum(ax1, bx1), 0.0
    )
    union = area_a + area_b - inter
    # The smallest box enclosing both: GIoU subtracts the share of it that neither box covers.
    hull = (tf.maximum(ay2, by2) - tf.minimum(ay1, by1)) * (tf.maximum(ax2, bx2) - tf.minimum(ax1, bx1))
    return tf.math.divide_no_nan(inter, union) - tf.math.divide_no_nan(hull - union, hull)


def wh_iou(wh_a, wh_b) -> np.ndarray:
    """IoU of box sizes aligned at a common centre: ``wh_a`` [N, 2], ``wh_b`` [M, 2] -> [N, M]."""
    wh_a = np.asarray(wh_a, np.float64).reshape(-1, 2)
    wh_b = np.asarray(wh_b, np.float64).reshape(-1, 2)
    inter = np.minimum(wh_a[:, None, 0], wh_b[None, :, 0]) * np.minimum(wh_a[:, None, 1], wh_b[None, :, 1])
    union = (wh_a[:, 0] * wh_a[:, 1])[:, None] + (wh_b[:, 0] * wh_b[:, 1])[None, :] - inter
    return inter / np.maximum(union, _EPS)


# ------------------------------------------------------------------------------------------ formats


def coco_xywh_to_yxyx(xywh, height, width) -> np.ndarray:
    """COCO pixel boxes ``[x, y, w, h]`` (top-left corner, size) -> normalised yxyx float32 [N, 4]."""
    b = np.asarray(xywh, np.float64).reshape(-1, 4)
    out = np.stack([b[:, 1] / height, b[:, 0] / width, (b[:, 1] + b[:, 3]) / height, (b[:, 0] + b[:, 2]) / width], 1)
    return out.astype(np.float32)


def yxyx_to_coco_xywh(boxes, height, width) -> np.ndarray:
    """Normalised yxyx -> COCO pixel boxes ``[x, y, w, h]`` float64 [N, 4] (what pycocotools reads)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack([b[:, 1] * width, b[:, 0] * height, (b[:, 3] - b[:, 1]) * width, (b[:, 2] - b[:, 0]) * height], 1)


def voc_to_yxyx(xmin, ymin, xmax, ymax, height, width) -> np.ndarray:
    """Pascal VOC boxes (1-based, inclusive pixel indices) -> normalised yxyx float32 [N, 4].

    Pixel ``xmin`` (1-based) starts at edge ``xmin - 1``; inclusive ``xmax`` ends at edge ``xmax``.
    """
    xmin, ymin, xmax, ymax = (np.asarray(v, np.float64).reshape(-1) for v in (xmin, ymin, xmax, ymax))
    return np.stack([(ymin - 1) / height, (xmin - 1) / width, ymax / height, xmax / width], 1).astype(np.float32)


def yxyx_to_voc(boxes, height, width) -> np.ndarray:
    """Normalised yxyx -> VOC ``[xmin, ymin, xmax, ymax]`` 1-based inclusive pixels (rounded), int [N, 4]."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = np.stack([b[:, 1] * width + 1, b[:, 0] * height + 1, b[:, 3] * width, b[:, 2] * height], 1)
    return np.rint(out).astype(np.int64)


def mask_to_box(mask) -> np.ndarray:
    """Tight normalised yxyx box of a binary mask [H, W] (pixel edges, so a 1-pixel mask has size 1/H x 1/W).

    An empty mask gives the all-zero box.
    """
    mask = np.asarray(mask)
    h, w = mask.shape[:2]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros(4, np.float32)
    return np.array([rows[0] / h, cols[0] / w, (rows[-1] + 1) / h, (cols[-1] + 1) / w], np.float32)


# ------------------------------------------------------------------------------------------- coding


def _centre_size(boxes):
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    return (y1 + y2) / 2.0, (x1 + x2) / 2.0, y2 - y1, x2 - x1


def encode(boxes, anchors, variances=VARIANCES) -> tf.Tensor:
    """Centre/size coding (a TF op): ``(dy, dx, log dh, log dw) / variances`` of ``boxes`` against ``anchors``.

    Both are normalised yxyx [..., 4] and broadcast against each other. Sizes are floored at 1e-6 so padding
    rows give finite (meaningless) targets that the losses mask out.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    cy, cx, h, w = _centre_size(boxes)
    acy, acx, ah, aw = _centre_size(anchors)
    ah, aw = tf.maximum(ah, 1e-6), tf.maximum(aw, 1e-6)
    deltas = tf.stack(
        [(cy - acy) / ah, (cx - acx) / aw, tf.math.log(tf.maximum(h, 1e-6) / ah), tf.math.log(tf.maximum(w, 1e-6) / aw)],
        axis=-1,
    )
    return deltas / tf.constant(variances, tf.float32)


def decode(deltas, anchors, variances=VARIANCES) -> tf.Tensor:
    """Inverse of :func:`encode` (a TF op): deltas [..., 4] and anchors [..., 4] -> normalised yxyx boxes."""
    deltas = tf.convert_to_tensor(deltas, tf.float32) * tf.constant(variances, tf.float32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    acy, acx, ah, aw = _centre_size(anchors)
    dy, dx, dh, dw = tf.unstack(deltas, axis=-1)
    cy, cx = acy + dy * ah, acx + dx * aw
    # Clamp log-sizes like Detectron (log(1000/16)) so an untrained head cannot overflow exp.
    h = ah * tf.exp(tf.minimum(dh, 4.135))
    w = aw * tf.exp(tf.minimum(dw, 4.135))
    return tf.stack([cy - h / 2.0, cx - w / 2.0, cy + h / 2.0, cx + w / 2.0], axis=-1)


# ------------------------------------------------------------------------------------------ anchors


def kmeans_anchors(wh, k: int, *, seed: int = 0, iters: int = 100) -> np.ndarray:
    """k-means over box sizes ``wh`` [N, 2] with distance 1 - IoU (YOLOv2/v3); returns [k, 2] sorted by area.

    Centres start at k distinct random boxes; each update takes the median size of its cluster (robust to the
    long tail of box sizes); an emptied cluster is re-seeded at the box worst served by the current centres.
    """
    wh = np.asarray(wh, np.float64).reshape(-1, 2)
    wh = wh[(wh[:, 0] > 0) & (wh[:, 1] > 0)]
    if len(wh) < k:
        raise ValueError(f"kmeans_anchors needs at least k={k} non-empty boxes, got {len(wh)}")
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), size=k, replace=False)].copy()
    assign = np.full(len(wh), -1)
    for _ in range(iters):
        sims = wh_iou(wh, centres)
        new = sims.argmax(axis=1)
        for j in range(k):
            members = wh[new == j]
            if len(members):
                centres[j] = np.median(members, axis=0)
            else:
                worst = int(sims.max(axis=1).argmin())
                centres[j] = wh[worst]
                new[worst] = j
        if np.array_equal(new, assign):
            break
        assign = new
    order = np.argsort(centres[:, 0] * centres[:, 1])
    return centres[order].astype(np.float32)


# ---------------------------------------------------------------------------------------------- NMS


def nms(
    boxes,
    scores,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    max_per_class: int = 100,
    max_total: int = 100,
) -> dict:
    """Per-class NMS over a batch (TF op: ``tf.image.combined_non_max_suppression`` with ``clip_boxes``).

    ``boxes`` [B, N, 4] (shared by all classes) or [B, N, K, 4] (per class); ``scores`` [B, N, K] with one
    column per foreground class (no background column). Returns TF tensors ``boxes`` [B, T, 4],
    ``scores`` [B, T], ``classes`` [B, T] int32 in 1..K (0 on padding rows), ``num`` [B] int32, with
    T = ``max_total``; rows past ``num`` are zeros.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    scores = tf.convert_to_tensor(scores, tf.float32)
    if boxes.shape.rank == 3:
        boxes = boxes[:, :, None, :]
    out_boxes, out_scores, out_classes, num = tf.image.combined_non_max_suppression(
        boxes,
        scores,
        max_output_size_per_class=max_per_class,
        max_total_size=max_total,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        clip_boxes=True,
    )
    valid = tf.range(tf.shape(out_scores)[1])[None, :] < num[:, None]
    # combined NMS numbers classes from 0 (the score column); tfzoo's ids start at 1, 0 is padding.
    classes = tf.where(valid, tf.cast(out_classes, tf.int32) + 1, 0)
    return {
        "boxes": tf.where(valid[..., None], out_boxes, 0.0),
        "scores": tf.where(valid, out_scores, 0.0),
        "classes": classes,
        "num": tf.cast(num, tf.int32),
    }
