"""Scores and comparison panels of generative.superres.

`metric_style="standard"` uses tfzoo.generative.evaluation (uint8-quantised PSNR on RGB, PSNR on BT.601
luma, Gaussian SSIM on luma); `"book"` uses the book's formulas (S0 L23166-L23200): Y = 0.3R + 0.59G + 0.11B
and one global SSIM per channel, for comparison with its printed numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common import metrics
from tfzoo.generative import evaluation

from . import data as pipeline

STYLES = ("standard", "book")

__all__ = ["STYLES", "book_psnr_y", "book_ssim", "score_table", "scores", "write_panel"]


_q = evaluation.quantised  # [0, 1] floats or uint8 -> float64 on the 0..255 grid
BOOK_LUMA = (0.3, 0.59, 0.11)  # batch_y_psnr's weights, not BT.601's


def book_psnr_y(reference, test, *, border: int = 0) -> float:
    """The book's Y-PSNR (batch_y_psnr): Y = 0.3R + 0.59G + 0.11B, left unrounded, then PSNR against 255.

    The book writes 20·log10(255 / √MSE), the same number as the common 10·log10(255² / MSE).
    """
    return metrics.psnr(metrics.luma(_q(reference), weights=BOOK_LUMA), metrics.luma(_q(test), weights=BOOK_LUMA),
                        max_val=255.0, border=border)


def book_ssim(reference, test, *, border: int = 0) -> float:
    """The book's SSIM: one global window per channel (batch_ssim), averaged over channels."""
    a, b = metrics.crop_border(_q(reference), border), metrics.crop_border(_q(test), border)
    n = a.shape[0] * a.shape[1]
    mu1, mu2 = a.mean((0, 1)), b.mean((0, 1))
    var1, var2 = a.var((0, 1), ddof=1), b.var((0, 1), ddof=1)
    cov = ((a - mu1) * (b - mu2)).mean((0, 1)) * n / (n - 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean((2 * mu1 * mu2 + c1) * (2 * cov + c2) / (mu1**2 + mu2**2 + c1) / (var1 + var2 + c2)))


def scores(reference, test, *, border: int, style: str = "standard") -> dict[str, float]:
    """PSNR, Y-PSNR and SSIM of one image [H, W, C] ([0, 1] floats or uint8) against its reference."""
    if style not in STYLES:
        from tfzoo.common.errors import ConfigError

        raise ConfigError(f"unknown metric_style {style!r}; choose one of {', '.join(STYLES)}")
    psnr = evaluation.psnr(reference, test, border=border)
    if style == "book":
        return {"psnr": psnr, "psnr_y": book_psnr_y(reference, test, border=border),
                "ssim": book_ssim(reference, test, border=border)}
    return {"psnr": psnr, "psnr_y": evaluation.psnr_y(reference, test, border=border),
            "ssim": evaluation.ssim(reference, test, border=border)}


def score_table(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per-method means over the rows `{"image": i, method: {psnr, psnr_y, ssim}, ...}`."""
    methods = [k for k in rows[0] if k != "image"] if rows else []
    return {m: {s: round(float(np.mean([row[m][s] for row in rows])), 6 if s == "feature_distance" else 4)
                for s in rows[0][m]} for m in methods}


def write_panel(lr: np.ndarray, sr: np.ndarray, scale: int, out_png, *, reference=None, border: int = 0,
                style: str = "standard") -> Path:
    """[original |] LR | nearest | bilinear | bicubic | model, titled with PSNR / Y-PSNR / SSIM when a reference is given.

    The LR image is drawn at its own size on a white canvas of the HR size, so its smallness shows.
    """
    from tfzoo.common import plots

    height, width = sr.shape[:2]
    canvas = np.ones_like(sr)
    canvas[: lr.shape[0], : lr.shape[1]] = lr
    images, titles = [], []
    if reference is not None:
        images.append(np.asarray(reference, np.float32))
        titles.append("original")
    images.append(canvas)
    titles.append(f"LR {lr.shape[1]}x{lr.shape[0]}")
    for method in pipeline.BASELINES:
        images.append(np.asarray(pipeline.upsample(tf.constant(lr, tf.float32), scale, method)))
        titles.append(method)
    images.append(sr)
    titles.append(f"model x{scale}")
    if reference is not None:
        for i in range(2 if reference is not None else 1, len(images)):
            s = scores(reference, images[i], border=border, style=style)
            titles[i] += f"\n{s['psnr']:.2f} / Y {s['psnr_y']:.2f} dB\nSSIM {s['ssim']:.3f}"
    return plots.panel(np.stack([np.asarray(im, np.float32) for im in images]), titles, out_png)
