"""Image helpers shared by the generative tasks: the float [0, 1] pipeline and input noise.

    image = to_unit(uint8_image)                            # float32 in [0, 1]
    noisy = add_noise(image, "gaussian:0.3", seed)          # seed: a stateless [2] int seed
    noisy = add_noise(image, "gaussian:0.3,salt_pepper:0.1", seed)   # one kind drawn per call

Noise specs (spec §1.1; comma-separated to mix several kinds):

| spec              | effect on each value v in [0, 1]                                  |
|-------------------|-------------------------------------------------------------------|
| `gaussian:σ`      | v + N(0, σ²), clipped to [0, 1]; `gaussian:σ:noclip` keeps the excess (the book's) |
| `salt_pepper:p`   | with probability p/2 set to 0 and with p/2 set to 1               |
| `flip:p`          | with probability p replaced by 1 − v (the book's 15% test)         |
| `mask:p`          | with probability p set to 0                                       |

Everything is stateless (`tf.random.stateless_*`), so a resumed run sees the same noise.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.data import resolve
from tfzoo.common.data.images import read_image_file
from tfzoo.common.errors import ConfigError

NOISE_KINDS = ("gaussian", "salt_pepper", "flip", "mask")

# The predict hooks' image reader is common's (one copy for every domain).
read_image = read_image_file

__all__ = ["LARGE", "NOISE_KINDS", "add_noise", "content_seed", "example_digits", "fit_image", "parse_noise",
           "read_image", "shrink_large", "to_unit"]


def to_unit(images) -> tf.Tensor:
    """uint8 images (any rank) -> float32 in [0, 1]; float input is passed through as float32."""
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def parse_noise(spec: str) -> list[tuple[str, float, bool]]:
    """`"gaussian:0.3,salt_pepper:0.1"` -> [(kind, level, clip)]; "" or "none" -> []. ConfigError if malformed."""
    out = []
    if spec.strip().lower() in ("", "none"):
        return out
    for part in spec.split(","):
        fields = [f.strip() for f in part.strip().split(":")]
        kind = fields[0]
        if kind not in NOISE_KINDS or len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != "noclip"):
            raise ConfigError(f"noise {part.strip()!r}: expected one of gaussian:SIGMA[:noclip], salt_pepper:P, "
                              "flip:P, mask:P (comma-separated to mix)")
        try:
            level = float(fields[1])
        except ValueError:
            raise ConfigError(f"noise {part.strip()!r}: {fields[1]!r} is not a number") from None
        if level < 0 or (kind != "gaussian" and level > 1):
            raise ConfigError(f"noise {part.strip()!r}: the level must be in [0, 1] (σ >= 0 for gaussian)")
        if len(fields) == 3 and kind != "gaussian":
            raise ConfigError(f"noise {part.strip()!r}: only gaussian noise takes :noclip")
        out.append((kind, level, len(fields) == 2))
    return out


def _one(images: tf.Tensor, kind: str, level: float, clip: bool, seed: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(images)
    if kind == "gaussian":
        noisy = images + level * tf.random.stateless_normal(shape, seed)
        return tf.clip_by_value(noisy, 0.0, 1.0) if clip else noisy
    u = tf.random.stateless_uniform(shape, seed)
    if kind == "salt_pepper":
        # u < p/2: pepper (0); p/2 <= u < p: salt (1)
        return tf.where(u < level / 2, 0.0, tf.where(u < level, 1.0, images))
    if kind == "flip":
        return tf.where(u < level, 1.0 - images, images)
    return tf.where(u < level, 0.0, images)  # mask


def add_noise(images, spec: str | list, seed) -> tf.Tensor:
    """Noisy copy of float images in [0, 1] (any shape). With several kinds, one is drawn per call.

    `spec` is a noise string or the list `parse_noise` returns; `seed` a [2] int seed.
    """
    kinds = parse_noise(spec) if isinstance(spec, str) else list(spec)
    images = to_unit(images)
    if not kinds:
        return images
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if len(kinds) == 1:
        return _one(images, *kinds[0], seed)
    pick = tf.random.stateless_uniform([], seed + 7, maxval=len(kinds), dtype=tf.int32)
    branches = [lambda k=k: _one(images, *k, seed) for k in kinds]
    return tf.switch_case(pick, branches)


def content_seed(image) -> tf.Tensor:
    """A [2] int64 seed derived from an image's pixels: evaluation noise fixed per image, not per batch slot."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:  # [0, 1] floats: hash their 8-bit values
        image = tf.cast(tf.clip_by_value(tf.round(image * 255.0), 0, 255), tf.uint8)
    flat = tf.reshape(tf.cast(image, tf.int64), [-1])
    weights = tf.range(1, tf.size(flat, out_type=tf.int64) + 1) % 9973
    digest = tf.reduce_sum(flat * weights) % 2_147_483_647
    return tf.stack([digest, tf.constant(17, tf.int64)])


