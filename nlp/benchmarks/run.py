"""tfzoo-nlp benchmarks; `nox -s bench-nlp` runs this file and it writes BENCHMARKS.md.

Blocks (each a module here with `run(quick) -> markdown`):
  char_lm             实例69: held-out bits per character of the LSTM beside an interpolated add-k character 5-gram
  name_gen            实例47: held-out perplexity beside a character 4-gram; novelty and validity of 1,000 names
  word2vec_vs_gensim  实例70-71: tfzoo SGNS beside gensim 4.4 on identical tokens: words/s, agreement, WordSim/SimLex

    python nlp/benchmarks/run.py                  # everything, rewrites the nlp section
    python nlp/benchmarks/run.py --only char_lm
    python nlp/benchmarks/run.py --quick          # smoke-sized; writes only with --write
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from tfzoo.common.bench import run_blocks

    raise SystemExit(run_blocks(domain="nlp", blocks=("char_lm", "name_gen", "word2vec_vs_gensim"),
                                description=__doc__.split("\n\n")[0]))
