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

FULL = {"pretrain_steps": 2000, "steps": 200, "timing_steps": 20}
QUICK = {"pretrain_steps": 20, "steps": 10, "timing_steps": 3}
PRETRAIN_LR = 2e-3  # Adam, cosine to 0 over the pretraining steps
FRACTIONS = (0.05, 0.2, 1.0)
BATCH = 32
METHODS = {
    "scratch": "from scratch (random init, everything trains)",
    "head": "head only (pretrained backbone frozen)",
    "unfreeze": "head, then top 2 blocks at lr/100",
}


def _configs(pretrain_dir: Path, fraction: float):
    from tfzoo.vision.transfer.config import TransferConfig

    base = TransferConfig()
    common = dict(image_size=32, train_fraction=fraction, data="digits-8x8")
    return {
        "scratch": replace(base, mode="pretrain", **common),
        "head": replace(base, weights=f"run:{pretrain_dir}", stages=("head",), **common),
        "unfreeze": replace(base, weights=f"run:{pretrain_dir}", stages=("head", "unfreeze"), unfreeze_blocks=2,
                            **common),
    }


class Learner:
    """One method's model, optimisers and compiled steps, reset to the same start for every label fraction.

    The steps are the task's own `train_step` (what the Trainer runs) in one `tf.function` per stage,
    so each method is traced once, not once per fraction: tracing a MobileNetV2 step costs minutes
    on the shared CPU, a training step a fraction of a second.
    """

    def __init__(self, config, info) -> None:
        import tensorflow as tf

        from tfzoo.common.task import TrainState
        from tfzoo.vision.transfer.task import Transfer

        self.task = Transfer()
        self.task._fresh = True  # load the pretrained backbone, as a new training run does
        self.models = self.task.build_models(config, info)
        self.optimizers = self.task.build_optimizers(config, self.models, total_steps=1)
        for name, optimizer in self.optimizers.items():
            if name in self.models:
                optimizer.build(self.models[name].trainable_variables)
        self.start = [w.copy() for w in self.models["model"].get_weights()]
        # Slots and counters back to their first values; the learning-rate variable keeps its own.
        self.optimizer_start = [(v, v.numpy().copy()) for o in self.optimizers.values() for v in o.variables]
        self.stages = self.task.stages(replace(config, train=replace(config.train, steps=2)))
        self.steps = {}
        for stage in self.stages:
            state = TrainState(models=self.models, optimizers=self.optimizers, step=tf.Variable(0, dtype=tf.int64),
                               config=config, info=info, global_batch_size=BATCH, extras={"stage": stage})
            self.steps[stage.name] = _compiled(self.task, state)
        model = self.models["model"]
        self.logits = tf.function(lambda x: model(x, training=False))

    def reset(self) -> None:
        self.models["model"].set_weights(self.start)
        for variable, value in self.optimizer_start:
            variable.assign(value)

    def fit(self, batches, steps: int, head_fraction: float) -> None:
        names = [s.name for s in self.stages]
        switch = round(steps * head_fraction) if len(names) > 1 else steps
        for i, batch in enumerate(batches.take(steps)):
            self.steps[names[0] if i < switch else names[-1]](batch)

    def accuracy(self, batches) -> float:
        import numpy as np

        right = total = 0
        for x, y in batches:
            right += int(np.sum(np.argmax(self.logits(x).numpy(), -1) == y.numpy()))
            total += len(y)
        return right / total


def _compiled(task, state):
    import tensorflow as tf

    return tf.function(lambda batch: task.train_step(state, batch))


