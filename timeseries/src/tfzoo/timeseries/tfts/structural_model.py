"""`StructuralModel`, the structural time-series layer: filtering, forecasting, likelihood gradients and fitting.

`StructuralModel` completes `StructuralStateSpace` (`structural_ssm`) with the tensor-level workflow, all in
float64 on the original scale: standardisation of the values, exact Kalman filtering (`filter`,
`filter_tensors`), `forecast`, `log_likelihood` and `log_likelihood_and_gradients` (forward mode, far faster
than backpropagating through the scan), and `fit` (Adam on the whole series). `COMPILE_FROM` / `JIT_WORK` say
when filtering runs as a graph and when training compiles with XLA; `_steps` and `_mask2d` check inputs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError
from tfzoo.timeseries.tfts.kalman import (
    DTYPE,
    FilterState,
    kalman_filter,
    kalman_forecast,
    kalman_log_likelihood_and_tangents,
)
from tfzoo.timeseries.tfts.structural_ssm import StructuralStateSpace

# Series at least this long are filtered by a compiled graph. Training compiles with XLA when steps x length
# reaches JIT_WORK: compiling costs tens of seconds and makes each step ~5x faster, so it pays off only then.
COMPILE_FROM = 300
JIT_WORK = 20_000


@keras.saving.register_keras_serializable(package="tfzoo_timeseries")
class StructuralModel(StructuralStateSpace):
    """A structural time-series model in state-space form with its parameters as float64 variables.

    All methods take `times` in steps (float64, consecutive: t, t+1, ...; the seasonal phase is t mod P),
    `values` `[T, F]` with NaN where missing, an optional `mask` (`[T]` or `[T, F]`, False = ignore, e.g.
    known anomalies), `exogenous` `[T, num_exogenous]` regressors and `update` `[T, num_update]` inputs
    that shift the level (zero where their condition does not hold; see `condition_inputs`).

    Values are standardised internally by `offset` and `scale` (0 and 1 until `adapt` sets them from data)
    so that the diffuse prior and the optimiser's step size mean the same on every series; the returned
    means, covariances and log-likelihood are on the original scale.
    """

    def _standardise(self, values):
        return (tf.convert_to_tensor(values, DTYPE) - self.offset) / self.scale

    def _unstandardise(self, means, covs):
        return means * self.scale + self.offset, covs * self.scale[:, None] * self.scale[None, :]

    def _check_inputs(self, times, values, exogenous, update):
        steps = len(times)
        if values is not None and np.shape(values) != (steps, self.num_features):
            raise DataError(f"values of shape {np.shape(values)}; expected [{steps}, {self.num_features}]")
        for name, x, width in (("exogenous", exogenous, self.num_exogenous), ("update", update, self.num_update)):
            if width and (x is None or np.shape(x) != (steps, width)):
                raise DataError(f"{name} of shape {np.shape(x) if x is not None else None}; this model needs "
                                f"[{steps}, {width}] (one row per time)")

    def filter_tensors(self, times, values, mask=None, exogenous=None, update=None, state=None):
        """Tensor-in, tensor-out filtering (traceable): `(means, covs, state, loglik, result)` on the original scale."""
        times = tf.convert_to_tensor(times, DTYPE)
        state = self.prior(times[0] - 1.0) if state is None else state
        system = self.system(times, exogenous, update)
        y = self._standardise(values)
        observed = tf.logical_not(tf.math.is_nan(y))
        if mask is not None:
            mask = tf.convert_to_tensor(mask, tf.bool)
            observed = tf.logical_and(observed, mask[:, None] if mask.shape.rank == 1 else mask)
        result = kalman_filter(y, state=state, mask=observed, **system)
        # The likelihood of the original values: one log(scale) per counted observation (change of variables).
        counted = tf.range(tf.shape(times)[0]) >= state.burn
        count = tf.reduce_sum(tf.cast(observed, DTYPE) * tf.math.log(self.scale), axis=1)
        loglik = result.log_likelihood - tf.reduce_sum(tf.where(counted, count, tf.zeros_like(count)))
        means, covs = self._unstandardise(result.means, result.covariances)
        end = result.state._replace(time=times[-1])
        return means, covs, end, loglik, result

    def log_likelihood_and_gradients(self, times, values, mask=None, exogenous=None, update=None, state=None):
        """Tensor-in: the log-likelihood and its gradient for each of `self.trainable_variables` (traceable).

        The gradient is computed in forward mode (one tangent per scalar parameter) by
        `kalman_log_likelihood_and_tangents`, which is far faster than backpropagating through the scan.
        """
        times = tf.convert_to_tensor(times, DTYPE)
        y = self._standardise(values)
        observed = tf.logical_not(tf.math.is_nan(y))
        if mask is not None:
            mask = tf.convert_to_tensor(mask, tf.bool)
            observed = tf.logical_and(observed, mask[:, None] if mask.shape.rank == 1 else mask)
        variables = self.trainable_variables
        keys = ("transition", "state_cov", "obs_cov", "obs_offset", "state_offset")
        tangents: dict[str, list] = {key: [] for key in (*keys, "cov")}
        pieces = self.pieces()
        for d_pieces in self._piece_tangents(pieces):
            d_system = self.system(times, exogenous, update, pieces=d_pieces, constants=False)
            for key in keys:
                tangents[key].append(d_system[key])
            if state is None:
                tangents["cov"].append(self.prior(times[0] - 1.0, pieces=d_pieces, constants=False).cov)
        stacked = {key: (None if not parts or parts[0] is None else tf.stack(parts)) for key, parts in tangents.items()}
        system = self.system(times, exogenous, update, pieces=pieces)
        start = self.prior(times[0] - 1.0, pieces=pieces) if state is None else state
        k = len(tangents["obs_cov"])
        d_cov = stacked["cov"] if state is None else tf.zeros([k, self.state_size, self.state_size], DTYPE)
        loglik, dloglik = kalman_log_likelihood_and_tangents(
            y, state=start, mask=observed, d_mean=tf.zeros([k, self.state_size], DTYPE), d_cov=d_cov, **system,
            d_design=None, **{f"d_{key}": stacked[key] for key in keys},
        )
        counted = tf.range(tf.shape(times)[0]) >= start.burn
        count = tf.reduce_sum(tf.cast(observed, DTYPE) * tf.math.log(self.scale), axis=1)
        loglik -= tf.reduce_sum(tf.where(counted, count, tf.zeros_like(count)))
        grads, offset = [], 0
        for v in variables:
            size = int(np.prod(v.shape))
            grads.append(tf.reshape(dloglik[offset:offset + size], v.shape))
            offset += size
        return loglik, grads

    def filter(self, times, values, mask=None, exogenous=None, update=None, state: FilterState | None = None):
        """One-step predictive means `[T, F]`, covariances `[T, F, F]`, the state after the last time, log-likelihood.

        With `state` (from an earlier `filter` or `forecast`) the series continues: `times[0]` must be the step
        after `state.time`, and filtering in pieces gives the same as filtering the whole.
        """
        times = _steps(times, state)
        values = np.asarray(values, np.float64).reshape(len(times), -1)
        self._check_inputs(times, values, exogenous, update)
        if state is None:
            state = self.prior(times[0] - 1.0)
        run = self.filter_tensors
        if len(times) >= COMPILE_FROM:
            if getattr(self, "_filter_graph", None) is None:
                self._filter_graph = tf.function(self._filter_graph_fn, autograph=False, reduce_retracing=True)
            run = self._filter_graph
        none = np.zeros((len(times), 0))
        mask = np.ones(values.shape, bool) if mask is None else _mask2d(mask, values.shape)
        means, covs, end, loglik = run(
            tf.constant(times), tf.constant(values), tf.constant(mask),
            tf.constant(np.asarray(exogenous if exogenous is not None else none, np.float64)),
            tf.constant(np.asarray(update if update is not None else none, np.float64)), state)[:4]
        return means.numpy(), covs.numpy(), end, float(loglik)

    def _filter_graph_fn(self, times, values, mask, exogenous, update, state):
        return self.filter_tensors(times, values, mask, exogenous, update, state)[:4]

    def log_likelihood(self, times, values, mask=None, exogenous=None, update=None) -> float:
        """The exact Gaussian log-likelihood of `values` (after the diffuse burn)."""
        return self.filter(times, values, mask, exogenous, update)[3]

    def forecast(self, state: FilterState, times, exogenous=None, update=None):
        """Means `[H, F]`, covariances `[H, F, F]` and the state for `times` after `state`, with no observations."""
        times = _steps(times, state)
        self._check_inputs(times, None, exogenous, update)
        system = self.system(times, exogenous, update)
        means, covs, end = kalman_forecast(state, len(times), **system)
        means, covs = self._unstandardise(means, covs)
        return means.numpy(), covs.numpy(), end._replace(time=tf.constant(times[-1], DTYPE))

    def fit(self, times, values, mask=None, exogenous=None, update=None, steps: int = 300,
            learning_rate: float = 0.02, jit_compile: bool | None = None) -> list[float]:
        """Maximise the log-likelihood with Adam (TFTS's 0.02) on the whole series; returns it after each step.

        Standardises on `values` first unless `adapt` already ran. With `jit_compile` (one XLA compilation per
        series length, tens of seconds) each step is several times faster; None compiles when
        `steps * len(times) >= JIT_WORK`.
        """
        times = _steps(times, None)
        jit_compile = int(steps) * len(times) >= JIT_WORK if jit_compile is None else bool(jit_compile)
        values = np.asarray(values, np.float64).reshape(len(times), -1)
        self._check_inputs(times, values, exogenous, update)
        if not float(self.adapted.numpy()):
            self.adapt(values)
        observed = np.isfinite(values) if mask is None else np.isfinite(values) & _mask2d(mask, values.shape)
        per_obs = max(1, int(observed[self.num_diffuse:].sum()))
        if getattr(self, "_fit_optimizer", None) is None or self._fit_key != (learning_rate, jit_compile):
            self._fit_optimizer = keras.optimizers.Adam(learning_rate)
            self._fit_optimizer.build(self.trainable_variables)
            self._fit_key = (learning_rate, jit_compile)
            self._fit_step = tf.function(self._fit_step_fn, jit_compile=jit_compile, reduce_retracing=True,
                                         autograph=False)
        args = [tf.constant(times), tf.constant(values), tf.constant(observed),
                tf.constant(np.asarray(exogenous if exogenous is not None else np.zeros((len(times), 0)), np.float64)),
                tf.constant(np.asarray(update if update is not None else np.zeros((len(times), 0)), np.float64)),
                tf.constant(float(per_obs), DTYPE)]
        return [float(self._fit_step(*args)) for _ in range(int(steps))]

    def _fit_step_fn(self, times, values, observed, exogenous, update, per_obs):
        loglik, grads = self.log_likelihood_and_gradients(times, values, observed, exogenous, update)
        variables = self.trainable_variables
        self._fit_optimizer.apply_gradients(zip([-g / per_obs for g in grads], variables))
        return loglik


def _mask2d(mask, shape):
    mask = np.asarray(mask, bool)
    return np.broadcast_to(mask[:, None] if mask.ndim == 1 else mask, shape)


def _steps(times, state: FilterState | None) -> np.ndarray:
    """Validate consecutive unit steps that continue `state` (the model steps one period at a time)."""
    times = np.asarray(times, np.float64).reshape(-1)
    if len(times) == 0:
        raise DataError("no times given; expected at least one step")
    if len(times) > 1 and not np.allclose(np.diff(times), 1.0, atol=1e-6):
        raise DataError("times must be consecutive steps t, t+1, ...; insert NaN rows for the missing ones")
    if state is not None:
        last = float(np.asarray(state.time))
        if np.isfinite(last) and abs(times[0] - (last + 1.0)) > 1e-6:
            raise DataError(f"times start at {times[0]:g}; the state ends at {last:g}, so they must start at "
                            f"{last + 1:g}")
    return times
