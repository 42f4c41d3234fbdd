"""timeseries.ar: TFTS's autoregressive estimator (`ARRegressor`) from the command line."""
