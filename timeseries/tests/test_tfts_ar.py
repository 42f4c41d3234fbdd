"""ARRegressor: AutoReg parity, the estimator workflow (predict without evaluate, save/load continuation,
SavedModel signatures, resume) and the anomaly mixture."""

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import DataError
from tfzoo.timeseries.data import load_series
from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.ar import ARRegressor
from tfzoo.timeseries.tfts.estimator import checkpoint_step, state_from_signature, state_to_signature


def autoreg_parity(lags: int, steps: int) -> float:
    """Largest relative gap between the trained linear AR lag weights and statsmodels AutoReg's."""
    from statsmodels.tsa.ar_model import AutoReg

    series = load_series("sm:sunspots")
    y = series.values[:, 0].astype(np.float64)
    reference = AutoReg(y, lags=lags, trend="c").fit().params[1:]  # lag 1 first
    estimator = ARRegressor(input_window_size=lags, output_window_size=1, loss="squared", learning_rate=0.1)
    # Every window in each batch: full-batch Adam on the same least-squares objective AutoReg solves.
    estimator.train(io.RandomWindowInput(io.SeriesReader(series), len(y) - lags, lags + 1, seed=0), steps)
    # The network sees the oldest value first; scaling is one factor for every lag, so weights compare directly.
    weights = estimator.model.mean_head.kernel.numpy().ravel()[::-1]
    return float(np.max(np.abs(weights - reference) / np.abs(reference)))


def test_linear_squared_matches_autoreg_fast():
    assert autoreg_parity(lags=3, steps=200) < 0.02


@pytest.mark.slow
def test_linear_squared_matches_autoreg_nine_lags():
    assert autoreg_parity(lags=9, steps=500) < 0.02


def series_reader(length=80, exogenous=False):
    t = np.arange(length, dtype=np.float64)
    rng = np.random.default_rng(0)
    values = np.sin(2 * np.pi * t / 12) + 0.05 * t + 0.1 * rng.normal(size=length)
    data = {io.TIMES: t, io.VALUES: values}
    if exogenous:
        data["promo"] = (t % 7 == 0).astype(float)
    return io.NumpyReader(data)


def test_predict_without_evaluate_save_load_continuation_and_export(tmp_path):
    reader = series_reader()
    est = ARRegressor(periodicities=12, input_window_size=12, output_window_size=4, hidden_layer_sizes=(8,),
                      model_dir=tmp_path / "run")
    est.train(io.RandomWindowInput(reader, batch_size=8, window_size=16, seed=0), steps=3)
    forecast = est.predict(10)  # no evaluate first
    assert forecast.mean.shape == (10, 1) and forecast.covariance.shape == (10, 1, 1)
    np.testing.assert_array_equal(forecast.times, np.arange(80, 90))
    assert np.all(np.isfinite(forecast.mean)) and np.all(forecast.std > 0)

    # Continuation: filter half, save, load, filter the other half == filtering the whole series.
    data = reader.read()
    half = 40
    first = est.filter(None, data[io.TIMES][:half], data[io.VALUES][:half])
    est.save(tmp_path / "saved")
    np.savez(tmp_path / "half_state.npz", **first.state)
    loaded = ARRegressor.load(tmp_path / "saved")
    with np.load(tmp_path / "half_state.npz") as saved:
        half_state = {k: saved[k] for k in saved.files}
    second = loaded.filter(half_state, data[io.TIMES][half:], data[io.VALUES][half:])
    whole = est.filter(None, data[io.TIMES], data[io.VALUES])
    np.testing.assert_allclose(second.mean, whole.mean[half:], rtol=1e-5, atol=1e-6)
    for key in whole.state:
        np.testing.assert_allclose(second.state[key], whole.state[key], rtol=1e-6)
    # The loaded estimator continues from the saved end-of-training state.
    np.testing.assert_allclose(loaded.predict(10).mean, forecast.mean, rtol=1e-5)

    # SavedModel signatures give what Python predict gives.
    est.export(tmp_path / "export")
    module = tf.saved_model.load(str(tmp_path / "export"))
    state = state_to_signature(est.state)
    out = module.signatures["predict_continuation"](
        **{k: tf.constant(v) for k, v in state.items()}, times=tf.constant(forecast.times),
        exogenous=tf.zeros([10, 0]))
    np.testing.assert_allclose(out["mean"].numpy(), forecast.mean, rtol=1e-5)
    np.testing.assert_allclose(out["covariance"].numpy(), forecast.covariance, rtol=1e-5)
    # filter_continuation over the second half from the half state equals Python filtering.
    filtered = module.signatures["filter_continuation"](
        **{k: tf.constant(v) for k, v in state_to_signature(half_state).items()},
        times=tf.constant(data[io.TIMES][half:]), values=tf.constant(data[io.VALUES][half:]),
        exogenous=tf.zeros([80 - half, 0]))
    for key, value in state_from_signature(filtered).items():
        np.testing.assert_allclose(value, whole.state[key], rtol=1e-5)


def test_resume_continues_the_step_count(tmp_path):
    reader = series_reader()
    inp = io.RandomWindowInput(reader, batch_size=8, window_size=8, seed=0)
    ARRegressor(input_window_size=6, output_window_size=2, model_dir=tmp_path).train(inp, steps=2)
    assert checkpoint_step(tmp_path / "checkpoints") == 2
    # A new estimator on the same folder (as after a kill) picks up at step 2 and trains to 4.
    ARRegressor(input_window_size=6, output_window_size=2, model_dir=tmp_path).train(inp, steps=2)
    assert checkpoint_step(tmp_path / "checkpoints") == 4


def test_exogenous_are_required_for_predict_and_anomaly_probabilities(tmp_path):
    reader = series_reader(exogenous=True)
    est = ARRegressor(periodicities=(12,), input_window_size=8, output_window_size=2,
                      exogenous_features=(io.Numeric("promo"),), anomaly_prior_probability=0.05,
                      loss="normal_likelihood")
    est.train(io.RandomWindowInput(reader, batch_size=4, window_size=10, seed=0), steps=2)
    with pytest.raises(DataError, match="exogenous feature 'promo' is missing"):
        est.predict(5)
    forecast = est.predict(5, exogenous={"promo": np.zeros(5)})
    assert forecast.mean.shape == (5, 1)
    evaluation = est.evaluate()
    assert evaluation.anomaly_probability.shape == (80, 1)
    assert np.all((evaluation.anomaly_probability >= 0) & (evaluation.anomaly_probability <= 1))
    paths = est.simulate(4, n_paths=2, seed=0, exogenous={"promo": np.zeros(4)})
    assert paths.shape == (2, 4, 1) and np.all(np.isfinite(paths))
