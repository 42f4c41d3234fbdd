"""timeseries.echo: a stateful SimpleRNN that echoes random bits three steps late (实例56)."""
