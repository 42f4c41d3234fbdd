"""Input pipeline of generative.autoencoder: images in [0, 1], noisy copies, and the labelled subset.

Training examples become `(noisy, clean, label, labelled)`: the model sees `noisy`, the loss
compares with `clean` (the target is never the label, unlike 实例79), and `labelled` marks the
fixed `label_fraction` of the training split whose labels the stacked classifier may use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve
from tfzoo.common.errors import ConfigError
from tfzoo.generative import images
from tfzoo.generative.autoencoder.config import DEFAULT_NOISE


def check(config: Any) -> None:
    """One-line errors for settings that cannot work, before any data is read (choices and ranges
    are checked when the config is built)."""
    if not 0.0 < config.label_fraction <= 1.0:
        raise ConfigError(f"label_fraction={config.label_fraction}; expected a value in (0, 1]")
    if config.stage_steps and len(config.stage_steps) != 4:
        raise ConfigError(f"stage_steps needs 4 counts (dae1, ae2, head, finetune), got {config.stage_steps}")
    images.parse_noise(noise_spec(config))


def noise_spec(config: Any) -> str:
    """The noise applied to training inputs: `noise`, else the variant's default."""
    return config.noise or DEFAULT_NOISE.get(config.variant, "")


def load_split(config: Any, split: str) -> DataSplit:
    """The split from common's resolve; the training split carries the `labelled` flag."""
    check(config)
    data = resolve(config.data, split, seed=config.train.seed, channels=config.channels or None)
    if split != "train":
        return data
    keep = max(1, int(round(config.label_fraction * data.size)))
    # A fixed random subset, drawn before the trainer shuffles, so it is the same every epoch and on resume.
    mask = np.zeros(data.size, bool)
    mask[np.random.default_rng(1234 + config.train.seed).permutation(data.size)[:keep]] = True
    flags = tf.constant(mask)
    dataset = data.dataset.enumerate().map(lambda i, ex: (ex[0], ex[1], tf.gather(flags, i)))
    return data.replace(dataset=dataset)


image_shape = images.image_shape


def train_example(config: Any, info: dict[str, Any], example, seed: tf.Tensor):
    """(noisy, clean, label, labelled) with stateless noise drawn from the example's position."""
    image, label, labelled = example
    clean = images.fit_image(image, info["shape"])
    noisy = images.add_noise(clean, noise_spec(config), seed)
    return noisy, clean, label, tf.cast(labelled, tf.float32)


def eval_example(config: Any, info: dict[str, Any], example):
    """(noisy, clean, label, 1): evaluation noise is seeded by the image itself, so it never changes."""
    image, label = example[0], example[1]
    clean = images.fit_image(image, info["shape"])
    noisy = images.add_noise(clean, noise_spec(config), images.content_seed(image))
    return noisy, clean, label, tf.constant(1.0)


load_arrays = images.load_arrays  # the tasks and benchmarks call it as pipeline.load_arrays
