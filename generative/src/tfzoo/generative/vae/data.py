"""Input pipeline of generative.vae: images in [0, 1], labels, and the reparameterisation noise.

Examples become `(inputs, label, eps)` where `inputs` is the image (vae) or `(image, label)`
(cvae) and `eps ~ N(0, I)` is drawn statelessly from the example's position (training) or its
pixels (evaluation), so a resumed run and every evaluation see the same noise.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve
from tfzoo.generative import images


def load_split(config: Any, split: str) -> DataSplit:
    return resolve(config.data, split, seed=config.train.seed, channels=config.channels or None)


image_shape = images.image_shape


def _example(config: Any, info: dict[str, Any], image, label, seed):
    x = images.fit_image(image, info["shape"])
    eps = tf.random.stateless_normal([config.latent_dim], tf.cast(seed, tf.int64))
    inputs = (x, label) if config.variant == "cvae" else x
    return inputs, label, eps


def train_example(config: Any, info: dict[str, Any], example, seed):
    return _example(config, info, *example, seed)


def eval_example(config: Any, info: dict[str, Any], example):
    image, label = example
    return _example(config, info, image, label, images.content_seed(image))


load_arrays = images.load_arrays  # the tasks and benchmarks call it as pipeline.load_arrays
