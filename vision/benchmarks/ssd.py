"""vision.ssd benchmark block: SSD-MobileNet trained from scratch on shapes, one run, measured numbers only.

- quality: `vision.ssd` trained by the tfzoo Trainer on the 500 train shapes images at 128 px, then mAP@0.5
  (VOC all-point) and COCO AP (pycocotools) on the 200 val images (goal: mAP@0.5 >= 0.90);
- CPU budget: the training's wall-clock and process CPU seconds, and the step count, stated beside the result;
- inference: images/s of `detect` (network + decode + NMS) over the val images, batch 32, after a warm-up pass;
- step time vs a bare loop: the Trainer and a bare `tf.function` loop running the same task step on the same
  batches, interleaved step by step (detector_overhead.py); the ratio of median step times (goal <= 1.05).

    python vision/benchmarks/ssd.py --quick                 # a sanity run (figures are not benchmarks)
    python vision/benchmarks/ssd.py                         # the default recipe, 800 steps of 16
    python vision/benchmarks/ssd.py --steps 3000 --batch-size 32 --alpha 0.5 --depth 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from detector_overhead import overhead  # noqa: E402
from overhead import NEVER  # noqa: E402

from tfzoo.common.bench import load_average, provenance  # noqa: E402
from tfzoo.common.train import Trainer  # noqa: E402
from tfzoo.vision.detection.evaluation import detection_report  # noqa: E402
from tfzoo.vision.ssd.config import SSDConfig  # noqa: E402
from tfzoo.vision.ssd.task import SSD  # noqa: E402

# FULL is SSDConfig's default recipe (alpha 0.25, depth 1, 800 steps of 16): about 25 min on 2 shared cores.
FULL = {"steps": 800, "batch_size": 16, "alpha": 0.25, "depth": 1, "overhead_steps": 10, "overhead_warmup": 3,
        "overhead_repeats": 2}
QUICK = {"steps": 30, "batch_size": 16, "alpha": 0.25, "depth": 1, "overhead_steps": 4, "overhead_warmup": 2,
         "overhead_repeats": 1}


def bench_config(*, steps: int, batch_size: int, alpha: float, depth: int) -> SSDConfig:
    """The default SSD config (128 px, 500 train / 200 val shapes) with the benchmark's budget."""
    base = SSDConfig()
    train = replace(base.train, steps=steps, batch_size=batch_size, eval_every=NEVER, ckpt_every=NEVER,
                    log_every=max(1, steps // 20))
    optim = replace(base.optim, decay_steps=steps, warmup_steps=min(base.optim.warmup_steps, steps // 10))
    return replace(base, alpha=alpha, depth=depth, train=train, optim=optim)


def train_and_evaluate(config: SSDConfig, run_dir: Path) -> dict:
    """Train, then detection metrics on val and detect() throughput."""
    task = SSD()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trainer = Trainer(task=task, config=config, run_dir=run_dir, verbose=False)
    trainer.fit()
    out = {"train_wall_s": time.perf_counter() - wall0, "train_cpu_s": time.process_time() - cpu0}
    val = task.detection_data(config, "val")
    images = [e.image for e in val.examples]
    detections = task.detect_images(trainer.models, config, trainer.info, images, batch_size=32)
    report = detection_report(detections, val.examples, tuple(trainer.info["class_names"]))
    start = time.perf_counter()
    task.detect_images(trainer.models, config, trainer.info, images, batch_size=32)
    out["images_per_s"] = len(images) / (time.perf_counter() - start)
    out.update(report)
    out["params"] = trainer.models["model"].count_params()
    out["val_images"] = len(images)
    return out


def run(quick: bool = False, *, steps: int | None = None, batch_size: int | None = None, alpha: float | None = None,
        depth: int | None = None, overhead_steps: int | None = None, log=print) -> str:
    """The markdown block for BENCHMARKS.md (measured in this call)."""
    p = dict(QUICK if quick else FULL)
    for key, value in {"steps": steps, "batch_size": batch_size, "alpha": alpha, "depth": depth,
                       "overhead_steps": overhead_steps}.items():
        if value is not None:
            p[key] = value
    load_start = load_average()
    config = bench_config(steps=p["steps"], batch_size=p["batch_size"], alpha=p["alpha"], depth=p["depth"])
    with tempfile.TemporaryDirectory(prefix="tfzoo-bench-ssd-") as tmp:
        log(f"ssd: training {p['steps']} steps (batch {p['batch_size']}, alpha {p['alpha']}, depth {p['depth']})")
        q = train_and_evaluate(config, Path(tmp) / "run")
    log(f"ssd: mAP@0.5 {q['map50']:.4f}, COCO AP {q['coco_ap']:.4f}, {q['images_per_s']:.1f} images/s")
    o = overhead(SSD, config, steps=p["overhead_steps"], warmup=p["overhead_warmup"], repeats=p["overhead_repeats"],
                 log=log)
    goal = "met" if q["map50"] >= 0.90 else "not met"
    cores = os.cpu_count()
    command = "python vision/benchmarks/ssd.py" + (" --quick" if quick else "") + (
        f" --steps {p['steps']} --batch-size {p['batch_size']} --alpha {p['alpha']} --depth {p['depth']}")
    lines = [
        "### vision.ssd — SSD-MobileNet on shapes, from scratch" + (" (quick sanity run, not a benchmark)" if quick
                                                                    else ""),
        "",
        f"`mobilenet` backbone (alpha {p['alpha']}, depth {p['depth']}, {q['params']:,} parameters), 128 px, "
        f"{config.num_maps} feature maps, {len(SSD().anchors(config))} default boxes; trained by the tfzoo Trainer "
        f"on the 500 train shapes images for {p['steps']} steps of batch {p['batch_size']} (Adam "
        f"{config.optim.lr:g}, cosine); evaluated on the {q['val_images']} val images.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| mAP@0.5 (VOC all-point), goal >= 0.90 | {q['map50']:.4f} ({goal}) |",
        f"| COCO AP / AP50 / AP75 | {q['coco_ap']:.4f} / {q['coco_ap50']:.4f} / {q['coco_ap75']:.4f} |",
        f"| CPU budget: training wall-clock / process CPU time | {q['train_wall_s'] / 60:.1f} min / "
        f"{q['train_cpu_s'] / 60:.1f} CPU-min ({cores} cores, shared) |",
        f"| inference (detect: network + decode + NMS, batch 32) | {q['images_per_s']:.1f} images/s |",
        f"| step time, tfzoo Trainer / bare `tf.function` loop (median of {o['repeats']} interleaved rounds of "
        f"{o['steps']} steps) | {o['ratio']:.3f} (range {o['ratio_min']:.3f}–{o['ratio_max']:.3f}; "
        f"{o['tfzoo_ms']:.0f} vs {o['bare_ms']:.0f} ms) |",
        "",
        "Per class AP50: " + ", ".join(f"{k[5:]} {v:.3f}" for k, v in q.items() if k.startswith("ap50_")) + ".",
        "Anchor quoted by the book: SSD-MobileNet-v1 on COCO, mAP 21 (S0 L21120–L21127), a different data set.",
        "",
        provenance(command, load_start=load_start),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--overhead-steps", type=int)
    args = parser.parse_args(argv)
    print(run(args.quick, steps=args.steps, batch_size=args.batch_size, alpha=args.alpha, depth=args.depth,
              overhead_steps=args.overhead_steps))


if __name__ == "__main__":
    main()
