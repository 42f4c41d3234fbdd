"""Headless forecast figures: observed series, in-sample fit, forecast mean with a ±1σ band."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def plot_forecast(
    path: str | Path,
    *,
    times: np.ndarray,
    observed: np.ndarray,
    forecast_times: np.ndarray | None = None,
    forecast_mean: np.ndarray | None = None,
    forecast_std: np.ndarray | None = None,
    fit_mean: np.ndarray | None = None,
    truth_times: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    train_end=None,
    changepoints: Sequence = (),
    names: Sequence[str] = (),
    title: str = "",
) -> Path:
    """Write one panel per feature and return the PNG path.

    Observed values are blue, the in-sample one-step mean orange, the forecast mean red with a
    grey ±1σ band edged in green; a dashed line marks the end of training and dotted lines mark
    known changepoints. Arrays are `[T]` or `[T, F]`; `forecast_std` has the forecast's shape.
    Always drawn on an Agg canvas: no window opens and nothing blocks.
    """
    observed = _columns(observed)
    features = observed.shape[1]
    fig = Figure(figsize=(10.0, 2.6 * features + 0.8), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(features, 1, sharex=True, squeeze=False)[:, 0]
    for f, ax in enumerate(axes):
        ax.plot(times, observed[:, f], color="tab:blue", lw=1.0, label="observed")
        if fit_mean is not None:
            ax.plot(times[: len(fit_mean)], _columns(fit_mean)[:, f], color="tab:orange", lw=0.8, label="in-sample mean")
        if truth is not None and truth_times is not None:
            ax.plot(truth_times, _columns(truth)[:, f], color="tab:blue", lw=1.0, ls="--", label="truth")
        if forecast_mean is not None and forecast_times is not None:
            mean = _columns(forecast_mean)[:, f]
            if forecast_std is not None:
                std = _columns(forecast_std)[:, f]
                ax.fill_between(forecast_times, mean - std, mean + std, facecolor="0.8", edgecolor="tab:green",
                                label="±1σ")
            ax.plot(forecast_times, mean, color="tab:red", lw=1.2, label="forecast")
        if train_end is not None:
            ax.axvline(train_end, color="k", ls="--", lw=0.8, label="end of training")
        for point in changepoints:
            ax.axvline(point, color="0.4", ls=":", lw=0.8)
        ax.set_ylabel(names[f] if f < len(names) else f"feature {f}")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _columns(values) -> np.ndarray:
    values = np.asarray(values, np.float64)
    return values[:, None] if values.ndim == 1 else values
