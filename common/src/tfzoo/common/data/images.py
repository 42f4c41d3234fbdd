"""Encoded-image helpers: a cheap PIL check at resolve time and the tf.data decoder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

# PIL modes that hold one grey channel (plus alpha): such data decodes to 1 channel by default.
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "F"})


def probe(source) -> tuple[str, int, int, str]:
    """(format, height, width, mode) of an image file path or bytes; raises ValueError if unreadable.

    `verify()` checks structure and checksums but can miss a truncated file for some formats,
    so the image is reopened and fully loaded too; for thousands of small files that is cheap.
    """
    opened = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with Image.open(opened) as image:
            image.verify()
        if isinstance(opened, io.BytesIO):
            opened.seek(0)
        with Image.open(opened) as image:
            image.load()
            return (image.format or "").lower(), image.height, image.width, image.mode
    except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        raise ValueError(f"{type(e).__name__}: {e}") from None


def default_channels(mode: str) -> int:
    """1 for grey PIL modes, else 3."""
    return 1 if mode in GRAY_MODES else 3


def decode(data: tf.Tensor, channels: int) -> tf.Tensor:
    """Decode png/jpeg/bmp/gif bytes to uint8 [H, W, channels] (first frame of a GIF)."""
    if channels != 1:
        image = tf.io.decode_image(data, channels=channels, dtype=tf.uint8, expand_animations=False)
    else:
        # decode_image refuses channels=1 for BMP and GIF, so decode natively and convert.
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
        image = tf.cond(tf.shape(image)[-1] < 3, lambda: image[..., :1], lambda: _gray(image[..., :3]))
    image.set_shape([None, None, channels])
    return image


def _gray(rgb: tf.Tensor) -> tf.Tensor:
    # Rounded rather than truncated, so a grey image stored as RGB keeps its exact values.
    luma = tf.tensordot(tf.cast(rgb, tf.float32), tf.constant([0.2989, 0.587, 0.114]), axes=1)
    return tf.cast(tf.clip_by_value(tf.round(luma), 0, 255), tf.uint8)[..., None]


def read_image_file(path: str | Path) -> np.ndarray:
    """A png/jpg/bmp/gif file, or a `.npy` array ([h, w] or [h, w, c]; uint8, or floats in [0, 1]
    or [0, 255]), as uint8 [h, w, c] with c 1 or 3 (alpha dropped); what `predict` hooks read.

    A missing, empty or undecodable file (a directory, text named .png) is a one-line DataError
    naming it.
    """
    from tfzoo.common.errors import DataError, op_error_line

    path = str(path)
    if path.endswith(".npy"):
        try:
            array = np.load(path)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: not a readable .npy array ({err})") from None
        array = array[..., None] if array.ndim == 2 else array
        if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4):
            raise DataError(f"{path}: expected an image array [h, w] or [h, w, c], found shape {array.shape}")
        if array.dtype != np.uint8:
            scale = 255.0 if float(np.max(array, initial=0)) <= 1.0 else 1.0
            array = np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
        image = array
    else:
        if Path(path).is_dir():
            raise DataError(f"{path}: a directory, expected an image file")
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False).numpy()
        except tf.errors.NotFoundError:
            raise DataError(f"{path}: file not found") from None
        except tf.errors.OpError as err:
            raise DataError(f"{path}: not a readable png/jpg/bmp/gif image ({op_error_line(err.message)})") from None
    return image[..., :3] if image.shape[-1] == 4 else image[..., :1] if image.shape[-1] == 2 else image
