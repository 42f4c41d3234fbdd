"""Step time of tfzoo's loop against a bare `tf.function` loop for the same DCGAN, in alternating rounds.

Each round trains a fresh DCGAN (the gan block's CPU size: conv width 32, dense 512, batch 64) with the tfzoo
Trainer for STEPS steps and then the same networks, losses and optimisers in a bare two-optimiser
`tf.function` loop over in-memory batches for STEPS steps; rounds alternate so both loops see the same machine
load. The tfzoo rate is the median of its logged windows after the first (which holds the tracing); the bare
loop is traced before its timer starts. Ratio = bare samples/s ÷ tfzoo samples/s (step-time ratio), the median
over rounds. Budget: about 5 min on an unloaded 2-core CPU.

    python generative/benchmarks/run.py --only gan_loop [--quick]
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

STEPS, ROUNDS, GOAL = 200, 3, 1.2


def run(quick: bool = False) -> str:
    from gan import CPU_SIZE, _bare_rate, _fit, _tfzoo_rate

    from tfzoo.generative.gan.config import GANConfig

    steps, rounds = (6, 1) if quick else (STEPS, ROUNDS)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gan-loop-"))
    base = replace(GANConfig(variant="dcgan"), sample_every=0, **({} if quick else CPU_SIZE),
                   eval_root=str(tmp / "_eval") if quick else "")
    config = replace(base, train=replace(base.train, steps=steps, eval_every=10**9, ckpt_every=10**9,
                                         log_every=max(1, steps // 4)))
    lines, ratios = [], []
    for r in range(rounds):
        trainer = _fit(config, tmp / f"round{r}")
        tfzoo = _tfzoo_rate(trainer.run.path)
        bare = _bare_rate(config, trainer.info, steps)
        ratios.append(bare / tfzoo)
        lines.append(f"| {r + 1} | {tfzoo:.0f} | {bare:.0f} | {bare / tfzoo:.3f} |")
    ratio = float(np.median(ratios))
    verdict = "met" if ratio <= GOAL else "not met"
    return "\n".join([
        f"### generative.gan: tfzoo loop vs a bare tf.function loop{' — QUICK, not a benchmark' if quick else ''}",
        "",
        f"DCGAN on mnist-5k, batch {config.train.batch_size}, {steps} steps per loop and round, {rounds} alternating "
        "rounds (the tfzoo Trainer fed by its tf.data pipeline, logging every quarter of the run, then the bare loop on "
        "in-memory batches); samples/s exclude tracing.",
        "",
        "| round | tfzoo samples/s | bare samples/s | step time, tfzoo ÷ bare |",
        "|---|---|---|---|",
        *lines,
        "",
        f"Median step-time ratio **{ratio:.2f}x** (goal ≤ {GOAL}x): **{verdict}**.",
    ])
