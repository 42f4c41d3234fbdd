"""Images for generative.gan: any image spec as float [0, 1], plus single image files for AEGAN's predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import resolve
from tfzoo.common.data.images import decode, probe
from tfzoo.common.errors import DataError
from tfzoo.generative.images import fit_image, shrink_large


def load_split(config: Any, split: str):
    """The split as (uint8 image, int64 label) examples; `to_float` prepares them in the pipeline."""
    return resolve(config.data, split, seed=config.train.seed, channels=config.channels or None)


def image_shape(config: Any, arch: str, data) -> tuple[int, int, int]:
    """(H, W, C) the networks see: the data's own, `image_size`, or 64x64 for dcgan-large."""
    if data.image_shape is None and config.image_size == (0, 0) and arch != "dcgan-large":
        raise DataError(f"{config.data}: images of different sizes; set image_size=H,W (multiples of 4)")
    h, w = config.image_size if config.image_size != (0, 0) else (
        (64, 64) if arch == "dcgan-large" else data.image_shape[:2])
    channels = config.channels or (data.image_shape[2] if data.image_shape else 3)
    multiple = 16 if arch == "dcgan-large" else 4
    if arch != "mlp" and (h % multiple or w % multiple):
        raise DataError(f"{config.data}: images are {h}x{w}; arch={arch} needs sides divisible by {multiple} "
                        "(set image_size=H,W)")
    return int(h), int(w), int(channels)


def to_float(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """uint8 [H, W, C] -> float32 [h, w, C] in [0, 1], resized (antialiased) when the size differs."""
    x = tf.cast(image, tf.float32) / 255.0
    if tuple(image.shape[:2]) != tuple(size):
        x = tf.clip_by_value(tf.image.resize(x, size, antialias=True), 0.0, 1.0)
    return x


def read_image(path: str, *, shape: tuple[int, int, int]) -> np.ndarray:
    """One png/jpg/bmp/gif file as float32 [h, w, c] in [0, 1]; a one-line DataError when unreadable."""
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    try:
        probe(path)
    except ValueError as err:
        raise DataError(f"{path}: not a readable image ({err})") from None
    image = decode(tf.io.read_file(path), shape[2])
    reduced = shrink_large(image.numpy(), shape)  # a big photo is block-averaged first: bounded memory
    if reduced.dtype != np.uint8:
        return fit_image(reduced, shape).numpy()
    return to_float(image, shape[:2]).numpy()
