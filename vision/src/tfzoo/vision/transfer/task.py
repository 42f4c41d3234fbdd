"""vision.transfer: slim's transfer flow (实例85-86) with keras.applications backbones.

Stage `head` trains a new head on a frozen backbone; stage `unfreeze` also trains the top
blocks at a lower learning rate. Evaluation, predict (top-k) and the serving signature are
vision.classify's, over this task's model. The inference extras (ImageNet top-k with
`include_top`, dense class maps with `predict --set dense=true`) live in `extras`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.optim import build_optimizer, clip_gradients
from tfzoo.common.task import Stage, TrainState
from tfzoo.vision.classify.task import Classify

from . import data as pipeline
from .config import MODES, STAGES, TransferConfig
from .model import (
    backbone_spec,
    build_model,
    freeze_for_finetune,
    load_initial_weights,
    parse_weights,
    split_variables,
)


class Transfer(Classify):
    name = "vision.transfer"
    config_class = TransferConfig
    description = ("transfer learning: keras.applications backbone, new head; stages head, then unfreeze "
                   "the top blocks at a lower learning rate")
    data_specs = ("digits-8x8 (finetune default)", "mnist-8x8 (pretrain default)", "mnist-5k", "folder:DIR",
                  "tfrecord:GLOB", "idx:DIR", "fashion-mnist", "cifar10:DIR")

    def __init__(self) -> None:
        self._fresh = False  # set by data_info: a training run (not a restore) loads the initial weights

    # ----- data ---------------------------------------------------------------------------------------
    def data(self, config: TransferConfig, split: str):
        check(config)
        if config.include_top:
            raise ConfigError("include_top=true is predict-only: write its run with `python -m "
                              "tfzoo.vision.transfer.extras RUN_DIR --set weights=file:PATH`, then `tfzoo predict`")
        return pipeline.load_split(config, split)

    def data_info(self, config: TransferConfig, train) -> dict[str, Any]:
        size = pipeline.input_size(config, train)
        check_weights(config)
        kind, path = parse_weights(config.weights)
        self._fresh = True
        return {
            "class_names": list(train.class_names),
            "source_shape": [size, size, 3],
            "input_shape": [size, size, 3],
            "backbone": config.backbone,
            "weights": "none" if kind == "none" else f"{kind}:{Path(path).expanduser().resolve()}",
        }

    # ----- models -------------------------------------------------------------------------------------
    def build_models(self, config: TransferConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        check(config)
        model = build_model(config, input_size=info["input_shape"][0], num_classes=len(info["class_names"]))
        if self._fresh:  # a restored run gets its weights from its own checkpoint instead
            self._fresh = False
            load_initial_weights(model, config)
        if config.mode == "finetune" and not config.include_top:
            freeze_for_finetune(model, config)
        return {"model": model}

    def build_optimizers(self, config: TransferConfig, models, *, total_steps: int):
        optimizers = {"model": build_optimizer(config.optim, total_steps=total_steps)}
        _, body = split_variables(models["model"])
        if config.mode == "finetune" and body:
            lower = replace(config.optim, lr=config.optim.lr * config.unfreeze_lr_factor)
            optimizers["backbone"] = build_optimizer(lower, total_steps=total_steps)
            optimizers["backbone"].build(body)  # slots now, so a resumed run restores them
        return optimizers

    def stages(self, config: TransferConfig) -> list[Stage]:
        steps = config.train.steps
        if config.mode == "pretrain":
            return [Stage(name="all", steps=steps)]
        if "head" in config.stages and "unfreeze" in config.stages:
            head = min(steps, max(1, round(steps * config.head_fraction)))
            stages = [Stage(name="head", steps=head), Stage(name="unfreeze", steps=steps - head)]
        else:
            stages = [Stage(name=config.stages[0], steps=steps)]
        return [s for s in stages if s.steps > 0]

    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        x, y = batch
        model = state.models["model"]
        stage = getattr(state.extras.get("stage"), "name", "all")
        head, body = split_variables(model)
        if stage == "all":
            groups = [(model.trainable_variables, state.optimizers["model"])]
        else:
            groups = [(head, state.optimizers["model"])]
            if stage == "unfreeze" and "backbone" in state.optimizers:
                groups.append((body, state.optimizers["backbone"]))
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=state.global_batch_size)
        variables = [v for group, _ in groups for v in group]
        grads = clip_gradients(tape.gradient(loss, variables), state.config.optim.clip_norm)
        start = 0
        for group, optimizer in groups:
            optimizer.apply_gradients(zip(grads[start:start + len(group)], group))
            start += len(group)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(y, tf.int64)), tf.float32)
        return {"loss": loss, "accuracy": tf.reduce_sum(correct) / state.global_batch_size}

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Top-k labels (names from `labels` when set); with `dense=true` a class map per image."""
        from . import extras

        if run.config.dense:
            return extras.predict_dense(run, inputs)
        return extras.predict_top_k(run, inputs)

    def visualise(self, run, config: TransferConfig) -> list[str]:
        return []  # classify's DeconvNet needs its own cnn-* layers


def check(config: TransferConfig) -> None:
    """One-line errors for bad settings, before any data is read."""
    if config.mode not in MODES:
        raise ConfigError(f"unknown mode {config.mode!r}; choose one of {', '.join(MODES)}")
    backbone_spec(config.backbone)
    bad = [s for s in config.stages if s not in STAGES]
    if bad or not config.stages:
        raise ConfigError(f"stages={','.join(config.stages)}; expected head, unfreeze or head,unfreeze")
    if config.unfreeze_blocks < 0 or config.unfreeze_lr_factor <= 0 or not 0 < config.head_fraction <= 1:
        raise ConfigError("expected unfreeze_blocks >= 0, unfreeze_lr_factor > 0 and 0 < head_fraction <= 1")


def check_weights(config: TransferConfig) -> None:
    """The weights source exists (checked when training starts; a restored run needs it no more)."""
    kind, path = parse_weights(config.weights)
    if kind == "file" and not Path(path).expanduser().is_file():
        raise ConfigError(f"weights=file:{path}: no such file; expected Keras {'full' if config.include_top else 'notop'} "
                          f"weights (.h5 or .weights.h5) for {config.backbone}")
    if kind == "run" and not Path(path, "config.json").expanduser().is_file():
        raise ConfigError(f"weights=run:{path}: not a tfzoo run (no config.json)")
