"""SSD's multibox loss: softmax cross-entropy with 3:1 hard-negative mining plus smooth-L1 on positives."""

from __future__ import annotations

import tensorflow as tf


def hard_negatives(ce: tf.Tensor, positive: tf.Tensor, neg_pos_ratio: float = 3.0) -> tf.Tensor:
    """The negatives kept for the classification loss: bool [B, A].

    Per image, the `neg_pos_ratio × positives` background boxes with the highest cross-entropy (all of them
    when there are fewer). Ranks come from a double argsort, so exactly that many are kept even with ties.
    """
    num_anchors = tf.shape(ce)[1]
    num_pos = tf.reduce_sum(tf.cast(positive, tf.int32), axis=1, keepdims=True)
    num_neg = tf.minimum(tf.cast(tf.cast(num_pos, tf.float32) * neg_pos_ratio, tf.int32), num_anchors - num_pos)
    negative_loss = tf.where(positive, -1.0, tf.stop_gradient(ce))  # positives rank last (ce >= 0)
    rank = tf.argsort(tf.argsort(negative_loss, axis=1, direction="DESCENDING"), axis=1)
    return tf.logical_and(rank < num_neg, tf.logical_not(positive))


def smooth_l1(x: tf.Tensor) -> tf.Tensor:
    """Huber loss with delta 1, elementwise."""
    ax = tf.abs(x)
    return tf.where(ax < 1.0, 0.5 * tf.square(x), ax - 0.5)


def multibox_loss(logits, deltas, target_classes, target_deltas, *, neg_pos_ratio=3.0, loc_weight=1.0):
    """Per-image SSD loss terms, not yet normalised.

    Args:
        logits: [B, A, K+1] class logits (column 0 = background). deltas: [B, A, 4] predicted offsets.
        target_classes: [B, A] int (0 = background). target_deltas: [B, A, 4] encoded matched GT.
    Returns:
        dict of [B] tensors: "cls" (CE summed over positives and mined negatives), "loc" (smooth-L1 summed over
        positives, times loc_weight) and "num_pos"; the caller divides by the positives (SSD's N).
    """
    target_classes = tf.cast(target_classes, tf.int32)
    positive = target_classes > 0
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target_classes, logits=logits)  # [B, A]
    keep = tf.logical_or(positive, hard_negatives(ce, positive, neg_pos_ratio))
    cls = tf.reduce_sum(tf.where(keep, ce, 0.0), axis=1)
    loc = tf.reduce_sum(smooth_l1(deltas - target_deltas), axis=2)
    loc = loc_weight * tf.reduce_sum(tf.where(positive, loc, 0.0), axis=1)
    return {"cls": cls, "loc": loc, "num_pos": tf.reduce_sum(tf.cast(positive, tf.float32), axis=1)}
