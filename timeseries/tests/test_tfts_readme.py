"""The Python API example of the README's TFTS section runs as written."""

import re
from pathlib import Path

README_EXAMPLE = '''
import numpy as np
from tfzoo.timeseries import tfts
from tfzoo.timeseries.data import load_series

# Log airline passengers, indexed by month number (TFTS-style integer steps).
series = load_series("sktime:airline")
reader = tfts.NumpyReader({tfts.TIMES: series.steps, tfts.VALUES: np.log(series.values)})

ar = tfts.ARRegressor(
    periodicities=12, input_window_size=24, output_window_size=12, num_features=1,
    hidden_layer_sizes=(32,), loss="normal_likelihood", normalize_window=True, learning_rate=0.01,
)
ar.train(tfts.RandomWindowInput(reader, batch_size=16, window_size=36, seed=0), steps=300)

forecast = ar.predict(36)                  # no evaluate() first: the training series is filtered once
print(np.exp(forecast.mean[:3, 0]), forecast.std[:3, 0])
fit = ar.evaluate()                        # one-step-ahead means, covariances, loss, end state
samples = ar.simulate(12, n_paths=3, seed=0)   # [3, 12, 1] sampled futures

ar.save("airline-ar")                      # config, weights, last filter state
again = tfts.ARRegressor.load("airline-ar")
assert np.allclose(again.predict(36).mean, forecast.mean, rtol=1e-5)
again.export("airline-ar-savedmodel")      # predict_continuation / filter_continuation signatures

# Multivariate: an LSTM on the growth of five US macro series.
macro = load_series("sm:macrodata").select(("realgdp", "realcons", "realinv", "realgovt", "realdpi"))
growth = np.diff(np.log(macro.values), axis=0)
lstm = tfts.TimeSeriesRegressor(tfts.LSTMModel(num_units=32, num_features=5), learning_rate=0.01)
lstm.train(tfts.RandomWindowInput(tfts.NumpyReader({tfts.TIMES: np.arange(len(growth)), tfts.VALUES: growth}),
                                  batch_size=4, window_size=32, seed=0), steps=50)
paths = lstm.simulate(100, n_paths=2, seed=0)   # [2, 100, 5]
'''


def test_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(README_EXAMPLE, "README example", "exec"), namespace)
    assert namespace["forecast"].mean.shape == (36, 1)
    assert namespace["samples"].shape == (3, 12, 1)
    assert namespace["paths"].shape == (2, 100, 5)
    assert (tmp_path / "airline-ar-savedmodel" / "saved_model.pb").is_file()


def test_readme_holds_the_same_example():
    readme = Path(__file__).resolve().parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    tfts_blocks = [b for b in blocks if "tfts.ARRegressor" in b]
    assert tfts_blocks and tfts_blocks[0].strip() == README_EXAMPLE.strip()
