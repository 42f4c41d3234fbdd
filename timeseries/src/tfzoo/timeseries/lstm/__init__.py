"""timeseries.lstm: TFTS's custom-model example (`LSTMModel` on `TimeSeriesRegressor`) from the command line."""
