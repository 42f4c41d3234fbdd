"""timeseries.seq2seq: a GRU encoder-decoder that forecasts generated sin+cos curves (实例72)."""
