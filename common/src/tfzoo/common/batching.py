"""Ready batching options for `Task.batch`: fixed size (the default), padded, bucketed by length.

Training batches drop the remainder so every step sees the global batch (replicas split it
evenly); evaluation batches keep it, so evaluation sees every example. A task with variable-length
examples (audio frames, token ids) returns one of these from its `batch` hook:

    def batch(self, config, info, dataset, split):
        return batching.bucketed(dataset, batch_size=config.train.batch_size, split=split,
                                 length=lambda x, y: tf.shape(x)[0], boundaries=(100, 200, 400))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tfzoo.common.errors import ConfigError


def fixed(dataset: tf.data.Dataset, *, batch_size: int, split: str) -> tf.data.Dataset:
    """Batches of `batch_size` equal-shape examples."""
    return dataset.batch(batch_size, drop_remainder=split == "train")


def padded(dataset: tf.data.Dataset, *, batch_size: int, split: str, padding_values: Any = None) -> tf.data.Dataset:
    """Batches of `batch_size` whose variable-length dimensions are padded to the longest in the batch
    (with `padding_values`, default zeros)."""
    return dataset.padded_batch(batch_size, padding_values=padding_values, drop_remainder=split == "train")


def bucketed(dataset: tf.data.Dataset, *, batch_size: int, split: str, length: Callable[..., tf.Tensor],
             boundaries: Sequence[int], padding_values: Any = None) -> tf.data.Dataset:
    """Padded batches of examples of similar `length(*example)`, so little of a batch is padding.

    `boundaries` are ascending length limits; every bucket holds `batch_size` examples. Examples
    longer than the last boundary form the last bucket. Bucket order follows the (seeded) input
    order, so a resumed run sees the same batches.
    """
    bounds = [int(b) for b in boundaries]
    if not bounds or bounds != sorted(set(bounds)) or bounds[0] < 1:
        raise ConfigError(f"bucket boundaries {list(boundaries)}: expected ascending positive lengths")

    def length_of(*example):
        return tf.cast(length(*example), tf.int32)

    return dataset.bucket_by_sequence_length(
        length_of, bucket_boundaries=bounds, bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
        padding_values=padding_values, drop_remainder=split == "train", pad_to_bucket_boundary=False,
    )
