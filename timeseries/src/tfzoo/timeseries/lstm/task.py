"""timeseries.lstm: `LSTMModel` on `TimeSeriesRegressor` (default: growth of five US macro series)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfzoo.timeseries.lstm.config import LSTMConfig
from tfzoo.timeseries.tfts.sequential import LSTMModel, TimeSeriesRegressor
from tfzoo.timeseries.tfts.tasks import ForecastTask, future_dates, load_prepared


class LSTM(ForecastTask):
    name = "timeseries.lstm"
    config_class = LSTMConfig

    def build_estimator(self, config: LSTMConfig, info: dict[str, Any]) -> TimeSeriesRegressor:
        model = LSTMModel(num_units=config.num_units, num_features=info["num_features"])
        return TimeSeriesRegressor(model, num_features=info["num_features"])

    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        """The forecast, plus `simulate_paths` sampled futures of `horizon` steps in plots/simulate.png."""
        results = super().predict(run, inputs)
        config = run.config
        if config.simulate_paths:
            from tfzoo.timeseries.plots import plot_forecast

            estimator = self.estimator(config, run.info)
            prepared = load_prepared(config)
            state = estimator._evaluate_arrays(prepared.data).state
            paths = estimator.simulate(config.horizon, config.simulate_paths, seed=config.train.seed, state=state)
            dates = future_dates(prepared.dates, prepared.freq, config.horizon)
            observed = self.truth_scale(config, prepared)
            path = plot_forecast(
                run.plots / "simulate.png", times=prepared.dates, observed=observed,
                forecast_times=dates, forecast_mean=paths.mean(0), forecast_std=paths.std(0),
                train_end=prepared.dates[-1], names=prepared.names,
                title=f"{self.name}: mean and spread of {config.simulate_paths} simulated paths",
            )
            np.save(run.path / "simulated_paths.npy", paths)
            for result in results:
                result["simulate_plot"] = str(path)
        return results
