"""Large images in bounded memory: networks over tiles with enough context, a streaming PNG writer
and block-mean thumbnails.

An output pixel of a convolutional network depends on the input pixels within `reach(model)` of it.
A tile computed with that much margin around it therefore equals the same region of a whole-image
pass (up to float rounding), and tiles aligned to the network's stride keep its pooling grid:

    sr = upscale_rows(generator, lr, scale=4, top=0, bottom=lr.shape[0])   # HR rows of LR rows [top, bottom)
    with PngWriter(path, width=W, height=H, channels=3) as png:
        png.write(rows_uint8)                                              # band after band
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .model import PixelShuffle

# Side, in HR pixels, of one generator window: the x4 generator's HR feature maps are 16x the LR area.
WINDOW_HR = 1024

__all__ = ["WINDOW_HR", "PngWriter", "reach", "reduce", "unit", "upscale_rows"]


def reach(model: keras.Model) -> tuple[int, int]:
    """(radius, stride) of a convolutional model: how many input pixels on each side one output pixel can
    depend on (an upper bound: every conv and pool of the graph counted as if in a chain), and how many
    input pixels one output pixel spans (pooling and strides; 1 for a generator, whose output is finer)."""
    radius, scale = _walk(model, 0.0, 1.0)
    return math.ceil(radius), max(1, round(scale))


def _walk(model: keras.Model, radius: float, scale: float) -> tuple[float, float]:
    """Accumulate the radius in input pixels; `scale` is input pixels per pixel of the current layer."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            radius, scale = _walk(layer, radius, scale)
        elif isinstance(layer, PixelShuffle):
            scale /= layer.scale
        elif hasattr(layer, "kernel_size"):  # Conv2D and its kin
            dilation = max(getattr(layer, "dilation_rate", (1,)))
            radius += max(layer.kernel_size) // 2 * dilation * scale
            scale *= max(layer.strides)
        elif hasattr(layer, "pool_size"):  # MaxPooling2D, AveragePooling2D
            radius += (max(layer.pool_size) - 1) * scale
            scale *= max(layer.strides)
    return radius, scale


def unit(pixels: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] (the same division as `images.to_unit`); floats pass as float32."""
    return pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else pixels.astype(np.float32)


def upscale_rows(model: keras.Model, lr: np.ndarray, *, scale: int, top: int, bottom: int,
                 window: int = 0) -> np.ndarray:
    """The generator's HR output (float32) for LR rows [top, bottom) of the whole LR image `lr` [h, w, C].

    Windows of at most `window` LR pixels a side (default WINDOW_HR / scale) go through the model; each
    keeps `reach(model)` pixels of real context beyond the part it contributes, so the result equals
    one pass over the whole image. An image no larger than one window goes through in one call.
    """
    h, w = lr.shape[:2]
    r = scale
    margin = reach(model)[0]
    side = max(window or WINDOW_HR // r, 2 * margin + 8)
    if h <= side and w <= side:
        return np.asarray(model(unit(lr)[None], training=False)[0])[top * r:bottom * r]
    core = side - 2 * margin
    out = np.empty(((bottom - top) * r, w * r, lr.shape[2]), np.float32)
    for y in range(top, bottom, core):
        y1 = min(y + core, bottom)
        y_lo, y_hi = max(y - margin, 0), min(y1 + margin, h)
        for x in range(0, w, core):
            x1 = min(x + core, w)
            x_lo, x_hi = max(x - margin, 0), min(x1 + margin, w)
            sr = np.asarray(model(unit(lr[y_lo:y_hi, x_lo:x_hi])[None], training=False)[0])
            out[(y - top) * r:(y1 - top) * r, x * r:x1 * r] = sr[(y - y_lo) * r:(y1 - y_lo) * r,
                                                                (x - x_lo) * r:(x1 - x_lo) * r]
    return out


def reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """Block means of `factor` x `factor` pixels (a partial last block is dropped): a bounded thumbnail."""
    image = np.asarray(image, np.float32)
    if factor == 1:
        return image
    # Average pooling over whole blocks: the same means as a reshape, several times faster on big bands.
    return np.asarray(tf.nn.avg_pool2d(image[None], factor, factor, "VALID")[0])


class PngWriter:
    """An 8-bit grey or RGB PNG written band by band, so the whole image never has to be in memory.

    The file appears under its name only when complete (written beside it, then renamed).
    """

    def __init__(self, path: str | Path, *, width: int, height: int, channels: int) -> None:
        if channels not in (1, 3):
            raise ValueError(f"PNG of {channels} channels; expected 1 or 3")
        self.path, self.width, self.height, self.channels = Path(path), width, height, channels
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed by close()
        self.file.write(b"\x89PNG\r\n\x1a\n")
        colour = 0 if channels == 1 else 2
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
        self.compressor = zlib.compressobj(1)  # fast: these files are large, and photos compress little more at 6
        self.rows = 0

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self.file.write(struct.pack(">I", len(data)) + kind + data)
        self.file.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    def write(self, rows: np.ndarray) -> None:
        """Append uint8 rows [n, width, channels]."""
        rows = np.asarray(rows)
        if rows.dtype != np.uint8 or rows.shape[1:] != (self.width, self.channels):
            raise ValueError(f"rows {rows.dtype} {rows.shape}; expected uint8 [n, {self.width}, {self.channels}]")
        filtered = np.zeros((len(rows), 1 + self.width * self.channels), np.uint8)  # filter byte 0: none
        filtered[:, 1:] = rows.reshape(len(rows), -1)
        data = self.compressor.compress(filtered.tobytes())
        if data:
            self._chunk(b"IDAT", data)
        self.rows += len(rows)

    def close(self) -> Path:
        """Finish the file; it must have received exactly `height` rows."""
        self._chunk(b"IDAT", self.compressor.flush())
        self._chunk(b"IEND", b"")
        self.file.close()
        if self.rows != self.height:
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: {self.rows} rows written, expected {self.height}")
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        self.file.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