def _batches(task, config, info, split: str, *, train: bool):
    import tensorflow as tf

    data = task.data(config, split)
    ds = data.dataset
    if train:
        ds = ds.shuffle(data.size, seed=0).repeat()
    ds = ds.map(lambda *ex: task.eval_map(config, info, ex), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(BATCH, drop_remainder=train).prefetch(tf.data.AUTOTUNE), data.size


def _step_ratio(frozen, full, batch, steps: int) -> float:
    """Median step time of the head stage (frozen backbone) over a full training step, interleaved."""
    times: dict[str, list[float]] = {"frozen": [], "full": []}
    for _ in range(steps):
        for name, fn in (("frozen", frozen), ("full", full)):
            start = time.perf_counter()
            fn(batch)["loss"].numpy()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["frozen"]) / statistics.median(times["full"])


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
        # The source model must be good for its features to be worth transferring: 600 steps at a constant
        # 1e-3 gave 0.85 on mnist-5k and features no better than raw pixels for digits-8x8.
        steps = budget["pretrain_steps"]
        pre_config = replace(base, mode="pretrain", image_size=32, train=replace(
            base.train, steps=steps, batch_size=64, eval_every=10**9, ckpt_every=10**9, log_every=10**9),
            optim=replace(base.optim, lr=PRETRAIN_LR, schedule="cosine", decay_steps=steps,
                          warmup_steps=min(100, steps // 10)))
        print(f"  pretraining mobilenet_v2 on mnist-5k with the Trainer, {budget['pretrain_steps']} steps", flush=True)
        pre = Trainer(task=Transfer(), config=pre_config, run_dir=root / "pretrain", verbose=False)
        start = time.perf_counter()
        pre.fit()
        pre_seconds = time.perf_counter() - start
        pre_test = pre.task.data(pre_config, "test")
        pre_accuracy = float(pre.evaluate(pre_test)["accuracy"])
        print(f"  mnist-5k test accuracy {pre_accuracy:.4f} ({pre_seconds / 60:.1f} min)", flush=True)

        task = Transfer()
        configs = {f: _configs(root / "pretrain", f) for f in FRACTIONS}
        info = task.data_info(configs[1.0]["scratch"], task.data(configs[1.0]["scratch"], "train"))
        learners = {m: Learner(c, info) for m, c in configs[1.0].items()}
        test, test_size = _batches(task, configs[1.0]["scratch"], info, "test", train=False)
        results: dict[tuple[str, float], dict] = {}
        for fraction in FRACTIONS:
            for method, learner in learners.items():
                config = configs[fraction][method]
                batches, size = _batches(task, config, info, "train", train=True)
                learner.reset()
                start = time.perf_counter()
                learner.fit(batches, budget["steps"], config.head_fraction)
                r = results[method, fraction] = {"accuracy": learner.accuracy(test), "train_size": size,
                                                 "test_size": test_size, "seconds": time.perf_counter() - start}
                print(f"  {method:<9} {fraction:>4.0%}: test accuracy {r['accuracy']:.4f} "
                      f"({size} labels, {r['seconds']:.0f} s)", flush=True)
        batch = next(iter(_batches(task, configs[1.0]["scratch"], info, "train", train=True)[0]))
        ratio = _step_ratio(learners["head"].steps["head"], learners["scratch"].steps["all"], batch,
                            budget["timing_steps"])
        print(f"  step time frozen / full: {ratio:.3f}", flush=True)
    minutes = (time.perf_counter() - wall) / 60
    return block(results, pre_accuracy=pre_accuracy, pre_test=pre_test.size, pre_seconds=pre_seconds,
                 timing={"ratio": ratio, "steps": budget["timing_steps"]}, budget=budget, minutes=minutes)


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
        f"mode=pretrain` on mnist-5k, {budget['pretrain_steps']:,} steps × 64 (Adam {PRETRAIN_LR:g}, cosine): **test accuracy "
        f"{pre_accuracy:.4f}** on its {pre_test} test images ({pre_seconds / 60:.1f} min). Target: digits-8x8 "
        f"(8×8 scikit-learn digits upsampled to 32 px, grey repeated to RGB), a fixed random {', '.join(f'{f:.0%}' for f in FRACTIONS)} "
        f"of its training split; every cell is one run of {budget['steps']:,} steps × {BATCH} with Adam 1e-3 "
        f"(unfreeze: half head, half head + top 2 blocks at 1e-5; BN in inference mode when fine-tuning), "
        f"scored once on the {test_size} test images "
        f"(one error ≈ {1 / test_size:.4f}); each method's model is built once, its own `train_step` compiled "
        f"once per stage and reset to the same start for every fraction. Step time, head stage "
        f"(frozen backbone) ÷ full training step: **{timing['ratio']:.3f}** (median of {timing['steps']} "
        f"interleaved steps on one batch of 32). CPU budget: the whole block took {minutes:.0f} min on the "
        f"shared 2-core CPU (vision/benchmarks/transfer.py). Quoted anchors, not reproduced offline: slim's "
        f"Inception-v3 flowers fine-tune 88% (tensorflow/models#415); Keras InceptionResNetV2 top-1 0.803.",
    ])


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
