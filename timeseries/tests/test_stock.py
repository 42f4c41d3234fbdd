"""timeseries.stock: an OHLCV file of the test's own, splits without leakage, normalisation, errors
(the IBM run and its predictions: test_conformance.py)."""

import json

import numpy as np
import pandas as pd
import pytest

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.common.testing import run_cli
from tfzoo.timeseries.stock import data as pipeline
from tfzoo.timeseries.stock.config import StockConfig


def _ohlcv(path, days=160, seed=0):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
    dates = pd.bdate_range("2020-01-01", periods=days)
    frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": close * 0.99, "High": close * 1.01,
                          "Low": close * 0.98, "Close": close, "Volume": rng.integers(1000, 5000, days)})
    frame.to_csv(path, index=False)
    return path


def test_ohlcv_file_with_several_columns_zscore_and_holdout(tmp_path):
    prices = _ohlcv(tmp_path / "prices.csv", days=200)
    run = tmp_path / "run"
    code, _, err = run_cli("train", "timeseries.stock", "--tiny", "--run-dir", str(run), "--data", f"ohlcv:{prices}",
                           "--set", "columns=open,high,low,close", "--set", "normalise=zscore")
    assert code == 0, err
    info = json.loads((run / "info.json").read_text())
    assert info["features"] == 4 and info["target_index"] == 3 and info["scaler"]["kind"] == "zscore"
    code, out, err = run_cli("predict", str(run), str(prices), "--set", "holdout=3")
    assert code == 0, err
    prediction = json.loads(out)
    frame = pd.read_csv(prices)
    np.testing.assert_allclose(prediction["truth"], frame["Close"].to_numpy()[-3:], rtol=1e-4)
    assert prediction["last_date"] == frame["Date"].iloc[-4]


def test_splits_are_chronological_and_no_test_input_overlaps_a_training_target():
    config = StockConfig.tiny()
    series = pipeline.read(config)
    norm = pipeline.normaliser(config, series)
    train, val, test = (pipeline.windows(config, series, norm, s) for s in ("train", "val", "test"))
    ranges = pipeline.split_ranges(config, len(series))
    last_train_target = train.origins.max() + config.output_len - 1
    first_val_input = val.origins.min() - config.input_len
    assert last_train_target < ranges["train"][1] <= first_val_input
    assert val.origins.max() + config.output_len - 1 < ranges["val"][1] <= test.origins.min() - config.input_len


def test_last_normalisation_is_relative_to_the_last_input_close():
    config = StockConfig.tiny()
    series = pipeline.read(config)
    data = pipeline.windows(config, series, pipeline.normaliser(config, series), "train")
    k = 7
    origin = data.origins[k]
    close = series.values[:, 0]
    np.testing.assert_allclose(data.past[k, :, 0], close[origin - 10: origin] / close[origin - 1] - 1, rtol=1e-5)
    np.testing.assert_allclose(data.future[k, :, 0] * data.scales[k] + data.offsets[k], close[origin: origin + 5],
                               rtol=1e-5)
    assert data.past[k, -1, 0] == 0.0


def test_bad_input_is_one_line(tmp_path):
    prices = _ohlcv(tmp_path / "short.csv", days=30)
    code, _, err = run_cli("train", "timeseries.stock", "--tiny", "--run-dir", str(tmp_path / "r"),
                           "--data", f"ohlcv:{prices}", "--set", "input_len=40")
    assert code == 3 and "shorter than one window of 40 + 5" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="target='close' is not among"):
        pipeline.check(StockConfig(columns=("open",)))
    with pytest.raises(ConfigError, match="no column 'turnover'"):
        pipeline.read(StockConfig(columns=("turnover",), target="turnover"))
    with pytest.raises(DataError, match="no such file"):
        pipeline.guess_spec(str(tmp_path / "missing.csv"))
    assert pipeline.guess_spec(str(prices)).startswith("ohlcv:")
