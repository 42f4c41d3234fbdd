"""PNG figures for runs: curves, image grids, confusion matrices, scatters, panels.

Every function writes one PNG of a fixed size (``FIGSIZE`` at ``DPI``, i.e.
800 x 600 pixels) and returns its path. Figures are drawn through Matplotlib's
object API on an Agg canvas, so nothing needs a display and the user's pyplot
backend is left alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "CJK_FONTS",
    "DPI",
    "FIGSIZE",
    "cjk_font",
    "confusion",
    "curves",
    "grid_array",
    "image_grid",
    "moving_average",
    "new_figure",
    "panel",
    "save_figure",
    "scatter2d",
]

FIGSIZE = (8.0, 6.0)
DPI = 100
_RESERVED = ("step", "split", "stage", "time")


# Fonts that draw hanzi, in order of preference; matplotlib's own DejaVu Sans draws none.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "AR PL UMing CN", "SimHei", "Microsoft YaHei", "PingFang SC")
_CJK_WARNED: list[bool] = []


def cjk_font() -> str | None:
    """The first installed font family of CJK_FONTS, or None with one warning per process (figures then
    show hanzi as their code points: a caller checks for None)."""
    import warnings

    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in installed:
            return family
    if not _CJK_WARNED:
        _CJK_WARNED.append(True)
        warnings.warn("no CJK font installed (e.g. apt-get install fonts-noto-cjk): figures write hanzi as "
                      "code points", stacklevel=2)
    return None


def new_figure() -> Figure:
    """A FIGSIZE figure on its own Agg canvas (no display, the user's pyplot backend untouched)."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, out_png) -> Path:
    """Write `fig` as a PNG at DPI, creating the folder; returns the path."""
    path = Path(out_png)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No bbox_inches="tight": it would change the pixel size from plot to plot.
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _as_images(images) -> np.ndarray:
    """Stack to (N, H, W) or (N, H, W, C) floats in [0, 1] for imshow."""
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, 1|3|4), got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("no images to plot")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    # Generator outputs are often in [-1, 1]: rescale anything outside [0, 1].
    if lo < 0.0 or hi > 1.0:
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return arr


def _check_titles(titles, n: int) -> None:
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")


def moving_average(values, window: int = 10) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    values = np.asarray(values, np.float64)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def curves(metrics_jsonl, out_png, *, window: int = 10) -> Path:
    """Train and val curves of every numeric key in ``metrics.jsonl``.

    Each line is ``{"step": int, "split": "train"|"val"|..., <name>: value}``, read by
    ``tfzoo.common.logging.read_metrics`` (a bad line is a DataError naming it).
    One subplot per metric; each split with more than ``window`` points is
    drawn raw (faint) and as a moving average over ``window`` points, shorter
    ones (typically val) as plain markers and lines.
    """
    # Imported here: tfzoo.common.logging brings TensorFlow, which drawing alone does not need.
    from tfzoo.common.logging import read_metrics

    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    path = Path(metrics_jsonl)
    for record in read_metrics(path):
        step, split = float(record["step"]), str(record.get("split", "train"))
        for key, value in record.items():
            if key in _RESERVED or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            series[key][split].append((step, float(value)))
    if not series:
        raise ValueError(f"{path}: no numeric metrics to plot")
    fig = new_figure()
    cols = math.ceil(math.sqrt(len(series)))
    rows = math.ceil(len(series) / cols)
    for i, (name, splits) in enumerate(sorted(series.items())):
        ax = fig.add_subplot(rows, cols, i + 1)
        for j, (split, points) in enumerate(sorted(splits.items())):
            points.sort()
            steps, vals = zip(*points, strict=True)
            color = f"C{j}"
            if len(vals) > window:
                ax.plot(steps, vals, color=color, alpha=0.3, linewidth=0.8)
                ax.plot(steps, moving_average(vals, window), color=color, label=split)
            else:
                # A few evaluations: an average would lag far behind, so draw them as they are.
                ax.plot(steps, vals, color=color, marker="o", markersize=3, label=split)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, out_png)


