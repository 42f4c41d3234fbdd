"""The state-space assembly of the structural model: system matrices, their tangents and the diffuse prior.

`StructuralStateSpace` (between `StructuralComponents` and `StructuralModel`) turns the parameters into what
`kalman.kalman_filter` consumes, on the standardised scale, for the steps `times` (transition t -> t+1):

- `pieces`: the few small parameter-dependent tensors (variances, observation covariance, the Harvey-form
  ARMA transition, its noise and stationary covariance); `_piece_tangents` differentiates them by hand,
  one tangent per scalar parameter, for the forward-mode likelihood gradient;
- `system`: the per-step `design`, `transition`, `state_cov`, `obs_cov` and offsets, block-diagonal over
  features and affine in the pieces (so the same code maps tangents of the pieces to tangents of the matrices);
- `prior`: the approximate diffuse prior (stationary for the ARMA block) and the diffuse burn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.timeseries.tfts.kalman import DTYPE, FilterState, initial_state, solve_discrete_lyapunov
from tfzoo.timeseries.tfts.structural_components import StructuralComponents, _pacf_tangent


class StructuralStateSpace(StructuralComponents):
    """The structural model's system matrices, their tangents and its prior; `StructuralModel` is the full layer."""

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
