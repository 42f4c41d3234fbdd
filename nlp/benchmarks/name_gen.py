"""实例47 benchmark: held-out perplexity per character of nlp.names beside a character 4-gram, and the novelty
and validity of 1,000 names sampled at temperature 1.0 from both (goals: novelty >= 30%, validity >= 95%).

Budget (full): one 3,000-step run of GRU(1024), batch 64, about 15 min on the shared 2-core CPU.

    python nlp/benchmarks/run.py --only name_gen [--quick]
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

from ngram import EOS, CharNGram

GOAL_NOVELTY, GOAL_VALIDITY = 0.30, 0.95


def run(quick: bool = False) -> str:
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer
    from tfzoo.nlp.names import data as pipeline
    from tfzoo.nlp.names.config import NamesConfig
    from tfzoo.nlp.names.task import rates

    steps, n = (30, 100) if quick else (3000, 1000)
    base = NamesConfig()
    config = replace(base, train=replace(base.train, steps=steps, eval_every=steps, ckpt_every=steps,
                                         log_every=max(1, steps // 10)))
    train, val, test = (pipeline.names(config, s) for s in ("train", "val", "test"))
    ngram = CharNGram(order=4).fit([t + EOS for t in train], val=[t + EOS for t in val])
    ngram_ppl = 2 ** ngram.bits([t + EOS for t in test])
    ngram_rates = rates(ngram.sample(n, seed=1), set(train))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(task=get_task("nlp.names"), config=config, run_dir=Path(tmp, "run"), verbose=False)
        trainer.fit()
        values = trainer.evaluate(trainer.task.data(config, "test"))
        sampled = trainer.task.sample(trainer.run, n, method="sample", temperature=1.0, seed=1)
    gru_rates = rates(sampled, set(train))
    ok = gru_rates["novelty"] >= GOAL_NOVELTY and gru_rates["validity"] >= GOAL_VALIDITY
    return "\n".join([
        "### nlp.names (实例47): names:female, test split",
        "",
        f"| Model | Test perplexity/char | Novelty ({n} at T=1.0) | Validity |",
        "|---|---|---|---|",
        f"| GRU(1024), {steps} steps of 64 names | {float(values['perplexity']):.3f} | "
        f"{gru_rates['novelty']:.1%} | {gru_rates['validity']:.1%} |",
        f"| character 4-gram, interpolated, add-k (k = {ngram.k:g}) | {ngram_ppl:.3f} | "
        f"{ngram_rates['novelty']:.1%} | {ngram_rates['validity']:.1%} |",
        "",
        f"Goals (novelty >= {GOAL_NOVELTY:.0%}, validity >= {GOAL_VALIDITY:.0%}): **{'met' if ok else 'not met'}**. "
        f"Samples: {', '.join(sampled[:8])}. The end of each name counts as one character in both perplexities "
        f"(natural log base: e^{math.log(float(values['perplexity'])):.3f}).",
    ])
