"""A linear Gaussian state-space Kalman filter in float64, written with `tf.scan`.

The model, for steps t = 0, 1, ...::

    a_t    <- a_t + c_t                           (exogenous state shift, optional)
    y_t     = Z_t a_t + d_t + eps_t,   eps_t ~ N(0, H)
    a_{t+1} = T_t a_t + eta_t,         eta_t ~ N(0, Q_t)   (Q_t = R Q R' already multiplied out)

Each scan step takes the predicted state for its time, emits the one-step predictive distribution of
`y_t`, updates on the observed entries of `y_t` (a missing or ignored entry is simply not conditioned on;
a fully missing step contributes nothing to the likelihood) and transitions to the next time. This is
"predict, then update" with the prediction carried from the previous step, which is statsmodels' order:
the initial state is the prior for the first observation (statsmodels' `a1`, `P1`), so an approximate
diffuse prior and `loglikelihood_burn` reproduce its likelihood.

`FilterState` is the predicted state for the step after `time`; filtering from it continues a series
exactly (the log-likelihood burn still to do travels with it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

DTYPE = tf.float64
LOG_2PI = math.log(2.0 * math.pi)


class FilterState(NamedTuple):
    """Predicted state for the step after `time`: mean `[n]`, covariance `[n, n]`, burn still to skip."""

    time: tf.Tensor  # float64 scalar: the last time filtered (first time - 1 for a prior)
    mean: tf.Tensor
    cov: tf.Tensor
    burn: tf.Tensor  # int32 scalar: how many more steps are excluded from the likelihood

    def numpy(self) -> dict[str, np.ndarray]:
        """The state as plain numpy arrays (for saving)."""
        return {k: np.asarray(v) for k, v in self._asdict().items()}

    @classmethod
    def from_numpy(cls, arrays: dict[str, np.ndarray]) -> FilterState:
        """Inverse of `numpy()`."""
        return cls(
            time=tf.constant(arrays["time"], DTYPE), mean=tf.constant(arrays["mean"], DTYPE),
            cov=tf.constant(arrays["cov"], DTYPE), burn=tf.constant(arrays["burn"], tf.int32),
        )


class FilterResult(NamedTuple):
    """Everything one pass of the filter produces."""

    means: tf.Tensor  # [T, F] one-step predictive means of y_t
    covariances: tf.Tensor  # [T, F, F] one-step predictive covariances
    filtered_means: tf.Tensor  # [T, n] E[a_t | y_0..y_t]
    filtered_covs: tf.Tensor  # [T, n, n]
    log_likelihoods: tf.Tensor  # [T] per-step terms (0 when burned or fully missing)
    log_likelihood: tf.Tensor  # scalar sum
    state: FilterState  # predicted state for the step after the last one


def initial_state(mean, cov, *, time=-1.0, burn: int = 0) -> FilterState:
    """A prior for the first observation: `time` is the step before it, `burn` steps are left out of the likelihood."""
    return FilterState(
        time=tf.convert_to_tensor(time, DTYPE), mean=tf.convert_to_tensor(mean, DTYPE),
        cov=tf.convert_to_tensor(cov, DTYPE), burn=tf.convert_to_tensor(burn, tf.int32),
    )


def _per_step(x, steps: int, rank: int) -> tf.Tensor:
    """Broadcast a constant system matrix to one per step (a rank-`rank` per-step array is kept)."""
    x = tf.convert_to_tensor(x, DTYPE)
    if x.shape.rank == rank:
        return tf.broadcast_to(x, tf.concat([[steps], tf.shape(x)], 0))
    return x


def kalman_filter(
    observations, *, state: FilterState, design, obs_cov, transition, state_cov,
    mask=None, obs_offset=None, state_offset=None,
) -> FilterResult:
    """Filter `observations` `[T, F]` from the prior `state`.

    `design` is `[F, n]` or per step `[T, F, n]`; `transition` and `state_cov` are `[n, n]` or `[T, n, n]`
    (entry t moves step t to t+1); `obs_cov` is `[F, F]`. `mask` `[T]` or `[T, F]` (True = use) is ANDed
    with "not NaN". `obs_offset` `[T, F]` adds to the observation mean, `state_offset` `[T, n]` to the
    state mean at the start of its step.
    """
    y = tf.convert_to_tensor(observations, DTYPE)
    steps, num_features = tf.shape(y)[0], y.shape[-1]
    n = state.mean.shape[-1]
    observed = tf.logical_not(tf.math.is_nan(y))
    if mask is not None:
        mask = tf.convert_to_tensor(mask, tf.bool)
        observed = tf.logical_and(observed, mask[:, None] if mask.shape.rank == 1 else mask)
    y = tf.where(observed, y, tf.zeros_like(y))  # a NaN times a zero gain is still NaN
    d = tf.zeros_like(y) if obs_offset is None else tf.convert_to_tensor(obs_offset, DTYPE)
    c = tf.zeros([steps, n], DTYPE) if state_offset is None else tf.convert_to_tensor(state_offset, DTYPE)
    h = tf.convert_to_tensor(obs_cov, DTYPE)
    elems = (
        y, tf.cast(observed, DTYPE), _per_step(design, steps, 2), d, c,
        _per_step(transition, steps, 2), _per_step(state_cov, steps, 2),
    )

    def step(carry, inputs):
        a, p, burn = carry
        y_t, m_t, z_t, d_t, c_t, t_t, q_t = inputs
        a = a + c_t
        mean = tf.linalg.matvec(z_t, a) + d_t
        cov = z_t @ p @ tf.transpose(z_t) + h
        # Condition on the observed entries only: the missing ones get a unit variance and a zero residual,
        # so they add nothing to the gain, the determinant or the quadratic form.
        outer = m_t[:, None] * m_t[None, :]
        f_m = outer * cov + tf.linalg.diag(1.0 - m_t)
        v = m_t * (y_t - mean)
        chol = tf.linalg.cholesky(f_m)
        pz = p @ tf.transpose(z_t * m_t[:, None])  # [n, F]
        gain = tf.transpose(tf.linalg.cholesky_solve(chol, tf.transpose(pz)))  # P Z' F^-1
        a_f = a + tf.linalg.matvec(gain, v)
        p_f = p - gain @ tf.transpose(pz)
        p_f = 0.5 * (p_f + tf.transpose(p_f))
        count = tf.reduce_sum(m_t)
        alpha = tf.linalg.triangular_solve(chol, v[:, None], lower=True)[:, 0]
        ll = -0.5 * (count * LOG_2PI + 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)))
                     + tf.reduce_sum(alpha * alpha))
        ll = tf.where(burn > 0, tf.zeros_like(ll), ll)
        a_next = tf.linalg.matvec(t_t, a_f)
        p_next = t_t @ p_f @ tf.transpose(t_t) + q_t
        return (a_next, p_next, tf.maximum(burn - 1, 0)), (mean, cov, a_f, p_f, ll)

    zero = (tf.zeros([num_features], DTYPE), tf.zeros([num_features, num_features], DTYPE),
            tf.zeros([n], DTYPE), tf.zeros([n, n], DTYPE), tf.zeros([], DTYPE))
    (a, p, burn), (means, covs, f_means, f_covs, lls) = _scan_with_carry(
        step, elems, (state.mean, state.cov, state.burn), zero)
    end = FilterState(time=state.time + tf.cast(steps, DTYPE), mean=a, cov=p, burn=burn)
    return FilterResult(means, covs, f_means, f_covs, lls, tf.reduce_sum(lls), end)


def _scan_with_carry(fn, elems, init_carry, init_out):
    """`tf.scan` that also returns the final carry (tf.scan alone only stacks outputs)."""
    def body(acc, x):
        carry, _ = acc
        return fn(carry, x)

    carries, outs = tf.scan(body, elems, initializer=(init_carry, init_out))
    final = tf.nest.map_structure(lambda t: t[-1], carries)
    return final, outs


def kalman_forecast(
    state: FilterState, steps: int, *, design, obs_cov, transition, state_cov, obs_offset=None, state_offset=None,
) -> tuple[tf.Tensor, tf.Tensor, FilterState]:
    """Propagate `state` `steps` ahead with no updates: predictive means `[S, F]`, covariances `[S, F, F]`, state."""
    h = tf.convert_to_tensor(obs_cov, DTYPE)
    num_features = h.shape[-1]
    n = state.mean.shape[-1]
    d = tf.zeros([steps, num_features], DTYPE) if obs_offset is None else tf.convert_to_tensor(obs_offset, DTYPE)
    c = tf.zeros([steps, n], DTYPE) if state_offset is None else tf.convert_to_tensor(state_offset, DTYPE)
    elems = (_per_step(design, steps, 2), d, c, _per_step(transition, steps, 2), _per_step(state_cov, steps, 2))

    def step(carry, inputs):
        a, p = carry
        z_t, d_t, c_t, t_t, q_t = inputs
        a = a + c_t
        mean = tf.linalg.matvec(z_t, a) + d_t
        cov = z_t @ p @ tf.transpose(z_t) + h
        return (tf.linalg.matvec(t_t, a), t_t @ p @ tf.transpose(t_t) + q_t), (mean, cov)

    zero = (tf.zeros([num_features], DTYPE), tf.zeros([num_features, num_features], DTYPE))
    (a, p), (means, covs) = _scan_with_carry(step, elems, (state.mean, state.cov), zero)
    end = FilterState(time=state.time + tf.cast(steps, DTYPE), mean=a, cov=p, burn=state.burn)
    return means, covs, end


def solve_discrete_lyapunov(t, q) -> tf.Tensor:
    """P with P = T P T' + Q (the stationary covariance of a stable T), by one linear solve; differentiable."""
    t = tf.convert_to_tensor(t, DTYPE)
    q = tf.convert_to_tensor(q, DTYPE)
    r = t.shape[-1]
    kron = tf.reshape(tf.einsum("ij,kl->ikjl", t, t), [r * r, r * r])
    vec = tf.linalg.solve(tf.eye(r * r, dtype=DTYPE) - kron, tf.reshape(q, [r * r, 1]))
    p = tf.reshape(vec, [r, r])
    return 0.5 * (p + tf.transpose(p))


