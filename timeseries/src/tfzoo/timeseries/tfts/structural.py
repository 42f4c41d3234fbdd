"""`StructuralEnsembleRegressor`, TFTS's structural ensemble, and the public names of the structural model.

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

This module holds the estimator (`StructuralEnsembleRegressor` on the `Estimator` base, and the Keras model
that carries its layer); the layer is built up in `structural_components` (components and parameters),
`structural_ssm` (system matrices, tangents, prior) and `structural_model` (`StructuralModel`: filtering,
forecasting, fitting), the exogenous update conditions are in `structural_conditions`. Their public names are
re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import Estimator
from tfzoo.timeseries.tfts.kalman import DTYPE, FilterState, kalman_forecast
from tfzoo.timeseries.tfts.structural_components import LEVELS, coefficients_to_pacf, pacf_to_coefficients
from tfzoo.timeseries.tfts.structural_conditions import condition_inputs, parse_condition
from tfzoo.timeseries.tfts.structural_model import COMPILE_FROM, JIT_WORK, StructuralModel

__all__ = [
    "COMPILE_FROM", "JIT_WORK", "LEVELS", "StructuralEnsembleRegressor", "StructuralModel", "coefficients_to_pacf",
    "condition_inputs", "pacf_to_coefficients", "parse_condition",
]


# ----- the estimator -------------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="tfzoo_timeseries")
class _Holder(keras.Model):
    """The Keras model the estimator base trains and checkpoints: it only holds the StructuralModel
    (a `.keras` file of it holds the fitted parameters; the filter itself is the estimator's)."""

    def __init__(self, structural: StructuralModel, **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", "structural_ensemble"), **kwargs)
        self.structural = structural

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "structural": keras.saving.serialize_keras_object(self.structural)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _Holder:
        config = dict(config)
        return cls(keras.saving.deserialize_keras_object(config.pop("structural")), **config)


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
