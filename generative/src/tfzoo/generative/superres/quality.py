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

__all__ = ["STYLES", "BandScores", "book_psnr_y", "book_ssim", "panel_titles", "score_table", "scores", "write_panel"]


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


class BandScores:
    """`scores` of one image fed in bands of rows (top to bottom), for images too large to hold whole.

    PSNR and Y-PSNR sum squared errors; standard SSIM sums the SSIM map, carrying the last
    filter-size - 1 luma rows into the next band; book SSIM sums the per-channel moments (exact:
    the values are on the 0..255 grid). Equal to `scores` of the whole image up to float rounding.
    """

    SSIM_FILTER = 11  # tf.image.ssim's window

    def __init__(self, *, height: int, width: int, border: int, style: str = "standard") -> None:
        if style not in STYLES:
            from tfzoo.common.errors import ConfigError

            raise ConfigError(f"unknown metric_style {style!r}; choose one of {', '.join(STYLES)}")
        self.rows, self.cols = slice(border, height - border), slice(border, width - border)
        self.style, self.height = style, height
        self.sums = {"rgb": [0.0, 0], "y": [0.0, 0], "ssim": [0.0, 0]}
        self.carry: tuple[np.ndarray, np.ndarray] | None = None
        self.moments: np.ndarray | None = None  # book SSIM: per channel n, Σa, Σb, Σa², Σb², Σab

    def add(self, reference: np.ndarray, test: np.ndarray, *, top: int) -> None:
        """Score rows [top, top + n) of the image ([0, 1] floats or uint8 [n, W, C])."""
        lo, hi = max(self.rows.start, top), min(self.rows.stop, top + len(reference))
        if hi <= lo:
            return
        a = _q(reference[lo - top:hi - top, self.cols])
        b = _q(test[lo - top:hi - top, self.cols])
        self._sse("rgb", a, b)
        if self.style == "book":
            self._sse("y", metrics.luma(a, weights=BOOK_LUMA), metrics.luma(b, weights=BOOK_LUMA))
            flat_a, flat_b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
            moments = np.stack([np.full(a.shape[-1], float(len(flat_a))), flat_a.sum(0), flat_b.sum(0),
                                (flat_a**2).sum(0), (flat_b**2).sum(0), (flat_a * flat_b).sum(0)])
            self.moments = moments if self.moments is None else self.moments + moments
            return
        ya, yb = metrics.luma(a), metrics.luma(b)
        self._sse("y", np.clip(np.round(ya), 0, 255), np.clip(np.round(yb), 0, 255))
        ya, yb = ya.astype(np.float32), yb.astype(np.float32)
        if self.carry is not None:
            ya, yb = np.concatenate([self.carry[0], ya]), np.concatenate([self.carry[1], yb])
        if len(ya) >= self.SSIM_FILTER:
            ssim_map = tf.image.ssim(ya, yb, max_val=255.0, return_index_map=True)
            self.sums["ssim"][0] += float(np.sum(np.asarray(ssim_map, np.float64)))
            self.sums["ssim"][1] += int(np.size(ssim_map))
        keep = self.SSIM_FILTER - 1
        self.carry = (ya[-keep:], yb[-keep:])

    def _sse(self, key: str, a: np.ndarray, b: np.ndarray) -> None:
        self.sums[key][0] += float(np.sum((a - b) ** 2))
        self.sums[key][1] += a.size

    def result(self) -> dict[str, float]:
        """{"psnr", "psnr_y", "ssim"} over every row added."""
        def psnr(key: str) -> float:
            sse, n = self.sums[key]
            return float("inf") if sse == 0 else float(10.0 * np.log10(255.0**2 / (sse / n)))

        if self.style == "book":
            n, sa, sb, saa, sbb, sab = self.moments
            mu1, mu2 = sa / n, sb / n
            var1, var2 = (saa - n * mu1**2) / (n - 1), (sbb - n * mu2**2) / (n - 1)
            cov = (sab - n * mu1 * mu2) / (n - 1)
            c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
            ssim = float(np.mean((2 * mu1 * mu2 + c1) * (2 * cov + c2) / (mu1**2 + mu2**2 + c1) / (var1 + var2 + c2)))
        else:
            total, count = self.sums["ssim"]
            ssim = total / count
        return {"psnr": psnr("rgb"), "psnr_y": psnr("y"), "ssim": ssim}


def panel_titles(lr_shape, scale: int, scores_by_method: dict[str, dict] | None, *, reduced: int = 1) -> list[str]:
    """Titles of [original |] LR | nearest | bilinear | bicubic | model, with scores when there is a reference."""
    titles = (["original"] if scores_by_method else []) + [f"LR {lr_shape[1]}x{lr_shape[0]}"]
    titles += [*pipeline.BASELINES, f"model x{scale}"]
    if reduced > 1:
        titles[0] += f" (shown at 1/{reduced})"
    if scores_by_method:
        for i, method in enumerate((*pipeline.BASELINES, "model"), start=2):
            s = scores_by_method[method]
            titles[i] += f"\n{s['psnr']:.2f} / Y {s['psnr_y']:.2f} dB\nSSIM {s['ssim']:.3f}"
    return titles


def score_table(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per-method means over the rows `{"image": i, method: {psnr, psnr_y, ssim}, ...}`."""
    methods = [k for k in rows[0] if k != "image"] if rows else []
    return {m: {s: round(float(np.mean([row[m][s] for row in rows])), 6 if s == "feature_distance" else 4)
                for s in rows[0][m]} for m in methods}


def write_panel(lr: np.ndarray, sr: np.ndarray, scale: int, out_png, *, reference=None, border: int = 0,
                style: str = "standard") -> Path:
    """[original |] LR | nearest | bilinear | bicubic | model, titled with PSNR / Y-PSNR / SSIM when a reference is given.

    The LR image is drawn at its own size on a white canvas of the HR size, so its smallness shows.
    Whole images: large ones go through `bands.process`, which draws the panel from thumbnails.
    """
    from tfzoo.common import plots

    canvas = np.ones_like(sr)
    canvas[: lr.shape[0], : lr.shape[1]] = lr
    outputs = [np.asarray(pipeline.upsample(tf.constant(lr, tf.float32), scale, m)) for m in pipeline.BASELINES]
    outputs.append(sr)
    images = ([np.asarray(reference, np.float32)] if reference is not None else []) + [canvas, *outputs]
    scored = None
    if reference is not None:
        scored = {m: scores(reference, out, border=border, style=style)
                  for m, out in zip((*pipeline.BASELINES, "model"), outputs, strict=True)}
    titles = panel_titles(lr.shape, scale, scored)
    return plots.panel(np.stack([np.asarray(im, np.float32) for im in images]), titles, out_png)
