"""Forecast metrics on numpy arrays (NaN targets are ignored), each tested against hand-computed values."""

from __future__ import annotations

import numpy as np

from tfzoo.common.errors import DataError


def _pair(y, yhat) -> tuple[np.ndarray, np.ndarray]:
    y, yhat = np.asarray(y, np.float64), np.asarray(yhat, np.float64)
    if y.shape != yhat.shape:
        raise ValueError(f"targets {y.shape} and predictions {yhat.shape} differ in shape")
    keep = ~np.isnan(y)
    return y[keep], yhat[keep]


def mse(y, yhat) -> float:
    """Mean squared error."""
    y, yhat = _pair(y, yhat)
    return float(np.mean((y - yhat) ** 2))


def rmse(y, yhat) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(y, yhat)))


def mae(y, yhat) -> float:
    """Mean absolute error."""
    y, yhat = _pair(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def seasonal_naive_mae(insample, m: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast y[t] = y[t - m]: MASE's denominator."""
    x = np.asarray(insample, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if len(x) <= m:
        raise DataError(f"MASE needs more than m={m} in-sample values, got {len(x)}")
    diff = np.abs(x[m:] - x[:-m])
    return float(np.nanmean(diff))


def mase(y, yhat, insample, m: int = 1) -> float:
    """Mean absolute scaled error: out-of-sample MAE over the in-sample MAE of seasonal naive (lag m)."""
    scale = seasonal_naive_mae(insample, m)
    return mae(y, yhat) / scale if scale > 0 else float("inf")


def smape(y, yhat) -> float:
    """Symmetric MAPE in percent: 200/h · Σ|y − ŷ| / (|y| + |ŷ|) (terms with y = ŷ = 0 count as 0)."""
    y, yhat = _pair(y, yhat)
    denominator = np.abs(y) + np.abs(yhat)
    terms = np.divide(np.abs(y - yhat), denominator, out=np.zeros_like(y), where=denominator > 0)
    return float(200.0 * np.mean(terms))


def coverage(y, low, high) -> float:
    """Share of targets inside [low, high]."""
    y, low, high = (np.asarray(a, np.float64) for a in (y, low, high))
    keep = ~np.isnan(y)
    return float(np.mean((y[keep] >= low[keep]) & (y[keep] <= high[keep])))


def interval_coverage(y, mean, std, level: float) -> float:
    """Coverage of the central Gaussian interval at `level` (0.8 or 0.95 ...) around `mean` ± z·`std`."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2.0)
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return coverage(y, mean - z * std, mean + z * std)


def cmapss_score(predicted, true) -> float:
    """NASA C-MAPSS score: Σ(e^(−d/13) − 1) for d < 0 and Σ(e^(d/10) − 1) for d ≥ 0, d = predicted − true RUL.

    Late predictions (d > 0) cost more than early ones, as a late maintenance call can lose the engine.
    """
    d = np.asarray(predicted, np.float64) - np.asarray(true, np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def directional_accuracy(y, yhat, last) -> float:
    """Share of forecasts that move in the same direction from `last` as the truth (ties count as wrong)."""
    y, yhat, last = (np.asarray(a, np.float64) for a in (y, yhat, last))
    return float(np.mean(np.sign(y - last) == np.sign(yhat - last)))
