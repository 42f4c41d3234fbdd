"""Forecast metrics against hand-computed values."""

import math

import numpy as np
import pytest

from tfzoo.timeseries import metrics


def test_errors():
    y, yhat = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert metrics.mse(y, yhat) == pytest.approx(5 / 3)
    assert metrics.rmse(y, yhat) == pytest.approx(math.sqrt(5 / 3))
    assert metrics.mae(y, yhat) == pytest.approx(1.0)
    assert metrics.mae([1.0, np.nan], [2.0, 100.0]) == 1.0  # missing targets are ignored


def test_mase_uses_seasonal_naive_in_sample():
    insample = np.array([1.0, 2.0, 4.0, 7.0])  # naive errors 1, 2, 3 -> 2; lag-2 errors 3, 5 -> 4
    assert metrics.mase([10.0], [12.0], insample, m=1) == pytest.approx(1.0)
    assert metrics.mase([10.0], [12.0], insample, m=2) == pytest.approx(0.5)


def test_smape_and_coverage():
    assert metrics.smape([100.0, 0.0], [110.0, 0.0]) == pytest.approx(200 / 2 * (10 / 210))
    assert metrics.coverage([1, 2, 3], [0, 2.5, 0], [2, 3, 2]) == pytest.approx(1 / 3)
    assert metrics.interval_coverage([0.0, 1.0, 3.0], [0, 0, 0], [1, 1, 1], 0.95) == pytest.approx(2 / 3)


def test_cmapss_score():
    # d = -13 -> e^1 - 1; d = 10 -> e^1 - 1; d = 0 -> 0
    assert metrics.cmapss_score([87, 110, 50], [100, 100, 50]) == pytest.approx(2 * (math.e - 1))


def test_directional_accuracy():
    assert metrics.directional_accuracy([2, 0, 1], [3, 1, 0], [1, 1, 1]) == pytest.approx(1 / 3)
