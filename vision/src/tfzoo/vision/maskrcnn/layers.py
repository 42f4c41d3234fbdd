"""Mask R-CNN's weightless graph layers: proposals, pyramid ROIAlign, detections, mask pasting.

Keras layers so the inference model is one functional model that saves to `.keras`; the training
step calls the same functions directly.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfzoo.vision.detection.boxes import decode


def proposals(probs, deltas, anchors, *, count: int, pre_nms: int = 6000, iou: float = 0.7) -> tf.Tensor:
    """RPN foreground probs [B, A], deltas [B, A, 4], anchors [A, 4] -> proposals [B, count, 4] (zero-padded).

    The best `pre_nms` anchors are moved by their deltas, clipped to the image and thinned by NMS.
    """
    a = int(anchors.shape[0])
    k = min(pre_nms, a)
    scores, index = tf.math.top_k(probs, k=k, sorted=True)
    deltas = tf.gather(deltas, index, batch_dims=1)
    boxes = decode(deltas, tf.gather(tf.constant(anchors), index))
    boxes = tf.clip_by_value(boxes, 0.0, 1.0)
    nms = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :], scores[:, :, None], max_output_size_per_class=count, max_total_size=count,
        iou_threshold=iou, score_threshold=float("-inf"), pad_per_class=False, clip_boxes=True,
    )
    # Zero rows beyond the valid count mark padding.
    valid = tf.sequence_mask(nms.valid_detections, count)[..., None]
    return tf.where(valid, nms.nmsed_boxes, 0.0)


def roi_align(rois, features, *, pool_size: int, image_size: int) -> tf.Tensor:
    """ROIAlign over an FPN: rois [B, N, 4] normalised, features [P2..P5] -> [B*N, pool, pool, C].

    Each ROI reads the level of its size (k = 4 + log2(sqrt(wh)/224), clipped to 2..5). TF has no
    `roi_align`, so `crop_and_resize` samples a 2x grid that is average-pooled to `pool_size`
    (two samples per bin and axis, as ROIAlign's sampling ratio 2).
    """
    b, n = tf.shape(rois)[0], tf.shape(rois)[1]
    flat = tf.reshape(rois, [-1, 4])
    h = tf.maximum(flat[:, 2] - flat[:, 0], 0.0)
    w = tf.maximum(flat[:, 3] - flat[:, 1], 0.0)
    size = tf.sqrt(h * w) * image_size
    level = 4.0 + tf.round(tf.math.log(tf.maximum(size, 1e-6) / 224.0) / math.log(2.0))
    level = tf.cast(tf.clip_by_value(level, 2.0, 5.0), tf.int32)
    image_index = tf.repeat(tf.range(b), n)
    pieces, positions = [], []
    for i, feature in enumerate(features[:4]):
        where = tf.where(tf.equal(level, i + 2))[:, 0]
        crops = tf.image.crop_and_resize(
            feature, tf.stop_gradient(tf.gather(flat, where)), tf.gather(image_index, where),
            [2 * pool_size, 2 * pool_size],
        )
        pieces.append(tf.nn.avg_pool2d(crops, 2, 2, "VALID"))
        positions.append(tf.cast(where, tf.int32))
    return tf.dynamic_stitch(positions, pieces)


def detections(rois, probs, deltas, *, min_confidence: float, nms: float, max_detections: int) -> dict:
    """rois [B, N, 4], class probs [B, N, K+1], per-class deltas [B, N, K+1, 4] -> per-class NMS results.

    Returns boxes [B, T, 4], scores [B, T], classes int32 [B, T] in 1..K (0 for padding), num [B].
    """
    boxes = tf.clip_by_value(decode(deltas[:, :, 1:, :], rois[:, :, None, :]), 0.0, 1.0)
    out = tf.image.combined_non_max_suppression(
        boxes, probs[:, :, 1:], max_output_size_per_class=max_detections, max_total_size=max_detections,
        iou_threshold=nms, score_threshold=min_confidence, pad_per_class=False, clip_boxes=True,
    )
    valid = tf.sequence_mask(out.valid_detections, max_detections)
    classes = tf.where(valid, tf.cast(out.nmsed_classes, tf.int32) + 1, 0)
    return {"boxes": out.nmsed_boxes, "scores": out.nmsed_scores, "classes": classes,
            "num": out.valid_detections}


def paste_masks(masks: tf.Tensor, boxes: tf.Tensor, size: int) -> tf.Tensor:
    """Masks [B, T, m, m] inside boxes [B, T, 4] -> [B, T, size, size] in [0, 1] over the whole image.

    Sampling each mask on the image's box in the mask's own coordinates pastes all masks in one
    `crop_and_resize`; outside the box it reads the extrapolation value 0.
    """
    b, t, m = tf.shape(masks)[0], tf.shape(masks)[1], tf.shape(masks)[2]
    flat_boxes = tf.reshape(boxes, [-1, 4])
    h = tf.maximum(flat_boxes[:, 2] - flat_boxes[:, 0], 1e-6)
    w = tf.maximum(flat_boxes[:, 3] - flat_boxes[:, 1], 1e-6)
    # Pixel centres of the image, (i + 0.5) / size, expressed as mask-sample coordinates.
    mf = tf.cast(m, tf.float32)
    first, last = 0.5 / size, 1.0 - 0.5 / size

    def to_mask(v, lo, extent):
        # crop_and_resize maps 0..1 to sample positions 0..m-1; mask sample j sits at (j + 0.5) / m of the box.
        return ((v - lo) / extent * mf - 0.5) / (mf - 1.0)

    inverse = tf.stack([to_mask(first, flat_boxes[:, 0], h), to_mask(first, flat_boxes[:, 1], w),
                        to_mask(last, flat_boxes[:, 0], h), to_mask(last, flat_boxes[:, 1], w)], axis=1)
    pasted = tf.image.crop_and_resize(
        tf.reshape(masks, [-1, m, m, 1]), inverse, tf.range(b * t), [size, size], extrapolation_value=0.0
    )
    return tf.reshape(pasted, [b, t, size, size])


@keras.saving.register_keras_serializable(package="tfzoo.maskrcnn")
class ProposalLayer(keras.layers.Layer):
    """RPN outputs -> proposals [B, count, 4]; the anchors are rebuilt from the config, not saved."""

    def __init__(self, *, anchors_config: dict, count: int, pre_nms: int, iou: float, **kwargs):
        super().__init__(**kwargs)
        from tfzoo.vision.maskrcnn.anchors import pyramid_anchors

        self.anchors_config, self.count, self.pre_nms, self.iou = dict(anchors_config), count, pre_nms, iou
        cfg = self.anchors_config
        self.anchors = np.asarray(pyramid_anchors(int(cfg["image_size"]), tuple(cfg["scales"]),
                                                  tuple(float(r) for r in cfg["ratios"]), int(cfg["stride"])))

    def call(self, probs, deltas):
        return proposals(probs[..., 1], deltas, self.anchors, count=self.count, pre_nms=self.pre_nms,
                         iou=self.iou)

    def compute_output_shape(self, probs_shape, deltas_shape):
        return (probs_shape[0], self.count, 4)

    def get_config(self):
        return {**super().get_config(), "anchors_config": self.anchors_config, "count": self.count,
                "pre_nms": self.pre_nms, "iou": self.iou}


@keras.saving.register_keras_serializable(package="tfzoo.maskrcnn")
class PyramidROIAlign(keras.layers.Layer):
    """(rois [B, N, 4], P2, P3, P4, P5) -> pooled [B*N, pool, pool, C]."""

    def __init__(self, *, pool_size: int, image_size: int, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.image_size = pool_size, image_size

    def call(self, rois, features):
        return roi_align(rois, features, pool_size=self.pool_size, image_size=self.image_size)

    def compute_output_shape(self, rois_shape, features_shape):
        return (None, self.pool_size, self.pool_size, features_shape[0][-1])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "image_size": self.image_size}


@keras.saving.register_keras_serializable(package="tfzoo.maskrcnn")
class DetectionLayer(keras.layers.Layer):
    """(rois [B, N, 4], class logits [B*N, K+1], deltas [B*N, K+1, 4]) -> [B, T, 6] (yxyx, class, score)
    and num [B]; packed so the layer has one tensor output per quantity."""

    def __init__(self, *, min_confidence: float, nms: float, max_detections: int, **kwargs):
        super().__init__(**kwargs)
        self.min_confidence, self.nms, self.max_detections = min_confidence, nms, max_detections

    def call(self, rois, logits, deltas):
        b, n = tf.shape(rois)[0], tf.shape(rois)[1]
        probs = tf.reshape(tf.nn.softmax(logits), [b, n, -1])
        deltas = tf.reshape(deltas, [b, n, -1, 4])
        out = detections(rois, probs, deltas, min_confidence=self.min_confidence, nms=self.nms,
                         max_detections=self.max_detections)
        packed = tf.concat([out["boxes"], tf.cast(out["classes"], tf.float32)[..., None], out["scores"][..., None]],
                           axis=-1)
        return packed, out["num"]

    def compute_output_shape(self, rois_shape, logits_shape, deltas_shape):
        return (rois_shape[0], self.max_detections, 6), (rois_shape[0],)

    def compute_output_spec(self, rois, logits, deltas):
        b = rois.shape[0]
        return (keras.KerasTensor((b, self.max_detections, 6), dtype="float32"),
                keras.KerasTensor((b,), dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "min_confidence": self.min_confidence, "nms": self.nms,
                "max_detections": self.max_detections}


@keras.saving.register_keras_serializable(package="tfzoo.maskrcnn")
class MaskSelect(keras.layers.Layer):
    """Mask logits [B*T, m, m, K+1] and detections [B, T, 6] -> the detected class's mask [B, T, m, m] in [0, 1]."""

    def call(self, mask_logits, packed):
        b, t = tf.shape(packed)[0], tf.shape(packed)[1]
        classes = tf.reshape(tf.cast(packed[..., 4], tf.int32), [-1])
        chosen = tf.gather(tf.transpose(mask_logits, [0, 3, 1, 2]), classes, batch_dims=1)
        m = tf.shape(mask_logits)[1]
        return tf.reshape(tf.sigmoid(chosen), [b, t, m, m])

    def compute_output_shape(self, mask_logits_shape, packed_shape):
        return (packed_shape[0], packed_shape[1], mask_logits_shape[1], mask_logits_shape[2])
