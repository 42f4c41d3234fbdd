"""Tune the beam + LM decoder of a finished speech.asr run on val, then score test with the chosen setting.

    python speech/benchmarks/lm_sweep.py RUN_DIR [--weights 0.3 0.5 0.8] [--bonuses 0.5 1 2]

The network runs once per split (logits kept); every (lm_weight, lm_bonus) pair decodes val with the
prefix beam search and the run's character n-gram; the pair with the lowest val CER decodes test.
Greedy and plain beam are scored beside it on both splits. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.5, 0.8])
    parser.add_argument("--bonuses", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    args = parser.parse_args()

    from tfzoo.common.run import Run
    from tfzoo.speech.asr import data as pipeline
    from tfzoo.speech.asr import decode
    from tfzoo.speech.asr.task import _logits, _transcribe

    run = Run.open(args.run_dir)
    batches = {}
    for split in ("val", "test"):
        batches[split] = list(_logits(run, run.task.data(run.config, split)))

    def score(split: str, config, decoder: str) -> dict[str, float]:
        references, hypotheses, languages = [], [], []
        for logits, lengths, targets in batches[split]:
            references += [t.decode("utf-8") for t in targets["text"]]
            languages += [pipeline.LANGUAGES[int(c)] for c in targets["language"]]
            hypotheses += _transcribe(config, run.info, logits, lengths, decoder)
        return decode.score(references, hypotheses, languages)

    start = time.perf_counter()
    sweep = {}
    for weight in args.weights:
        for bonus in args.bonuses:
            config = replace(run.config, lm_weight=weight, lm_bonus=bonus)
            sweep[(weight, bonus)] = score("val", config, "beam_lm")["cer"]
    weight, bonus = min(sweep, key=sweep.get)
    chosen = replace(run.config, lm_weight=weight, lm_bonus=bonus)
    result = {
        "run": args.run_dir, "step": run.step,
        "sweep_val_cer": {f"weight={w} bonus={b}": round(c, 4) for (w, b), c in sweep.items()},
        "chosen": {"lm_weight": weight, "lm_bonus": bonus},
        **{f"{split}_{name}": score(split, config, decoder)
           for split in ("val", "test")
           for name, config, decoder in (("greedy", run.config, "greedy"), ("beam", run.config, "beam"),
                                         ("beam_lm", chosen, "beam_lm"))},
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
