"""StructuralEnsembleRegressor on the estimator interface: the Nile changepoint, predict, save/load, continuation."""

from __future__ import annotations

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError
from tfzoo.timeseries import tfts
from tfzoo.timeseries.data import load_series


@pytest.fixture(scope="module")
def nile():
    series = load_series("sm:nile")
    years = series.times.astype("datetime64[Y]").astype(int) + 1970 if np.issubdtype(
        series.times.dtype, np.datetime64) else series.times.astype(int)
    flags = np.where(years == 1899, "yes", "no")
    return years.astype(np.float64), series.values[:, 0].astype(np.float64), flags


def _estimator(**kwargs):
    return tfts.StructuralEnsembleRegressor(
        periodicities=(), level="local_level", moving_average_order=0,
        exogenous_features=(tfts.Categorical("is_changepoint", ("no", "yes")),),
        exogenous_update_condition={"is_changepoint": "== yes"}, **kwargs)


def test_nile_changepoint_train_predict_save_load(nile, tmp_path):
    years, flow, flags = nile
    reader = tfts.NumpyReader({tfts.TIMES: years, tfts.VALUES: flow, "is_changepoint": flags})
    estimator = _estimator(model_dir=tmp_path / "run")
    estimator.train(tfts.WholeSeriesInput(reader), 15)
    shift = float(estimator.structural.shift.numpy()[0, 0] * estimator.structural.scale.numpy()[0])
    assert shift < 0  # the flow dropped after the Aswan dam; 15 steps already move the shift that way
    # predict without evaluate; future exogenous values are required
    forecast = estimator.predict(5, exogenous={"is_changepoint": ["no"] * 5})
    assert forecast.mean.shape == (5, 1) and np.all(np.isfinite(forecast.std))
    assert forecast.times.tolist() == [1971.0, 1972.0, 1973.0, 1974.0, 1975.0]
    with pytest.raises(Exception, match="is_changepoint"):
        estimator.predict(5)
    saved = estimator.save(tmp_path / "saved")
    again = tfts.StructuralEnsembleRegressor.load(saved)
    np.testing.assert_allclose(again.predict(5, exogenous={"is_changepoint": ["no"] * 5}).mean, forecast.mean)

    # Continuation: filter the first half, reload, filter the rest from the saved state == the whole series.
    half = 50
    whole = again.filter(None, years, flow, {"is_changepoint": flags})
    first = again.filter(None, years[:half], flow[:half], {"is_changepoint": flags[:half]})
    np.savez(tmp_path / "state.npz", **first.state)
    with np.load(tmp_path / "state.npz") as state:
        second = again.filter(dict(state), years[half:], flow[half:], {"is_changepoint": flags[half:]})
    np.testing.assert_allclose(np.concatenate([first.mean, second.mean]), whole.mean, rtol=1e-9)
    np.testing.assert_allclose(second.state["mean"], whole.state["mean"], rtol=1e-9)


def test_structural_config_errors():
    with pytest.raises(ConfigError, match="not implemented"):
        tfts.StructuralEnsembleRegressor(periodicities=(12,), anomaly_prior_probability=0.1)
    with pytest.raises(ConfigError, match="float64"):
        tfts.StructuralEnsembleRegressor(periodicities=(12,), dtype="float32")
    with pytest.raises(ConfigError, match="not exogenous features"):
        tfts.StructuralEnsembleRegressor(periodicities=(), exogenous_update_condition={"x": "> 0"})
