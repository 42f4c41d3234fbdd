"""The CLI side of the TFTS-like estimators: one `ForecastTask` base for timeseries.ar, .structural and .lstm.

The task trains the estimator's own loss on the common trainer (the same step the Python `train` runs),
holds out a chronological tail of `test_size` points, and adds the forecasting hooks:
`tfzoo evaluate RUN` prints the in-sample loss and the holdout MASE, sMAPE and 80%/95% coverage and draws
plots/holdout.png; `tfzoo predict RUN -` forecasts `horizon` steps after the data (`predict RUN FILE.csv`
first filters a continuation of the series from FILE) and writes forecast.json and plots/forecast.png.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.common.task import Task, TrainState
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import Estimator, estimator_examples, estimator_loss


@dataclass
class Prepared:
    """A series ready for an estimator: model-scale arrays, original-scale values and calendar facts."""

    data: dict[str, np.ndarray]  # TIMES (steps), VALUES (transformed), exogenous columns
    original: np.ndarray  # [T, F] in the data's own units, aligned with data
    dates: np.ndarray  # [T] datetime64 or float steps, for plots and forecast times
    names: tuple[str, ...]
    freq: str | None
    season_length: int


def load_prepared(config: Any, extra_rows: np.ndarray | None = None, extra_where: list[str] | None = None) -> Prepared:
    """Load `config.data`, select `config.columns`, append `extra_rows` (original units; `extra_where` names
    their file lines for errors) and transform."""
    from tfzoo.timeseries.data import load_series

    series = load_series(config.data)
    columns = tuple(c for c in str(config.columns).split(",") if c.strip())
    series = series.select(tuple(c.strip() for c in columns) if columns else series.names)  # refuses empty columns
    values = np.asarray(series.values, np.float64)
    dates = np.asarray(series.times)
    exogenous = {k: np.asarray(v) for k, v in series.exogenous.items()}
    where = [series.where(i) for i in range(len(series))]
    if extra_rows is not None and len(extra_rows):
        values = np.concatenate([values, extra_rows], 0)
        dates = np.concatenate([dates, future_dates(dates, series.freq, len(extra_rows))])
        exogenous = {k: np.concatenate([v, np.repeat(v[-1:], len(extra_rows))]) for k, v in exogenous.items()}
        where += list(extra_where or [f"continuation row {k + 1}" for k in range(len(extra_rows))])
    model_values = transform(values, config.transform, where=where)
    drop = len(values) - len(model_values)  # logdiff loses the first row
    data = {io.TIMES: np.arange(len(model_values), dtype=np.float64), io.VALUES: model_values.astype(np.float32)}
    data.update({k: v[drop:] for k, v in exogenous.items()})
    season = int(getattr(config, "season_length", 0) or series.season_length or 1)
    return Prepared(data=data, original=values[drop:], dates=dates[drop:], names=series.names,
                    freq=series.freq, season_length=season)


def transform(values: np.ndarray, kind: str, *, where: list[str]) -> np.ndarray:
    """`none`, `log` (values must be > 0) or `logdiff` (log, then first differences).

    `where[i]` names row i for errors: its file and 1-based line (`Series.where`).
    """
    if kind == "none":
        return values
    bad = np.flatnonzero(np.isfinite(values).ravel() & (values.ravel() <= 0))
    if len(bad):
        raise DataError(f"{where[bad[0] // values.shape[1]]}: a value of {values.ravel()[bad[0]]:g}; "
                        f"transform={kind} needs positive values (use --set transform=none)")
    logged = np.log(values)
    return logged if kind == "log" else np.diff(logged, axis=0)


def future_dates(dates: np.ndarray, freq: str | None, steps: int) -> np.ndarray:
    """The `steps` times after `dates` (calendar dates with a known freq, else numeric steps)."""
    if np.issubdtype(dates.dtype, np.datetime64) and freq:
        import pandas as pd

        return pd.date_range(pd.Timestamp(dates[-1]), periods=steps + 1, freq=freq)[1:].to_numpy("datetime64[ns]")
    if np.issubdtype(dates.dtype, np.datetime64):
        step = dates[-1] - dates[-2] if len(dates) > 1 else np.timedelta64(1, "D")
        return dates[-1] + step * np.arange(1, steps + 1)
    step = float(dates[-1] - dates[-2]) if len(dates) > 1 else 1.0
    return dates[-1] + step * np.arange(1, steps + 1, dtype=np.float64)


def split_prepared(prepared: Prepared, test_size: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Chronological (train, test) parts of the model-scale data."""
    length = len(prepared.data[io.TIMES])
    if not 0 <= test_size < length - 2:
        raise ConfigError(f"test_size={test_size} leaves too little of {length} points to train on")
    cut = length - test_size
    return ({k: v[:cut] for k, v in prepared.data.items()}, {k: v[cut:] for k, v in prepared.data.items()})


