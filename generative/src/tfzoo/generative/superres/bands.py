"""Whole images through a generator in bounded memory, for `predict` and `evaluate`.

An image whose HR size is at most BAND_PIXELS and PANEL_SIDE a side goes through in one piece. A
larger one goes through in bands of HR rows: the LR image is kept as uint8, and each band's
baselines and model output (the model in tiles with enough context, `tiles.upscale_rows`) are
scored (`quality.BandScores`), streamed to the output PNG and shrunk into the panel's thumbnails,
so memory is the input, its uint8 LR and one band, whatever the size of the photo. Both paths give
the same output and scores up to float rounding (tested).

    result = process(generator, image, scale=2, mode="reference", channels=3, panel_png=path)
    result["scores"]["model"]["psnr_y"]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import UserError
from tfzoo.generative.images import fit_image

from . import data as pipeline
from .quality import BandScores, panel_titles, scores, write_panel
from .tiles import PngWriter, reach, reduce, unit, upscale_rows

BAND_PIXELS = 2**21  # HR pixels of one band (2 Mpx: a few tens of MB per float copy)
PANEL_SIDE = 1024  # the panel's images are shrunk to at most this many pixels a side
BASELINE_CONTEXT = 3  # LR rows the interpolation baselines read beyond a band (bicubic: 2)
DEGRADE_CONTEXT = 4  # LR rows of context for the antialiased downscaling (bicubic kernel: 2 LR pixels)
METHODS = (*pipeline.BASELINES, "model")

__all__ = ["BAND_PIXELS", "PANEL_SIDE", "process"]


def process(model, image: np.ndarray, *, scale: int, mode: str = "upsample", channels: int,
            degrade: str = "bicubic", style: str = "standard", features=None, out_png: Path | None = None,
            panel_png: Path | None = None, band_pixels: int = BAND_PIXELS, panel_side: int = PANEL_SIDE,
            window: int = 0) -> dict[str, Any]:
    """Upscale one whole image (uint8 [H, W, C]) and, in "reference" mode, score every method against it.

    mode "upsample": `image` is the LR input. mode "reference": `image` (cropped to a multiple of
    `scale`) is the HR reference; it is degraded first, then nearest, bilinear, bicubic and the model
    are scored (and compared in `features` space when a feature network is given). Writes the
    model's output to `out_png` and the comparison panel to `panel_png` when given. Returns
    {"lr_shape", "hr_shape", "scores"?, "feature_distance"?}.
    """
    r = scale
    if mode == "reference":
        height, width = image.shape[0] // r * r, image.shape[1] // r * r
        if min(height, width) < r:
            raise UserError(f"{image.shape[0]}x{image.shape[1]} is too small to downscale by {r}")
    else:
        height, width = image.shape[0] * r, image.shape[1] * r
    if height * width <= band_pixels and max(height, width) <= panel_side:
        return _whole(model, image, scale=r, mode=mode, channels=channels, degrade=degrade, style=style,
                      features=features, out_png=out_png, panel_png=panel_png)
    return _banded(model, image, scale=r, mode=mode, channels=channels, degrade=degrade, style=style,
                   features=features, out_png=out_png, panel_png=panel_png, band_pixels=band_pixels,
                   panel_side=panel_side, window=window, size=(height, width))


# ----- one piece --------------------------------------------------------------------------------------------
def _whole(model, image, *, scale, mode, channels, degrade, style, features, out_png, panel_png) -> dict[str, Any]:
    r = scale
    fitted = np.asarray(fit_image(image, (*image.shape[:2], channels)))
    reference = None
    if mode == "reference":
        reference = np.asarray(pipeline.modcrop(tf.constant(fitted), r))
        lr = np.asarray(pipeline.degrade(tf.constant(reference), r, degrade))
    else:
        lr = np.round(fitted * 255.0) / 255.0
    sr = upscale_rows(model, lr, scale=r, top=0, bottom=lr.shape[0])
    result: dict[str, Any] = {"lr_shape": list(lr.shape), "hr_shape": list(sr.shape)}
    if out_png is not None:
        Path(out_png).write_bytes(tf.io.encode_png(tf.cast(np.round(sr * 255.0), tf.uint8)).numpy())
    if panel_png is not None:
        write_panel(lr, sr, r, panel_png, reference=reference, border=r, style=style)
    if reference is not None:
        outputs = {m: np.asarray(pipeline.upsample(tf.constant(lr, tf.float32), r, m)) for m in pipeline.BASELINES}
        outputs["model"] = sr
        result["scores"] = {m: scores(reference, out, border=r, style=style) for m, out in outputs.items()}
        if features is not None:
            target = np.asarray(features(_rgb(tf.constant(reference[None]), features)))
            result["feature_distance"] = {
                m: float(np.mean((np.asarray(features(_rgb(tf.constant(out[None], tf.float32), features))) - target)
                                 ** 2)) for m, out in outputs.items()}
    return result


# ----- in bands ------------------------------------------------------------------------------------------------
def _banded(model, image, *, scale, mode, channels, degrade, style, features, out_png, panel_png, band_pixels,
            panel_side, window, size) -> dict[str, Any]:
    r, (height, width) = scale, size
    reference = mode == "reference"
    lr = _lr(image, scale=r, reference=reference, channels=channels, degrade=degrade, size=size,
             band_pixels=band_pixels)
    f_margin, f_stride = reach(features) if (features is not None and reference) else (0, 1)
    factor = math.ceil(max(height, width) / panel_side)  # the panel's shrink
    step = math.lcm(r, factor, f_stride)  # bands start on the LR grid, the thumbnails' blocks and D's pooling
    band = max(step, band_pixels // width // step * step)
    f_margin = -(-f_margin // math.lcm(r, f_stride)) * math.lcm(r, f_stride)
    accumulators = {m: BandScores(height=height, width=width, border=r, style=style) for m in METHODS}
    distances = {m: [0.0, 0] for m in METHODS}
    thumbs: dict[str, list[np.ndarray]] = {name: [] for name in ("original", "lr", *METHODS)}
    png = PngWriter(out_png, width=width, height=height, channels=lr.shape[2]) if out_png is not None else None
    try:  # a failure leaves no half-written PNG behind
        for top in range(0, height, band):
            bottom = min(top + band, height)
            lo, hi = max(top - f_margin, 0), min(bottom + f_margin, height)  # the feature network's context
            outputs = {m: _baseline_rows(lr, m, scale=r, top=lo, bottom=hi) for m in pipeline.BASELINES}
            outputs["model"] = upscale_rows(model, lr, scale=r, top=lo // r, bottom=hi // r, window=window)
            core = slice(top - lo, bottom - lo)
            if png is not None:
                png.write(np.round(np.clip(outputs["model"][core], 0.0, 1.0) * 255.0).astype(np.uint8))
            if reference:
                ref = unit(np.asarray(fit_image(image[lo:hi, :width], (hi - lo, width, channels))))
                for m in METHODS:
                    accumulators[m].add(ref[core], outputs[m][core], top=top)
                if features is not None:
                    _feature_sums(features, ref, outputs, distances, rows=(top - lo, bottom - lo), stride=f_stride,
                                  margin=f_margin, window=window)
                thumbs["original"].append(reduce(ref[core], factor))
            canvas = np.ones((bottom - top, width, lr.shape[2]), np.float32)  # LR at its own size on white
            canvas[: max(0, min(bottom, lr.shape[0]) - top), : lr.shape[1]] = unit(lr[top:bottom])
            thumbs["lr"].append(reduce(canvas, factor))
            for m in METHODS:
                thumbs[m].append(reduce(outputs[m][core], factor))
    except BaseException:
        if png is not None:
            png.abort()
        raise
    if png is not None:
        png.close()
    result: dict[str, Any] = {"lr_shape": list(lr.shape), "hr_shape": [height, width, lr.shape[2]]}
    scored = None
    if reference:
        scored = result["scores"] = {m: accumulators[m].result() for m in METHODS}
        if features is not None:
            result["feature_distance"] = {m: total / count for m, (total, count) in distances.items()}
    if panel_png is not None:
        from tfzoo.common import plots

        names = (["original"] if reference else []) + ["lr", *METHODS]
        images = np.stack([np.concatenate(thumbs[name]) for name in names])
        plots.panel(images, panel_titles(lr.shape, r, scored, reduced=factor), panel_png)
    return result


def _lr(image, *, scale, reference, channels, degrade, size, band_pixels) -> np.ndarray:
    """The LR image as uint8 (it is on the 8-bit grid): the input itself, or the degraded reference, in bands."""
    r, (height, width) = scale, size
    lr = np.empty((height // r, width // r, channels), np.uint8)
    rows = max(1, band_pixels // width)
    for top in range(0, height // r, rows):
        bottom = min(top + rows, height // r)
        if not reference:
            part = fit_image(image[top:bottom], (bottom - top, width // r, channels))
        else:
            lo, hi = max(top - DEGRADE_CONTEXT, 0), min(bottom + DEGRADE_CONTEXT, height // r)
            hr = fit_image(image[lo * r:hi * r, :width], (hi * r - lo * r, width, channels))
            part = pipeline.degrade(hr, r, degrade)[top - lo:bottom - lo]
        lr[top:bottom] = np.round(np.asarray(part) * 255.0).astype(np.uint8)
    return lr


def _baseline_rows(lr: np.ndarray, method: str, *, scale: int, top: int, bottom: int) -> np.ndarray:
    """HR rows [top, bottom) of `pipeline.upsample(lr, scale, method)`, reading only the LR rows they need."""
    r = scale
    lo, hi = max(top // r - BASELINE_CONTEXT, 0), min(-(-bottom // r) + BASELINE_CONTEXT, lr.shape[0])
    up = np.asarray(pipeline.upsample(tf.constant(unit(lr[lo:hi])), r, method))
    return up[top - lo * r:bottom - lo * r]


def _feature_sums(features, ref, outputs, distances, *, rows, stride, margin, window) -> None:
    """Add each method's squared feature error over the core rows to `distances`, in column tiles of at
    most `window` pixels (default 1024) with `margin` pixels of context."""
    f, (a, b) = stride, rows
    width = ref.shape[1]
    core = max(f, (max(window or 1024, 2 * margin + 4 * f) - 2 * margin) // f * f)
    for left in range(0, width, core):
        right = min(left + core, width)
        lo, hi = max(left - margin, 0), min(right + margin, width)
        keep = (slice(a // f, b // f), slice((left - lo) // f, (right - lo) // f))
        target = np.asarray(features(_rgb(tf.constant(ref[None, :, lo:hi]), features)))[0][keep]
        for m, out in outputs.items():
            got = np.asarray(features(_rgb(tf.constant(out[None, :, lo:hi]), features)))[0][keep]
            distances[m][0] += float(np.sum((got.astype(np.float64) - target) ** 2))
            distances[m][1] += got.size


def _rgb(images: tf.Tensor, features) -> tf.Tensor:
    """Grey images repeated to 3 channels when the feature network wants RGB (VGG19)."""
    want = features.input_shape[-1]
    return tf.repeat(images, want, axis=-1) if images.shape[-1] == 1 and want == 3 else images
