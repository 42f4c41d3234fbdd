"""tfzoo-speech benchmarks; `nox -s bench-speech` runs this file and it writes BENCHMARKS.md.

Blocks (each a module here with `run(quick) -> markdown`):
  frontend  the tf.signal MFCC against python_speech_features (parity gate 1e-3) and librosa; speed ratios
  asr       实例68's BiRNN-CTC against a DeepSpeech2-style anchor at the same parameter count and budget on
            espeak-zh-en: CER/WER per language on val and test, greedy and beam 100, utterances/s ratio

    python speech/benchmarks/run.py                   # everything, rewrites the speech section
    python speech/benchmarks/run.py --only frontend
    python speech/benchmarks/run.py --quick           # smoke-sized; writes only with --write
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from tfzoo.common.bench import run_blocks

    raise SystemExit(run_blocks(domain="speech", blocks=("frontend", "asr"), description=__doc__.split("\n\n")[0]))
