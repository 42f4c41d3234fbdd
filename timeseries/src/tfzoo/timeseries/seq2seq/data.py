"""The book's sin+cos curves (S0 L15701-L15745), generated from the seed inside tf.data."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.seq2seq.config import Seq2SeqConfig

SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
ENDLESS = 1 << 40


def curve(seed, length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """One sample: a sine plus a cosine at 2*length points; the first half is the past, the second the future.

    Frequencies are f = (U - 0.5) / 1.5 * 15 + 0.5 over the phase range [0, 3*pi*f*length/15], so the
    frequency per step does not depend on `length`.
    """
    u = tf.random.stateless_uniform([6], seed=seed, dtype=tf.float32)
    grid = tf.linspace(0.0, 1.0, 2 * length) * (length / 15.0 * 3.0 * math.pi)

    def wave(fn, phase, freq, amplitude):
        return amplitude * fn(grid * ((freq - 0.5) / 1.5 * 15.0 + 0.5) + phase * 2.0 * math.pi)

    values = wave(tf.sin, u[0], u[1], u[2] + 0.1) + wave(tf.cos, u[3], u[4], 1.2 * u[5])
    return values[:length, None], values[length:, None]


def check(config: Seq2SeqConfig) -> None:
    if config.input_len != config.output_len:
        raise ConfigError(f"input_len={config.input_len}, output_len={config.output_len}; the curves split in halves")


def load_split(config: Seq2SeqConfig, split: str, *, length: int | None = None) -> DataSplit:
    """train: an endless seeded stream; val/test: `test_size` fixed seeded samples each, of (past [L, 1], future [L, 1])."""
    check(config)
    if split not in SPLIT_SEEDS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEEDS)}")
    seed = config.train.seed * 10 + SPLIT_SEEDS[split]
    length = length or config.input_len
    count = ENDLESS if split == "train" else config.test_size
    ds = tf.data.Dataset.range(count).map(lambda i: curve(tf.stack([tf.constant(seed, tf.int64), i]), length))
    return DataSplit(ds, count)


def read_past(path: str, length: int) -> np.ndarray:
    """The last `length` values of a one-column CSV/text file or a .npy vector."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file; expected a .npy vector or a CSV with one number a line")
    if file.suffix == ".npy":
        values = np.asarray(np.load(file), np.float64).reshape(-1)
    else:
        values = []
        for line_no, line in enumerate(file.read_text().splitlines(), 1):
            cell = line.split(",")[-1].strip()
            if not cell:
                continue
            try:
                values.append(float(cell))
            except ValueError:
                if values or line_no > 1:  # a header is allowed on line 1 only
                    raise DataError(f"{path}:{line_no}: {cell!r} is not a number; expected one value a line") from None
        values = np.array(values, np.float64)
    if len(values) < length:
        raise DataError(f"{path}: {len(values)} values; the model needs at least {length} past values")
    if not np.all(np.isfinite(values[-length:])):
        raise DataError(f"{path}: missing or infinite values among the last {length}")
    return values[-length:].astype(np.float32)
