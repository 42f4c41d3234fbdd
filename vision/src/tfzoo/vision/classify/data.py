"""Input pipeline of vision.classify: specs from common, sizing, the book's CIFAR augmentations.

Every image goes through one function, `prepare`, in training, evaluation,
`tfzoo predict` and the exported SavedModel, so a served model sees exactly
what it was trained on.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve

# Size used when a folder of mixed-size images gives no common shape and none is configured.
FALLBACK_SIZE = (64, 64)


def load_split(config: Any, split: str) -> DataSplit:
    return resolve(config.data, split, seed=config.train.seed, channels=config.channels or None)


def source_shape(config: Any, data: DataSplit) -> tuple[int, int, int]:
    """(H, W, C) every image is resized to before cropping."""
    height, width = config.image_size
    data_shape = data.image_shape
    if not (height and width):
        height, width = data_shape[:2] if data_shape else FALLBACK_SIZE
    channels = config.channels or (data_shape[2] if data_shape else 3)
    return int(height), int(width), int(channels)


def input_shape(config: Any, source: tuple[int, int, int]) -> tuple[int, int, int]:
    """(H, W, C) the model sees: the crop size when random crops are on."""
    crop_h, crop_w = config.random_crop
    if crop_h and crop_w:
        if crop_h > source[0] or crop_w > source[1]:
            from tfzoo.common.errors import ConfigError

            raise ConfigError(f"random_crop {config.random_crop} is larger than the images {source[:2]}")
        return int(crop_h), int(crop_w), source[2]
    return source


def _fit_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    """Grey, RGB or RGBA in; `channels` (1 or 3) out. Works when the channel count is only known at run time."""
    if images.shape[-1] == channels:
        return images
    have = tf.shape(images)[-1]
    if channels == 1:
        out = tf.cond(have >= 3, lambda: tf.image.rgb_to_grayscale(images[..., :3]), lambda: images[..., :1])
    else:
        out = tf.cond(have >= 3, lambda: images[..., :3], lambda: tf.repeat(images[..., :1], 3, axis=-1))
    return tf.ensure_shape(out, images.shape[:-1] + (channels,))


def _to_source(images: tf.Tensor, source: list[int]) -> tf.Tensor:
    """uint8 image(s) of any size and channel count -> float32 in [0, 1] at the source size."""
    images = _fit_channels(tf.convert_to_tensor(images), source[2])
    scaled = tf.cast(images, tf.float32) / 255.0
    if list(images.shape[-3:-1]) == list(source[:2]):
        return scaled  # already the right size: skip a resize per example
    return tf.image.resize(scaled, source[:2], antialias=True)


def prepare(images: tf.Tensor, info: dict[str, Any], *, standardize: bool) -> tf.Tensor:
    """uint8 images [N, h, w, c] of any size -> float32 [N, H, W, C] at the model's input size."""
    source = info["source_shape"]
    target = info["input_shape"]
    images = _to_source(images, source)
    if target[:2] != source[:2]:
        images = tf.image.resize_with_crop_or_pad(images, target[0], target[1])
    if standardize:
        images = tf.image.per_image_standardization(images)
    return images


def augment(image: tf.Tensor, config: Any, info: dict[str, Any], seed: tf.Tensor) -> tf.Tensor:
    """Stateless (resume-exact) random crop and flip of one uint8 image, then `prepare`."""
    source, target = info["source_shape"], info["input_shape"]
    image = _to_source(image, source)
    if target[:2] != source[:2]:
        image = tf.image.stateless_random_crop(image, target, seed=seed)
    if config.flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    if config.standardize:
        image = tf.image.per_image_standardization(image)
    return image
