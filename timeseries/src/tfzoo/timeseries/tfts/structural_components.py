"""The components of the structural model and their parameters: level (+ slope), seasonal cycles, ARMA, noise.

`StructuralComponents` is the first layer of `StructuralModel` (`structural_model`): it checks the component
choices, lays out the state (`block` states per feature: level, K latent values per cycle, the r ARMA states),
holds the parameters as float64 variables (log-variances, a Cholesky-parameterised observation covariance,
raw ARMA partial autocorrelations, exogenous coefficients and level shifts) and sets them from the
original scale (`set_parameters`) or from data (`adapt`, which also fixes the standardisation).

The ARMA coefficients stay stationary and invertible through tanh partial autocorrelations and the
Durbin-Levinson recursion: `pacf_to_coefficients`, its inverse `coefficients_to_pacf` and its tangent
`_pacf_tangent` (used by the forward-mode derivatives in `structural_ssm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.tfts.kalman import DTYPE

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


# ----- the components and their parameters ---------------------------------------------------------------------
class StructuralComponents(keras.layers.Layer):
    """The structural model's components, state layout and float64 parameters; `StructuralModel` is the full layer."""

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

    def get_config(self) -> dict:
        """The constructor arguments, so a `.keras` file of the estimator's model rebuilds the layer."""
        return {"name": self.name, "num_features": self.num_features, "periodicities": list(self.periodicities),
                "level": self.level, "cycle_num_latent_values": list(self.latent),
                "moving_average_order": self.q, "autoregressive_order": self.p, "num_exogenous": self.num_exogenous,
                "num_update": self.num_update, "initial_variance": self.initial_variance}

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
