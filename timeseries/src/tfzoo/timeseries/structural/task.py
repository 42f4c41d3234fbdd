"""timeseries.structural: `StructuralEnsembleRegressor` on the common trainer (default: weekly CO2 with gaps)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.structural.config import StructuralConfig
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.structural import StructuralEnsembleRegressor
from tfzoo.timeseries.tfts.tasks import ForecastTask, Prepared, load_prepared

CHANGEPOINT = "is_changepoint"


def resolved(config: StructuralConfig) -> StructuralConfig:
    """The settings an example implies (the changepoint example replaces the CO2 defaults)."""
    if config.example == "default":
        return config
    data = "sm:nile" if config.data == StructuralConfig.data else config.data
    return replace(config, data=data, level="local_level", periodicities=(), autoregressive_order=0,
                   moving_average_order=0, test_size=min(config.test_size, 10),
                   horizon=min(config.horizon, 20))


class Structural(ForecastTask):
    name = "timeseries.structural"
    config_class = StructuralConfig
    multi_replica = ("fits the likelihood of one whole series per step, which cannot be split over replicas; "
                     "train it with --strategy default")

    def build_estimator(self, config: StructuralConfig, info: dict[str, Any]) -> StructuralEnsembleRegressor:
        config = resolved(config)
        changepoint = config.example == "changepoint"
        return StructuralEnsembleRegressor(
            periodicities=config.periodicities,
            num_features=info["num_features"],
            level=None if config.level == "none" else config.level,
            cycle_num_latent_values=config.cycle_num_latent_values,
            moving_average_order=config.moving_average_order,
            autoregressive_order=config.autoregressive_order,
            exogenous_features=(io.Numeric(CHANGEPOINT),) if changepoint else (),
            exogenous_update_condition={CHANGEPOINT: "> 0"} if changepoint else None,
            learning_rate=config.optim.lr,
        )

    def prepared(self, config: StructuralConfig) -> Prepared:
        config = resolved(config)
        key = (config.data, config.columns, config.transform, config.season_length, config.example)
        if getattr(self, "_prepared_key", None) != key:
            self._prepared = self.with_changepoints(config, load_prepared(config))
            self._prepared_key = key
        return self._prepared

    def load_for_predict(self, config: StructuralConfig, extra_rows, extra_where=None) -> Prepared:
        config = resolved(config)
        return self.with_changepoints(config, load_prepared(config, extra_rows, extra_where))

    def with_changepoints(self, config: StructuralConfig, prepared: Prepared) -> Prepared:
        """Add the `is_changepoint` column (1 in `changepoint_year`) for the changepoint example."""
        if config.example != "changepoint" or CHANGEPOINT in prepared.data:
            return prepared
        dates = prepared.dates
        years = dates.astype("datetime64[Y]").astype(int) + 1970 if np.issubdtype(dates.dtype, np.datetime64) \
            else dates.astype(int)
        flag = (years == config.changepoint_year).astype(np.float64)
        if not flag.any():
            raise ConfigError(f"{config.data}: no time in changepoint_year={config.changepoint_year}")
        prepared.data[CHANGEPOINT] = flag
        return prepared

    def changepoints(self, config: StructuralConfig, prepared: Prepared) -> list:
        if CHANGEPOINT not in prepared.data:
            return []
        return list(prepared.dates[np.asarray(prepared.data[CHANGEPOINT]) > 0])

    def future_exogenous(self, config: StructuralConfig, steps: int) -> dict[str, np.ndarray]:
        """No changepoint in the future."""
        return {CHANGEPOINT: np.zeros(steps)} if resolved(config).example == "changepoint" else {}

    def prepare_estimator(self, estimator: StructuralEnsembleRegressor, train: dict[str, np.ndarray]) -> None:
        # Standardise on the training values (a restore then loads the saved standardisation alike).
        estimator.structural.adapt(np.asarray(train[io.VALUES], np.float64))

    def resolve(self, config: StructuralConfig) -> StructuralConfig:
        return resolved(config)
