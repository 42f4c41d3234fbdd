"""vision.mask-rcnn: Mask R-CNN (ResNet-FPN, RPN, ROIAlign heads, 28x28 masks), the book's 实例46 in Keras 3.

The book's Keras 2 project (S4 L235-L711) trains through `fit_generator` with losses as Lambda layers;
here the targets are TF ops in tf.data (RPN) and in the step (detection targets), and the five losses
are computed in `compute_loss`. Stages (`heads`, `3+`, `4+`, `5+`, `all`) select layers by name
(`Stage.trainable`), each with its own SGD optimiser (`Stage.optimizer`) so `all` can run at lr/10
after `heads`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.optim import build_optimizer
from tfzoo.common.task import Stage, TrainState
from tfzoo.vision.backbones_resnet import LARGEST_STRIDE
from tfzoo.vision.detection.augment import random_flip
from tfzoo.vision.detection.task import DetectorTask
from tfzoo.vision.maskrcnn.anchors import pyramid_anchors
from tfzoo.vision.maskrcnn.config import STAGE_LAYERS, MaskRCNNConfig
from tfzoo.vision.maskrcnn.layers import paste_masks
from tfzoo.vision.maskrcnn.losses import LOSS_NAMES, compute_losses, weight_decay
from tfzoo.vision.maskrcnn.model import build_model
from tfzoo.vision.maskrcnn.targets import mini_masks, rpn_targets


def check_config(config: MaskRCNNConfig) -> None:
    """One-line ConfigErrors for settings the model cannot be built with (the backbone is a Literal
    choice, checked when the config is built)."""
    if config.backbone in ("resnet18", "darknet53") and config.width <= 0:
        raise ConfigError(f"width {config.width} must be > 0 (the {config.backbone} channel multiplier)")
    if config.backbone_weights and not os.path.isfile(config.backbone_weights):
        raise ConfigError(f"backbone_weights {config.backbone_weights!r} does not exist (expected a .weights.h5)")
    if config.image_size <= 0 or config.image_size % LARGEST_STRIDE:
        raise ConfigError(f"image_size {config.image_size} must be a positive multiple of {LARGEST_STRIDE} "
                          "(the stride of P6)")
    if len(config.anchor_scales) != 5:
        raise ConfigError(f"anchor_scales needs 5 values (P2..P6), got {list(config.anchor_scales)}")
    for stage in config.stages:  # names are Literal choices too; this also covers configs made with replace()
        if stage not in STAGE_LAYERS:
            raise ConfigError(f"unknown stage {stage!r}; choose from {', '.join(STAGE_LAYERS)}")
    if not config.stages:
        raise ConfigError("stages is empty; give at least one of " + ", ".join(STAGE_LAYERS))
    for name, values in (("stage_steps", config.stage_steps), ("stage_lr", config.stage_lr)):
        if values and len(values) != len(config.stages):
            raise ConfigError(f"{name} has {len(values)} values for {len(config.stages)} stages")


def _optimizer_key(index: int) -> str:
    # Stage 0's optimiser is "model", the one the trainer builds and reports the learning rate of.
    return "model" if index == 0 else f"stage{index}"


class MaskRCNN(DetectorTask):
    name = "vision.mask-rcnn"
    config_class = MaskRCNNConfig
    monitor = "loss"

    # ----- data --------------------------------------------------------------------------------
    def data(self, config: MaskRCNNConfig, split: str):
        check_config(config)
        return super().data(config, split)

    def _targets(self, config: MaskRCNNConfig, example: dict, seed) -> tuple[tf.Tensor, dict]:
        """(image float [S, S, 3] in [0, 1], targets): RPN match/deltas and 56x56 mini-masks."""
        image = tf.cast(example["image"], tf.float32) / 255.0
        boxes = tf.cast(example["boxes"], tf.float32)
        classes = tf.cast(example["classes"], tf.int32)
        anchors = pyramid_anchors(config.image_size, tuple(config.anchor_scales),
                                  tuple(float(r) for r in config.anchor_ratios), config.anchor_stride)
        match, bbox = rpn_targets(anchors, boxes, classes, seed, train_anchors=config.rpn_train_anchors,
                                  positive_iou=config.rpn_positive_iou, negative_iou=config.rpn_negative_iou)
        targets = {"boxes": boxes, "classes": classes, "rpn_match": match, "rpn_bbox": bbox,
                   "mini_masks": mini_masks(example["masks"], boxes, config.mini_mask)}
        return image, targets

    def train_map(self, config: MaskRCNNConfig, info: dict[str, Any], example, seed):
        seed = tf.cast(seed, tf.int64)
        if config.flip:
            image, boxes, masks = random_flip(example["image"], example["boxes"], example["masks"], seed=seed)
            example = {**example, "image": image, "boxes": boxes, "masks": masks}
        # A fresh anchor sample every time the example is seen (the flip used `seed` itself).
        return self._targets(config, example, tf.random.experimental.stateless_fold_in(seed, 1))

    def eval_map(self, config: MaskRCNNConfig, info: dict[str, Any], example):
        # A fixed seed: the validation losses sample the same anchors every evaluation.
        return self._targets(config, example, tf.constant([0, 0], tf.int64))

    # ----- models, optimisers, stages ---------------------------------------------------------------
    def build_models(self, config: MaskRCNNConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        check_config(config)
        return {"model": build_model(config, int(info["num_classes"]))}

    def build_optimizers(self, config: MaskRCNNConfig, models, *, total_steps: int):
        out = {}
        for i, (_, _, factor) in enumerate(config.stage_plan()):
            optimizer = build_optimizer(replace(config.optim, lr=config.optim.lr * factor), total_steps=total_steps)
            if i:  # the trainer builds "model"; the others are built here so checkpoints restore their slots
                optimizer.build(models["model"].trainable_variables)
            out[_optimizer_key(i)] = optimizer
        return out

    def stages(self, config: MaskRCNNConfig) -> list[Stage]:
        check_config(config)
        return [Stage(name=name, steps=int(steps), trainable=STAGE_LAYERS[name], optimizer=_optimizer_key(i))
                for i, (name, steps, _) in enumerate(config.stage_plan())]

    # ----- steps -----------------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """This replica's share of the five losses plus weight decay on the kernels the stage trains.

        The logs report `loss` without the decay, and the decay as `weight_decay`.
        """
        images, targets = batch
        config = state.config
        seed = tf.stack([tf.constant(config.train.seed, tf.int64), tf.cast(state.step, tf.int64)])
        # Each replica's mean losses, weighted so the trainer's sum over replicas is the global mean.
        share = tf.cast(tf.shape(images)[0], tf.float32) / tf.cast(state.global_batch_size, tf.float32)
        terms = compute_losses(state.models["model"], config, {"image": images, **targets}, seed, training=True)
        loss = tf.add_n(list(terms.values()))
        decay = weight_decay(state.trainable(), config.weight_decay)
        logs = {"loss": loss * share, **{k: v * share for k, v in terms.items()}, "weight_decay": decay * share}
        return (loss + decay) * share, logs

    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        # One update, on compute_loss; it returns the logs, whose `loss` leaves out the weight decay that
        # the minimised total includes.
        _, logs = state.minimize(lambda: self.compute_loss(state, batch))
        return logs

    def metrics(self, config: MaskRCNNConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {name: keras.metrics.Mean(name=name) for name in ("loss", *LOSS_NAMES)}

    def eval_step(self, state: TrainState, batch, metrics) -> dict[str, tf.Tensor]:
        images, targets = batch
        seed = tf.constant([0, 0], tf.int64)
        terms = compute_losses(state.models["model"], state.config, {"image": images, **targets}, seed,
                               training=False)
        metrics["loss"].update_state(tf.add_n(list(terms.values())))
        for name, value in terms.items():
            metrics[name].update_state(value)
        # The inference graph (proposals, classifier, NMS) for the box mAP; masks are not pasted for it.
        return self.eval_outputs(_unpack(state.models["model"](images, training=False)), targets)

    # ----- detection -------------------------------------------------------------------------------
    def detect(self, models, config: MaskRCNNConfig, info: dict[str, Any], images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Proposals -> classifier -> per-class NMS (min confidence, IoU 0.3) -> masks pasted at input size."""
        out = models["model"](images, training=False)
        found = _unpack(out)
        found["masks"] = paste_masks(out["masks"], found["boxes"], int(images.shape[1] or config.image_size))
        return found


def _unpack(out: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Boxes, scores, classes and num of the inference model's packed detections."""
    packed = out["detections"]
    return {"boxes": packed[..., :4], "scores": packed[..., 5], "classes": tf.cast(packed[..., 4], tf.int32),
            "num": tf.cast(out["num"], tf.int32)}