def kalman_log_likelihood_and_tangents(
    observations, *, state: FilterState, d_mean, d_cov, design, obs_cov, transition, state_cov, d_design,
    d_obs_cov, d_transition, d_state_cov, mask=None, obs_offset=None, state_offset=None, d_obs_offset=None,
    d_state_offset=None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The log-likelihood and its derivatives along k parameter directions, by forward-mode recursions.

    Reverse-mode autodiff through a long `tf.scan` is slow (every step's intermediates are stacked and
    replayed backwards, ~100x the forward time here); with few parameters it is much cheaper to carry the
    derivatives of the state mean and covariance along with the filter. Arguments are those of
    `kalman_filter` plus their tangents with a leading `k` axis: `d_mean [k, n]`, `d_cov [k, n, n]` (of the
    prior), `d_design [k, T, F, n]`, `d_obs_cov [k, F, F]`, `d_transition` / `d_state_cov [k, T, n, n]`,
    `d_obs_offset [k, T, F]`, `d_state_offset [k, T, n]` (None: zero). Returns `(loglik, d_loglik [k])`.
    """
    y = tf.convert_to_tensor(observations, DTYPE)
    steps, num_features = tf.shape(y)[0], y.shape[-1]
    n = state.mean.shape[-1]
    d_mean = tf.convert_to_tensor(d_mean, DTYPE)
    k = d_mean.shape[0]
    observed = tf.logical_not(tf.math.is_nan(y))
    if mask is not None:
        mask = tf.convert_to_tensor(mask, tf.bool)
        observed = tf.logical_and(observed, mask[:, None] if mask.shape.rank == 1 else mask)
    y = tf.where(observed, y, tf.zeros_like(y))
    h = tf.convert_to_tensor(obs_cov, DTYPE)
    d_h = tf.convert_to_tensor(d_obs_cov, DTYPE)

    def time_major(x, shape):
        # [k, T, ...] -> [T, k, ...]; a missing tangent is zero.
        if x is None:
            return tf.zeros(tf.concat([[steps, k], shape], 0), DTYPE)
        x = tf.convert_to_tensor(x, DTYPE)
        if x.shape.rank == len(shape) + 1:  # constant over time
            x = tf.broadcast_to(x[:, None], tf.concat([[k, steps], shape], 0))
        return tf.transpose(x, [1, 0] + list(range(2, len(shape) + 2)))

    elems = (
        y, tf.cast(observed, DTYPE), _per_step(design, steps, 2),
        tf.zeros_like(y) if obs_offset is None else tf.convert_to_tensor(obs_offset, DTYPE),
        tf.zeros([steps, n], DTYPE) if state_offset is None else tf.convert_to_tensor(state_offset, DTYPE),
        _per_step(transition, steps, 2), _per_step(state_cov, steps, 2),
        time_major(d_design, [num_features, n]), time_major(d_obs_offset, [num_features]),
        time_major(d_state_offset, [n]), time_major(d_transition, [n, n]), time_major(d_state_cov, [n, n]),
    )

    def step(carry, inputs):
        a, p, da, dp, burn, ll_sum, dll_sum = carry
        y_t, m_t, z, d_t, c_t, t_t, q_t, dz, dd, dc, dt, dq = inputs
        a, da = a + c_t, da + dc
        mean = tf.linalg.matvec(z, a) + d_t
        dmean = tf.einsum("kfn,n->kf", dz, a) + tf.einsum("fn,kn->kf", z, da) + dd
        cov = z @ p @ tf.transpose(z) + h
        x = tf.einsum("kfn,nm,gm->kfg", dz, p, z)
        dcov = x + tf.transpose(x, [0, 2, 1]) + tf.einsum("fn,knm,gm->kfg", z, dp, z) + d_h
        outer = m_t[:, None] * m_t[None, :]
        f_m = outer * cov + tf.linalg.diag(1.0 - m_t)
        df = outer[None] * dcov
        v = m_t * (y_t - mean)
        dv = -m_t[None] * dmean
        zm, dzm = z * m_t[:, None], dz * m_t[None, :, None]
        pz = p @ tf.transpose(zm)
        dpz = tf.einsum("knm,fm->knf", dp, zm) + tf.einsum("nm,kfm->knf", p, dzm)
        chol = tf.linalg.cholesky(f_m)
        f_inv = tf.linalg.cholesky_solve(chol, tf.eye(num_features, dtype=DTYPE))
        gain = pz @ f_inv
        dgain = tf.einsum("knf,fg->kng", dpz - tf.einsum("nf,kfg->kng", gain, df), f_inv)
        a_f = a + tf.linalg.matvec(gain, v)
        da_f = da + tf.einsum("knf,f->kn", dgain, v) + tf.einsum("nf,kf->kn", gain, dv)
        p_f = p - gain @ tf.transpose(pz)
        dp_f = dp - tf.einsum("knf,mf->knm", dgain, pz) - tf.einsum("nf,kmf->knm", gain, dpz)
        p_f = 0.5 * (p_f + tf.transpose(p_f))
        dp_f = 0.5 * (dp_f + tf.transpose(dp_f, [0, 2, 1]))
        u = tf.linalg.matvec(f_inv, v)
        ll = -0.5 * (tf.reduce_sum(m_t) * LOG_2PI + 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)))
                     + tf.reduce_sum(v * u))
        dll = -0.5 * (tf.einsum("fg,kgf->k", f_inv, df) + 2.0 * tf.einsum("kf,f->k", dv, u)
                      - tf.einsum("f,kfg,g->k", u, df, u))
        keep = tf.cast(burn <= 0, DTYPE)
        a_next = tf.linalg.matvec(t_t, a_f)
        da_next = tf.einsum("knm,m->kn", dt, a_f) + tf.einsum("nm,km->kn", t_t, da_f)
        p_next = t_t @ p_f @ tf.transpose(t_t) + q_t
        x = tf.einsum("knm,ml,pl->knp", dt, p_f, t_t)
        dp_next = x + tf.transpose(x, [0, 2, 1]) + tf.einsum("nm,kml,pl->knp", t_t, dp_f, t_t) + dq
        return (a_next, p_next, da_next, dp_next, tf.maximum(burn - 1, 0), ll_sum + keep * ll, dll_sum + keep * dll)

    init = (state.mean, state.cov, d_mean, tf.convert_to_tensor(d_cov, DTYPE), state.burn,
            tf.zeros([], DTYPE), tf.zeros([k], DTYPE))
    final = tf.foldl(step, elems, initializer=init)
    return final[5], final[6]