class ForecastTask(Task):
    """Base of the estimator-backed CLI tasks; subclasses implement `build_estimator(config, info)`.

    Configs need: data, columns, transform, test_size, horizon, season_length, window_size (0 = the whole
    series per step), train, optim.
    """

    monitor = "loss"
    units_note = ""

    def build_estimator(self, config: Any, info: dict[str, Any]) -> Estimator:
        raise NotImplementedError

    def resolve(self, config: Any) -> Any:
        """The config with any example-specific settings applied (identity by default)."""
        return config

    def prepare_estimator(self, estimator: Estimator, train: dict[str, np.ndarray]) -> None:
        """Fit data-dependent constants (input scaling) on the training part before training."""
        estimator._prepare(train)

    def load_for_predict(self, config: Any, extra_rows: np.ndarray | None,
                         extra_where: list[str] | None = None) -> Prepared:
        """The whole series (plus a continuation, whose file lines `extra_where` names) as `predict` filters it."""
        return load_prepared(config, extra_rows, extra_where)

    def future_exogenous(self, config: Any, steps: int) -> dict[str, np.ndarray]:
        """Exogenous values for the forecast steps of `tfzoo predict` (none by default)."""
        return {}

    def changepoints(self, config: Any, prepared: Prepared) -> list:
        """Times marked in the figures (none by default)."""
        return []

    def estimator(self, config: Any, info: dict[str, Any]) -> Estimator:
        """The estimator whose model `build_models` returned last (built now if there is none yet)."""
        if getattr(self, "_estimator", None) is None:
            self._new_estimator(config, info)
        return self._estimator

    def _new_estimator(self, config: Any, info: dict[str, Any]) -> Estimator:
        self._estimator = self.build_estimator(config, info)
        self._estimator.time_step = 1.0  # the tasks index every series by steps 0, 1, 2, ...
        return self._estimator

    def prepared(self, config: Any) -> Prepared:
        key = (config.data, config.columns, config.transform, getattr(config, "season_length", 0))
        if getattr(self, "_prepared_key", None) != key:
            self._prepared, self._prepared_key = load_prepared(config), key
        return self._prepared

    # ----- data -----------------------------------------------------------------------------------
    def data(self, config: Any, split: str):
        config = self.resolve(config)
        prepared = self.prepared(config)
        train, _ = split_prepared(prepared, config.test_size)
        estimator = self.estimator(config, self.info_for(config, prepared))
        if split == "train":
            return estimator_examples(estimator, train, config.window_size)
        # Evaluation scores the estimator's loss on the most recent stretch: the windows that end in the
        # held-out tail (the last one if there is none), or the whole series for whole-series models.
        full = prepared.data
        if config.window_size:
            keep = config.window_size + max(config.test_size, 1) - 1
            full = {k: v[-keep:] for k, v in full.items()}
        return estimator_examples(estimator, full, config.window_size)

    def info_for(self, config: Any, prepared: Prepared) -> dict[str, Any]:
        return {
            "names": list(prepared.names),
            "num_features": int(prepared.data[io.VALUES].shape[1]),
            "season_length": prepared.season_length,
            "class_names": [],
        }

    def data_info(self, config: Any, train: Any) -> dict[str, Any]:
        return self.info_for(config, self.prepared(config))

    def train_map(self, config: Any, info: dict[str, Any], example: Any, seed: tf.Tensor) -> Any:
        return example  # the window batch the estimator's training loss takes

    def eval_map(self, config: Any, info: dict[str, Any], example: Any) -> Any:
        estimator = self.estimator(config, info)
        batched = {k: v[None] for k, v in example.items()}
        return tf.nest.map_structure(lambda x: x[0], estimator.model_inputs(batched)), example

    # ----- models and steps ---------------------------------------------------------------------------
    def build_models(self, config: Any, info: dict[str, Any]) -> dict[str, keras.Model]:
        strategy = tf.distribute.get_strategy()
        if not config.window_size and strategy.num_replicas_in_sync > 1:
            raise ConfigError(f"{self.name} fits the likelihood of one whole series per step, which cannot be "
                              f"split over {strategy.num_replicas_in_sync} replicas; use --strategy default")
        estimator = self._new_estimator(config, info)
        config = self.resolve(config)
        train, _ = split_prepared(self.prepared(config), config.test_size)
        self.prepare_estimator(estimator, train)  # from the training part; a restore overwrites it alike
        estimator._train_data = train
        return {"model": estimator.model}

    def compute_loss(self, state: TrainState, batch: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        return estimator_loss(self.estimator(state.config, state.info), batch)

    def metrics(self, config: Any, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.Mean(name="loss")}

    def eval_step(self, state: TrainState, batch: Any, metrics: dict[str, keras.metrics.Metric]) -> None:
        _, window = batch
        metrics["loss"].update_state(self.estimator(state.config, state.info)._training_loss(window, False))

    def serving_function(self, config: Any, models: dict[str, keras.Model], info: dict[str, Any]):
        """`tfzoo export RUN`: `predict_continuation` (flat `state_*`, times, exogenous; the default) and
        `filter_continuation` (state_*, times, values, exogenous -> state_*)."""
        signatures = self.estimator(config, info).signatures()
        return {"serving_default": signatures["predict_continuation"], **signatures}

    def export_manifest(self, run: Any) -> dict[str, Any]:
        """The transform the values went through and the filter state at the end of the data, so a served
        forecast starts where `tfzoo predict RUN -` does: pass `state_*` from here and the next times."""
        config = self.resolve(run.config)
        prepared = self.load_for_predict(config, None, None)
        fit = self.estimator(run.config, run.info)._evaluate_arrays(prepared.data)
        return {"transform": config.transform,
                "last_time": float(np.asarray(prepared.data[io.TIMES])[-1]),
                "last_state": {f"state_{k}": np.asarray(v).tolist() for k, v in fit.state.items()}}

    # ----- evaluate: holdout forecast --------------------------------------------------------------------
    def to_original(self, config: Any, mean: np.ndarray, std: np.ndarray, z: float = 0.0) -> tuple:
        """(point, low, high) on the original scale for a Gaussian N(mean, std) on the model scale."""
        low, high = mean - z * std, mean + z * std
        if config.transform == "log":
            return np.exp(mean), np.exp(low), np.exp(high)
        return mean, low, high

    def after_evaluate(self, run: Any, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """In-sample loss, holdout MASE / sMAPE / coverage and plots/holdout.png."""
        from tfzoo.timeseries import metrics
        from tfzoo.timeseries.plots import plot_forecast

        info = run.info
        estimator = self.estimator(run.config, info)
        config = self.resolve(run.config)
        prepared = self.prepared(config)
        train, test = split_prepared(prepared, config.test_size)
        fit = estimator._evaluate_arrays(train)
        results["in_sample_loss"] = round(fit.loss, 6)
        if not config.test_size:
            return results
        forecast = estimator.predict(config.test_size, state=fit.state,
                                     exogenous={f.name: test[f.name] for f in estimator.exogenous_features})
        cut = len(train[io.TIMES])
        truth = self.truth_scale(config, prepared)[cut:]
        insample = self.truth_scale(config, prepared)[:cut]
        point, _, _ = self.to_original(config, forecast.mean, forecast.std)
        m = prepared.season_length if len(insample) > prepared.season_length else 1
        results["holdout"] = {
            "points": int(config.test_size),
            "mase": round(metrics.mase(truth, point, insample, m=m), 4),
            "smape": round(metrics.smape(truth, point), 4),
            "coverage80": round(metrics.coverage(truth, *self.to_original(config, forecast.mean, forecast.std,
                                                                             1.2815515655446004)[1:]), 4),
            "coverage95": round(metrics.coverage(truth, *self.to_original(config, forecast.mean, forecast.std,
                                                                             1.959963984540054)[1:]), 4),
            "season_length": m,
        }
        if self.units_note:
            results["holdout"]["units"] = self.units_note
        _, low, high = self.to_original(config, forecast.mean, forecast.std, 1.0)
        path = plot_forecast(
            run.plots / "holdout.png", times=prepared.dates[:cut], observed=insample,
            fit_mean=self.to_original(config, fit.mean, np.zeros_like(fit.mean))[0],
            forecast_times=prepared.dates[cut:], forecast_mean=point, forecast_std=(high - low) / 2.0,
            truth_times=prepared.dates[cut:], truth=truth, train_end=prepared.dates[cut - 1],
            changepoints=self.changepoints(config, prepared), names=prepared.names, title=f"{self.name}: holdout of {config.test_size} on {config.data}",
        )
        results["holdout_png"] = str(path)
        return results

    def truth_scale(self, config: Any, prepared: Prepared) -> np.ndarray:
        """The series on the scale metrics use: original units, or the model scale for `logdiff`."""
        return prepared.data[io.VALUES].astype(np.float64) if config.transform == "logdiff" else prepared.original

    # ----- predict ---------------------------------------------------------------------------------------------
    def predict(self, run: Any, inputs: list[str]) -> list[dict[str, Any]]:
        """`-` forecasts after the data; a CSV continues the series first (one row per period, F value columns,
        an optional leading date column). Writes forecast.json (forecast-K.json for the K-th input) and
        plots/forecast.png."""
        from tfzoo.timeseries.plots import plot_forecast

        info = run.info
        estimator = self.estimator(run.config, info)
        config = self.resolve(run.config)
        results = []
        for k, source in enumerate(inputs or ["-"]):
            extra, lines = (None, None) if source in ("-", "", "none") else read_continuation(source,
                                                                                              info["num_features"])
            prepared = self.load_for_predict(config, extra, lines and [f"{source}:{line}" for line in lines])
            fit = estimator._evaluate_arrays(prepared.data)
            forecast = estimator.predict(config.horizon, state=fit.state,
                                         exogenous=self.future_exogenous(config, config.horizon))
            point, low, high = self.to_original(config, forecast.mean, forecast.std, 1.0)
            _, low95, high95 = self.to_original(config, forecast.mean, forecast.std, 1.959963984540054)
            dates = future_dates(prepared.dates, prepared.freq, config.horizon)
            observed = self.truth_scale(config, prepared)
            suffix = "" if k == 0 else f"-{k}"
            plot = plot_forecast(
                run.plots / f"forecast{suffix}.png", times=prepared.dates, observed=observed,
                forecast_times=dates, forecast_mean=point, forecast_std=(high - low) / 2.0,
                train_end=prepared.dates[-1], names=prepared.names,
                changepoints=self.changepoints(config, prepared),
                title=f"{self.name}: {config.horizon}-step forecast of {config.data}",
            )
            result = {
                "input": source,
                "times": [_time_text(t) for t in dates],
                "names": list(prepared.names),
                "mean": np.round(point, 6).tolist(),
                "low68": np.round(low, 6).tolist(), "high68": np.round(high, 6).tolist(),
                "low95": np.round(low95, 6).tolist(), "high95": np.round(high95, 6).tolist(),
                "units": self.units_note or ("original" if config.transform in ("none", "log") else config.transform),
                "plot": str(plot),
            }
            out = run.path / f"forecast{suffix}.json"
            out.write_text(json.dumps(result, indent=1) + "\n")
            result["json"] = str(out)
            results.append(result)
        return results


def read_continuation(path: str, num_features: int) -> tuple[np.ndarray, list[int]]:
    """Rows of F values (original units) from a CSV and their 1-based file lines; a header and a leading
    date column are skipped. Empty and NaN cells are missing; `inf` is a DataError."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: file not found (expected a CSV continuation with {num_features} value columns, "
                        "or '-' to forecast after the data)")
    rows, lines = [], []
    with file.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if len(cells) == num_features + 1:
                cells = cells[1:]  # a date or time column
            if len(cells) != num_features:
                raise DataError(f"{path}:{line}: {len(cells)} columns; expected {num_features} values "
                                "(optionally after a date column)")
            try:
                row = [float(c) if c else np.nan for c in cells]
            except ValueError:
                if line == 1 and not rows:
                    continue  # a header
                raise DataError(f"{path}:{line}: {cells} are not numbers") from None
            if np.isinf(row).any():
                raise DataError(f"{path}:{line}: {cells} holds an infinite value; expected finite numbers "
                                "(or empty for missing)")
            rows.append(row)
            lines.append(line)
    if not rows:
        raise DataError(f"{path}: no rows of values")
    return np.asarray(rows, np.float64), lines


def _time_text(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="D"))
    return float(value)
