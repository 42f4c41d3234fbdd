"""timeseries.rul: remaining useful life of turbofan engines with stacked JANET layers (实例50)."""
