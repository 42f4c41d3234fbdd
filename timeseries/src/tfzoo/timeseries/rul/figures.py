"""timeseries.rul figures: predicted against true RUL, and RUL curves of single engines (headless, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfzoo.common.plots import new_figure as _figure
from tfzoo.common.plots import save_figure as _save


def predicted_vs_true(true: np.ndarray, predicted: np.ndarray, path, *, title: str) -> Path:
    """Scatter of predicted against true RUL with the identity line (points above it are late, i.e. costly)."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(true, predicted, s=14, alpha=0.7, color="tab:blue")
    top = float(max(np.max(true), np.max(predicted), 1.0)) * 1.05
    ax.plot([0, top], [0, top], color="tab:red", linewidth=1, label="perfect")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("true RUL (cycles)")
    ax.set_ylabel("predicted RUL (cycles)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return _save(fig, path)


def engine_curves(curves: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], path, *, title: str) -> Path:
    """One panel per engine: true and predicted RUL against the cycle. `curves` holds (id, cycle, true, pred)."""
    fig = _figure()
    cols = min(3, len(curves))
    rows = int(np.ceil(len(curves) / cols))
    for k, (unit, cycle, true, predicted) in enumerate(curves):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.plot(cycle, true, color="tab:green", label="true")
        ax.plot(cycle, predicted, color="tab:blue", label="predicted")
        ax.set_title(f"engine {unit}", fontsize=9)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
