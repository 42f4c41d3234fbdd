"""`ARRegressor`: TFTS's autoregressive estimator (linear or MLP) with periodic time features.

From a window of `input_window_size` past values it predicts the next `output_window_size` values: a mean
and, with `loss="normal_likelihood"`, a log-variance head trained by Gaussian negative log-likelihood; with
`loss="squared"` the mean is trained by MSE and each output step's variance is a running estimate of the
training residuals. The inputs are the past values (scaled inside the model by the training mean and
standard deviation), the exogenous features of the input and output times, and for each periodicity p a
one-hot bucket floor((t mod p) / p * num_time_buckets) of every input and output time.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import Estimator

LOSSES = ("normal_likelihood", "squared")
LOG_2PI = math.log(2.0 * math.pi)


def periodic_features(times: tf.Tensor, periodicities: tuple[float, ...], buckets: int, dtype) -> tf.Tensor:
    """`[..., len(periodicities) * buckets]` one-hot phase buckets of `times` (float64)."""
    parts = []
    for period in periodicities:
        phase = tf.math.floormod(times, period) / period
        index = tf.cast(tf.clip_by_value(tf.floor(phase * buckets), 0, buckets - 1), tf.int32)
        parts.append(tf.one_hot(index, buckets, dtype=dtype))
    if not parts:
        return tf.zeros(tf.concat([tf.shape(times), [0]], 0), dtype)
    return tf.concat(parts, -1)


@keras.saving.register_keras_serializable(package="tfzoo.tfts")
class ARNetwork(keras.Model):
    """The AR network: `{values [B, I, F], mask, input_times [B, I], output_times [B, O], exogenous [B, I+O, E]}`
    -> `[B, O, F, 2]` (mean and variance, in the data's units).

    Scaling lives in the model (`offset`, `scale`, set from the training data) so a saved model needs
    nothing else; missing inputs are imputed by the training mean.
    """

    def __init__(self, *, input_window_size: int, output_window_size: int, num_features: int,
                 periodicities: tuple[float, ...] = (), num_time_buckets: int = 10, exogenous_size: int = 0,
                 hidden_layer_sizes: tuple[int, ...] = (), likelihood: bool = True, normalize_window: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.normalize_window = bool(normalize_window)
        self.input_window_size = int(input_window_size)
        self.output_window_size = int(output_window_size)
        self.num_features = int(num_features)
        self.periodicities = tuple(float(p) for p in periodicities)
        self.num_time_buckets = int(num_time_buckets)
        self.exogenous_size = int(exogenous_size)
        self.hidden_layer_sizes = tuple(int(h) for h in hidden_layer_sizes)
        self.likelihood = bool(likelihood)
        f = self.num_features
        self.offset = self.add_weight(shape=(f,), initializer="zeros", trainable=False, name="offset")
        self.scale = self.add_weight(shape=(f,), initializer="ones", trainable=False, name="scale")
        # Squared loss: a running mean of the squared training residuals per output step and feature.
        # Updated inside the training step: "mean" lets every replica of a mirrored run assign it.
        self.residual_variance = self.add_weight(shape=(self.output_window_size, f), initializer="ones",
                                                 trainable=False, name="residual_variance", aggregation="mean")
        self.residual_updates = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                                name="residual_updates", aggregation="mean")
        # One attribute per layer: tf.train.Checkpoint (the trainer's checkpoints, save/load) does not see
        # layers kept in a Python list on a Keras 3 model.
        for i, h in enumerate(self.hidden_layer_sizes):
            setattr(self, f"hidden_{i}", keras.layers.Dense(h, activation="relu", name=f"hidden_{i}"))
        out = self.output_window_size * f
        self.mean_head = keras.layers.Dense(out, name="mean")
        self.log_variance_head = keras.layers.Dense(out, name="log_variance", kernel_initializer="zeros")
        # Built for either loss so both save the same variables; only the likelihood trains it.
        self.log_variance_head.trainable = self.likelihood
        self.build_now()

    def build_now(self) -> None:
        i, o, f = self.input_window_size, self.output_window_size, self.num_features
        self({
            "values": tf.zeros([1, i, f]), "mask": tf.ones([1, i, f], tf.bool),
            "input_times": tf.zeros([1, i], tf.float64), "output_times": tf.zeros([1, o], tf.float64),
            "exogenous": tf.zeros([1, i + o, self.exogenous_size]),
        }, raw=True)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_window_size": self.input_window_size, "output_window_size": self.output_window_size,
            "num_features": self.num_features, "periodicities": list(self.periodicities),
            "num_time_buckets": self.num_time_buckets, "exogenous_size": self.exogenous_size,
            "hidden_layer_sizes": list(self.hidden_layer_sizes), "likelihood": self.likelihood,
            "normalize_window": self.normalize_window,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ARNetwork:
        return cls(**config)

    # Symbolic descriptions of the call's inputs and output, as a functional model has (export manifests).
    @property
    def inputs(self) -> list:
        i, o, f = self.input_window_size, self.output_window_size, self.num_features
        return [keras.KerasTensor((None, i, f), name="values"), keras.KerasTensor((None, i, f), "bool", name="mask"),
                keras.KerasTensor((None, i), "float64", name="input_times"),
                keras.KerasTensor((None, o), "float64", name="output_times"),
                keras.KerasTensor((None, i + o, self.exogenous_size), name="exogenous")]

    @property
    def outputs(self) -> list:
        return [keras.KerasTensor((None, self.output_window_size, self.num_features, 2), name="mean_variance")]

    def level(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        """`[B, 1, F]`: the scaled mean of each input window when `normalize_window`, else 0."""
        dtype = self.offset.dtype
        if not self.normalize_window:
            return tf.zeros([1, 1, self.num_features], dtype)
        scaled = (tf.cast(inputs["values"], dtype) - self.offset) / self.scale
        weight = tf.cast(inputs["mask"], dtype)
        return tf.reduce_sum(scaled * weight, 1, keepdims=True) / tf.maximum(
            tf.reduce_sum(weight, 1, keepdims=True), 1.0)

    def features(self, inputs: dict[str, tf.Tensor], level: tf.Tensor) -> tf.Tensor:
        dtype = self.offset.dtype
        values = tf.cast(inputs["values"], dtype)
        scaled = (values - self.offset) / self.scale - level
        scaled = tf.where(tf.cast(inputs["mask"], tf.bool), scaled, tf.zeros_like(scaled))
        batch = tf.shape(values)[0]
        parts = [tf.reshape(scaled, [batch, self.input_window_size * self.num_features])]
        if self.periodicities:
            times = tf.concat([tf.cast(inputs["input_times"], tf.float64),
                               tf.cast(inputs["output_times"], tf.float64)], 1)
            phases = periodic_features(times, self.periodicities, self.num_time_buckets, dtype)
            parts.append(tf.reshape(phases, [batch, -1]))
        if self.exogenous_size:
            parts.append(tf.reshape(tf.cast(inputs["exogenous"], dtype), [batch, -1]))
        return tf.concat(parts, 1)

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False, raw: bool = False) -> tf.Tensor:
        """`[B, O, F, 2]`: mean and variance in data units (`raw=True`: scaled mean and log-variance)."""
        level = self.level(inputs)
        x = self.features(inputs, level)
        for i in range(len(self.hidden_layer_sizes)):
            x = getattr(self, f"hidden_{i}")(x)
        shape = [-1, self.output_window_size, self.num_features]
        mean = tf.reshape(self.mean_head(x), shape) + level
        if self.likelihood:
            log_variance = tf.reshape(self.log_variance_head(x), shape)
        else:
            self.log_variance_head(x)
            log_variance = tf.broadcast_to(tf.math.log(self.residual_variance), tf.shape(mean))
        if raw:
            return tf.stack([mean, log_variance], -1)
        return tf.stack([mean * self.scale + self.offset, tf.exp(log_variance) * tf.square(self.scale)], -1)


class ARRegressor(Estimator):
    """TFTS's autoregressive estimator (spec §7.2).

    Args:
        periodicities: periods (in time units, may be non-integer) whose phase buckets are inputs.
        input_window_size: past values the model sees.
        output_window_size: future values it predicts at once; longer horizons iterate on the means.
        num_features: F.
        num_time_buckets: buckets per period.
        loss: `normal_likelihood` (mean and log-variance heads) or `squared` (MSE, residual variance).
        hidden_layer_sizes: None or () for the linear model, else the ReLU MLP's widths.
        exogenous_features: `io.Numeric` / `io.Categorical` inputs; `predict` needs their future values.
        anomaly_prior_probability: when set, the likelihood is a Gaussian/Cauchy mixture with this prior on
            the Cauchy (anomaly) part, and `evaluate` returns per-point anomaly probabilities.
        normalize_window: subtract each input window's mean level (scaled) from its inputs and add it back to
            the predicted means: trending series then look stationary to the network. Off by default (TFTS's
            model); with it the linear model's lag weights sum to one.
        **kwargs: `Estimator` arguments (model_dir, optimizer, learning_rate, ...).
    """

    def __init__(self, periodicities: Any = (), input_window_size: int = 1, output_window_size: int = 1,
                 num_features: int = 1, num_time_buckets: int = 10, loss: str = "normal_likelihood",
                 hidden_layer_sizes: tuple[int, ...] | None = None, exogenous_features: tuple = (),
                 anomaly_prior_probability: float | None = None, normalize_window: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(num_features=num_features, exogenous_features=exogenous_features, **kwargs)
        if loss not in LOSSES:
            raise ConfigError(f"loss={loss!r}; choose one of {', '.join(LOSSES)}")
        if isinstance(periodicities, (int, float)):
            periodicities = (periodicities,)
        self.periodicities = tuple(float(p) for p in periodicities)
        if any(p <= 0 for p in self.periodicities):
            raise ConfigError(f"periodicities {self.periodicities}: every period must be > 0")
        if input_window_size < 1 or output_window_size < 1:
            raise ConfigError(f"input_window_size={input_window_size}, output_window_size={output_window_size}; "
                              "expected >= 1")
        if anomaly_prior_probability is not None and not 0.0 < anomaly_prior_probability < 1.0:
            raise ConfigError(f"anomaly_prior_probability={anomaly_prior_probability}; expected in (0, 1)")
        self.input_window_size = int(input_window_size)
        self.output_window_size = int(output_window_size)
        self.num_time_buckets = int(num_time_buckets)
        self.loss = loss
        self.hidden_layer_sizes = tuple(int(h) for h in (hidden_layer_sizes or ()))
        self.anomaly_prior_probability = anomaly_prior_probability
        self.normalize_window = bool(normalize_window)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "periodicities": list(self.periodicities), "input_window_size": self.input_window_size,
            "output_window_size": self.output_window_size, "num_time_buckets": self.num_time_buckets,
            "loss": self.loss, "hidden_layer_sizes": list(self.hidden_layer_sizes),
            "anomaly_prior_probability": self.anomaly_prior_probability,
            "normalize_window": self.normalize_window,
        }

    def default_window_size(self) -> int:
        return self.input_window_size + self.output_window_size

    # ----- hooks ----------------------------------------------------------------------------------------------
    def _build_model(self) -> ARNetwork:
        return ARNetwork(
            input_window_size=self.input_window_size, output_window_size=self.output_window_size,
            num_features=self.num_features, periodicities=self.periodicities,
            num_time_buckets=self.num_time_buckets, exogenous_size=self.exogenous_size,
            hidden_layer_sizes=self.hidden_layer_sizes, likelihood=self.loss == "normal_likelihood",
            normalize_window=self.normalize_window,
            dtype=self.dtype, name="ar_network",
        )

    def _prepare(self, data: dict[str, np.ndarray]) -> None:
        self.set_scaling(data[io.VALUES])

    def set_scaling(self, values: np.ndarray) -> None:
        """Fit the in-model scaling to the training values (mean and standard deviation, NaN ignored)."""
        values = np.asarray(values, np.float64)
        if not np.isfinite(values).any(axis=0).all():
            raise DataError("ARRegressor: a value column has no observation at all")
        offset = np.nanmean(values, axis=0)
        scale = np.nanstd(values, axis=0)
        self.model.offset.assign(offset.astype(self.dtype))
        self.model.scale.assign(np.where(scale > 0, scale, 1.0).astype(self.dtype))

    def _initial_state(self) -> dict[str, tf.Tensor]:
        i, f, e = self.input_window_size, self.num_features, self.exogenous_size
        dtype = tf.as_dtype(self.dtype)
        return {
            "values": tf.zeros([i, f], dtype),
            "mask": tf.zeros([i, f], tf.bool),
            "times": tf.fill([i], tf.constant(np.nan, tf.float64)),
            "exogenous": tf.zeros([i, e], dtype),
        }

    def _split_window(self, batch: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        i = self.input_window_size
        inputs = {
            "values": batch[io.VALUES][:, :i], "mask": batch[io.MASK][:, :i],
            "input_times": batch[io.TIMES][:, :i], "output_times": batch[io.TIMES][:, i:],
            "exogenous": batch[io.EXOGENOUS],
        }
        return inputs, batch[io.VALUES][:, i:], batch[io.MASK][:, i:]

    def model_inputs(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return self._split_window(batch)[0]

    def _training_loss(self, batch: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        model = self.model
        inputs, target, mask = self._split_window(batch)
        out = model(inputs, training=training, raw=True)
        mean, log_variance = out[..., 0], out[..., 1]
        scaled = (tf.cast(target, mean.dtype) - model.offset) / model.scale
        weight = tf.cast(mask, mean.dtype)
        count = tf.maximum(tf.reduce_sum(weight), 1.0)
        squared = tf.square(scaled - mean)
        if self.loss == "squared":
            if training:
                self._update_residual_variance(squared, weight)
            if self.anomaly_prior_probability is None:
                return tf.reduce_sum(squared * weight) / count
            log_variance = tf.stop_gradient(log_variance)
        nll = self._negative_log_likelihood(scaled, mean, log_variance)
        return tf.reduce_sum(nll * weight) / count

    def _update_residual_variance(self, squared: tf.Tensor, weight: tf.Tensor) -> None:
        # A running mean whose decay grows with the update count (as tf.train.ExponentialMovingAverage with
        # num_updates), so early, large residuals are forgotten as the fit improves.
        model = self.model
        per_step = tf.reduce_sum(squared * weight, 0) / tf.maximum(tf.reduce_sum(weight, 0), 1.0)
        n = model.residual_updates
        decay = tf.minimum(tf.cast(0.99, n.dtype), (1.0 + n) / (10.0 + n))
        seen = tf.reduce_sum(weight, 0) > 0
        updated = decay * model.residual_variance + (1.0 - decay) * tf.maximum(per_step, 1e-8)
        model.residual_variance.assign(tf.where(seen, updated, model.residual_variance))
        n.assign_add(1.0)

    def _negative_log_likelihood(self, y, mean, log_variance):
        gaussian = 0.5 * (LOG_2PI + log_variance + tf.square(y - mean) * tf.exp(-log_variance))
        if self.anomaly_prior_probability is None:
            return gaussian
        p = tf.cast(self.anomaly_prior_probability, mean.dtype)
        return -tf.reduce_logsumexp(
            tf.stack([tf.math.log1p(-p) - gaussian, tf.math.log(p) + _cauchy_log_density(y, mean, log_variance)]),
            0)

    def _windows_for(self, state, times, values, mask, exogenous):
        """Input windows ending before each of `times` (one per time), from `state` then the new values."""
        i, o = self.input_window_size, self.output_window_size
        state_times = state["times"]
        filled = state["time"] - self.time_step * tf.range(i - 1, -1, -1, dtype=tf.float64)
        state_times = tf.where(tf.math.is_nan(state_times), filled, state_times)
        all_values = tf.concat([state["values"], values], 0)
        all_mask = tf.concat([state["mask"], mask], 0)
        all_times = tf.concat([state_times, times], 0)
        all_exog = tf.concat([state["exogenous"], exogenous], 0)
        # Output times past the end are extrapolated; their exogenous rows repeat the last known one.
        steps = tf.cast(tf.range(1, o), tf.float64) * self.time_step
        out_times = tf.concat([all_times, times[-1] + steps], 0)
        out_exog = tf.concat([all_exog, tf.repeat(all_exog[-1:], o - 1, axis=0)], 0)
        t = tf.shape(times)[0]
        index_in = tf.range(t)[:, None] + tf.range(i)[None, :]
        index_out = i + tf.range(t)[:, None] + tf.range(o)[None, :]
        inputs = {
            "values": tf.gather(all_values, index_in), "mask": tf.gather(all_mask, index_in),
            "input_times": tf.gather(all_times, index_in), "output_times": tf.gather(out_times, index_out),
            "exogenous": tf.concat([tf.gather(all_exog, index_in), tf.gather(out_exog, index_out)], 1),
        }
        end = {"values": all_values[-i:], "mask": all_mask[-i:], "times": all_times[-i:],
               "exogenous": all_exog[-i:]}
        return inputs, end

    def _filter(self, state, times, values, mask, exogenous):
        inputs, end = self._windows_for(state, times, values, mask, exogenous)
        out = self.model(inputs)
        mean, variance = out[:, 0, :, 0], out[:, 0, :, 1]
        # Points whose input window is mostly before the series (imputed) are predicted but not scored.
        history = tf.reduce_mean(tf.cast(inputs["mask"], mean.dtype), [1, 2])
        weight = tf.cast(mask, mean.dtype) * tf.cast(history >= 0.5, mean.dtype)[:, None]
        y = tf.cast(values, mean.dtype)
        if self.loss == "squared":
            per_value = tf.square(y - mean)
        else:
            per_value = self._negative_log_likelihood(y, mean, tf.math.log(variance))
        loss = tf.reduce_sum(per_value * weight) / tf.maximum(tf.reduce_sum(weight), 1.0)
        return end, mean, tf.linalg.diag(variance), loss

    def _forecast(self, state, times, exogenous):
        i, o = self.input_window_size, self.output_window_size
        horizon = tf.shape(times)[0]
        chunks = (horizon + o - 1) // o
        # Pad the future times and exogenous rows to whole chunks of the output window.
        pad = chunks * o - horizon
        padded_times = tf.concat([times, times[-1] + self.time_step * tf.cast(tf.range(1, pad + 1), tf.float64)], 0)
        padded_exog = tf.concat([exogenous, tf.repeat(exogenous[-1:], pad, axis=0)], 0)
        window = {k: state[k] for k in ("values", "mask", "times", "exogenous")}
        means = tf.TensorArray(self.model.offset.dtype, size=chunks)
        variances = tf.TensorArray(self.model.offset.dtype, size=chunks)
        for c in tf.range(chunks):
            out_times = padded_times[c * o:(c + 1) * o]
            out_exog = padded_exog[c * o:(c + 1) * o]
            inputs = {
                "values": window["values"][None], "mask": window["mask"][None],
                "input_times": window["times"][None], "output_times": out_times[None],
                "exogenous": tf.concat([window["exogenous"], out_exog], 0)[None],
            }
            out = self.model(inputs)[0]
            means = means.write(c, out[..., 0])
            variances = variances.write(c, out[..., 1])
            # Iterate on the means: the predictions become the next chunk's inputs.
            window = {
                "values": tf.concat([window["values"], tf.cast(out[..., 0], window["values"].dtype)], 0)[-i:],
                "mask": tf.concat([window["mask"], tf.ones([o, self.num_features], tf.bool)], 0)[-i:],
                "times": tf.concat([window["times"], out_times], 0)[-i:],
                "exogenous": tf.concat([window["exogenous"], out_exog], 0)[-i:],
            }
            window = {k: tf.ensure_shape(v, state[k].shape) for k, v in window.items()}
        mean = tf.reshape(means.stack(), [-1, self.num_features])[:horizon]
        variance = tf.reshape(variances.stack(), [-1, self.num_features])[:horizon]
        # The state after the horizon: the last i values of (state, predicted means).
        all_values = tf.concat([state["values"], tf.cast(mean, state["values"].dtype)], 0)
        all_mask = tf.concat([state["mask"], tf.ones([horizon, self.num_features], tf.bool)], 0)
        all_times = tf.concat([state["times"], times], 0)
        all_exog = tf.concat([state["exogenous"], exogenous], 0)
        end = {"values": all_values[-i:], "mask": all_mask[-i:], "times": all_times[-i:], "exogenous": all_exog[-i:]}
        return mean, tf.linalg.diag(variance), end

    def _evaluate_arrays(self, data, state=None):
        evaluation = super()._evaluate_arrays(data, state)
        if self.anomaly_prior_probability is not None:
            evaluation.anomaly_probability = self.anomaly_probability(evaluation)
        return evaluation

    def anomaly_probability(self, evaluation) -> np.ndarray:
        """Posterior probability `[T, F]` that each observation came from the Cauchy (anomaly) component."""
        p = float(self.anomaly_prior_probability or 0.0)
        variance = np.diagonal(evaluation.covariance, axis1=-2, axis2=-1).astype(np.float64)
        y, mean = evaluation.observed.astype(np.float64), evaluation.mean.astype(np.float64)
        log_variance = np.log(variance)
        gaussian = -0.5 * (LOG_2PI + log_variance + (y - mean) ** 2 / variance)
        cauchy = _cauchy_log_density(tf.constant(y), tf.constant(mean), tf.constant(log_variance)).numpy()
        a, b = np.log1p(-p) + gaussian, np.log(p) + cauchy
        out = 1.0 / (1.0 + np.exp(a - b))
        return np.where(np.isfinite(y), out, np.nan)


def _cauchy_log_density(y, location, log_variance):
    # The Cauchy scale is the Gaussian standard deviation: an anomaly is "the same width, heavy tails".
    scale = tf.exp(0.5 * log_variance)
    z = (y - location) / scale
    return -tf.math.log(tf.cast(math.pi, y.dtype) * scale) - tf.math.log1p(tf.square(z))
