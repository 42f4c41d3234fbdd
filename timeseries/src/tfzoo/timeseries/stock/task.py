"""timeseries.stock (实例73): the seq2seq GRU forecasts daily closing prices."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from tfzoo.common.errors import DataError
from tfzoo.timeseries.seq2seq.model import build_model
from tfzoo.timeseries.seq2seq.task import Seq2Seq, curve_figure, forecast, loss_figure
from tfzoo.timeseries.stock import data as pipeline
from tfzoo.timeseries.stock.config import StockConfig


@lru_cache(maxsize=8)
def _series(config: StockConfig):
    return pipeline.read(config)


class Stock(Seq2Seq):
    """The seq2seq task's model and steps on price windows; data, figures and predict are its own."""

    name = "timeseries.stock"
    config_class = StockConfig
    monitor = "mse_free"

    def data(self, config: StockConfig, split: str):
        pipeline.check(config)
        series = _series(config)
        return pipeline.windows(config, series, pipeline.normaliser(config, series), split).split()

    def data_info(self, config: StockConfig, train) -> dict[str, Any]:
        series = _series(config)
        ranges = pipeline.split_ranges(config, len(series))
        dates = {k: [str(series.times[a]), str(series.times[b - 1])] for k, (a, b) in ranges.items() if b > a}
        return {**pipeline.normaliser(config, series), "features": len(config.columns), "split_dates": dates,
                "train_windows": train.size}

    def build_models(self, config: StockConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": build_model(units=config.units, layers=config.layers, features=len(config.columns),
                                     horizon=config.output_len, go=config.go)}

    # ----- hooks (they receive the Run) ---------------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """An OHLCV file of 120 business days (a seeded random walk) and a bundled ticker."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))
        dates = pd.bdate_range("2020-01-01", periods=len(close)).strftime("%Y-%m-%d")
        rows = [f"{d},{c * 0.99:.4f},{c * 1.01:.4f},{c * 0.98:.4f},{c:.4f},{1000 + k}"
                for k, (d, c) in enumerate(zip(dates, close))]
        path = directory / "prices.csv"
        path.write_text("Date,Open,High,Low,Close,Volume\n" + "\n".join(rows) + "\n")
        return [str(path), "bokeh-stocks:MSFT"]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        results["plots"] = self._figures(run, split)
        return results

    def visualise(self, run, config: StockConfig) -> list[str]:
        return self._figures(run, "test")

    def _figures(self, run, split: str) -> list[str]:
        """plots/loss.png and plots/test_windows.png: 4 origins spread over the split, in price units."""
        series = _series(run.config)
        data = pipeline.windows(run.config, series, pipeline.normaliser(run.config, series), split)
        picks = np.linspace(0, len(data) - 1, min(4, len(data))).astype(int)
        predicted, label = forecast(run.models["model"], data.past[picks], data.future[picks], mode=run.config.mode)
        t = run.info["target_index"]
        past_prices = np.stack([series.values[o - data.past.shape[1]: o, t] for o in data.origins[picks]])[..., None]
        offset, scale = data.offsets[picks][:, None, None], data.scales[picks][:, None, None]
        future, predicted = data.future[picks] * scale + offset, predicted * scale + offset
        path = curve_figure(run.plots / f"{split}_windows.png", past_prices, future, predicted, label=label)
        return [str(loss_figure(run)), str(path)]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Next-day close and the next `horizon` closes from the most recent `input_len` days of each file.

        With `--set holdout=N` the window ends N days before the file does and those days are the truth.
        """
        config, info = run.config, run.info
        results = []
        for item in inputs:
            series = pipeline.read(config, pipeline.guess_spec(item))
            end = len(series) - config.holdout
            if end < config.input_len:
                raise DataError(f"{item}: {end} usable rows; the model needs the last {config.input_len} days")
            past = series.values[end - config.input_len: end].astype(np.float64)
            if np.isnan(past).any():
                raise DataError(f"{item}: a missing value among the last {config.input_len} rows")
            x, offset, scale = pipeline.normalise_window(past, info, source=item)
            predicted, _ = forecast(run.models["model"], x[None], np.zeros((1, config.horizon, 1), np.float32),
                                    mode="free")
            prices = predicted[0, :, 0] * scale + offset
            t = info["target_index"]
            dates = _next_days(series.times[end - 1], config.horizon)
            truth = series.values[end: end + config.horizon, t]
            result = {"input": item, "last_date": str(series.times[end - 1])[:10],
                      "last_close": round(float(past[-1, t]), 4), "next_close": round(float(prices[0]), 4),
                      "forecast": [round(float(p), 4) for p in prices],
                      "dates": [str(d)[:10] for d in dates]}
            if len(truth):
                result["truth"] = [round(float(v), 4) for v in truth]
            result["plot"] = str(_forecast_plot(run, series, end, prices, dates, truth, t))
            results.append(result)
        return results


def _next_days(last, n: int) -> np.ndarray:
    if np.issubdtype(np.asarray(last).dtype, np.datetime64):
        return pd.bdate_range(pd.Timestamp(last) + pd.offsets.BDay(1), periods=n).values
    return np.arange(1, n + 1) + float(last)


def _forecast_plot(run, series, end: int, prices, dates, truth, t: int):
    from tfzoo.timeseries.plots import plot_forecast

    show = max(0, end - 5 * len(prices) - run.config.input_len)
    times = series.times[show:end]
    kwargs = {}
    if len(truth):
        kwargs = {"truth_times": series.times[end: end + len(truth)], "truth": truth}
    return plot_forecast(run.plots / "forecast.png", times=times, observed=series.values[show:end, t],
                         forecast_times=dates if np.issubdtype(times.dtype, np.datetime64) else dates,
                         forecast_mean=prices, names=[run.config.target],
                         title=f"{run.config.target}: {len(prices)}-day forecast", **kwargs)
