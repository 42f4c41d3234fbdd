"""The structural state-space model (level, seasonal cycles, ARMA, noise) and `StructuralEnsembleRegressor`.

The model is a sum of components per feature, filtered exactly by `kalman.kalman_filter` in float64:

- level: a random-walk level (`"local_level"`), plus a random-walk slope (`"local_linear_trend"`), or none;
- one seasonal cycle per period P: K latent values on a cycle, the value at phase (t mod P) interpolated
  linearly between the two neighbouring latent values. Stepping to time t+1 replaces "the latent value
  at the new phase" by minus the sum of the others plus noise, spread over the two neighbours by the
  interpolation weights. With K = P (integer) this is exactly the dummy-seasonal model of statsmodels'
  `UnobservedComponents(seasonal=P)`; K < P and non-integer P (52.18 weeks) give a smooth, cheaper cycle;
- ARMA(p, q) in Harvey form, kept stationary and invertible through tanh partial autocorrelations and
  the Durbin-Levinson recursion, started from its stationary covariance;
- observation noise (a Cholesky-parameterised covariance when F > 1);
- exogenous regressors on the observation, and "update" inputs that shift the level by a learned
  amount at the steps where a condition holds (the TFTS changepoint example).

With F > 1 each feature has its own components (the AR/MA matrices are diagonal: one ARMA per feature;
full VAR matrices are not implemented); the observation noise is correlated across features.
The non-stationary states get an approximate diffuse prior (variance `initial_variance`, 1e6) and the
first d steps (d = the number of diffuse states) are left out of the likelihood, as statsmodels does.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.tfts.kalman import (
    DTYPE,
    FilterState,
    initial_state,
    kalman_filter,
    kalman_forecast,
    solve_discrete_lyapunov,
)

LEVELS = ("local_linear_trend", "local_level", None)


# ----- parameter transforms --------------------------------------------------------------------------------------
def pacf_to_coefficients(partial) -> tf.Tensor:
    """AR coefficients phi_1..phi_p of a stationary AR(p) from partial autocorrelations in (-1, 1) (Durbin-Levinson)."""
    partial = tf.convert_to_tensor(partial, DTYPE)
    p = partial.shape[-1]
    phi: list[tf.Tensor] = []
    for k in range(p):
        r = partial[k]
        phi = [phi[j] - r * phi[k - 1 - j] for j in range(k)] + [r]
    return tf.stack(phi) if phi else tf.zeros([0], DTYPE)


def coefficients_to_pacf(phi: Sequence[float]) -> np.ndarray:
    """Inverse of `pacf_to_coefficients` (the step-down recursion); raises ConfigError when not stationary."""
    phi = [float(x) for x in phi]
    out = []
    while phi:
        r = phi[-1]
        if abs(r) >= 1:
            raise ConfigError(f"AR/MA coefficients {phi} are not stationary/invertible")
        k = len(phi)
        phi = [(phi[j] + r * phi[k - 2 - j]) / (1 - r * r) for j in range(k - 1)]
        out.append(r)
    return np.asarray(out[::-1], np.float64)


# ----- exogenous update conditions ---------------------------------------------------------------------------------
_OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def parse_condition(condition: str | Callable) -> Callable:
    """A condition as a predicate on a tensor of feature values.

    Strings are saved with the estimator: `"== yes"`, `"> 0"`, `"!= 0"` (compare with a number when the
    operand parses as one, else with the category string). A Python callable must accept and return tensors.
    """
    if callable(condition):
        return condition
    text = str(condition).strip()
    for symbol in sorted(_OPS, key=len, reverse=True):
        if text.startswith(symbol):
            operand = text[len(symbol):].strip()
            op = _OPS[symbol]
            try:
                number = float(operand)
            except ValueError:
                return lambda v, op=op, operand=operand: op(tf.strings.as_string(v) if v.dtype != tf.string
                                                            else v, operand)
            return lambda v, op=op, number=number: op(tf.cast(v, DTYPE), number)
    raise ConfigError(f"exogenous_update_condition {condition!r}: expected a callable or '<op> <value>' "
                      f"with op one of {', '.join(_OPS)}")


def condition_inputs(columns: dict[str, Any], conditions: dict[str, str | Callable]) -> np.ndarray:
    """`[T, U]` update inputs from raw named columns: the value (1 for a string) where the condition holds, else 0."""
    out = []
    for name, condition in conditions.items():
        if name not in columns:
            raise DataError(f"exogenous_update_condition names {name!r}, which is not among the exogenous columns "
                            f"{', '.join(columns) or '(none)'}")
        raw = np.asarray(columns[name])
        numeric = raw.dtype.kind in "fiub"
        tensor = tf.constant(raw.astype(np.float64) if numeric else raw.astype(str))
        holds = np.asarray(parse_condition(condition)(tensor), bool)
        value = np.nan_to_num(raw.astype(np.float64)) if numeric else np.ones(len(raw))
        out.append(np.where(holds, value, 0.0))
    return np.stack(out, axis=1) if out else np.zeros((len(next(iter(columns.values()), [])), 0))


# ----- the model -----------------------------------------------------------------------------------------------------
class StructuralModel(keras.layers.Layer):
    """A structural time-series model in state-space form with its parameters as float64 variables.

    All methods take `times` in steps (float64, consecutive: t, t+1, ...; the seasonal phase is t mod P),
    `values` `[T, F]` with NaN where missing, an optional `mask` (`[T]` or `[T, F]`, False = ignore, e.g.
    known anomalies), `exogenous` `[T, num_exogenous]` regressors and `update` `[T, num_update]` inputs
    that shift the level (zero where their condition does not hold; see `condition_inputs`).

    Values are standardised internally by `offset` and `scale` (0 and 1 until `adapt` sets them from data)
    so that the diffuse prior and the optimiser's step size mean the same on every series; the returned
    means, covariances and log-likelihood are on the original scale.
    """

    def __init__(
        self, *, num_features: int = 1, periodicities: Sequence[float] = (),
        level: str | None = "local_linear_trend", cycle_num_latent_values: int | Sequence[int] = 11,
        moving_average_order: int = 0, autoregressive_order: int = 0, num_exogenous: int = 0,
        num_update: int = 0, initial_variance: float = 1e6, name: str = "structural",
    ) -> None:
        super().__init__(name=name, dtype="float64")
        if level not in LEVELS:
            raise ConfigError(f"level={level!r}; expected one of {LEVELS}")
        if num_update and level is None:
            raise ConfigError("exogenous update conditions shift the level; they need level != None")
        if min(int(moving_average_order), int(autoregressive_order)) < 0 or int(num_features) < 1:
            raise ConfigError("num_features >= 1 and ARMA orders >= 0 expected")
        self.num_features = int(num_features)
        self.periodicities = tuple(float(p) for p in periodicities)
        if any(p <= 1 for p in self.periodicities):
            raise ConfigError(f"periodicities {self.periodicities}: each must be > 1")
        k = cycle_num_latent_values
        ks = [int(k)] * len(self.periodicities) if np.isscalar(k) else [int(x) for x in k]
        if len(ks) != len(self.periodicities):
            raise ConfigError(f"{len(ks)} cycle_num_latent_values for {len(self.periodicities)} periodicities")
        # No more latent values than steps in a cycle: K = P is already the exact dummy-seasonal model.
        self.latent = tuple(min(kk, int(math.floor(p + 1e-9))) for kk, p in zip(ks, self.periodicities))
        if any(kk < 2 for kk in self.latent):
            raise ConfigError(f"cycle_num_latent_values {ks}: at least 2 per cycle expected")
        self.level = level
        self.p, self.q = int(autoregressive_order), int(moving_average_order)
        self.r = max(self.p, self.q + 1) if (self.p or self.q) else 0
        self.num_exogenous, self.num_update = int(num_exogenous), int(num_update)
        self.initial_variance = float(initial_variance)
        self.level_size = {"local_linear_trend": 2, "local_level": 1, None: 0}[level]
        self.block = self.level_size + sum(self.latent) + self.r  # states per feature
        self.state_size = self.num_features * self.block
        self.num_diffuse = self.num_features * (self.level_size + sum(kk - 1 for kk in self.latent))

        f = self.num_features

        def weight(name, shape, value=0.0, trainable=True):
            return self.add_weight(name=name, shape=shape, dtype="float64", trainable=trainable,
                                   initializer=keras.initializers.Constant(value))

        self.offset = weight("offset", (f,), 0.0, trainable=False)
        self.scale = weight("scale", (f,), 1.0, trainable=False)
        self.adapted = weight("adapted", (), 0.0, trainable=False)
        self.obs_log_sd = weight("observation_log_sd", (f,), 0.5 * math.log(0.1))
        self.obs_corr = weight("observation_cholesky_offdiag", (f * (f - 1) // 2,), 0.0) if f > 1 else None
        self.level_log_var = weight("level_log_variance", (f,), math.log(0.1)) if self.level_size else None
        self.slope_log_var = weight("slope_log_variance", (f,), math.log(1e-3)) if self.level_size == 2 else None
        self.seasonal_log_var = (weight("seasonal_log_variance", (len(self.latent), f), math.log(1e-2))
                                 if self.latent else None)
        self.ar_raw = weight("ar_partial_raw", (f, self.p)) if self.p else None
        self.ma_raw = weight("ma_partial_raw", (f, self.q)) if self.q else None
        self.arma_log_var = weight("arma_log_variance", (f,), math.log(0.1)) if self.r else None
        self.beta = weight("exogenous_coefficients", (f, self.num_exogenous)) if self.num_exogenous else None
        self.shift = weight("update_level_shift", (f, self.num_update)) if self.num_update else None
        self.built = True

    # ----- parameters --------------------------------------------------------------------------------------------
    def observation_cov(self) -> tf.Tensor:
        """H = L L' on the standardised scale."""
        f = self.num_features
        chol = tf.linalg.diag(tf.exp(self.obs_log_sd))
        if self.obs_corr is not None:
            rows, cols = np.tril_indices(f, -1)
            chol += tf.scatter_nd(np.stack([rows, cols], 1), self.obs_corr, [f, f])
        return chol @ tf.transpose(chol)

    def arma_coefficients(self) -> tuple[tf.Tensor, tf.Tensor]:
        """`phi [F, p]` and `theta [F, q]` (stationary and invertible by construction)."""
        f = self.num_features
        phi = (tf.stack([pacf_to_coefficients(tf.tanh(self.ar_raw[i])) for i in range(f)])
               if self.p else tf.zeros([f, 0], DTYPE))
        theta = (tf.stack([-pacf_to_coefficients(tf.tanh(self.ma_raw[i])) for i in range(f)])
                 if self.q else tf.zeros([f, 0], DTYPE))
        return phi, theta

    def set_parameters(
        self, *, observation_variance=None, level_variance=None, slope_variance=None, seasonal_variance=None,
        ar=None, ma=None, arma_variance=None, exogenous_coefficients=None, update_shift=None,
    ) -> None:
        """Set parameters on the original scale (per feature, or a scalar for every feature); for tests and warm starts.

        `seasonal_variance` is `[num_periods]` or `[num_periods, F]`; `ar`/`ma` are `[p]`/`[q]` or `[F, p]`;
        the coefficients use statsmodels' signs (x_t = sum phi x_{t-i} + e_t + sum theta e_{t-i}).
        """
        s2 = np.asarray(self.scale.numpy()) ** 2
        f = self.num_features

        def per_feature(x, shape):
            return np.broadcast_to(np.asarray(x, np.float64), shape)

        if observation_variance is not None:
            self.obs_log_sd.assign(0.5 * np.log(per_feature(observation_variance, (f,)) / s2))
        if level_variance is not None:
            self.level_log_var.assign(np.log(per_feature(level_variance, (f,)) / s2))
        if slope_variance is not None:
            self.slope_log_var.assign(np.log(per_feature(slope_variance, (f,)) / s2))
        if seasonal_variance is not None:
            v = np.asarray(seasonal_variance, np.float64)
            v = v[:, None] if v.ndim == 1 else v
            self.seasonal_log_var.assign(np.log(np.broadcast_to(v, (len(self.latent), f)) / s2))
        if arma_variance is not None:
            self.arma_log_var.assign(np.log(per_feature(arma_variance, (f,)) / s2))
        if ar is not None:
            rows = per_feature(ar, (f, self.p))
            self.ar_raw.assign(np.arctanh(np.stack([coefficients_to_pacf(r) for r in rows])))
        if ma is not None:
            rows = per_feature(ma, (f, self.q))
            self.ma_raw.assign(np.arctanh(np.stack([coefficients_to_pacf(-r) for r in rows])))
        if exogenous_coefficients is not None:
            self.beta.assign(per_feature(exogenous_coefficients, (f, self.num_exogenous))
                             / self.scale.numpy()[:, None])
        if update_shift is not None:
            self.shift.assign(per_feature(update_shift, (f, self.num_update)) / self.scale.numpy()[:, None])

    def adapt(self, values) -> None:
        """Standardise on `values` `[T, F]` (NaN-aware) and start the variances at fractions of the step variance."""
        values = np.asarray(values, np.float64).reshape(-1, self.num_features)
        offset = np.nan_to_num(np.nanmean(values, axis=0))
        scale = np.nan_to_num(np.nanstd(values, axis=0), nan=1.0)
        scale = np.where(scale > 0, scale, 1.0)
        self.offset.assign(offset)
        self.scale.assign(scale)
        z = (values - offset) / scale
        diffs = np.diff(z, axis=0)
        v = np.nan_to_num(np.nanvar(diffs, axis=0), nan=1.0) if len(z) > 2 else np.ones(self.num_features)
        v = np.clip(v, 1e-4, 1.0)
        # Start every source of noise small next to the step-to-step variance; the fit sorts out the split.
        self.obs_log_sd.assign(0.5 * np.log(0.3 * v))
        if self.level_log_var is not None:
            self.level_log_var.assign(np.log(0.3 * v))
        if self.slope_log_var is not None:
            self.slope_log_var.assign(np.log(1e-3 * v))
        if self.seasonal_log_var is not None:
            self.seasonal_log_var.assign(np.log(np.broadcast_to(1e-2 * v, self.seasonal_log_var.shape)))
        if self.arma_log_var is not None:
            self.arma_log_var.assign(np.log(0.3 * v))
        self.adapted.assign(1.0)

    # ----- system matrices ---------------------------------------------------------------------------------------
    def _cycle_weights(self, times: tf.Tensor) -> list[tf.Tensor]:
        """Per period, `[T, K]` interpolation weights of each latent value at the phase of `times`."""
        out = []
        for period, k in zip(self.periodicities, self.latent):
            phase = tf.math.floormod(times, period) / period * k
            j = tf.math.floormod(tf.floor(phase), k)
            w = phase - tf.floor(phase)
            j = tf.cast(j, tf.int32)
            out.append((1.0 - w)[:, None] * tf.one_hot(j, k, dtype=DTYPE)
                       + w[:, None] * tf.one_hot((j + 1) % k, k, dtype=DTYPE))
        return out

    def _block_rows(self, times: tf.Tensor) -> tf.Tensor:
        """`[T, block]`: one feature's observation row (level, cycles, ARMA) at each time."""
        steps = tf.shape(times)[0]
        parts = []
        if self.level_size:
            parts.append(tf.tile(tf.constant([[1.0] + [0.0] * (self.level_size - 1)], DTYPE), [steps, 1]))
        parts += self._cycle_weights(times)
        if self.r:
            parts.append(tf.tile(tf.constant([[1.0] + [0.0] * (self.r - 1)], DTYPE), [steps, 1]))
        return tf.concat(parts, axis=1)

    def _pad_block(self, x: tf.Tensor, feature: int, axes: Sequence[int]) -> tf.Tensor:
        """Place a per-feature block at its offset in the full state along `axes`."""
        before = feature * self.block
        after = self.state_size - before - self.block
        pads = [[0, 0]] * x.shape.rank
        for axis in axes:
            pads[axis] = [before, after]
        return tf.pad(x, pads)

    def system(self, times, exogenous=None, update=None) -> dict[str, tf.Tensor]:
        """The state-space matrices on the standardised scale for steps `times` (transition t -> t+1)."""
        times = tf.convert_to_tensor(times, DTYPE)
        steps = tf.shape(times)[0]
        f, n = self.num_features, self.state_size
        row = self._block_rows(times)
        design = tf.stack([self._pad_block(row, i, [1]) for i in range(f)], axis=1)  # [T, F, n]

        phi, theta = self.arma_coefficients()
        next_cycles = self._cycle_weights(times + 1.0)
        t_blocks, q_blocks = [], []
        for i in range(f):
            trans, cov = [], []
            if self.level_size == 2:
                trans.append(tf.constant([[1.0, 1.0], [0.0, 1.0]], DTYPE))
                cov.append(tf.linalg.diag(tf.stack([tf.exp(self.level_log_var[i]), tf.exp(self.slope_log_var[i])])))
            elif self.level_size == 1:
                trans.append(tf.ones([1, 1], DTYPE))
                cov.append(tf.reshape(tf.exp(self.level_log_var[i]), [1, 1]))
            for c, (k, z) in enumerate(zip(self.latent, next_cycles)):
                # Stepping into time t+1: lambda <- lambda - z (1' lambda) + z omega, z the weights at t+1.
                trans.append(tf.eye(k, dtype=DTYPE)[None] - z[:, :, None] * tf.ones([1, 1, k], DTYPE))
                cov.append(tf.exp(self.seasonal_log_var[c, i]) * z[:, :, None] * z[:, None, :])
            if self.r:
                harvey, selection = self._harvey(phi[i], theta[i])
                trans.append(harvey)
                cov.append(tf.exp(self.arma_log_var[i]) * selection[:, None] * selection[None, :])
            t_blocks.append(trans)
            q_blocks.append(cov)
        transition = self._assemble(t_blocks, steps)
        state_cov = self._assemble(q_blocks, steps)

        obs_offset = tf.zeros([steps, f], DTYPE)
        if self.num_exogenous:
            obs_offset = tf.convert_to_tensor(exogenous, DTYPE) @ tf.transpose(self.beta)
        state_offset = None
        if self.num_update:
            shift = tf.convert_to_tensor(update, DTYPE) @ tf.transpose(self.shift)  # [T, F]
            state_offset = tf.add_n([self._pad_block(
                tf.pad(shift[:, i:i + 1], [[0, 0], [0, self.block - 1]]), i, [1]) for i in range(f)])
        return {"design": design, "transition": transition, "state_cov": state_cov, "obs_cov": self.observation_cov(),
                "obs_offset": obs_offset, "state_offset": state_offset}

    def _harvey(self, phi: tf.Tensor, theta: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Harvey's ARMA form: T with phi down the first column and ones above the diagonal; R = (1, theta)."""
        r = self.r
        first = tf.concat([phi, tf.zeros([r - self.p], DTYPE)], 0)
        trans = tf.concat([first[:, None], tf.eye(r, r - 1, dtype=DTYPE)], axis=1)
        selection = tf.concat([tf.ones([1], DTYPE), theta, tf.zeros([r - 1 - self.q], DTYPE)], 0)
        return trans, selection

    def _assemble(self, blocks: list[list[tf.Tensor]], steps) -> tf.Tensor:
        """`[T, n, n]` block-diagonal from per-feature lists of `[k, k]` or `[T, k, k]` blocks."""
        n = self.state_size
        total = tf.zeros([steps, n, n], DTYPE)
        offset = 0
        for feature_blocks in blocks:
            for b in feature_blocks:
                k = b.shape[-1]
                b = b if b.shape.rank == 3 else b[None]
                pad = [[0, 0], [offset, n - offset - k], [offset, n - offset - k]]
                total = total + tf.pad(b, pad)
                offset += k
        return total

    def prior(self, time: float = -1.0) -> FilterState:
        """Approximate diffuse prior for the step after `time` (stationary for ARMA), with the diffuse burn."""
        kappa = self.initial_variance
        phi, theta = self.arma_coefficients()
        time = tf.convert_to_tensor(time, DTYPE)
        overwritten = self._cycle_weights(tf.reshape(time + 2.0, [1]))  # the slot the step after next replaces
        blocks = []
        for i in range(self.num_features):
            feature = []
            if self.level_size:
                feature.append(kappa * tf.eye(self.level_size, dtype=DTYPE))
            for k, period, z in zip(self.latent, self.periodicities, overwritten):
                if k == period:
                    # Dummy seasonal: statsmodels' K - 1 diffuse states are the latent values of the last K - 1
                    # steps; the remaining one is replaced before it is first observed, so it gets no variance.
                    feature.append(kappa * tf.linalg.diag(1.0 - z[0]))
                else:
                    # Diffuse over the cycles summing to zero (K - 1 directions).
                    feature.append(kappa * (tf.eye(k, dtype=DTYPE) - tf.ones([k, k], DTYPE) / k))
            if self.r:
                harvey, selection = self._harvey(phi[i], theta[i])
                q = tf.exp(self.arma_log_var[i]) * selection[:, None] * selection[None, :]
                feature.append(solve_discrete_lyapunov(harvey, q))
            blocks.append(feature)
        cov = self._assemble(blocks, 1)[0]
        return initial_state(tf.zeros([self.state_size], DTYPE), cov, time=time, burn=self.num_diffuse)

    # ----- filtering ---------------------------------------------------------------------------------------------
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
        state = self.prior(-1.0) if state is None else state
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
        means, covs, end, loglik, _ = self.filter_tensors(times, values, mask, exogenous, update, state)
        return means.numpy(), covs.numpy(), end, float(loglik)

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
            learning_rate: float = 0.02) -> list[float]:
        """Maximise the log-likelihood with Adam (TFTS's 0.02) on the whole series; returns it after each step."""
        times = _steps(times, None)
        values = np.asarray(values, np.float64).reshape(len(times), -1)
        self._check_inputs(times, values, exogenous, update)
        if not float(self.adapted.numpy()):
            self.adapt(values)
        observed = np.isfinite(values) if mask is None else np.isfinite(values) & _mask2d(mask, values.shape)
        per_obs = max(1, int(observed[self.num_diffuse:].sum()))
        optimizer = keras.optimizers.Adam(learning_rate)
        variables = self.trainable_variables
        args = [tf.constant(times), tf.constant(values), tf.constant(observed)]
        extra = [tf.constant(np.asarray(x, np.float64)) if x is not None else None for x in (exogenous, update)]

        @tf.function
        def step(times, values, observed):
            with tf.GradientTape() as tape:
                _, _, _, loglik, _ = self.filter_tensors(times, values, observed, *extra)
                loss = -loglik / per_obs
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loglik

        history = []
        for _ in range(int(steps)):
            history.append(float(step(*args)))
        return history


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
