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

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

BLOCKS = ("forecast", "echo", "seq2seq", "stock", "temperature", "rul")


def main(argv: list[str] | None = None) -> int:
    from tfzoo.common.bench import load_average, provenance, write_section

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=BLOCKS, help="run these blocks; the others are kept as they were")
    p.add_argument("--quick", action="store_true", help="smoke-sized runs (figures are not benchmarks)")
    p.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                   help="rewrite the timeseries section of BENCHMARKS.md (default: yes, except with --quick)")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = p.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    load_start = load_average()
    blocks = {}
    for name in args.only or BLOCKS:
        print(f"== {name}", flush=True)
        body = importlib.import_module(name).run(quick=args.quick)
        command = shlex.join(["python", "timeseries/benchmarks/run.py", *argv])
        blocks[name] = provenance(command, load_start=load_start) + "\n\n" + body
        print(body, flush=True)
    if args.write if args.write is not None else not args.quick:
        write_section(args.output, "timeseries", blocks, BLOCKS)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
