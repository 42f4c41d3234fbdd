"""Encoded-image helpers: a cheap PIL check at resolve time and the tf.data decoder."""

from __future__ import annotations

import io

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