def fit_image(image, shape) -> tf.Tensor:
    """One uint8 or [0, 1] image [h, w, c] -> float32 [H, W, C] in [0, 1] at `shape` (channels and size)."""
    height, width, channels = (int(s) for s in shape)
    image = to_unit(image)
    have = image.shape[-1]
    if have != channels:
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image[..., :3]) if have >= 3 else image[..., :1]
        else:
            image = tf.repeat(image[..., :1], 3, axis=-1) if have < 3 else image[..., :3]
    if tuple(image.shape[:2]) != (height, width):
        image = tf.clip_by_value(tf.image.resize(image, (height, width), antialias=True), 0.0, 1.0)
    return image


# Pixels above which an input is first shrunk by block means before `fit_image` (predict on a big photo).
LARGE = 2**22


def shrink_large(image: np.ndarray, shape) -> np.ndarray:
    """A uint8 image [h, w, c] of more than LARGE pixels, reduced by an integer block mean (float32 [0, 1])
    to at most about LARGE pixels and never below `shape`; smaller images are returned as they are.

    The mean is taken in strips of rows from the uint8 pixels, so memory stays near the input's own bytes,
    where resizing the whole float image would hold several times that; `fit_image` then resizes the rest.
    """
    h, w = image.shape[:2]
    factor = min(math.ceil(math.sqrt(h * w / LARGE)), h // int(shape[0]), w // int(shape[1]))
    if h * w <= LARGE or factor < 2:
        return image
    rows, cols = h // factor, w // factor
    out = np.empty((rows, cols, image.shape[2]), np.float32)
    step = max(1, (1 << 20) // (factor * w))  # output rows per strip: ~1 Mpx of input at a time
    for top in range(0, rows, step):
        bottom = min(top + step, rows)
        strip = image[top * factor:bottom * factor, :cols * factor].astype(np.float32)
        out[top:bottom] = strip.reshape(bottom - top, factor, cols, factor, -1).mean(axis=(1, 3)) / 255.0
    return out


def example_digits(directory: str | Path) -> list[str]:
    """A 28x28 grey PNG of a "1" and the same image as a [0, 1] float .npy, under `directory` (for predict)."""
    from PIL import Image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0
    png, npy = directory / "digit.png", directory / "digit.npy"
    Image.fromarray((digit * 255).astype(np.uint8)).save(png)
    np.save(npy, digit)
    return [str(png), str(npy)]


def load_arrays(config: Any, info: dict[str, Any], split: str, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W, C] in [0, 1] and labels of a split of `config.data`, at the model's size `info["shape"]`."""
    data = resolve(config.data, split, seed=config.train.seed, channels=config.channels or None)
    ds = data.dataset.take(limit) if limit else data.dataset
    xs, ys = [], []
    for image, label in ds.map(lambda x, y: (fit_image(x, info["shape"]), y)).batch(512):
        xs.append(image.numpy())
        ys.append(label.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def image_shape(config: Any, data: Any) -> list[int]:
    """[H, W, C] the models work at: `config.image_size` / `config.channels`, else the data's own."""
    height, width = config.image_size
    shape = data.image_shape
    if not (height and width):
        if shape is None:
            raise ConfigError(f"{config.data}: images of different sizes; set image_size=H,W")
        height, width = shape[:2]
    return [int(height), int(width), int(config.channels or (shape[2] if shape else 3))]
