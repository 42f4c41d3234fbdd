"""Training targets, all TF ops: RPN targets and mini-masks (in tf.data), detection targets (in the step).

- RPN (per image): anchors with IoU >= 0.7 to a GT box (and each GT's best anchor) are positive, < 0.3
  negative; a random subset of at most 256 is kept, at most half positive. `rpn_match` is +1/-1/0 per
  anchor and `rpn_bbox` holds every anchor's deltas to its best GT (only positives are used).
- Mini-masks: each GT mask cropped to its box and resized to 56x56, so the step never carries
  full-size masks (matterport's USE_MINI_MASK).
- Detection targets (per image): proposals (plus the GT boxes) are sampled to 32 ROIs, 33% positive
  (IoU >= 0.5), with class ids, per-ROI deltas and 28x28 mask targets cut from the mini-masks.
"""

from __future__ import annotations

import tensorflow as tf

from tfzoo.vision.detection.boxes import encode
from tfzoo.vision.detection.boxes import iou_tf as box_iou


def _random_subset(flags: tf.Tensor, limit: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """bool mask keeping at most `limit` of the True entries of `flags`, chosen at random."""
    noise = tf.random.stateless_uniform(tf.shape(flags), seed=seed)
    score = tf.where(flags, noise, -1.0)
    n = tf.size(flags)
    order = tf.argsort(score, direction="DESCENDING")
    rank = tf.scatter_nd(order[:, None], tf.range(n), [n])
    return flags & (rank < tf.cast(limit, tf.int32))


def rpn_targets(
    anchors: tf.Tensor,
    gt_boxes: tf.Tensor,
    gt_classes: tf.Tensor,
    seed: tf.Tensor,
    *,
    train_anchors: int = 256,
    positive_iou: float = 0.7,
    negative_iou: float = 0.3,
) -> tuple[tf.Tensor, tf.Tensor]:
    """anchors [A, 4], GT [M, 4] / [M] (class 0 = padding), seed [2] -> rpn_match int32 [A], rpn_bbox [A, 4]."""
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    valid = gt_classes > 0
    overlaps = tf.where(valid[None, :], box_iou(anchors, gt_boxes), -1.0)  # [A, M]
    best = tf.reduce_max(overlaps, axis=1)
    positive = best >= positive_iou
    # Each GT's best anchor is positive too, so small or odd-shaped boxes always get one.
    best_anchor = tf.argmax(overlaps, axis=0, output_type=tf.int32)  # [M]
    forced = tf.scatter_nd(tf.boolean_mask(best_anchor, valid)[:, None],
                           tf.ones_like(tf.boolean_mask(best_anchor, valid), tf.bool), tf.shape(best))
    positive = positive | forced
    negative = (best < negative_iou) & ~positive
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    positive = _random_subset(positive, train_anchors // 2, seeds[0])
    n_pos = tf.reduce_sum(tf.cast(positive, tf.int32))
    negative = _random_subset(negative, train_anchors - n_pos, seeds[1])
    match = tf.cast(positive, tf.int32) - tf.cast(negative, tf.int32)
    assigned = tf.gather(gt_boxes, tf.argmax(overlaps, axis=1, output_type=tf.int32))
    bbox = tf.where(positive[:, None], encode(assigned, anchors), 0.0)
    return match, bbox


def mini_masks(masks: tf.Tensor, boxes: tf.Tensor, size: int = 56) -> tf.Tensor:
    """Full-size masks [M, H, W] and their boxes [M, 4] -> masks cropped to the box, [M, size, size] float."""
    m = tf.shape(masks)[0]
    crops = tf.image.crop_and_resize(
        tf.cast(masks, tf.float32)[..., None], tf.cast(boxes, tf.float32), tf.range(m), [size, size]
    )
    return tf.round(crops[..., 0])


def detection_targets(
    proposals: tf.Tensor,
    gt_classes: tf.Tensor,
    gt_boxes: tf.Tensor,
    gt_masks: tf.Tensor,
    seed: tf.Tensor,
    *,
    num_rois: int = 32,
    positive_ratio: float = 0.33,
    mask_shape: int = 28,
    add_gt: bool = True,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """One image: proposals [P, 4] (zero rows = padding), GT [M]/[M, 4]/mini-masks [M, m, m] ->
    rois [T, 4], class ids int32 [T] (0 = background or padding), deltas [T, 4], masks [T, S, S]."""
    valid_gt = gt_classes > 0
    gt_boxes = tf.boolean_mask(gt_boxes, valid_gt)
    gt_classes = tf.boolean_mask(gt_classes, valid_gt)
    gt_masks = tf.boolean_mask(gt_masks, valid_gt)
    area = (proposals[:, 2] - proposals[:, 0]) * (proposals[:, 3] - proposals[:, 1])
    proposals = tf.boolean_mask(proposals, area > 0)
    if add_gt:
        proposals = tf.concat([gt_boxes, proposals], axis=0)
    overlaps = box_iou(proposals, gt_boxes)  # [P, M]
    has_gt = tf.shape(gt_boxes)[0] > 0
    best = tf.cond(has_gt, lambda: tf.reduce_max(overlaps, axis=1), lambda: tf.zeros(tf.shape(proposals)[:1]))
    positive = best >= 0.5
    negative = best < 0.5
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    max_pos = int(num_rois * positive_ratio)
    positive = _random_subset(positive, max_pos, seeds[0])
    n_pos = tf.reduce_sum(tf.cast(positive, tf.int32))
    # Negatives keep the positive ratio (matterport: 1/ratio x positives), within the ROI budget.
    n_neg = tf.minimum(tf.cast(tf.cast(n_pos, tf.float32) / positive_ratio, tf.int32) - n_pos, num_rois - n_pos)
    n_neg = tf.where(n_pos == 0, num_rois, n_neg)
    negative = _random_subset(negative, n_neg, seeds[1])
    pos_rois = tf.boolean_mask(proposals, positive)
    neg_rois = tf.boolean_mask(proposals, negative)
    assignment = tf.cond(
        has_gt,
        lambda: tf.argmax(tf.boolean_mask(overlaps, positive), axis=1, output_type=tf.int32),
        lambda: tf.zeros([0], tf.int32),
    )
    pos_boxes = tf.gather(gt_boxes, assignment)
    pos_classes = tf.gather(gt_classes, assignment)
    deltas = encode(pos_boxes, pos_rois)
    # The ROI in the GT box's own coordinates picks its part of the mini-mask.
    gh = tf.maximum(pos_boxes[:, 2] - pos_boxes[:, 0], 1e-6)
    gw = tf.maximum(pos_boxes[:, 3] - pos_boxes[:, 1], 1e-6)
    relative = tf.stack([(pos_rois[:, 0] - pos_boxes[:, 0]) / gh, (pos_rois[:, 1] - pos_boxes[:, 1]) / gw,
                         (pos_rois[:, 2] - pos_boxes[:, 0]) / gh, (pos_rois[:, 3] - pos_boxes[:, 1]) / gw], axis=1)
    masks = tf.image.crop_and_resize(tf.cast(gt_masks, tf.float32)[..., None], relative, assignment,
                                     [mask_shape, mask_shape])
    masks = tf.round(masks[..., 0])
    rois = tf.concat([pos_rois, neg_rois], axis=0)
    pad = num_rois - tf.shape(rois)[0]
    rois = tf.pad(rois, [[0, pad], [0, 0]])
    classes = tf.pad(pos_classes, [[0, num_rois - n_pos]])
    deltas = tf.pad(deltas, [[0, num_rois - n_pos], [0, 0]])
    masks = tf.pad(masks, [[0, num_rois - n_pos], [0, 0], [0, 0]])
    rois.set_shape([num_rois, 4])
    classes.set_shape([num_rois])
    deltas.set_shape([num_rois, 4])
    masks.set_shape([num_rois, mask_shape, mask_shape])
    return rois, tf.cast(classes, tf.int32), deltas, masks


def batch_detection_targets(proposals, gt_classes, gt_boxes, gt_masks, seed, **kwargs):
    """`detection_targets` over a batch; seed [2] is split per image. Gradients are stopped."""
    proposals = tf.stop_gradient(proposals)
    b = tf.shape(proposals)[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), b)
    num_rois, mask_shape = kwargs.get("num_rois", 32), kwargs.get("mask_shape", 28)
    return tf.map_fn(
        lambda args: detection_targets(*args, **kwargs),
        (proposals, gt_classes, gt_boxes, gt_masks, seeds),
        fn_output_signature=(
            tf.TensorSpec([num_rois, 4], tf.float32),
            tf.TensorSpec([num_rois], tf.int32),
            tf.TensorSpec([num_rois, 4], tf.float32),
            tf.TensorSpec([num_rois, mask_shape, mask_shape], tf.float32),
        ),
    )
