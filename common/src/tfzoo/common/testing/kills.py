"""`kill -9` a training run at random moments, resume it each time, and compare its final weights
with an uninterrupted run: the acceptance test of exact resume (slow test and reliability benchmark).

A checkpoint every step makes many kills land while a checkpoint is being written. Each kill waits
until training has passed a seeded random step beyond the last one saved, then a seeded random few
milliseconds more, so the kills land mid-run whatever the machine's speed or load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

TASK = "toy.xor"
SETTINGS = ("train.steps=300", "train.ckpt_every=1", "train.eval_every=100", "train.log_every=50", "train.keep=2")


def _command(run_dir: Path) -> list[str]:
    sets = [a for s in SETTINGS for a in ("--set", s)]
    return [sys.executable, "-m", "tfzoo.common.cli", "train", TASK, "--run-dir", str(run_dir), *sets]


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def checkpoint_weights(run_dir: Path) -> dict[str, np.ndarray]:
    """The model variables of a run's newest checkpoint, by name."""
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(Path(run_dir, "checkpoints")))
    skip = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter")
    return {n: tf.train.load_variable(path, n) for n, _ in tf.train.list_variables(path) if not n.startswith(skip)}


def kill_and_resume(root: Path, *, kills: int = 20, seed: int = 0, timeout: float = 300.0) -> dict[str, Any]:
    """Kill one run `kills` times at random moments of its training, then let it finish; train the same
    run straight through and compare.

    Returns {"kills", "landed" (kills that hit a live process), "steps_at_kill" (newest checkpoint
    step after each kill), "identical" (final weights bit-identical), "final_step"}.
    """
    rng = np.random.default_rng(seed)
    killed, straight = Path(root, "killed"), Path(root, "straight")
    total = int(next(s for s in SETTINGS if s.startswith("train.steps=")).split("=")[1])
    landed, steps = 0, []
    for _ in range(kills):
        target = min(total - 1, _newest_step(killed) + int(rng.integers(1, max(2, total // kills))))
        proc = subprocess.Popen(_command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + timeout
        while proc.poll() is None and _newest_step(killed) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.05)))  # into the next step or checkpoint write
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            landed += 1
        proc.wait()
        steps.append(_newest_step(killed))
    finish = subprocess.run(_command(killed), capture_output=True, text=True, env=_env())
    assert finish.returncode == 0, finish.stderr[-2000:]
    done = subprocess.run(_command(straight), capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = checkpoint_weights(killed), checkpoint_weights(straight)
    identical = a.keys() == b.keys() and bool(a) and all(np.array_equal(a[k], b[k]) for k in a)
    return {"kills": kills, "landed": landed, "steps_at_kill": steps, "identical": identical,
            "final_step": _newest_step(killed)}


def _newest_step(run_dir: Path) -> int:
    state = Path(run_dir, "checkpoints", "checkpoint")
    if not state.is_file():
        return 0
    first = state.read_text().splitlines()[0]  # model_checkpoint_path: ".../ckpt-N"
    return int(first.rsplit("-", 1)[1].strip().strip('"'))
