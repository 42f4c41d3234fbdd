"""Windows of a monthly series ordered for a stateful LSTM (seed 003, S3 L255-L290, without its bugs).

With stride-1 windows of length W and batches of B == W windows, sample j of batch k+1 starts
exactly where sample j of batch k ended, so carrying the LSTM state between batches is right.
The scaler is fitted on the training range only; validation windows start after it (their inputs
never overlap a training target) and are scored after a warm-up over the preceding windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.data import load_series
from tfzoo.timeseries.series import Scaler, Series, split_point
from tfzoo.timeseries.temperature.config import TemperatureConfig

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Windows:
    """The windows of one split in batch order: (window [W, 1], next value [1], weight, batch position)
    examples, and `starts`, each window's first series index (-1 for padding)."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    position: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def split(self) -> DataSplit:
        """What the trainer reads."""
        return DataSplit(tf.data.Dataset.from_tensor_slices((self.x, self.y, self.weights, self.position)), len(self))


def check(config: TemperatureConfig) -> None:
    if config.stateful and config.train.batch_size != config.window:
        raise ConfigError(
            f"train.batch_size={config.train.batch_size} but window={config.window}: a stateful LSTM over stride-1 "
            "windows needs batch_size == window so each batch continues the last one; set both alike or stateful=false"
        )


@lru_cache(maxsize=8)
def read(spec: str, column: str) -> Series:
    series = load_series(spec)
    name = column or series.names[0]
    series = series.select([name])
    if np.isnan(series.values).any():
        bad = int(np.flatnonzero(np.isnan(series.values[:, 0]))[0])
        raise DataError(f"{series.where(bad)}: the value at {str(series.times[bad])[:10]} is missing; "
                        "the stateful LSTM needs a gap-free series")
    return series


def prepared(config: TemperatureConfig) -> dict[str, Any]:
    """The series, its (log-)values, the train/val boundary and the scaler fitted on the training range."""
    check(config)
    series = read(config.data, config.column)
    values = series.values[:, 0].astype(np.float64)
    if config.log:
        if np.any(values <= 0):
            bad = int(np.argmin(values))
            raise DataError(f"{series.where(bad)}: log=true needs positive values; found {values[bad]:g}")
        values = np.log(values)
    boundary = split_point(len(values), test_fraction=config.val_fraction)
    if boundary - config.window < config.train.batch_size:
        raise DataError(
            f"{series.source}: {boundary} training values give {max(boundary - config.window, 0)} windows of "
            f"{config.window}, fewer than one batch of {config.train.batch_size}; use a longer series or shorter windows"
        )
    if len(values) - boundary <= config.window:
        raise DataError(f"{series.source}: {len(values) - boundary} validation values, not more than one window of "
                        f"{config.window}; lower val_fraction or the window")
    scaler = Scaler(kind="minmax", feature_range=config.feature_range).fit(values[:boundary, None])
    return {"series": series, "values": values, "boundary": boundary, "scaler": scaler,
            "scaled": scaler.transform(values[:, None])[:, 0]}


def untransform(config: TemperatureConfig, values):
    """Back to the series' units from the modelled values (undo `log`)."""
    return np.exp(values) if config.log else values


def windows(config: TemperatureConfig, split: str) -> Windows:
    """train: windows whose targets lie in the training range, trimmed at the start to whole batches.

    val/test: every window from the same batch phase on (the warm-up, weight 0), those starting
    at the boundary or later weighted 1, padded with weight-0 windows to a whole last batch.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    p = prepared(config)
    w, b, boundary, z = config.window, config.train.batch_size, p["boundary"], p["scaled"]
    if split == "train":
        count = boundary - w
        starts = np.arange(count % b, count)
        weights = np.ones(len(starts), np.float32)
    else:
        starts = np.arange(boundary % b, len(z) - w)
        weights = (starts >= boundary).astype(np.float32)
        pad = -len(starts) % b
        starts = np.concatenate([starts, -np.ones(pad, np.int64)])
        weights = np.concatenate([weights, np.zeros(pad, np.float32)])
    x = np.stack([z[s: s + w] if s >= 0 else np.zeros(w, np.float32) for s in starts])[..., None]
    y = np.array([z[s + w] if s >= 0 else 0.0 for s in starts], np.float32)[:, None]
    position = (np.arange(len(starts)) // b).astype(np.int64)
    return Windows(x.astype(np.float32), y, weights, position, starts)
