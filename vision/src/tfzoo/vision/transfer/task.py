"""vision.transfer: slim's transfer flow (实例85-86) with keras.applications backbones.

Stage `head` trains a new head on a frozen backbone; stage `unfreeze` also trains the top
blocks at a lower learning rate. Evaluation, predict (top-k) and the serving signature are
vision.classify's, over this task's model. The inference extras (ImageNet top-k with
`include_top`, dense class maps with `predict --set dense=true`) live in `extras`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.optim import build_optimizer
from tfzoo.common.run import Run
from tfzoo.common.task import Stage, TrainState
from tfzoo.vision.classify.task import Classify

from . import data as pipeline
from .config import StageName, TransferConfig
from .model import (
    GroupedOptimizer,
    build_model,
    freeze_for_finetune,
    load_initial_weights,
    parse_weights,
    split_variables,
)


class Transfer(Classify):
    name = "vision.transfer"
    config_class = TransferConfig

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
        """The model's own optimiser (the head; everything in pretrain mode) and, in finetune mode,
        "backbone" at `unfreeze_lr_factor` x the rate for the unfrozen blocks and "unfreeze", the pair
        of the two that stage unfreeze applies."""
        optimizers = {"model": build_optimizer(config.optim, total_steps=total_steps)}
        if config.mode == "pretrain":
            return optimizers
        _, body = split_variables(models["model"])
        if body:
            lower = replace(config.optim, lr=config.optim.lr * config.unfreeze_lr_factor)
            optimizers["backbone"] = build_optimizer(lower, total_steps=total_steps)
            optimizers["backbone"].build(body)  # slots now, so a resumed run restores them
        optimizers["unfreeze"] = GroupedOptimizer(head=optimizers["model"], backbone=optimizers.get("backbone"),
                                                  backbone_variables=body)
        return optimizers

    def stages(self, config: TransferConfig) -> list[Stage]:
        steps = config.train.steps
        if config.mode == "pretrain":
            return [Stage(name="all", steps=steps)]
        unfreeze = Stage(name="unfreeze", steps=steps, optimizer="unfreeze")
        if "head" in config.stages and "unfreeze" in config.stages:
            head = min(steps, max(1, round(steps * config.head_fraction)))
            stages = [Stage(name="head", steps=head), replace(unfreeze, steps=steps - head)]
        elif config.stages[0] == "unfreeze":
            stages = [unfreeze]
        else:
            stages = [Stage(name="head", steps=steps)]
        return [s for s in stages if s.steps > 0]

    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        """One update on `compute_loss` (from-logits cross-entropy): every variable in pretrain mode, the
        head in stage head, the head and the unfrozen blocks (each with its optimiser) in stage unfreeze."""
        stage = state.stage.name if state.stage is not None else "all"
        head, body = split_variables(state.models["model"])
        if stage == "head":
            variables = head
        elif stage == "unfreeze":
            variables = head + body  # head first: the order the global-norm clip has always summed them in
        else:
            variables = None  # pretrain's stage all: every trainable variable
        loss, logs = state.minimize(lambda: self.compute_loss(state, batch), variables=variables)
        return {"loss": loss, **logs}

    def predict(self, run: Run, inputs: list[str]) -> list[dict[str, Any]]:
        """Top-k labels (names from `labels` when set); with `dense=true` a class map per image."""
        from . import extras

        if run.config.dense:
            return extras.predict_dense(run, inputs)
        return extras.predict_top_k(run, inputs)

    def visualise(self, run: Run, config: TransferConfig) -> list[str]:
        return []  # classify's DeconvNet needs its own cnn-* layers


def check(config: TransferConfig) -> None:
    """One-line errors for settings across fields, before any data is read (mode, backbone and each
    stage name are Literal choices, checked when the config is built; stages are checked again here
    for an empty tuple and for configs made with dataclasses.replace)."""
    bad = [s for s in config.stages if s not in get_args(StageName)]
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
