"""The 实例50 model: stacked JANET (or LSTM/GRU) layers, last-step or attention pooling, two heads.

The model returns one tensor `[B, 3]`: column 0 is the regression head (sigmoid, RUL / rul_scale),
columns 1:3 the classification logits of label1 (fails within w1 cycles). One tensor keeps the
`.keras` file, the SavedModel and the CLI simple; `split_outputs` names the parts.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.layers import JANETCell, TaskSpecificAttention
from tfzoo.timeseries.rul.data import PAD_VALUE


def _recurrent(config: Any, units: int, *, last: bool, name: str) -> keras.layers.Layer:
    # Only the top layer of a last-step model drops time; with masking its output is the last valid step.
    sequences = config.attention or not last
    if config.cell == "janet":
        cell = JANETCell(units, beta=config.beta, t_max=config.window)
        return keras.layers.RNN(cell, return_sequences=sequences, name=name)
    layer = keras.layers.LSTM if config.cell == "lstm" else keras.layers.GRU
    return layer(units, return_sequences=sequences, name=name)


def build_model(config: Any, *, num_features: int) -> keras.Model:
    """`[B, window, F]` scaled windows (padding rows = PAD_VALUE) -> `[B, 3]` (RUL/scale, two logits)."""
    if not config.hidden or any(u <= 0 for u in config.hidden):
        raise ConfigError(f"hidden={config.hidden}; expected positive layer sizes, e.g. 100,50,36")
    inputs = keras.Input((config.window, num_features), name="window")
    x = keras.layers.Masking(mask_value=PAD_VALUE, name="padding")(inputs)
    for i, units in enumerate(config.hidden):
        x = _recurrent(config, units, last=i == len(config.hidden) - 1, name=f"{config.cell}_{i}")(x)
        # The book's DropoutWrapper(output_keep_prob=0.8) on every layer.
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    if config.attention:
        x = TaskSpecificAttention(config.hidden[-1], name="attention")(x)
    # The book's "convolutions" over a 6x6 reshape are dense layers in disguise; its ReLU on logits is dropped.
    rul = keras.layers.Dense(1, activation="sigmoid", name="rul")(x)
    logits = keras.layers.Dense(2, name="fail_logits")(x)
    outputs = keras.layers.Concatenate(name="rul_and_logits")([rul, logits])
    return keras.Model(inputs, outputs, name=f"rul_{config.cell}{'_attention' if config.attention else ''}")


def split_outputs(outputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(RUL / scale `[B]`, logits `[B, 2]`) from the model's `[B, 3]` output."""
    return outputs[:, 0], outputs[:, 1:]


def per_example_loss(config: Any, outputs: tf.Tensor, rul_norm: tf.Tensor, label1: tf.Tensor) -> tf.Tensor:
    """(reg_weight * |RUL error| + class_weight * cross-entropy) / 2 per example, on normalised RUL."""
    rul, logits = split_outputs(outputs)
    mae = tf.abs(rul - tf.cast(rul_norm, rul.dtype))
    ce = keras.losses.sparse_categorical_crossentropy(label1, logits, from_logits=True)
    return (config.reg_weight * mae + config.class_weight * ce) / 2.0
