"""Custom sequential models (TFTS's `lstm.py` example): `SequentialModel`, `TimeSeriesRegressor`, `LSTMModel`.

A `SequentialModel` is a Keras model that walks a series one step at a time. Subclasses implement:

- `start_state(batch_size)`: a dict of `[batch, ...]` tensors before the first step;
- `filter_step(state, time, observation, exogenous, mask)` -> `(state, {"mean", "covariance"}, loss)`:
  predict the observation at `time` [B] from the state, score it (loss `[B]`, over observed entries only,
  `mask` is True there), then update the state with it (missing entries should be imputed);
- `predict_step(state, time, exogenous)` -> `(state, {"mean", "covariance"})`: the same without an
  observation (the model feeds itself its prediction);
- optionally `impute_step(state, time_gap)` (called before each step with the number of skipped periods,
  0 on a regular grid) and `exogenous_step(state, exogenous)` (called before each step).

`TimeSeriesRegressor(model, optimizer)` gives such a model the estimator interface (train, evaluate,
predict, simulate, save/load, export). `LSTMModel` is the built-in example.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import Estimator

LOG_2PI = math.log(2.0 * math.pi)


class SequentialModel(keras.Model):
    """Base class of step-by-step models (see the module docstring for the methods to implement).

    `num_features` and `exogenous_size` are set by the constructor; `prepare(values)` may fit input scaling
    to the training values (`[T, F]`, NaN missing) before training.
    """

    def __init__(self, *, num_features: int = 1, exogenous_size: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_features = int(num_features)
        self.exogenous_size = int(exogenous_size)

    def start_state(self, batch_size: Any) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def filter_step(self, state, time, observation, exogenous, mask):
        raise NotImplementedError

    def predict_step(self, state, time, exogenous):
        raise NotImplementedError

    def impute_step(self, state: dict[str, tf.Tensor], time_gap: tf.Tensor) -> dict[str, tf.Tensor]:
        """Advance the state over `time_gap` skipped periods; the default ignores gaps."""
        return state

    def exogenous_step(self, state: dict[str, tf.Tensor], exogenous: tf.Tensor) -> dict[str, tf.Tensor]:
        """Fold a step's exogenous features into the state; the default leaves them to the steps."""
        return state

    def prepare(self, values: np.ndarray) -> None:
        """Fit data-dependent constants (input scaling) to the training values; the default does nothing."""

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_features": self.num_features, "exogenous_size": self.exogenous_size}

    # Symbolic descriptions of `call`'s inputs and output, as a functional model has (export manifests).
    @property
    def inputs(self) -> list:
        f, e = self.num_features, self.exogenous_size
        return [keras.KerasTensor((None, None, f), name="values"), keras.KerasTensor((None, None, f), "bool", name="mask"),
                keras.KerasTensor((None, None), "float64", name="times"),
                keras.KerasTensor((None, None, e), name="exogenous")]

    @property
    def outputs(self) -> list:
        return [keras.KerasTensor((None, None, self.num_features, 2), name="mean_variance")]

    # ----- whole sequences, shared by training, filtering and the Keras call ------------------------------
    def run_filter(self, state, times, values, mask, exogenous, time_step: float = 1.0):
        """Filter `[B, T, ...]` sequences from `state`: `(state, mean [B, T, F], covariance [B, T, F, F], loss [B, T])`."""
        previous = tf.concat([times[:, :1] - time_step, times[:, :-1]], 1)
        gaps = tf.maximum(tf.round((times - previous) / time_step) - 1.0, 0.0)
        xs = tuple(tf.experimental.numpy.swapaxes(x, 0, 1) for x in (times, values, mask, exogenous, gaps))

        def step(carry, x):
            state = carry[0]
            time, value, observed, exog, gap = x
            state = self.impute_step(state, gap)
            state = self.exogenous_step(state, exog)
            state, prediction, loss = self.filter_step(state, time, value, exog, observed)
            return state, prediction["mean"], prediction["covariance"], loss

        dtype = values.dtype
        batch = tf.shape(values)[0]
        f = self.num_features
        init = (state, tf.zeros([batch, f], dtype), tf.zeros([batch, f, f], dtype), tf.zeros([batch], dtype))
        final, means, covariances, losses = _scan(step, xs, init)
        swap = tf.experimental.numpy.swapaxes
        return final, swap(means, 0, 1), swap(covariances, 0, 1), swap(losses, 0, 1)

    def run_predict(self, state, times, exogenous):
        """Predict `[B, H]` future steps from `state`: `(state, mean [B, H, F], covariance [B, H, F, F])`."""
        xs = tuple(tf.experimental.numpy.swapaxes(x, 0, 1) for x in (times, exogenous))

        def step(carry, x):
            state = self.exogenous_step(carry[0], x[1])
            state, prediction = self.predict_step(state, x[0], x[1])
            return state, prediction["mean"], prediction["covariance"]

        dtype = exogenous.dtype
        batch = tf.shape(times)[0]
        f = self.num_features
        final, means, covariances = _scan(step, xs, (state, tf.zeros([batch, f], dtype),
                                                     tf.zeros([batch, f, f], dtype)))
        swap = tf.experimental.numpy.swapaxes
        return final, swap(means, 0, 1), swap(covariances, 0, 1)

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """One-step-ahead predictions over windows `{values, mask, times, exogenous}` from the start state:
        `[B, W, F, 2]` (mean and variance)."""
        values = inputs["values"]
        batch = tf.shape(values)[0]
        _, mean, covariance, _ = self.run_filter(
            self.start_state(batch), tf.cast(inputs["times"], tf.float64), values,
            tf.cast(inputs["mask"], tf.bool), inputs["exogenous"])
        return tf.stack([mean, tf.linalg.diag_part(covariance)], -1)


