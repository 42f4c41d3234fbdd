"""Training patches, degradation and the interpolation baselines of generative.superres.

An HR image in [0, 1] becomes an (LR, HR) pair: the HR is cropped to a multiple of r and
downscaled by `degrade`; the LR is rounded to the 8-bit grid, as every LR file a user feeds
`predict` is. Training examples are random `patch_size` HR crops with a left-right flip and a
rot90 (the 8 symmetries of the square), drawn with stateless seeds so a resumed run repeats them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve
from tfzoo.common.errors import ConfigError

from .config import SuperResConfig

BASELINES = ("nearest", "bilinear", "bicubic")

__all__ = ["BASELINES", "check_config", "degrade", "iter_images", "load_split", "modcrop", "train_example", "upsample",
           "whole_images"]


def check_config(config: SuperResConfig) -> None:
    """A one-line error for a patch or crop that the scale does not divide (choices are checked when
    the config is built)."""
    for key in ("patch_size", "eval_crop"):
        value = getattr(config, key)
        if value <= 0 or value % config.scale:
            raise ConfigError(f"{key}={value} is not divisible by scale={config.scale}; use a multiple of "
                              f"{config.scale} (96 and 192 suit 2, 3 and 4)")


def load_split(config: SuperResConfig, split: str):
    """The DataSplit of `config.data` (uint8 images, labels ignored); corrupt folder images raise one line."""
    check_config(config)
    name, _, arg = config.data.strip().partition(":")
    if name == "folder" and arg.strip():
        flat = _flat_folder(Path(arg.strip()).expanduser(), split)
        if flat is not None:
            return flat
    return resolve(config.data, split)


def _flat_folder(root: Path, split: str):
    """`folder:DIR` holding images directly (Set5, Set14, BSDS as distributed), or None for class subfolders.

    Labels mean nothing to super-resolution, so such a folder is read as is. With 10 or more images,
    10% each are carved for val and test; a smaller folder is an evaluation set: every split is every image.
    """
    from tfzoo.common.data import carve
    from tfzoo.common.data.folder import EXTENSIONS, validate
    from tfzoo.common.data.images import decode, default_channels

    if not root.is_dir() or any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return None
    files = sorted(p for p in root.iterdir()
                   if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))
    if not files:
        return None
    items, shapes = validate([(p, 0) for p in files], on_error="raise", where=str(root))
    if len(items) >= 10:
        chosen = carve(np.zeros(len(items)), val=0.1, test=0.1)[split]
        items, shapes = [items[i] for i in chosen], [shapes[i] for i in chosen]
    channels = default_channels(shapes[0][2]) if shapes else 3
    paths = tf.constant([str(p) for p, _ in items], tf.string)
    dataset = tf.data.Dataset.from_tensor_slices(paths).map(
        lambda path: (decode(tf.io.read_file(path), channels), tf.constant(0, tf.int64)))
    sizes = {(h, w) for h, w, _ in shapes}
    return DataSplit(dataset, len(items), class_names=("image",),
                     image_shape=(*sizes.pop(), channels) if len(sizes) == 1 else None)


def modcrop(image: tf.Tensor, scale: int) -> tf.Tensor:
    """Crop [..., H, W, C] to the largest multiple of `scale` (top-left anchored, as SR benchmarks do)."""
    shape = tf.shape(image)
    h, w = shape[-3] - shape[-3] % scale, shape[-2] - shape[-2] % scale
    return image[..., :h, :w, :]


def degrade(hr: tf.Tensor, scale: int, method: str = "bicubic") -> tf.Tensor:
    """LR of float HR images [..., H, W, C] (H, W multiples of `scale`), clipped and rounded to 8 bits."""
    shape = tf.shape(hr)
    size = tf.stack([shape[-3] // scale, shape[-2] // scale])
    if method == "area":
        lr = tf.image.resize(hr, size, method="area")
    else:
        # Antialiased: downscaling without a low-pass filter aliases, which no real camera does.
        lr = tf.image.resize(hr, size, method=method, antialias=True)
    return tf.round(tf.clip_by_value(lr, 0.0, 1.0) * 255.0) / 255.0


def upsample(lr: tf.Tensor, scale: int, method: str) -> tf.Tensor:
    """A baseline: `method` (nearest, bilinear, bicubic) upscaling by `scale`, clipped to [0, 1]."""
    shape = tf.shape(lr)
    size = tf.stack([shape[-3] * scale, shape[-2] * scale])
    return tf.clip_by_value(tf.image.resize(lr, size, method=method), 0.0, 1.0)


def _at_least(image: tf.Tensor, size: int) -> tf.Tensor:
    """Enlarge an image whose shorter side is below `size` (rare in user folders) so a crop fits."""
    shape = tf.shape(image)
    short = tf.minimum(shape[0], shape[1])

    def grow():
        factor = tf.cast(size, tf.float32) / tf.cast(short, tf.float32)
        new = tf.cast(tf.math.ceil(tf.cast(shape[:2], tf.float32) * factor), tf.int32)
        return tf.image.resize(image, tf.maximum(new, size), method="bicubic")

    return tf.cond(short < size, grow, lambda: image)


def train_example(image: tf.Tensor, config: SuperResConfig, seed: tf.Tensor):
    """(lr, hr, k): a random augmented HR crop, its LR, and the rot90 count k applied (for rotation pretraining)."""
    hr = _at_least(tf.cast(image, tf.float32) / 255.0, config.patch_size)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    channels = hr.shape[-1]
    hr = tf.image.stateless_random_crop(hr, [config.patch_size, config.patch_size, channels], seeds[0])
    hr = tf.image.stateless_random_flip_left_right(hr, seeds[1])
    k = tf.random.stateless_uniform([], seeds[2], maxval=4, dtype=tf.int32)
    hr = tf.image.rot90(hr, k)
    hr = tf.clip_by_value(hr, 0.0, 1.0)
    return degrade(hr, config.scale, config.degrade), hr, k


def eval_example(image: tf.Tensor, config: SuperResConfig, crop: int):
    """(lr, hr) of a centre crop of `crop` pixels (a multiple of r), so validation images batch.

    An image smaller than the crop (only in folders of mixed sizes) is enlarged first; `evaluate`
    scores whole, untouched images separately.
    """
    hr = _at_least(tf.cast(image, tf.float32) / 255.0, crop)
    shape = tf.shape(hr)
    h, w = tf.minimum(shape[0], crop), tf.minimum(shape[1], crop)
    top, left = (shape[0] - h) // 2, (shape[1] - w) // 2
    hr = modcrop(hr[top:top + h, left:left + w], config.scale)
    return degrade(hr, config.scale, config.degrade), hr


def eval_crop(config: SuperResConfig, image_shape) -> int:
    """The validation crop: `eval_crop`, or the images' own size when they are all smaller (mnist-5k)."""
    if image_shape is None:
        return config.eval_crop
    side = min(config.eval_crop, int(image_shape[0]), int(image_shape[1]))
    return side - side % config.scale


def iter_images(config: SuperResConfig, split: str):
    """Uint8 images of a split, whole, one at a time (a folder of large photos is never all in memory)."""
    for image, _ in load_split(config, split).dataset:
        yield image.numpy()


def whole_images(config: SuperResConfig, split: str, *, limit: int = 0) -> list[np.ndarray]:
    """Uint8 images of a split, whole, for `visualise` and the benchmark (the first `limit` when given)."""
    images = []
    for image in iter_images(config, split):
        images.append(image)
        if limit and len(images) >= limit:
            break
    return images
