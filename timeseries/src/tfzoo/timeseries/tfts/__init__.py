"""A TFTS-like forecasting API on Keras 3 and TensorFlow, without tf.contrib, tf.estimator or TFP.

Readers and inputs are in `io`, the shared estimator interface in `estimator`; `ARRegressor` (`ar`),
`StructuralEnsembleRegressor` (`structural`) and `TimeSeriesRegressor` / `LSTMModel` (`sequential`) are
the estimators. Submodules import lazily so `import tfzoo.timeseries.tfts` stays cheap.
"""

from tfzoo.timeseries.tfts.io import (
    TIMES,
    VALUES,
    Categorical,
    CSVReader,
    Numeric,
    NumpyReader,
    RandomWindowInput,
    SeriesReader,
    WholeSeriesInput,
)

_LAZY = {
    "Estimator": "estimator", "Evaluation": "estimator", "Forecast": "estimator",
    "ARRegressor": "ar",
    "StructuralEnsembleRegressor": "structural",
    "SequentialModel": "sequential", "TimeSeriesRegressor": "sequential", "LSTMModel": "sequential",
    "LSTMRegressor": "sequential",
}

__all__ = [
    "TIMES", "VALUES", "CSVReader", "NumpyReader", "SeriesReader", "RandomWindowInput", "WholeSeriesInput",
    "Numeric", "Categorical", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"tfzoo.timeseries.tfts.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tfzoo.timeseries.tfts' has no attribute {name!r}")
