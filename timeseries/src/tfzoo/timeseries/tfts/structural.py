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
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import Estimator
from tfzoo.timeseries.tfts.kalman import (
    DTYPE,
    FilterState,
    initial_state,
    kalman_filter,
    kalman_forecast,
    kalman_log_likelihood_and_tangents,
    solve_discrete_lyapunov,
)

LEVELS = ("local_linear_trend", "local_level", None)
# Series at least this long are filtered by a compiled graph. Training compiles with XLA when steps x length
# reaches JIT_WORK: compiling costs tens of seconds and makes each step ~5x faster, so it pays off only then.
COMPILE_FROM = 300
JIT_WORK = 20_000


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


def _pacf_tangent(partial, d_partial) -> tf.Tensor:
    """The derivative of `pacf_to_coefficients(partial)` along `d_partial` (the recursion, differentiated)."""
    phi: list[tf.Tensor] = []
    d_phi: list[tf.Tensor] = []
    for k in range(partial.shape[-1]):
        r, dr = partial[k], d_partial[k]
        d_phi = [d_phi[j] - dr * phi[k - 1 - j] - r * d_phi[k - 1 - j] for j in range(k)] + [dr]
        phi = [phi[j] - r * phi[k - 1 - j] for j in range(k)] + [r]
    return tf.stack(d_phi)


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

    def pieces(self) -> dict[str, tf.Tensor | None]:
        """The small parameter-dependent parts of the system; `system` and `prior` are affine in them.

        Forward-mode derivatives are taken of these few small tensors only, then pushed through the (linear)
        assembly, which keeps tracing cheap.
        """
        f = self.num_features
        phi, theta = self.arma_coefficients()
        out: dict[str, tf.Tensor | None] = {
            "obs_cov": self.observation_cov(),
            "level_var": tf.exp(self.level_log_var) if self.level_size else None,
            "slope_var": tf.exp(self.slope_log_var) if self.level_size == 2 else None,
            "seasonal_var": tf.exp(self.seasonal_log_var) if self.latent else None,
            "beta": self.beta, "shift": self.shift,
            "arma_t": None, "arma_q": None, "arma_p": None,
        }
        if self.r:
            trans, covs, stationary = [], [], []
            for i in range(f):
                harvey, selection = self._harvey(phi[i], theta[i])
                q = tf.exp(self.arma_log_var[i]) * selection[:, None] * selection[None, :]
                trans.append(harvey)
                covs.append(q)
                stationary.append(solve_discrete_lyapunov(harvey, q))
            out.update(arma_t=tf.stack(trans), arma_q=tf.stack(covs), arma_p=tf.stack(stationary))
        return {k: (tf.convert_to_tensor(v) if v is not None else None) for k, v in out.items()}

    def _piece_tangents(self, pieces) -> list[dict[str, tf.Tensor | None]]:
        """d pieces / d parameter, one dict per scalar of `self.trainable_variables` (in their order).

        Written out by hand: variances are exponentials, the ARMA coefficients go through tanh and the
        Durbin-Levinson recursion, the stationary covariance through a Lyapunov equation. (TensorFlow's
        ForwardAccumulator gives the same numbers but makes tracing ~10x slower.)
        """
        f = self.num_features
        zero = {k: (None if v is None else tf.zeros_like(v)) for k, v in pieces.items()}
        out: list[dict[str, tf.Tensor | None]] = []

        def unit(shape, index, value):
            return tf.scatter_nd([index], tf.reshape(tf.cast(value, DTYPE), [1]), shape)

        chol = tf.linalg.diag(tf.exp(self.obs_log_sd))
        if self.obs_corr is not None:
            rows, cols = np.tril_indices(f, -1)
            chol += tf.scatter_nd(np.stack([rows, cols], 1), self.obs_corr, [f, f])

        def obs_tangent(d_chol):
            return {**zero, "obs_cov": d_chol @ tf.transpose(chol) + chol @ tf.transpose(d_chol)}

        phi, theta = self.arma_coefficients() if self.r else (None, None)
        for v in self.trainable_variables:
            if v is self.obs_log_sd:
                out += [obs_tangent(unit([f, f], [i, i], tf.exp(self.obs_log_sd[i]))) for i in range(f)]
            elif v is self.obs_corr:
                rows, cols = np.tril_indices(f, -1)
                out += [obs_tangent(unit([f, f], [r, c], 1.0)) for r, c in zip(rows, cols)]
            elif v is self.level_log_var or v is self.slope_log_var:
                key = "level_var" if v is self.level_log_var else "slope_var"
                out += [{**zero, key: unit([f], [i], pieces[key][i])} for i in range(f)]
            elif v is self.seasonal_log_var:
                out += [{**zero, "seasonal_var": unit(v.shape, [c, i], pieces["seasonal_var"][c, i])}
                        for c in range(len(self.latent)) for i in range(f)]
            elif v is self.beta or v is self.shift:
                key = "beta" if v is self.beta else "shift"
                out += [{**zero, key: unit(v.shape, [i, j], 1.0)} for i in range(f) for j in range(v.shape[1])]
            elif v is self.arma_log_var:
                for i in range(f):
                    d = {**zero}
                    d["arma_q"] = unit([f], [i], 1.0)[:, None, None] * pieces["arma_q"]
                    d["arma_p"] = unit([f], [i], 1.0)[:, None, None] * pieces["arma_p"]
                    out.append(d)
            elif v is self.ar_raw or v is self.ma_raw:
                is_ar = v is self.ar_raw
                order = self.p if is_ar else self.q
                for i in range(f):
                    partial = tf.tanh(v[i])
                    for j in range(order):
                        d_partial = unit([order], [j], 1.0 - partial[j] ** 2)
                        d_coef = _pacf_tangent(partial, d_partial)
                        harvey, selection = self._harvey(phi[i], theta[i])
                        sigma2 = tf.exp(self.arma_log_var[i])
                        if is_ar:
                            d_t = tf.pad(d_coef[:, None], [[0, self.r - self.p], [0, self.r - 1]])
                            d_q = tf.zeros([self.r, self.r], DTYPE)
                        else:
                            d_t = tf.zeros([self.r, self.r], DTYPE)
                            d_sel = tf.pad(-d_coef, [[1, self.r - 1 - self.q]])
                            d_q = sigma2 * (d_sel[:, None] * selection[None, :] + selection[:, None] * d_sel[None, :])
                        p = pieces["arma_p"][i]
                        d_p = solve_discrete_lyapunov(
                            harvey, d_t @ p @ tf.transpose(harvey) + harvey @ p @ tf.transpose(d_t) + d_q)
                        mask = unit([f], [i], 1.0)[:, None, None]
                        out.append({**zero, "arma_t": mask * d_t, "arma_q": mask * d_q, "arma_p": mask * d_p})
            else:
                raise AssertionError(f"no tangent for variable {v.name}")
        return out

    def system(self, times, exogenous=None, update=None, pieces=None, constants: bool = True) -> dict[str, Any]:
        """The state-space matrices on the standardised scale for steps `times` (transition t -> t+1).

        `pieces` defaults to `self.pieces()`; with `constants=False` only the part linear in the pieces is
        built (so passing tangents of the pieces gives the tangents of the matrices; `design` is then None).
        """
        pieces = self.pieces() if pieces is None else pieces
        times = tf.convert_to_tensor(times, DTYPE)
        steps = tf.shape(times)[0]
        f = self.num_features
        design = None
        if constants:
            row = self._block_rows(times)
            design = tf.stack([self._pad_block(row, i, [1]) for i in range(f)], axis=1)  # [T, F, n]
        next_cycles = self._cycle_weights(times + 1.0)
        t_blocks, q_blocks = [], []
        for i in range(f):
            trans, cov = [], []
            if self.level_size == 2:
                trans.append(tf.constant([[1.0, 1.0], [0.0, 1.0]], DTYPE) * float(constants))
                cov.append(tf.linalg.diag(tf.stack([pieces["level_var"][i], pieces["slope_var"][i]])))
            elif self.level_size == 1:
                trans.append(tf.ones([1, 1], DTYPE) * float(constants))
                cov.append(tf.reshape(pieces["level_var"][i], [1, 1]))
            for c, (k, z) in enumerate(zip(self.latent, next_cycles)):
                # Stepping into time t+1: lambda <- lambda - z (1' lambda) + z omega, z the weights at t+1.
                step_matrix = tf.eye(k, dtype=DTYPE)[None] - z[:, :, None] * tf.ones([1, 1, k], DTYPE)
                trans.append(step_matrix * float(constants))
                cov.append(pieces["seasonal_var"][c, i] * z[:, :, None] * z[:, None, :])
            if self.r:
                trans.append(pieces["arma_t"][i])
                cov.append(pieces["arma_q"][i])
            t_blocks.append(trans)
            q_blocks.append(cov)
        transition = self._assemble(t_blocks, steps)
        state_cov = self._assemble(q_blocks, steps)

        obs_offset = tf.zeros([steps, f], DTYPE)
        if self.num_exogenous:
            obs_offset = tf.convert_to_tensor(exogenous, DTYPE) @ tf.transpose(pieces["beta"])
        state_offset = None
        if self.num_update:
            shift = tf.convert_to_tensor(update, DTYPE) @ tf.transpose(pieces["shift"])  # [T, F]
            state_offset = tf.add_n([self._pad_block(
                tf.pad(shift[:, i:i + 1], [[0, 0], [0, self.block - 1]]), i, [1]) for i in range(f)])
        return {"design": design, "transition": transition, "state_cov": state_cov, "obs_cov": pieces["obs_cov"],
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

    def prior(self, time: float = -1.0, pieces=None, constants: bool = True) -> FilterState:
        """Approximate diffuse prior for the step after `time` (stationary for ARMA), with the diffuse burn.

        `pieces` / `constants` as in `system` (the covariance is affine in `pieces["arma_p"]`).
        """
        pieces = self.pieces() if pieces is None else pieces
        kappa = self.initial_variance * float(constants)
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
                feature.append(pieces["arma_p"][i])
            blocks.append(feature)
        cov = self._assemble(blocks, 1)[0]
        return initial_state(tf.zeros([self.state_size], DTYPE), cov, time=time, burn=self.num_diffuse)

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
# ----- the estimator -------------------------------------------------------------------------------------------------
class _Holder(keras.Model):
    """The Keras model the estimator base trains and checkpoints: it only holds the StructuralModel."""

    def __init__(self, structural: StructuralModel) -> None:
        super().__init__(name="structural_ensemble")
        self.structural = structural

    def call(self, inputs):
        return inputs


class StructuralEnsembleRegressor(Estimator):
    """TFTS's structural ensemble: level (+ slope), seasonal cycles, ARMA and noise, filtered by an exact Kalman filter.

    Args:
        periodicities: seasonal periods in time steps (non-integer allowed, e.g. 52.18 weeks).
        num_features: F; each feature gets its own components, the observation noise is correlated.
        level: `"local_linear_trend"`, `"local_level"` or None.
        cycle_num_latent_values: K latent values per cycle (at most the period; K = P is the exact dummy
            seasonal model, smaller K is smoother and cheaper).
        moving_average_order, autoregressive_order: the ARMA(p, q) component (0, 0: none).
        exogenous_features: `io.Numeric` / `io.Categorical` columns. Those not named in
            `exogenous_update_condition` are regressors on the observation.
        exogenous_update_condition: name -> condition, either a string saved with the estimator (`"== yes"`,
            `"> 0"`) or a callable on a tensor of the feature's values (float64 for Numeric, the category
            string for Categorical). Where it holds, a learned shift times the value (1 for a category) is
            added to the level: TFTS's changepoint example.
        anomaly_prior_probability: not implemented; pass None (mark known anomalies as missing instead).
        initial_variance: variance of the approximate diffuse prior (on standardised values).
        learning_rate: Adam's step, 0.02 as in TFTS.
        **kwargs: the `Estimator` base arguments (model_dir, optimizer, clip_norm).
    """

    def __init__(
        self, periodicities: Sequence[float] = (), num_features: int = 1, *,
        level: str | None = "local_linear_trend", cycle_num_latent_values: int = 11, moving_average_order: int = 4,
        autoregressive_order: int = 0, exogenous_features: tuple = (),
        exogenous_update_condition: dict[str, str | Callable] | None = None, anomaly_prior_probability: float | None = None,
        initial_variance: float = 1e6, learning_rate: float = 0.02, dtype: str = "float64", **kwargs: Any,
    ) -> None:
        if str(dtype) != "float64":
            raise ConfigError(f"dtype={dtype!r}; the Kalman filter runs in float64")
        if anomaly_prior_probability is not None:
            raise ConfigError("anomaly_prior_probability is not implemented for StructuralEnsembleRegressor; "
                              "mark known anomalies as missing (NaN) instead")
        super().__init__(num_features=num_features, exogenous_features=exogenous_features,
                         learning_rate=learning_rate, dtype="float64", **kwargs)
        self.periodicities = tuple(float(p) for p in (periodicities if np.ndim(periodicities) else [periodicities]))
        self.level = level
        self.cycle_num_latent_values = int(cycle_num_latent_values)
        self.moving_average_order = int(moving_average_order)
        self.autoregressive_order = int(autoregressive_order)
        self.initial_variance = float(initial_variance)
        self.exogenous_update_condition = dict(exogenous_update_condition or {})
        names = [f.name for f in self.exogenous_features]
        unknown = set(self.exogenous_update_condition) - set(names)
        if unknown:
            raise ConfigError(f"exogenous_update_condition names {sorted(unknown)}, which are not exogenous features "
                              f"({', '.join(names) or 'none'})")
        self._predicates = {k: parse_condition(v) for k, v in self.exogenous_update_condition.items()}
        # Column slices of the encoded exogenous matrix: regressors and condition inputs.
        self._regressor_columns: list[int] = []
        self._update_features: list[tuple[Any, int]] = []
        start = 0
        for feature in self.exogenous_features:
            if feature.name in self._predicates:
                self._update_features.append((feature, start))
            else:
                self._regressor_columns += list(range(start, start + feature.size))
            start += feature.size
        self._jit: dict[bool, Any] = {}
        self._train_jit: bool | None = None  # set by `train`; None: compile series of COMPILE_FROM steps or more

    # ----- hooks -----------------------------------------------------------------------------------------------
    def _build_model(self) -> keras.Model:
        structural = StructuralModel(
            num_features=self.num_features, periodicities=self.periodicities, level=self.level,
            cycle_num_latent_values=self.cycle_num_latent_values, moving_average_order=self.moving_average_order,
            autoregressive_order=self.autoregressive_order, num_exogenous=len(self._regressor_columns),
            num_update=len(self._update_features), initial_variance=self.initial_variance,
        )
        return _Holder(structural)

    @property
    def structural(self) -> StructuralModel:
        """The underlying `StructuralModel` (its `filter`, `forecast` and `fit` work on step times)."""
        return self.model.structural

    def _initial_state(self) -> dict[str, tf.Tensor]:
        prior = self.structural.prior(-1.0)
        # "fresh" makes `_filter` rebuild the prior at the first time: the ARMA part depends on the current
        # parameters and the exact dummy-seasonal prior on the phase of the first step.
        return {"mean": prior.mean, "cov": prior.cov, "burn": prior.burn, "fresh": tf.ones([], DTYPE)}

    def _inputs(self, times, exogenous):
        steps = tf.cast(times, DTYPE) / self.time_step
        exogenous = tf.cast(exogenous, DTYPE)
        regressors = tf.gather(exogenous, self._regressor_columns, axis=1) if self._regressor_columns else None
        update = None
        if self._update_features:
            columns = []
            for feature, start in self._update_features:
                block = exogenous[:, start:start + feature.size]
                if isinstance(feature, io.Categorical):
                    vocabulary = tf.constant(list(feature.vocabulary) + [""])
                    index = tf.where(tf.reduce_sum(block, 1) > 0, tf.argmax(block, 1, output_type=tf.int32),
                                     len(feature.vocabulary))
                    raw, value = tf.gather(vocabulary, index), tf.ones_like(block[:, 0])
                else:
                    raw = value = block[:, 0]
                holds = tf.cast(self._predicates[feature.name](raw), tf.bool)
                columns.append(tf.where(holds, value, tf.zeros_like(value)))
            update = tf.stack(columns, axis=1)
        return steps, regressors, update

    def _state_in(self, state, steps) -> FilterState:
        prior = self.structural.prior(steps[0] - 1.0)
        fresh = state["fresh"] > 0
        return FilterState(
            time=steps[0] - 1.0, mean=tf.where(fresh, prior.mean, tf.cast(state["mean"], DTYPE)),
            cov=tf.where(fresh, prior.cov, tf.cast(state["cov"], DTYPE)),
            burn=tf.where(fresh, prior.burn, tf.cast(state["burn"], tf.int32)),
        )

    @staticmethod
    def _state_out(state: FilterState) -> dict[str, tf.Tensor]:
        return {"mean": state.mean, "cov": state.cov, "burn": state.burn, "fresh": tf.zeros([], DTYPE)}

    def _filter(self, state, times, values, mask, exogenous):
        steps, regressors, update = self._inputs(times, exogenous)
        start = self._state_in(state, steps)
        mean, cov, end, loglik, _ = self.structural.filter_tensors(steps, values, mask, regressors, update, start)
        count = _counted(mask, start.burn)
        return self._state_out(end), mean, cov, -loglik / count

    def _forecast(self, state, times, exogenous):
        steps, regressors, update = self._inputs(times, exogenous)
        start = self._state_in(state, steps)
        system = self.structural.system(steps, regressors, update)
        mean, cov, end = kalman_forecast(start, tf.shape(steps)[0], **system)
        mean, cov = self.structural._unstandardise(mean, cov)
        return mean, cov, self._state_out(end)

    def _training_loss(self, batch: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        """Mean negative log-likelihood per observed value over the batch's series, with forward-mode gradients."""
        structural = self.structural
        times, values, mask, exogenous = (batch[io.TIMES], batch[io.VALUES], batch[io.MASK], batch[io.EXOGENOUS])
        jit = self._train_jit
        if jit is None:
            jit = (values.shape[1] or COMPILE_FROM) * values.shape[0] >= COMPILE_FROM
        if jit not in self._jit:
            self._jit[jit] = tf.function(self._loglik_and_grads, jit_compile=jit, autograph=False)
        loss_and_grads = self._jit[jit]

        @tf.custom_gradient
        def loss_fn(anchor):
            # The trainer's tape sees this scalar; its gradient comes from the forward-mode recursions.
            total, grads, count = loss_and_grads(times, values, mask, exogenous)
            by_ref = {v.value.ref(): -g / count for v, g in zip(structural.trainable_variables, grads)}

            def grad(upstream, variables=None):
                out = [by_ref[v.ref()] * tf.cast(upstream, DTYPE) if v.ref() in by_ref else tf.zeros_like(v)
                       for v in variables or []]
                return tf.zeros_like(anchor), out

            return -total / count, grad

        return loss_fn(tf.zeros([], DTYPE))

    def _loglik_and_grads(self, times, values, mask, exogenous):
        structural = self.structural
        total = tf.zeros([], DTYPE)
        grads = [tf.zeros(v.shape, DTYPE) for v in structural.trainable_variables]
        count = tf.zeros([], DTYPE)
        for b in range(values.shape[0]):
            steps, regressors, update = self._inputs(times[b], exogenous[b])
            ll, g = structural.log_likelihood_and_gradients(steps, values[b], mask[b], regressors, update)
            total += ll
            grads = [a + c for a, c in zip(grads, g)]
            count += _counted(mask[b], structural.num_diffuse)
        return total, grads, count

    # ----- workflow ------------------------------------------------------------------------------------------
    def train(self, input: Any, steps: int, **kwargs: Any) -> StructuralEnsembleRegressor:
        """Train with the common trainer; the first call standardises on the training values."""
        values = np.asarray(input.read()[io.VALUES], np.float64)
        if not float(self.structural.adapted.numpy()):
            self.structural.adapt(values)
        # XLA only when the run is long enough to repay the compilation (see JIT_WORK).
        self._train_jit = int(steps) * len(values) >= JIT_WORK
        return super().train(input, steps, **kwargs)

    def get_config(self) -> dict[str, Any]:
        conditions = {k: (v if isinstance(v, str) else "<python callable>")
                      for k, v in self.exogenous_update_condition.items()}
        return {
            **super().get_config(),
            "periodicities": list(self.periodicities), "level": self.level,
            "cycle_num_latent_values": self.cycle_num_latent_values,
            "moving_average_order": self.moving_average_order, "autoregressive_order": self.autoregressive_order,
            "exogenous_update_condition": conditions or None, "anomaly_prior_probability": None,
            "initial_variance": self.initial_variance,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> StructuralEnsembleRegressor:
        conditions = config.get("exogenous_update_condition") or {}
        if "<python callable>" in conditions.values():
            raise ConfigError("this estimator was saved with a Python callable in exogenous_update_condition; "
                              "use a string condition such as '== yes' to save and load it")
        return super().from_config(config, **kwargs)


def _counted(mask, burn) -> tf.Tensor:
    """Observed values after the likelihood burn (at least 1): what the per-value loss divides by."""
    mask = tf.cast(mask, DTYPE)
    keep = tf.cast(tf.range(tf.shape(mask)[0]) >= tf.cast(burn, tf.int32), DTYPE)
    return tf.maximum(tf.reduce_sum(mask * keep[:, None]), 1.0)
