"""tfzoo-common benchmarks; `nox -s bench-common` runs this file and it writes BENCHMARKS.md.

Blocks (each a module here with `run(quick) -> markdown`):
  reliability  every fault-injection case of every installed package (tests/test_faults.py), counted
               by kind with how many ended correctly, and the kill -9 / resume trial
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from tfzoo.common.bench import run_blocks

    raise SystemExit(run_blocks(domain="common", blocks=("reliability",), description=__doc__.split("\n\n")[0]))
