"""timeseries.structural: TFTS's structural ensemble (`StructuralEnsembleRegressor`) from the command line."""
