"""The Kalman filter and the structural model: statsmodels parity, missing values, continuation, conditions, fitting."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.tfts.kalman import initial_state, kalman_filter
from tfzoo.timeseries.tfts.structural import (
    StructuralModel,
    coefficients_to_pacf,
    condition_inputs,
    pacf_to_coefficients,
)

RTOL = 1e-6  # the spec's parity tolerance (measured: ~1e-11)


def _series(length=60, seed=0, period=4, gaps=()):
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    y = 0.05 * t + np.sin(2 * np.pi * t / period) + np.cumsum(rng.normal(0, 0.3, length)) + rng.normal(0, 0.5, length)
    y[list(gaps)] = np.nan
    return t, y


def _uc_loglike(y, params, **kwargs):
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return UnobservedComponents(y, **kwargs).loglike(np.asarray(params, np.float64))


@pytest.mark.parametrize("period", [4, 12])
@pytest.mark.parametrize("gaps", [(), (7, 20, 21, 40)])
def test_uc_parity_trend_dummy_seasonal_ar1(period, gaps):
    t, y = _series(gaps=gaps)
    # statsmodels order: sigma2.irregular, sigma2.level, sigma2.trend, sigma2.seasonal, sigma2.ar, ar.L1
    expected = _uc_loglike(y, [0.4, 0.2, 0.01, 0.05, 0.3, 0.6], level="lltrend", seasonal=period, autoregressive=1)
    model = StructuralModel(periodicities=(period,), cycle_num_latent_values=period, autoregressive_order=1)
    model.set_parameters(observation_variance=0.4, level_variance=0.2, slope_variance=0.01, seasonal_variance=[0.05],
                         arma_variance=0.3, ar=[0.6])
    assert model.num_diffuse == 2 + period - 1  # statsmodels' loglikelihood_burn
    assert model.log_likelihood(t, y[:, None]) == pytest.approx(expected, rel=RTOL)


def test_uc_parity_local_level_with_nans():
    t, y = _series(gaps=(3, 30, 31))
    expected = _uc_loglike(y, [0.7, 0.3], level="llevel")  # sigma2.irregular, sigma2.level
    model = StructuralModel(level="local_level")
    model.set_parameters(observation_variance=0.7, level_variance=0.3)
    assert model.log_likelihood(t, y[:, None]) == pytest.approx(expected, rel=RTOL)
    # The same through the bare filter (state-space matrices written by hand).
    result = kalman_filter(y[:, None], state=initial_state([0.0], [[1e6]], burn=1), design=[[1.0]],
                           obs_cov=[[0.7]], transition=[[1.0]], state_cov=[[0.3]])
    assert float(result.log_likelihood) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("order", [(0, 0, 2), (1, 0, 3), (2, 0, 1)])
def test_sarimax_parity_arma_with_measurement_error(order):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    t, y = _series(gaps=(7, 20))
    p, _, q = order
    ar, ma = [0.5, -0.2][:p], [0.4, 0.3, -0.2][:q]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # parameter order: ar.L*, ma.L*, var.measurement_error, sigma2
        expected = SARIMAX(y, order=order, measurement_error=True).loglike(np.array(ar + ma + [0.3, 0.8]))
    model = StructuralModel(level=None, autoregressive_order=p, moving_average_order=q)
    model.set_parameters(observation_variance=0.3, arma_variance=0.8, ar=ar or None, ma=ma)
    assert model.log_likelihood(t, y[:, None]) == pytest.approx(expected, rel=RTOL)


def test_missing_and_ignored_observations_skip_the_update():
    t, y = _series()
    model = StructuralModel(periodicities=(4,), cycle_num_latent_values=4, autoregressive_order=1)
    with_nan = y.copy()
    with_nan[[10, 11, 30]] = np.nan
    mask = np.ones(len(y), bool)
    mask[[10, 11, 30]] = False
    a = model.filter(t, with_nan[:, None])
    b = model.filter(t, y[:, None], mask=mask)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    assert a[3] == pytest.approx(b[3], rel=1e-12)
    # No update at a missing step: the next prediction is the previous one propagated, variance grows.
    assert a[1][12, 0, 0] > a[1][11, 0, 0] > a[1][10, 0, 0]


def test_continuation_equals_the_whole_series():
    t, y = _series(length=50, gaps=(3, 27))
    ex = np.sin(t)[:, None]
    model = StructuralModel(periodicities=(7.5,), cycle_num_latent_values=5, autoregressive_order=1,
                            moving_average_order=1, num_exogenous=1)
    model.set_parameters(exogenous_coefficients=0.5)
    whole = model.filter(t, y[:, None], exogenous=ex)
    first = model.filter(t[:20], y[:20, None], exogenous=ex[:20])
    second = model.filter(t[20:], y[20:, None], exogenous=ex[20:], state=first[2])
    np.testing.assert_allclose(np.concatenate([first[0], second[0]]), whole[0], rtol=1e-10)
    np.testing.assert_allclose(np.concatenate([first[1], second[1]]), whole[1], rtol=1e-8)
    assert first[3] + second[3] == pytest.approx(whole[3], rel=1e-10)
    np.testing.assert_allclose(second[2].mean.numpy(), whole[2].mean.numpy(), rtol=1e-10)
    # Forecasting from the end state continues the time index; a gap is refused.
    means, covs, state = model.forecast(whole[2], np.arange(50, 55.0), exogenous=np.zeros((5, 1)))
    assert means.shape == (5, 1) and np.all(np.diff(covs[:, 0, 0]) > 0) and float(state.time) == 54.0
    with pytest.raises(DataError, match="must start at 50"):
        model.forecast(whole[2], np.arange(51, 53.0), exogenous=np.zeros((2, 1)))


def test_non_integer_period_and_latent_interpolation():
    t, y = _series(length=120, period=52.18, gaps=(40,))
    model = StructuralModel(periodicities=(52.18,), cycle_num_latent_values=11, autoregressive_order=1)
    assert model.latent == (11,) and model.num_diffuse == 2 + 10
    weights = model._cycle_weights(np.array([0.0, 2.0, 52.18, 60.0]))[0].numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights[0], weights[2], atol=1e-9)  # one full period later, same phase
    assert np.count_nonzero(weights[1]) == 2  # between two latent values
    means, covs, state, loglik = model.filter(t, y[:, None])
    assert np.isfinite(loglik) and np.all(np.isfinite(means)) and means.shape == (120, 1)
    # More latent values than steps per cycle are capped at the period (the exact dummy seasonal).
    assert StructuralModel(periodicities=(4,), cycle_num_latent_values=11).latent == (4,)


def test_changepoint_condition_shifts_the_level_only_where_it_holds():
    t = np.arange(30, dtype=np.float64)
    flags = np.where(t == 12, "yes", "no")
    update = condition_inputs({"is_changepoint": flags}, {"is_changepoint": "== yes"})
    assert update[:, 0].tolist() == [1.0 if i == 12 else 0.0 for i in range(30)]
    model = StructuralModel(level="local_level", num_update=1)
    model.set_parameters(observation_variance=1.0, level_variance=0.01, update_shift=100.0)
    y = np.where(t < 12, 10.0, 110.0)[:, None]
    means, *_ = model.filter(t, y, update=update)
    flat = model.filter(t, y, update=np.zeros_like(update))[0]
    # Before the flagged step nothing changes; at it the prediction jumps by the learned shift.
    np.testing.assert_allclose(means[:12], flat[:12])
    assert means[12, 0] - flat[12, 0] == pytest.approx(100.0, rel=1e-6)
    assert abs(means[13, 0] - 110.0) < abs(flat[13, 0] - 110.0)
    # Numeric predicates and callables too.
    numeric = condition_inputs({"x": np.array([0.0, 2.0, -1.0])}, {"x": "> 0"})
    assert numeric[:, 0].tolist() == [0.0, 2.0, 0.0]
    assert condition_inputs({"x": np.array([1.0, 3.0])}, {"x": lambda v: v > 2})[:, 0].tolist() == [0.0, 3.0]
    with pytest.raises(ConfigError):
        condition_inputs({"x": np.zeros(2)}, {"x": "~ 1"})
    with pytest.raises(ConfigError, match="need level"):
        StructuralModel(level=None, num_update=1)


def test_pacf_transform_round_trip_and_stationarity():
    phi = np.array([0.5, -0.3, 0.2])
    np.testing.assert_allclose(pacf_to_coefficients(coefficients_to_pacf(phi)).numpy(), phi, atol=1e-12)
    raw = np.random.default_rng(1).normal(0, 3, 4)
    coefficients = pacf_to_coefficients(np.tanh(raw)).numpy()
    roots = np.roots(np.r_[1.0, -coefficients][::-1])
    assert np.all(np.abs(roots) > 1)
    with pytest.raises(ConfigError):
        coefficients_to_pacf([1.2])


def test_forward_mode_gradient_matches_autodiff():
    import tensorflow as tf

    t, y = _series(length=25, gaps=(4,))
    model = StructuralModel(periodicities=(5,), cycle_num_latent_values=3, autoregressive_order=1,
                            moving_average_order=1)
    with tf.GradientTape() as tape:
        loglik = model.filter_tensors(t, y[:, None])[3]
    expected = tape.gradient(loglik, model.trainable_variables)
    value, grads = model.log_likelihood_and_gradients(t, y[:, None])
    assert float(value) == pytest.approx(float(loglik), rel=1e-10)
    for a, b in zip(grads, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-8)


def test_short_fit_increases_the_log_likelihood():
    t, y = _series(length=48, gaps=(9,))
    y = 300.0 + 10.0 * y  # the model standardises internally
    model = StructuralModel(level="local_level", autoregressive_order=1)
    history = model.fit(t, y[:, None], steps=25)
    assert history[-1] > history[0] + 1.0
    assert model.log_likelihood(t, y[:, None]) > history[0]


def test_bad_times_and_shapes_are_one_line_errors():
    model = StructuralModel(level="local_level", num_exogenous=1)
    with pytest.raises(DataError, match="consecutive"):
        model.filter(np.array([0.0, 1.0, 3.0]), np.zeros((3, 1)), exogenous=np.zeros((3, 1)))
    with pytest.raises(DataError, match="exogenous"):
        model.filter(np.arange(3.0), np.zeros((3, 1)))
    with pytest.raises(ConfigError):
        StructuralModel(level="trend")


@pytest.mark.slow
def test_fit_matches_statsmodels_uc_on_airline():
    """300 Adam steps reach UC's maximum likelihood (within 2 nats) and forecast as well (MASE within 10%)."""
    from tfzoo.timeseries.data import load_series

    y = np.log(load_series("sktime:airline").values[:, 0].astype(np.float64))
    train, test = y[:-12], y[-12:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        uc = UnobservedComponents(train, "lltrend", seasonal=12, autoregressive=1).fit(disp=False, maxiter=200)
    model = StructuralModel(periodicities=(12,), cycle_num_latent_values=12, autoregressive_order=1)
    t = np.arange(len(train), dtype=np.float64)
    model.fit(t, train[:, None], steps=300)
    _, _, state, loglik = model.filter(t, train[:, None])
    mean, _, _ = model.forecast(state, np.arange(len(train), len(y), dtype=np.float64))
    scale = np.mean(np.abs(train[12:] - train[:-12]))
    mase = np.mean(np.abs(mean[:, 0] - test)) / scale
    mase_uc = np.mean(np.abs(uc.get_forecast(12).predicted_mean - test)) / scale
    assert loglik > uc.llf - 2.0
    assert mase <= 1.1 * mase_uc