def _scan(step, xs, init):
    """`tf.scan` carrying (state, outputs...): the final state and the stacked outputs."""
    states, *outputs = tf.scan(step, xs, initializer=init)
    return (tf.nest.map_structure(lambda x: x[-1], states), *outputs)


def gaussian_nll(y, mean, log_variance):
    """Elementwise Gaussian negative log-likelihood."""
    return 0.5 * (LOG_2PI + log_variance + tf.square(y - mean) * tf.exp(-log_variance))


@keras.saving.register_keras_serializable(package="tfzoo.tfts")
class LSTMModel(SequentialModel):
    """TFTS's LSTM example: the previous observation (scaled inside the model) and the exogenous features
    feed an LSTMCell; Dense heads give the next step's mean and log-variance.

    Args:
        num_units: LSTM width.
        num_features: F.
        exogenous_size: width of the encoded exogenous features (set by the regressor).
    """

    def __init__(self, *, num_units: int = 128, num_features: int = 1, exogenous_size: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(num_features=num_features, exogenous_size=exogenous_size, **kwargs)
        self.num_units = int(num_units)
        f = self.num_features
        self.offset = self.add_weight(shape=(f,), initializer="zeros", trainable=False, name="offset")
        self.scale = self.add_weight(shape=(f,), initializer="ones", trainable=False, name="scale")
        self.cell = keras.layers.LSTMCell(self.num_units, name="lstm")
        self.mean_head = keras.layers.Dense(f, name="mean")
        self.log_variance_head = keras.layers.Dense(f, name="log_variance")
        self._build_now()

    def _build_now(self) -> None:
        f, e = self.num_features, self.exogenous_size
        state = self.start_state(1)
        self.cell.build((None, f + e))
        self.mean_head.build((None, self.num_units))
        self.log_variance_head.build((None, self.num_units))
        self.filter_step(state, tf.zeros([1], tf.float64), tf.zeros([1, f]), tf.zeros([1, e]), tf.ones([1, f], tf.bool))
        self.built = True  # every variable exists now

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_units": self.num_units}

    def prepare(self, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64)
        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        self.offset.assign(np.nan_to_num(mean).astype(self.offset.dtype))
        self.scale.assign(np.where(std > 0, std, 1.0).astype(self.scale.dtype))

    def start_state(self, batch_size: Any) -> dict[str, tf.Tensor]:
        dtype = self.offset.dtype
        return {"h": tf.zeros([batch_size, self.num_units], dtype), "c": tf.zeros([batch_size, self.num_units], dtype)}

    def _prediction(self, state):
        h = state["h"]
        mean = self.mean_head(h)
        log_variance = self.log_variance_head(h)
        return mean, log_variance

    def _advance(self, state, scaled_input, exogenous):
        x = tf.concat([scaled_input, tf.cast(exogenous, scaled_input.dtype)], -1)
        _, (h, c) = self.cell(x, [state["h"], state["c"]])
        return {"h": h, "c": c}

    def _output(self, mean, log_variance):
        return {"mean": mean * self.scale + self.offset,
                "covariance": tf.linalg.diag(tf.exp(log_variance) * tf.square(self.scale))}

    def filter_step(self, state, time, observation, exogenous, mask):
        mean, log_variance = self._prediction(state)
        scaled = (tf.cast(observation, mean.dtype) - self.offset) / self.scale
        weight = tf.cast(mask, mean.dtype)
        loss = tf.reduce_sum(gaussian_nll(scaled, mean, log_variance) * weight, -1)
        # Missing entries are fed the model's own prediction.
        filled = tf.where(tf.cast(mask, tf.bool), scaled, mean)
        return self._advance(state, filled, exogenous), self._output(mean, log_variance), loss

    def predict_step(self, state, time, exogenous):
        mean, log_variance = self._prediction(state)
        return self._advance(state, mean, exogenous), self._output(mean, log_variance)


class TimeSeriesRegressor(Estimator):
    """The estimator interface for a `SequentialModel`.

    Args:
        model: the SequentialModel (its `num_features` / `exogenous_size` must match the data and features).
        optimizer: an optimiser name or a Keras optimiser (default Adam).
        exogenous_features: `io.Numeric` / `io.Categorical` features the model receives.
        **kwargs: `Estimator` arguments (model_dir, learning_rate, clip_norm, dtype).
    """

    def __init__(self, model: SequentialModel | dict, optimizer: Any = "adam", exogenous_features: tuple = (),
                 **kwargs: Any) -> None:
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        if not isinstance(model, SequentialModel):
            raise ConfigError(f"TimeSeriesRegressor needs a SequentialModel, got {type(model).__name__}")
        kwargs.setdefault("num_features", model.num_features)
        super().__init__(optimizer=optimizer, exogenous_features=exogenous_features, **kwargs)
        if self.num_features != model.num_features:
            raise ConfigError(f"num_features={self.num_features} but the model has {model.num_features}")
        if self.exogenous_size != model.exogenous_size:
            raise ConfigError(f"the exogenous features encode to {self.exogenous_size} columns but the model "
                              f"expects exogenous_size={model.exogenous_size}")
        self._sequential = model

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self._sequential)}

    def _build_model(self) -> SequentialModel:
        return self._sequential

    def _prepare(self, data: dict[str, np.ndarray]) -> None:
        self._sequential.prepare(data[io.VALUES])

    def _initial_state(self) -> dict[str, tf.Tensor]:
        return self._sequential.start_state(1)

    def _training_loss(self, batch: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        model = self._sequential
        state = model.start_state(tf.shape(batch[io.VALUES])[0])
        _, _, _, losses = model.run_filter(state, batch[io.TIMES], batch[io.VALUES], batch[io.MASK],
                                           batch[io.EXOGENOUS], self.time_step)
        count = tf.maximum(tf.reduce_sum(tf.cast(batch[io.MASK], losses.dtype)), 1.0)
        return tf.reduce_sum(losses) / count

    def _filter(self, state, times, values, mask, exogenous):
        model_state = {k: v for k, v in state.items() if k != "time"}
        final, mean, covariance, losses = self._sequential.run_filter(
            model_state, times[None], values[None], mask[None], exogenous[None], self.time_step)
        count = tf.maximum(tf.reduce_sum(tf.cast(mask, losses.dtype)), 1.0)
        return final, mean[0], covariance[0], tf.reduce_sum(losses) / count

    def _forecast(self, state, times, exogenous):
        model_state = {k: v for k, v in state.items() if k != "time"}
        final, mean, covariance = self._sequential.run_predict(model_state, times[None], exogenous[None])
        return mean[0], covariance[0], final


class LSTMRegressor(TimeSeriesRegressor):
    """`TimeSeriesRegressor(LSTMModel(num_units, num_features))` as one estimator, TFTS's `lstm.py` example.

    For a model of your own, subclass `SequentialModel` and wrap it in `TimeSeriesRegressor`.

    Args:
        num_units: LSTM width.
        num_features: F.
        exogenous_features: `io.Numeric` / `io.Categorical` inputs.
        **kwargs: `Estimator` arguments (model_dir, optimizer, learning_rate, clip_norm, ...).
    """

    def __init__(self, num_units: int = 128, num_features: int = 1, exogenous_features: tuple = (),
                 **kwargs: Any) -> None:
        features = tuple(io.feature_from_dict(f) if isinstance(f, dict) else f for f in exogenous_features)
        model = LSTMModel(num_units=num_units, num_features=num_features,
                          exogenous_size=io.exogenous_size(features))
        super().__init__(model, exogenous_features=features, num_features=num_features, **kwargs)
        self.num_units = int(num_units)

    def get_config(self) -> dict[str, Any]:
        # The constructor takes sizes, not a serialised model.
        return {**Estimator.get_config(self), "num_units": self.num_units}
