"""The five Mask R-CNN losses and the forward pass that produces their inputs.

Each loss is a mean over the entries it concerns (matterport's definitions): sampled anchors for
rpn_class, positive anchors for rpn_bbox, real (non-padding) ROIs for mrcnn_class, positive ROIs for
mrcnn_bbox and mrcnn_mask. An empty set gives 0, not NaN.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfzoo.vision.maskrcnn.anchors import pyramid_anchors
from tfzoo.vision.maskrcnn.config import MaskRCNNConfig
from tfzoo.vision.maskrcnn.layers import proposals, roi_align
from tfzoo.vision.maskrcnn.targets import batch_detection_targets

LOSS_NAMES = ("rpn_class", "rpn_bbox", "mrcnn_class", "mrcnn_bbox", "mrcnn_mask")


def _mean(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    weights = tf.cast(weights, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * weights), tf.reduce_sum(weights))


def smooth_l1(diff: tf.Tensor) -> tf.Tensor:
    a = tf.abs(diff)
    return tf.where(a < 1.0, 0.5 * a * a, a - 0.5)


def rpn_class_loss(rpn_match, rpn_logits):
    """Anchor objectness: CE over the sampled anchors (match +1 / -1)."""
    labels = tf.cast(rpn_match == 1, tf.int32)
    ce = keras.losses.sparse_categorical_crossentropy(labels, rpn_logits, from_logits=True)
    return _mean(ce, rpn_match != 0)


def rpn_bbox_loss(rpn_match, rpn_bbox, rpn_deltas):
    """Smooth-L1 of the deltas of positive anchors, per coordinate."""
    per = smooth_l1(rpn_bbox - rpn_deltas)
    return _mean(per, tf.broadcast_to((rpn_match == 1)[..., None], tf.shape(per)))


def mrcnn_class_loss(target_classes, rois, logits):
    """CE of the box classifier over the real ROIs (padding rows, all zeros, are left out)."""
    labels = tf.reshape(target_classes, [-1])
    valid = tf.reshape(tf.reduce_any(rois != 0, axis=-1), [-1])
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return _mean(ce, valid)


def mrcnn_bbox_loss(target_classes, target_deltas, deltas):
    """Smooth-L1 of the true class's deltas on positive ROIs."""
    labels = tf.reshape(target_classes, [-1])
    chosen = tf.gather(deltas, labels, batch_dims=1)  # [N, 4]
    per = smooth_l1(tf.reshape(target_deltas, [-1, 4]) - chosen)
    return _mean(per, tf.broadcast_to((labels > 0)[:, None], tf.shape(per)))


def mrcnn_mask_loss(target_classes, target_masks, mask_logits):
    """Per-pixel BCE of the true class's mask on positive ROIs."""
    labels = tf.reshape(target_classes, [-1])
    chosen = tf.gather(tf.transpose(mask_logits, [0, 3, 1, 2]), labels, batch_dims=1)  # [N, m, m]
    m = tf.shape(target_masks)[-1]
    truth = tf.reshape(target_masks, [-1, m, m])
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=truth, logits=chosen)
    return _mean(tf.reduce_mean(bce, axis=[1, 2]), labels > 0)


def compute_losses(model: keras.Model, config: MaskRCNNConfig, batch: dict, seed: tf.Tensor,
                   *, training: bool) -> dict[str, tf.Tensor]:
    """Forward pass of the training graph: backbone, RPN, proposals, targets, ROIAlign, heads -> losses."""
    backbone, rpn = model.get_layer("backbone"), model.get_layer("rpn")
    classifier, mask_head = model.get_layer("mrcnn_classifier"), model.get_layer("mrcnn_mask_head")
    images = batch["image"]
    features = backbone(images, training=training)
    outputs = [rpn(p, training=training) for p in features]
    rpn_logits = tf.concat([o[0] for o in outputs], axis=1)
    rpn_deltas = tf.concat([o[1] for o in outputs], axis=1)
    anchors = pyramid_anchors(config.image_size, tuple(config.anchor_scales),
                              tuple(float(r) for r in config.anchor_ratios), config.anchor_stride)
    probs = tf.nn.softmax(tf.stop_gradient(rpn_logits))[..., 1]
    props = proposals(probs, tf.stop_gradient(rpn_deltas), anchors, count=config.proposals_train,
                      pre_nms=config.pre_nms_limit, iou=config.rpn_nms)
    rois, classes, deltas, masks = batch_detection_targets(
        props, batch["classes"], batch["boxes"], batch["mini_masks"], seed,
        num_rois=config.train_rois, positive_ratio=config.roi_positive_ratio, mask_shape=config.mask_shape,
        add_gt=config.add_gt_rois,
    )
    s = config.image_size
    class_logits, class_deltas = classifier(roi_align(rois, features, pool_size=config.pool_size, image_size=s),
                                            training=training)
    # Only positive ROIs have mask targets, and they come first: the mask head runs on those slots alone
    # (the book runs it on all 32 and masks the loss; same loss, a third of the cost).
    n_pos = int(config.train_rois * config.roi_positive_ratio)
    mask_logits = mask_head(roi_align(rois[:, :n_pos], features, pool_size=config.mask_pool_size, image_size=s),
                            training=training)
    return {
        "rpn_class": rpn_class_loss(batch["rpn_match"], rpn_logits),
        "rpn_bbox": rpn_bbox_loss(batch["rpn_match"], batch["rpn_bbox"], rpn_deltas),
        "mrcnn_class": mrcnn_class_loss(classes, rois, class_logits),
        "mrcnn_bbox": mrcnn_bbox_loss(classes, deltas, class_deltas),
        "mrcnn_mask": mrcnn_mask_loss(classes[:, :n_pos], masks[:, :n_pos], mask_logits),
    }


def weight_decay(variables: list, decay: float) -> tf.Tensor:
    """0.5 * decay * sum of squared kernels (BN scales/offsets and biases are not decayed)."""
    kernels = [v for v in variables if "kernel" in v.path.split("/")[-1]]
    if not kernels or not decay:
        return tf.constant(0.0)
    return 0.5 * decay * tf.add_n([tf.reduce_sum(tf.square(v)) for v in kernels])
