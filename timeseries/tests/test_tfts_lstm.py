"""SequentialModel / TimeSeriesRegressor / LSTMModel: a user-defined model, missing values, continuation,
save/load and SavedModel signatures."""

import keras
import numpy as np
import tensorflow as tf

from tfzoo.timeseries.tfts import io
from tfzoo.timeseries.tfts.estimator import state_to_signature
from tfzoo.timeseries.tfts.sequential import (
    LSTMModel,
    LSTMRegressor,
    SequentialModel,
    TimeSeriesRegressor,
    gaussian_nll,
)


def multivariate_reader(length=60, missing=True):
    t = np.arange(length, dtype=np.float64)
    values = np.stack([np.sin(t / 3), np.cos(t / 5) + 0.01 * t], 1)
    if missing:
        values[10, 0] = np.nan  # one missing entry
        values[20] = np.nan  # a missing row
    return io.NumpyReader({io.TIMES: t, io.VALUES: values})


def test_lstm_predict_without_evaluate_continuation_save_load_export(tmp_path):
    reader = multivariate_reader()
    estimator = TimeSeriesRegressor(LSTMModel(num_units=8, num_features=2), learning_rate=0.01)
    estimator.train(io.RandomWindowInput(reader, batch_size=4, window_size=12, seed=0), steps=3)
    forecast = estimator.predict(5)
    assert forecast.mean.shape == (5, 2) and forecast.covariance.shape == (5, 2, 2)
    assert np.all(np.isfinite(forecast.mean)) and np.all(forecast.std > 0)

    evaluation = estimator.evaluate()
    assert evaluation.mean.shape == (60, 2) and np.isfinite(evaluation.loss)
    assert np.isnan(evaluation.observed[20]).all()

    data = reader.read()
    first = estimator.filter(None, data[io.TIMES][:30], data[io.VALUES][:30])
    estimator.save(tmp_path / "saved")
    loaded = TimeSeriesRegressor.load(tmp_path / "saved")
    second = loaded.filter(first.state, data[io.TIMES][30:], data[io.VALUES][30:])
    np.testing.assert_allclose(second.mean, evaluation.mean[30:], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(5).mean, forecast.mean, rtol=1e-4, atol=1e-6)

    estimator.export(tmp_path / "export")
    module = tf.saved_model.load(str(tmp_path / "export"))
    out = module.signatures["predict_continuation"](
        **{k: tf.constant(v) for k, v in state_to_signature(estimator.state).items()},
        times=tf.constant(forecast.times), exogenous=tf.zeros([5, 0]))
    np.testing.assert_allclose(out["mean"].numpy(), forecast.mean, rtol=1e-4, atol=1e-6)

    paths = estimator.simulate(6, n_paths=2, seed=1)
    assert paths.shape == (2, 6, 2) and np.all(np.isfinite(paths))


@keras.saving.register_keras_serializable(package="tfzoo.tests")
class RandomWalk(SequentialModel):
    """A user model: next value = last value (+ learned drift), learned log-variance."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        f = self.num_features
        self.drift = self.add_weight(shape=(f,), initializer="zeros", name="drift")
        self.log_variance = self.add_weight(shape=(f,), initializer="zeros", name="log_variance")

    def start_state(self, batch_size):
        return {"last": tf.zeros([batch_size, self.num_features])}

    def _prediction(self, state):
        mean = state["last"] + self.drift
        variance = tf.broadcast_to(tf.exp(self.log_variance), tf.shape(mean))
        return {"mean": mean, "covariance": tf.linalg.diag(variance)}

    def filter_step(self, state, time, observation, exogenous, mask):
        prediction = self._prediction(state)
        nll = gaussian_nll(observation, prediction["mean"], self.log_variance)
        loss = tf.reduce_sum(nll * tf.cast(mask, nll.dtype), -1)
        last = tf.where(mask, observation, prediction["mean"])
        return {"last": last}, prediction, loss

    def predict_step(self, state, time, exogenous):
        prediction = self._prediction(state)
        return {"last": prediction["mean"]}, prediction


def test_user_defined_sequential_model_learns_drift():
    t = np.arange(40, dtype=np.float64)
    reader = io.NumpyReader({io.TIMES: t, io.VALUES: 0.5 * t})
    estimator = TimeSeriesRegressor(RandomWalk(num_features=1), learning_rate=0.1)
    estimator.train(io.WholeSeriesInput(reader), steps=60)
    assert abs(float(estimator.model.drift.numpy()[0]) - 0.5) < 0.1
    forecast = estimator.predict(3)
    np.testing.assert_allclose(forecast.mean[:, 0], 19.5 + estimator.model.drift.numpy()[0] * np.arange(1, 4),
                               rtol=1e-5)


def test_lstm_regressor_saves_and_loads_by_its_sizes(tmp_path):
    t = np.arange(30, dtype=np.float64)
    reader = io.NumpyReader({io.TIMES: t, io.VALUES: np.stack([np.sin(t / 3), np.cos(t / 3)], -1)})
    estimator = LSTMRegressor(num_units=4, num_features=2, learning_rate=0.01)
    estimator.train(io.RandomWindowInput(reader, batch_size=2, window_size=8), steps=2)
    forecast = estimator.predict(3)
    again = LSTMRegressor.load(estimator.save(tmp_path / "saved"))
    assert again.num_units == 4 and again.num_features == 2
    np.testing.assert_allclose(again.predict(3).mean, forecast.mean, rtol=1e-5)
