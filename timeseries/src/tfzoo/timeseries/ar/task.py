"""timeseries.ar: `ARRegressor` on the common trainer (default: log airline passengers, 36-month forecast)."""

from __future__ import annotations

from typing import Any

from tfzoo.timeseries.ar.config import ARConfig
from tfzoo.timeseries.tfts.ar import ARRegressor
from tfzoo.timeseries.tfts.tasks import ForecastTask


class AR(ForecastTask):
    name = "timeseries.ar"
    config_class = ARConfig

    def build_estimator(self, config: ARConfig, info: dict[str, Any]) -> ARRegressor:
        return ARRegressor(
            periodicities=config.periodicities,
            input_window_size=config.input_window_size,
            output_window_size=config.output_window_size,
            num_features=info["num_features"],
            num_time_buckets=config.num_time_buckets,
            loss=config.loss,
            hidden_layer_sizes=config.hidden_layer_sizes,
            anomaly_prior_probability=config.anomaly_prior_probability or None,
            normalize_window=config.normalize_window,
        )
