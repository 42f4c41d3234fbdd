"""tfzoo-timeseries benchmarks; `nox -s bench-timeseries` runs this file and it writes BENCHMARKS.md.

Blocks (each a module here with `run(quick) -> markdown`):
  forecast     the spec §9 suite: tfzoo's AR, structural and LSTM models against naive, seasonal
               naive and statsmodels ARIMA / ETS / UnobservedComponents on ten bundled series
  echo         实例56's echo RNN: final loss beside the book's, accuracy with and without state carry
  seq2seq      实例72: free-running MSE against last-value naive and least-squares AR(15)
  stock        实例73: rolling origins on IBM/MSFT/AAPL against random walk, drift and ARIMA
  temperature  seed 003: one-step RMSE/MASE against seasonal naive, stateless LSTM and SARIMA
  rul          实例50: JANET (± attention) against LSTM, ridge and a constant on C-MAPSS FD001 data

    python timeseries/benchmarks/run.py                    # everything, rewrites the timeseries section
    python timeseries/benchmarks/run.py --only forecast rul
    python timeseries/benchmarks/run.py --quick            # smoke-sized; writes only with --write
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from tfzoo.common.bench import run_blocks

    raise SystemExit(run_blocks(domain="timeseries", blocks=("forecast", "echo", "seq2seq", "stock", "temperature",
                                                             "rul"), description=__doc__.split("\n\n")[0]))
