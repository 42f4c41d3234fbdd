"""timeseries.stock: the seq2seq GRU forecasting daily closing prices (实例73)."""