def _grid_shape(n: int, rows: int | None, cols: int | None) -> tuple[int, int]:
    """Fill in a missing rows or cols (near-square when both are missing)."""
    cols = cols or (math.ceil(n / rows) if rows else math.ceil(math.sqrt(n)))
    rows = rows or math.ceil(n / cols)
    if rows * cols < n:
        raise ValueError(f"a {rows}x{cols} grid cannot hold {n} images")
    return rows, cols


def grid_array(images, *, rows: int | None = None, cols: int | None = None, border: int = 5) -> np.ndarray:
    """Tile images into one array with ``border`` white pixels around each (实例90)."""
    imgs = _as_images(images)
    rows, cols = _grid_shape(len(imgs), rows, cols)
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    h, w = imgs.shape[1:3]
    canvas = np.ones((border + rows * (h + border), border + cols * (w + border), *imgs.shape[3:]), np.float32)
    for i, img in enumerate(imgs):
        r, c = divmod(i, cols)
        y, x = border + r * (h + border), border + c * (w + border)
        canvas[y : y + h, x : x + w] = img
    return canvas


def image_grid(images, out_png, *, rows=None, cols=None, titles=None, border: int = 5) -> Path:
    """A rows x cols grid of images (default: near-square), optionally titled.

    Without titles the images are tiled with ``border``-pixel white gaps
    (:func:`grid_array`); with titles each image gets its own axes.
    """
    imgs = _as_images(images)
    _check_titles(titles, len(imgs))
    fig = new_figure()
    if titles is None:
        ax = fig.add_axes((0, 0, 1, 1))
        grid = grid_array(imgs, rows=rows, cols=cols, border=border)
        ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.axis("off")
        return save_figure(fig, out_png)
    rows, cols = _grid_shape(len(imgs), rows, cols)
    return _titled(fig, imgs, titles, rows, cols, out_png)


def panel(images, titles, out_png) -> Path:
    """One row of images side by side, each with its title (e.g. a score)."""
    imgs = _as_images(images)
    _check_titles(titles, len(imgs))
    return _titled(new_figure(), imgs, titles, 1, len(imgs), out_png)


def _titled(fig, imgs, titles, rows: int, cols: int, out_png) -> Path:
    """Images in a rows x cols layout, each under its own title."""
    for i, (img, title) in enumerate(zip(imgs, titles, strict=True)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(str(title), fontsize="small")
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, out_png)


def confusion(cm, names, out_png) -> Path:
    """A confusion matrix (rows true, columns predicted) with counts in the cells."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    if len(names) != len(cm):
        raise ValueError(f"got {len(names)} names for {len(cm)} classes")
    fig = new_figure()
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, [str(n) for n in names], rotation=45, ha="right")
    ax.set_yticks(ticks, [str(n) for n in names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(cm) <= 20:  # beyond that the numbers are unreadable
        threshold = cm.max() / 2 if cm.size else 0
        for (r, c), v in np.ndenumerate(cm):
            text = f"{v:g}" if np.issubdtype(cm.dtype, np.floating) else str(v)
            ax.text(c, r, text, ha="center", va="center", fontsize="small",
                    color="white" if v > threshold else "black")
    fig.tight_layout()
    return save_figure(fig, out_png)


def scatter2d(points, labels, out_png, *, names=None) -> Path:
    """2-D points (e.g. autoencoder codes) coloured by class label."""
    points = np.asarray(points, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {points.shape}")
    if len(labels) != len(points):
        raise ValueError(f"got {len(labels)} labels for {len(points)} points")
    classes = np.unique(labels)
    if names is not None and len(names) != len(classes):
        raise ValueError(f"got {len(names)} names for {len(classes)} classes")
    fig = new_figure()
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for i, cls in enumerate(classes):
        sel = labels == cls
        label = str(names[i]) if names is not None else str(cls)
        ax.scatter(points[sel, 0], points[sel, 1], s=8, color=cmap(i % cmap.N), label=label)
    if len(classes) <= 20:
        ax.legend(fontsize="small", markerscale=2)
    fig.tight_layout()
    return save_figure(fig, out_png)
