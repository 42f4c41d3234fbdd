"""timeseries.temperature: a stateful LSTM that predicts next month's sea-surface temperature (seed 003)."""
