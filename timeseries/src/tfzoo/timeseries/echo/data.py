"""Echo bits (S0 L9689-L9710), regenerated from the seed every epoch, ordered for a stateful RNN.

Example n of an epoch is chunk `n // streams` of stream `n % streams`, so `streams` consecutive
examples form one batch (batch size == streams) and batch k+1 continues batch k stream by stream.
"""

from __future__ import annotations

import tensorflow as tf

from tfzoo.common.data import DataSplit
from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.echo.config import EchoConfig

SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}
EPOCHS_AHEAD = 1_000_000  # the training stream is endless; the trainer repeats nothing
CLASS_NAMES = ("0", "1")


def chunks_per_epoch(config: EchoConfig, length: int) -> int:
    """Chunks of `config.chunk` steps in each of the `batch_size` streams of `length` bits."""
    return length // config.train.batch_size // config.chunk


def check(config: EchoConfig) -> None:
    if config.chunk <= config.echo_step or config.echo_step < 1:
        raise ConfigError(f"chunk={config.chunk} and echo_step={config.echo_step}; expected 1 <= echo_step < chunk")
    for name in ("series_length", "val_length"):
        if chunks_per_epoch(config, getattr(config, name)) < 1:
            raise ConfigError(
                f"{name}={getattr(config, name)} gives no chunk of {config.chunk} steps in "
                f"{config.train.batch_size} streams; use at least {config.chunk * config.train.batch_size}"
            )


def epoch_examples(config: EchoConfig, *, seed: int, epoch, length: int):
    """The (bits, echo, chunk index) examples of one epoch, in stateful batch order."""
    streams, chunk, n = config.train.batch_size, config.chunk, chunks_per_epoch(config, length)
    uniform = tf.random.stateless_uniform([streams, n * chunk], seed=tf.stack([tf.cast(seed, tf.int64),
                                                                                tf.cast(epoch, tf.int64)]))
    x = tf.cast(uniform < 0.5, tf.int32)
    # The echo of each stream; its first echo_step targets are 0 (the book rolls one long vector,
    # so its streams 2-5 start with the previous stream's last bits, which no model can know).
    y = tf.concat([tf.zeros([streams, config.echo_step], tf.int32), x[:, : -config.echo_step]], axis=1)

    def order(a):  # [streams, n*chunk] -> [n*streams, chunk]: chunk k of every stream, then chunk k+1
        return tf.reshape(tf.transpose(tf.reshape(a, [streams, n, chunk]), [1, 0, 2]), [n * streams, chunk])

    bits = tf.cast(order(x), tf.float32)[..., None]
    position = tf.repeat(tf.range(n, dtype=tf.int64), streams)
    return bits, order(y), position


def load_split(config: EchoConfig, split: str) -> DataSplit:
    """train: a new epoch of bits from (seed, epoch) each time round; val/test: one fixed epoch each.

    Examples are (bits [chunk, 1], echo [chunk], chunk index); the train size is one epoch's.
    """
    check(config)
    if split not in SPLIT_SEEDS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEEDS)}")
    seed = config.train.seed * 10 + SPLIT_SEEDS[split]
    if split == "train":
        ds = tf.data.Dataset.range(EPOCHS_AHEAD).flat_map(
            lambda epoch: tf.data.Dataset.from_tensor_slices(
                epoch_examples(config, seed=seed, epoch=epoch, length=config.series_length)
            )
        )
        return DataSplit(ds, chunks_per_epoch(config, config.series_length) * config.train.batch_size,
                         class_names=CLASS_NAMES)
    examples = epoch_examples(config, seed=seed, epoch=0, length=config.val_length)
    return DataSplit(tf.data.Dataset.from_tensor_slices(examples), int(examples[2].shape[0]), class_names=CLASS_NAMES)
