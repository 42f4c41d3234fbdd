"""tfzoo-vision benchmarks; `nox -s bench-vision` runs this file and it writes BENCHMARKS.md.

(a) overhead: the same cnn-bn for the same steps under the tfzoo Trainer, a bare `tf.function`
    loop and `model.fit`, interleaved step by step in one run; step-time ratios to the bare
    loop (goal: tfzoo <= 1.05). See overhead.py.
(b) accuracy: cnn-bn trained by the Trainer, test accuracy on the 500 held-out mnist-5k
    images (goal >= 0.98) and on Fashion-MNIST's 10k test images when the Debian package
    `dataset-fashion-mnist` is installed (goal >= 0.93). See accuracy.py.
(c) transfer, yolo, ssd, maskrcnn: block modules with `run(quick) -> markdown` (transfer accuracy
    against scratch; detectors' mAP@0.5 on shapes, COCO AP, images/s). See each module's docstring.

    python vision/benchmarks/run.py                 # everything, rewrites the vision section
    python vision/benchmarks/run.py --quick         # a short sanity run; writes only with --write
    python vision/benchmarks/run.py --only overhead --steps 100 --repeats 5
    python vision/benchmarks/run.py --only yolo --block-steps 500    # a stated, shorter budget
    nox -s bench-vision -- --only accuracy --fashion-steps 4000
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

FULL = {"steps": 100, "warmup": 5, "repeats": 3, "tiny_steps": 300, "mnist_steps": 1000, "fashion_steps": 2500}
QUICK = {"steps": 6, "warmup": 2, "repeats": 1, "tiny_steps": 20, "mnist_steps": 40, "fashion_steps": 20}
TINY = {"filters": 2, "batch_size": 16, "warmup": 10}  # the per-step-cost diagnostic's model and batch

# Blocks that are a module here with `run(quick: bool) -> str`, in BENCHMARKS.md order.
MODULE_BLOCKS = ("transfer", "yolo", "ssd", "maskrcnn")

LOOP_TEXT = {
    "bare": "bare loop: `@tf.function` GradientTape step, Python `for` over the dataset",
    "tfzoo": "tfzoo `Trainer.fit`, log/eval/ckpt intervals beyond the run",
    "tfzoo-log50": "tfzoo `Trainer.fit`, default `log_every=50` (metrics.jsonl + TensorBoard)",
    "fit": "Keras `model.compile` + `model.fit(verbose=0)`",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a short sanity version (figures are not benchmarks)")
    p.add_argument("--only", choices=("overhead", "accuracy", *MODULE_BLOCKS),
                   help="run one part; the other blocks are kept")
    p.add_argument("--steps", type=int, help=f"overhead: timed steps per loop and round (full {FULL['steps']})")
    p.add_argument("--warmup", type=int, help=f"overhead: untimed steps first (full {FULL['warmup']})")
    p.add_argument("--repeats", type=int, help=f"overhead: interleaved rounds (full {FULL['repeats']})")
    p.add_argument("--tiny-steps", type=int,
                   help=f"overhead: timed steps of the tiny-model per-step-cost diagnostic, 0 skips it "
                        f"(full {FULL['tiny_steps']})")
    p.add_argument("--mnist-steps", type=int, help=f"accuracy: training steps on mnist-5k (full {FULL['mnist_steps']})")
    p.add_argument("--fashion-steps", type=int,
                   help=f"accuracy: training steps on Fashion-MNIST (full {FULL['fashion_steps']})")
    p.add_argument("--block-steps", type=int,
                   help="transfer/yolo/ssd/maskrcnn: training steps instead of the block's full budget")
    p.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                   help="rewrite the vision section of BENCHMARKS.md (default: yes, except with --quick)")
    p.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="the file to update")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.write is None:
        args.write = not args.quick
    for key in ("steps", "warmup", "repeats", "tiny_steps", "mnist_steps", "fashion_steps"):
        if getattr(args, key) < (0 if key == "tiny_steps" else 1):
            p.error(f"--{key.replace('_', '-')} must be at least {0 if key == 'tiny_steps' else 1}")
    return args


def _verdict(value: float, goal: float, *, at_most: bool) -> str:
    met = value <= goal if at_most else value >= goal
    return f"{'met' if met else 'missed'} ({'≤' if at_most else '≥'} {goal:g})"


def _overhead_rows(summary: dict, *, goals: bool) -> list[str]:
    rows = ["| loop | steps/s, median of rounds | step time ÷ bare, median of rounds (min–max) "
            "| median single step ÷ bare | goal |", "|---|---:|---:|---:|---|"]
    for loop in ("bare", "tfzoo", "tfzoo-log50", "fit"):
        if loop not in summary:
            continue
        s = summary[loop]
        goal = "reference" if loop == "bare" else "—"
        if goals and loop.startswith("tfzoo"):
            goal = _verdict(s["ratio"], 1.05, at_most=True)
        ratio = "1.00" if loop == "bare" else f"{s['ratio']:.3f} ({s['ratio_min']:.3f}–{s['ratio_max']:.3f})"
        rows.append(f"| {LOOP_TEXT[loop]} | {s['steps_per_sec']:.2f} | {ratio} | "
                    f"{s['ratio_median_step']:.3f} | {goal} |")
    return rows


def overhead_block(args, summary: dict, tiny: dict | None, quick_note: str) -> str:
    tiny_part = []
    if tiny:
        tiny_part = [
            "",
            f"Diagnostic, per-step cost of the loops themselves: the same four loops, measured the same way, "
            f"on a tiny cnn-bn ({TINY['filters']} filters, batch {TINY['batch_size']}), where the compiled step "
            f"is small enough for each loop's own per-step work to show ({args.repeats} round(s), {args.tiny_steps} "
            f"timed steps after {TINY['warmup']} warm-up):",
            "",
            *_overhead_rows(tiny, goals=False),
        ]
    return "\n".join([
        "### (a) Trainer overhead: cnn-bn on mnist-5k",
        "",
        quick_note + provenance(args),
        "",
        *_overhead_rows(summary, goals=True),
        "",
        f"Same model (vision.classify `cnn-bn`, 64 filters, fresh with the same seed in each loop), the same "
        f"mnist-5k training batches of 64 from the trainer's tf.data pipeline, Adam 1e-3, no XLA, op "
        f"determinism on (as the trainer sets it). {args.repeats} round(s); in each round the four loops run "
        f"interleaved one step per turn (threads passing a baton), {args.steps} timed steps each after "
        f"{args.warmup} warm-up steps, so all loops see the same machine load; setup, tracing and the "
        f"trainer's final evaluation and checkpoint are not timed (vision/benchmarks/overhead.py). "
        f"steps/s depends on the load of the shared machine; the ratios are the figures.",
        *tiny_part,
    ])


def accuracy_block(args, results: list[dict], skipped: list[str], quick_note: str) -> str:
    from accuracy import GOALS

    rows = ["| data | train / test images | training | test accuracy | goal | val accuracy "
            "| train accuracy, last log window |",
            "|---|---:|---|---:|---|---:|---:|"]
    for r in results:
        aug = "±2 px shift" if r["shift"] else "no augmentation"
        rows.append(
            f"| `{r['data']}` | {r['train_size']:,} / {r['test_size']:,} | {r['steps']:,} steps × {r['batch_size']} "
            f"({r['epochs']:.1f} epochs), Adam {r['lr']:g} cosine, {aug} | **{r['test_accuracy']:.4f}** | "
            f"{_verdict(r['test_accuracy'], GOALS[r['data']], at_most=False)} | {r['val_accuracy']:.4f} | "
            f"{r['train_accuracy']:.4f} |")
    for line in skipped:
        rows.append(line)
    return "\n".join([
        "### (b) Test accuracy: cnn-bn trained by the tfzoo Trainer",
        "",
        quick_note + provenance(args),
        "",
        *rows,
        "",
        "Held-out test splits, scored once after training (no model selection on them): mnist-5k's 500 test "
        "images come from the fixed stratified 4000/500/500 split (one error = 0.002; binomial s.e. ≈ 0.006 "
        "at 0.98); Fashion-MNIST's are the 10,000 t10k images, trained on the 54,000 train images left after "
        "its 10% validation split. Step budgets fit a 2-core CPU; Fashion-MNIST sees only the epochs shown. "
        "The last column is the training-batch accuracy over the last logging window (in training mode, "
        "augmented): close to val accuracy means the budget, not overfitting, is the limit. "
        "Spec §2.4 asks cnn-bn ≥ 0.97 on mnist-5k; the issue asks ≥ 0.98. The book's 实例54 figure (0.719) "
        "is on one 128-image CIFAR-10 batch with BN left in training mode (book bugs 1 and 5): not comparable.",
    ])


def provenance(args) -> str:
    import report

    return report.provenance(shlex.join(["python", "vision/benchmarks/run.py", *args.argv]), load_start=args.load_start)


def _print_summary(summary: dict) -> None:
    for loop, s in summary.items():
        print(f"  {loop:<12} {s['steps_per_sec']:7.3f} steps/s  step time ÷ bare {s['ratio']:.3f} "
              f"({s['ratio_min']:.3f}–{s['ratio_max']:.3f})  median single step ÷ bare {s['ratio_median_step']:.3f}",
              flush=True)


def run_overhead(args) -> tuple[dict, dict | None]:
    import overhead

    print(f"(a) overhead: {args.repeats} round(s) × {args.steps} timed steps after {args.warmup} warm-up, "
          "loops interleaved step by step", flush=True)
    summary = overhead.summarise(overhead.measure(steps=args.steps, warmup=args.warmup, repeats=args.repeats))
    _print_summary(summary)
    if summary["tfzoo"]["ratio"] > 1.05:
        print("  NOTE: the tfzoo Trainer is more than 1.05x the bare loop", flush=True)
    tiny = None
    if args.tiny_steps:
        print(f"(a) per-step cost diagnostic: tiny cnn-bn ({TINY['filters']} filters, batch {TINY['batch_size']}), "
              f"{args.repeats} round(s) × {args.tiny_steps} timed steps", flush=True)
        tiny = overhead.summarise(overhead.measure(steps=args.tiny_steps, warmup=TINY["warmup"], repeats=args.repeats,
                                                   filters=TINY["filters"], batch_size=TINY["batch_size"],
                                                   log=lambda *_: None))
        _print_summary(tiny)
    return summary, tiny


def run_accuracy(args) -> tuple[list[dict], list[str]]:
    import accuracy

    results, skipped = [], []
    jobs = [("mnist-5k", args.mnist_steps)]
    if accuracy.fashion_present():
        jobs.append(("fashion-mnist", args.fashion_steps))
    else:
        print("(b) notice: Fashion-MNIST skipped: /usr/share/datasets/fashion-mnist is absent "
              "(apt-get install dataset-fashion-mnist)", flush=True)
        skipped.append("| `fashion-mnist` | — | — | skipped: dataset-fashion-mnist not installed | — | — | — |")
    for data, steps in jobs:
        config = accuracy.recipe(data, steps=steps)
        print(f"(b) accuracy: cnn-bn on {data}, {steps} steps", flush=True)
        start = time.perf_counter()
        r = accuracy.train_and_test(config)
        r.update(lr=config.optim.lr, shift=config.random_crop != (0, 0))
        print(f"  {data}: test accuracy {r['test_accuracy']:.4f} on {r['test_size']} images "
              f"(val {r['val_accuracy']:.4f}; {r['epochs']:.1f} epochs; {time.perf_counter() - start:.0f} s)",
              flush=True)
        results.append(r)
    return results, skipped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    import report

    args.load_start = report.load_average()
    from tfzoo.common.train import seed_everything

    # Process-wide, and the Trainer turns it on anyway: on from the start so every loop runs under it.
    seed_everything(0, deterministic=True)
    quick_note = "**--quick sanity figures, not benchmarks.** " if args.quick else ""
    blocks = {}
    if args.only in (None, "overhead"):
        blocks["overhead"] = overhead_block(args, *run_overhead(args), quick_note)
    if args.only in (None, "accuracy"):
        blocks["accuracy"] = accuracy_block(args, *run_accuracy(args), quick_note)
    for name in MODULE_BLOCKS:
        if args.only in (None, name):
            print(f"({name})", flush=True)
            kwargs = {"steps": args.block_steps} if args.block_steps else {}
            body = importlib.import_module(name).run(quick=args.quick, **kwargs)
            blocks[name] = quick_note + provenance(args) + "\n\n" + body
            print(body, flush=True)
    if args.write:
        report.write(args.output, blocks)
        print(f"wrote the vision section of {args.output}")
    else:
        print("not written (--quick without --write)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
