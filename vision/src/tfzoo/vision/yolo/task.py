"""vision.yolo: YOLOv3-style detection (Darknet-53-like backbone, three scales, k-means anchors)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.vision.detection import boxes as box_ops
from tfzoo.vision.detection.augment import augment
from tfzoo.vision.detection.task import DetectorTask
from tfzoo.vision.yolo.config import YOLOConfig
from tfzoo.vision.yolo.loss import yolo_loss
from tfzoo.vision.yolo.model import NUM_ANCHORS, build_yolo, check_config, decode, grid_constants

# YOLOv3's COCO anchors (pixels at 416), normalised: the fallback when the training set has fewer
# distinct boxes than the nine clusters k-means needs.
_COCO_ANCHORS = np.array([(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119),
                          (116, 90), (156, 198), (373, 326)], np.float32) / 416.0
_LOSS_TERMS = ("box", "obj", "cls")


def training_anchors(examples, *, seed: int = 0) -> np.ndarray:
    """Nine (w, h) anchors, normalised and sorted by area: k-means with 1 - IoU on the training boxes."""
    wh = [np.stack([ex.boxes[:, 3] - ex.boxes[:, 1], ex.boxes[:, 2] - ex.boxes[:, 0]], axis=-1)[~ex.ignore]
          for ex in examples if len(ex.boxes)]
    wh = np.concatenate(wh).astype(np.float32) if wh else np.zeros((0, 2), np.float32)
    wh = wh[(wh > 0).all(axis=1)]
    if len(np.unique(wh, axis=0)) < NUM_ANCHORS:
        return _COCO_ANCHORS.copy()
    anchors = np.asarray(box_ops.kmeans_anchors(wh, NUM_ANCHORS, seed=seed), np.float32)
    return anchors[np.argsort(anchors[:, 0] * anchors[:, 1], kind="stable")]


class YOLO(DetectorTask):
    name = "vision.yolo"
    config_class = YOLOConfig
    monitor = "loss"
    uses_masks = False  # boxes only: the pipeline need not carry M x S x S mask bytes per image

    def __init__(self) -> None:
        super().__init__()
        self._consts: dict[tuple, dict[str, np.ndarray]] = {}

    # ----- data --------------------------------------------------------------------
    def data(self, config: YOLOConfig, split: str):
        check_config(config)
        return super().data(config, split)

    def extra_info(self, config: YOLOConfig, train) -> dict[str, Any]:
        anchors = training_anchors(train.examples, seed=config.train.seed)
        return {"anchors": [[round(float(w), 6), round(float(h), 6)] for w, h in anchors]}

    def eval_map(self, config: YOLOConfig, info: dict[str, Any], example):
        image = tf.cast(example["image"], tf.float32) / 255.0
        return image, {"boxes": tf.cast(example["boxes"], tf.float32), "classes": tf.cast(example["classes"], tf.int32)}

    def train_map(self, config: YOLOConfig, info: dict[str, Any], example, seed):
        # No masks (cropping M full-size masks would cost more than the image) and no "num": augment's crop
        # cannot return a count without masks, and the loss reads padding from class 0 anyway.
        features = {k: example[k] for k in ("image", "boxes", "classes")}
        features = augment(features, seed=tf.cast(seed, tf.int32), flip=config.flip, crop_prob=config.crop_prob,
                           colour=config.colour)
        image = tf.ensure_shape(features["image"], example["image"].shape)  # the crop's resize loses it
        return self.eval_map(config, info, {**features, "image": image})

    # ----- model -------------------------------------------------------------------
    def build_models(self, config: YOLOConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": build_yolo(config, num_classes=int(info["num_classes"]))}

    def constants(self, config: YOLOConfig, info: dict[str, Any]) -> dict[str, np.ndarray]:
        """Per-row grid and anchor geometry for this run's image size and anchors (cached)."""
        key = (config.image_size, tuple(map(tuple, info["anchors"])))
        if key not in self._consts:
            self._consts[key] = grid_constants(config.image_size, info["anchors"])
        return self._consts[key]

    def losses(self, config: YOLOConfig, info: dict[str, Any], raw, targets) -> dict[str, tf.Tensor]:
        """Per-image loss terms and their weighted sum "loss", each [B]."""
        terms = yolo_loss(raw, targets["boxes"], targets["classes"], self.constants(config, info),
                          num_classes=int(info["num_classes"]), ignore_iou=config.ignore_iou,
                          box_loss=config.box_loss)
        terms["loss"] = (config.box_weight * terms["box"] + config.obj_weight * terms["obj"]
                         + config.cls_weight * terms["cls"])
        return terms

    def train_losses(self, state, raw, targets) -> dict[str, tf.Tensor]:
        terms = self.losses(state.config, state.info, raw, targets)
        return {k: tf.nn.compute_average_loss(v, global_batch_size=state.global_batch_size) for k, v in terms.items()}

    def metrics(self, config: YOLOConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {name: keras.metrics.Mean(name=name) for name in ("loss", *_LOSS_TERMS)}

    def eval_step(self, state, batch, metrics) -> dict[str, tf.Tensor]:
        images, targets = batch
        raw = state.models["model"](images, training=False)
        for name, value in self.losses(state.config, state.info, raw, targets).items():
            metrics[name].update_state(value)
        return self.eval_outputs(self.decode_output(state.config, state.info, raw), targets)

    # ----- detection -----------------------------------------------------------------
    def detect(self, models, config: YOLOConfig, info: dict[str, Any], images: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.decode_output(config, info, models["model"](images, training=False))

    def decode_output(self, config: YOLOConfig, info: dict[str, Any], raw: tf.Tensor) -> dict[str, tf.Tensor]:
        """Decode every row of the network output, score = objectness x class probability, then per-class NMS."""
        boxes, obj_logits, cls_logits = decode(raw, self.constants(config, info))
        scores = tf.sigmoid(obj_logits)[..., None] * tf.sigmoid(cls_logits)
        return box_ops.nms(tf.clip_by_value(boxes, 0.0, 1.0), scores, iou_threshold=config.nms_iou,
                           score_threshold=config.score_threshold, max_per_class=config.max_detections,
                           max_total=config.max_detections)
