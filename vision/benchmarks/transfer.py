"""(c) vision.transfer: pretrain on mnist-5k, transfer to digits-8x8 with few labels (spec §3.5).

One run: mobilenet_v2 (alpha 0.35, 32 px) is pretrained by tfzoo on mnist-5k (the offline stand-in
for ImageNet weights), then digits-8x8 is learned at 5%, 20% and 100% of its training labels in
three ways with the same step budget: from scratch (mode=pretrain on digits), head only (backbone
frozen, BN in inference mode) and head then unfreeze (the top 2 blocks at 1/100 of the LR for the
second half). Test accuracy on digits-8x8's fixed test split. The step-time ratio frozen vs full
compares the task's own head-stage and full training steps, interleaved on the same batch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

FULL = {"pretrain_steps": 1500, "steps": 400, "timing_steps": 30}
QUICK = {"pretrain_steps": 20, "steps": 10, "timing_steps": 3}
FRACTIONS = (0.05, 0.2, 1.0)
METHODS = {
    "scratch": "from scratch (random init, everything trains)",
    "head": "head only (pretrained backbone frozen)",
    "unfreeze": "head, then top 2 blocks at lr/100",
}


def _configs(pretrain_dir: Path, steps: int, fraction: float):
    from tfzoo.vision.transfer.config import TransferConfig

    base = TransferConfig()
    train = replace(base.train, steps=steps, batch_size=32, eval_every=10**9, ckpt_every=10**9, log_every=10**9)
    common = dict(image_size=32, train_fraction=fraction, train=train, data="digits-8x8")
    return {
        "scratch": replace(base, mode="pretrain", **common),
        "head": replace(base, weights=f"run:{pretrain_dir}", stages=("head",), **common),
        "unfreeze": replace(base, weights=f"run:{pretrain_dir}", stages=("head", "unfreeze"), unfreeze_blocks=2,
                            **common),
    }


def _fit_and_test(config, run_dir: Path) -> dict:
    from tfzoo.common.train import Trainer
    from tfzoo.vision.transfer.task import Transfer

    trainer = Trainer(task=Transfer(), config=config, run_dir=run_dir, verbose=False)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    test = trainer.task.data(config, "test")
    train_size = trainer.task.data(config, "train").size
    return {"accuracy": float(trainer.evaluate(test)["accuracy"]), "test_size": test.size,
            "train_size": train_size, "seconds": seconds}


def _step_ratio(config, steps: int) -> dict:
    """Median step time of the head stage (frozen backbone) over the full step, interleaved."""
    import tensorflow as tf

    from tfzoo.common.task import Stage, TrainState
    from tfzoo.vision.transfer.task import Transfer

    task = Transfer()
    data = task.data(config, "train")
    info = task.data_info(config, data)
    task._fresh = False  # random weights are as good as any for timing
    batch = next(iter(data.dataset.map(lambda *ex: task.eval_map(config, info, ex)).batch(32)))
    fns = {}
    for name, mode in (("frozen", "finetune"), ("full", "pretrain")):
        cfg = replace(config, mode=mode, stages=("head",))
        models = task.build_models(cfg, info)
        optimizers = task.build_optimizers(cfg, models, total_steps=steps)
        state = TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=cfg,
                           info=info, global_batch_size=32,
                           extras={"stage": Stage(name="head" if name == "frozen" else "all", steps=steps)})
        fns[name] = (tf.function(lambda b, s=state: task.train_step(s, b)))
    for fn in fns.values():  # trace and warm up
        for _ in range(3):
            fn(batch)["loss"].numpy()
    times = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(batch)["loss"].numpy()
            times[name].append(time.perf_counter() - start)
    frozen, full = statistics.median(times["frozen"]), statistics.median(times["full"])
    return {"ratio": frozen / full, "steps": steps}


def run(quick: bool = False) -> str:
    """Measure everything and return the markdown block (without the provenance line)."""
    from tfzoo.common.train import Trainer
    from tfzoo.vision.transfer.config import TransferConfig
    from tfzoo.vision.transfer.task import Transfer

    budget = QUICK if quick else FULL
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfzoo-transfer-bench-") as tmp:
        root = Path(tmp)
        base = TransferConfig()
        pre_config = replace(base, mode="pretrain", image_size=32, train=replace(
            base.train, steps=budget["pretrain_steps"], batch_size=64, eval_every=10**9, ckpt_every=10**9,
            log_every=10**9))
        print(f"  pretraining mobilenet_v2 on mnist-5k, {budget['pretrain_steps']} steps", flush=True)
        pre = Trainer(task=Transfer(), config=pre_config, run_dir=root / "pretrain", verbose=False)
        start = time.perf_counter()
        pre.fit()
        pre_seconds = time.perf_counter() - start
        pre_test = pre.task.data(pre_config, "test")
        pre_accuracy = float(pre.evaluate(pre_test)["accuracy"])
        print(f"  mnist-5k test accuracy {pre_accuracy:.4f}", flush=True)
        results: dict[tuple[str, float], dict] = {}
        for fraction in FRACTIONS:
            for method, config in _configs(root / "pretrain", budget["steps"], fraction).items():
                r = results[method, fraction] = _fit_and_test(config, root / f"{method}-{fraction}")
                print(f"  {method:<9} {fraction:>4.0%}: test accuracy {r['accuracy']:.4f} "
                      f"({r['train_size']} labels, {r['seconds']:.0f} s)", flush=True)
        timing = _step_ratio(_configs(root / "pretrain", budget["steps"], 1.0)["head"], budget["timing_steps"])
        print(f"  step time frozen / full: {timing['ratio']:.3f}", flush=True)
    minutes = (time.perf_counter() - wall) / 60
    return block(results, pre_accuracy=pre_accuracy, pre_test=pre_test.size, pre_seconds=pre_seconds,
                 timing=timing, budget=budget, minutes=minutes)


def block(results: dict, *, pre_accuracy: float, pre_test: int, pre_seconds: float, timing: dict, budget: dict,
          minutes: float) -> str:
    head = "| digits-8x8 training labels | " + " | ".join(METHODS.values()) + " | transfer gain (best − scratch) |"
    rows = [head, "|---:|" + "---:|" * (len(METHODS) + 1)]
    for fraction in FRACTIONS:
        first = results["scratch", fraction]
        cells = [f"{results[m, fraction]['accuracy']:.4f}" for m in METHODS]
        gain = max(results["head", fraction]["accuracy"], results["unfreeze", fraction]["accuracy"]) - first["accuracy"]
        rows.append(f"| {fraction:.0%} ({first['train_size']}) | " + " | ".join(cells) + f" | {gain:+.4f} |")
    test_size = results["scratch", FRACTIONS[0]]["test_size"]
    return "\n".join([
        "### (c) Transfer learning: mnist-5k → digits-8x8 (vision.transfer)",
        "",
        *rows,
        "",
        f"Source: mobilenet_v2 (alpha 0.35, 32 px, no downloaded weights) pretrained by `vision.transfer "
        f"mode=pretrain` on mnist-5k, {budget['pretrain_steps']:,} steps × 64: **test accuracy "
        f"{pre_accuracy:.4f}** on its {pre_test} test images ({pre_seconds / 60:.1f} min). Target: digits-8x8 "
        f"(8×8 scikit-learn digits upsampled to 32 px, grey repeated to RGB), a fixed random {', '.join(f'{f:.0%}' for f in FRACTIONS)} "
        f"of its training split; every cell is one run of {budget['steps']:,} steps × 32 with Adam 1e-3 "
        f"(unfreeze: half head, half head + top 2 blocks at 1e-5; BN in inference mode when fine-tuning), "
        f"scored once on the {test_size} test images (one error ≈ {1 / test_size:.4f}). Step time, head stage "
        f"(frozen backbone) ÷ full training step: **{timing['ratio']:.3f}** (median of {timing['steps']} "
        f"interleaved steps on one batch of 32). CPU budget: the whole block took {minutes:.0f} min on the "
        f"shared 2-core CPU (vision/benchmarks/transfer.py). Quoted anchors, not reproduced offline: slim's "
        f"Inception-v3 flowers fine-tune 88% (tensorflow/models#415); Keras InceptionResNetV2 top-1 0.803.",
    ])


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
