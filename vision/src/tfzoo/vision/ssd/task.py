"""vision.ssd: SSD with a MobileNet-like backbone, default boxes on several maps and hard-negative mining."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.vision.detection import augment
from tfzoo.vision.detection import boxes as box_ops
from tfzoo.vision.detection.task import DetectorTask
from tfzoo.vision.ssd.anchors import anchors_for, feature_sizes, match
from tfzoo.vision.ssd.config import SSDConfig
from tfzoo.vision.ssd.loss import multibox_loss
from tfzoo.vision.ssd.model import build_model

_TERMS = ("loss", "cls", "loc")


class SSD(DetectorTask):
    name = "vision.ssd"
    config_class = SSDConfig
    monitor = "loss"
    uses_masks = False  # boxes only: the pipeline carries no M x S x S masks

    def __init__(self) -> None:
        super().__init__()
        self._anchors: dict[tuple, np.ndarray] = {}

    def anchors(self, config: SSDConfig) -> np.ndarray:
        """The default boxes [A, 4] of `config` (cached)."""
        key = (config.image_size, config.num_maps, config.min_scale, config.max_scale,
               tuple(config.aspect_ratios), config.extra_ratio_one, config.clip_anchors)
        if key not in self._anchors:
            self._anchors[key] = anchors_for(config)
        return self._anchors[key]

    # ----- data --------------------------------------------------------------------
    def data(self, config: SSDConfig, split: str):
        feature_sizes(config.image_size, config.num_maps)  # a bad size fails before any data is read
        return super().data(config, split)

    def eval_map(self, config: SSDConfig, info: dict[str, Any], example):
        image = tf.cast(example["image"], tf.float32) / 255.0
        return image, {"boxes": tf.cast(example["boxes"], tf.float32), "classes": tf.cast(example["classes"], tf.int32)}

    def train_map(self, config: SSDConfig, info: dict[str, Any], example, seed):
        # SSD's accuracy depends on augmentation (Liu et al. §3.6): zoom in (crop), zoom out (expand), flip, colour.
        features = {k: example[k] for k in ("image", "boxes", "classes")}  # no "num": unused here
        features = augment.augment(features, seed=tf.cast(seed, tf.int32), flip=config.flip,
                                   crop_prob=config.crop_prob, expand_prob=config.expand_prob,
                                   colour=config.colour_jitter)
        image = tf.ensure_shape(features["image"], example["image"].shape)
        return self.eval_map(config, info, {**features, "image": image})

    # ----- model -------------------------------------------------------------------
    def build_models(self, config: SSDConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": build_model(config, num_classes=int(info["num_classes"]))}

    def losses(self, config: SSDConfig, raw, targets, global_batch_size: int) -> dict[str, tf.Tensor]:
        """Scalar loss terms of this replica, normalised by its positives (SSD's N) and scaled so that the sum
        over replicas is the global loss."""
        classes, deltas, _ = match(targets["boxes"], targets["classes"], self.anchors(config),
                                   iou_threshold=config.match_iou, variances=config.variances)
        terms = multibox_loss(raw[..., 4:], raw[..., :4], classes, deltas, neg_pos_ratio=config.neg_pos_ratio,
                              loc_weight=config.loc_weight)
        local = tf.cast(tf.shape(raw)[0], tf.float32)
        scale = local / tf.cast(global_batch_size, tf.float32) / tf.maximum(tf.reduce_sum(terms["num_pos"]), 1.0)
        cls = tf.reduce_sum(terms["cls"]) * scale
        loc = tf.reduce_sum(terms["loc"]) * scale
        return {"loss": cls + loc, "cls": cls, "loc": loc}

    def train_losses(self, state, raw, targets) -> dict[str, tf.Tensor]:
        return self.losses(state.config, raw, targets, state.global_batch_size)

    def metrics(self, config: SSDConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {name: keras.metrics.Mean(name=name) for name in _TERMS}

    def eval_step(self, state, batch, metrics) -> dict[str, tf.Tensor]:
        images, targets = batch
        raw = state.models["model"](images, training=False)
        # global_batch_size = this batch: the terms come out per batch, as the Mean metrics want.
        for name, value in self.losses(state.config, raw, targets, tf.shape(raw)[0]).items():
            metrics[name].update_state(value)
        return self.eval_outputs(self.decode_output(state.config, raw), targets)

    # ----- detection -----------------------------------------------------------------
    def detect(self, models, config: SSDConfig, info: dict[str, Any], images: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.decode_output(config, models["model"](images, training=False))

    def decode_output(self, config: SSDConfig, raw: tf.Tensor) -> dict[str, tf.Tensor]:
        """Softmax scores (background dropped), offsets decoded on the default boxes, then per-class NMS."""
        anchors = tf.constant(self.anchors(config))
        boxes = box_ops.decode(raw[..., :4], tf.broadcast_to(anchors[None], tf.shape(raw[..., :4])),
                               config.variances)
        scores = tf.nn.softmax(raw[..., 4:], axis=-1)[..., 1:]
        return box_ops.nms(tf.clip_by_value(boxes, 0.0, 1.0), scores, iou_threshold=config.nms_iou,
                           score_threshold=config.score_threshold, max_per_class=config.max_detections,
                           max_total=config.max_detections)
