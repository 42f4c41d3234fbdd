"""The `photos` dataset: natural colour photos that pip installs, with a fixed held-out subset.

    from tfzoo.common.data import resolve
    test = resolve("photos", "test")    # (uint8 [H, W, 3], int64 0) per photo; sizes differ

Sources (shared/DATA.md): scikit-image's bundled colour images (`skimage.data.<name>()`), scikit-learn's
`load_sample_images()` (china, flower; used when scikit-learn is installed) and matplotlib's
`grace_hopper.jpg`. scikit-image's pooch-fetched images are never used: nothing is downloaded.

The split is by photo, fixed, and independent of the seed: `val` is coffee, `test` is chelsea and
grace_hopper (both always present: scikit-image and matplotlib are dependencies), `train` the rest.
Images keep their own sizes, so `image_shape` is None and consumers crop or batch one at a time.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tfzoo.common.data.base import DataSplit, check_args, no_argument, with_channels
from tfzoo.common.errors import DataNotFound

SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")
SKLEARN = ("china", "flower")
SPLIT = {"val": ("coffee",), "test": ("chelsea", "grace_hopper")}

__all__ = ["SPLIT", "load", "names", "read"]


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _sklearn() -> dict[str, np.ndarray]:
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:  # optional: the split stays valid without these two train photos
        return {}
    images = load_sample_images()
    return {name: np.asarray(image) for name, image in zip(SKLEARN, images.images, strict=True)}


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as file:
        return np.asarray(Image.open(file).convert("RGB"))


@functools.cache
def _all() -> dict[str, np.ndarray]:
    photos = {}
    for name in SKIMAGE:
        try:
            photos[name] = _skimage(name)
        except Exception as err:  # a stripped scikit-image install; name what is missing
            raise DataNotFound(f"photos: scikit-image's bundled image {name!r} is missing ({err}); "
                               "reinstall scikit-image") from None
    photos.update(_sklearn())
    photos["grace_hopper"] = _grace_hopper()
    # Read-only, contiguous uint8 RGB: cached arrays are shared by every caller.
    out = {}
    for name, image in photos.items():
        image = np.ascontiguousarray(image[..., :3], np.uint8)
        image.setflags(write=False)
        out[name] = image
    return out


def names(split: str) -> tuple[str, ...]:
    """The photo names of a split, in a fixed order."""
    check_args(split=split, channels=None, on_error="raise")
    if split in SPLIT:
        return SPLIT[split]
    held_out = {n for group in SPLIT.values() for n in group}
    return tuple(n for n in _all() if n not in held_out)


def load(split: str, *, channels: int | None = None) -> list[np.ndarray]:
    """The photos of a split as uint8 [H, W, C] arrays (C = 3, or `channels`)."""
    photos = _all()
    return [with_channels(photos[n][None], channels)[0] for n in names(split)]


def read(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise") -> DataSplit:
    """Reader of the `photos` spec (entry point in the "tfzoo.data" group); every label is 0 ("photo")."""
    no_argument("photos", arg)
    check_args(split=split, channels=channels, on_error=on_error)
    images = load(split, channels=channels)
    # One from_tensors per photo: sizes differ, and the tensors stay in memory (~15 MB in all).
    datasets = [tf.data.Dataset.from_tensors((tf.constant(image), tf.constant(0, tf.int64))) for image in images]
    dataset = datasets[0]
    for more in datasets[1:]:
        dataset = dataset.concatenate(more)
    shapes = {image.shape for image in images}
    return DataSplit(dataset, len(images), class_names=("photo",),
                     image_shape=shapes.pop() if len(shapes) == 1 else None)
