"""实例93-96 benchmark: ESPCN, residual ESPCN and SRGAN against nearest, bilinear and bicubic upscaling.

One table per scale (x2, x3, x4) on the held-out `photos` (chelsea, grace_hopper: whole images cropped
to a multiple of r, r border pixels ignored), plus mnist-5k at x2. Columns: PSNR (RGB), Y-PSNR (BT.601
luma), SSIM (luma), the book-style Y-PSNR (Y = 0.3R + 0.59G + 0.11B) for comparison with its printed
27.92 dB (94, x2) and 25.80 dB (95, x4), and time per megapixel as a ratio to bicubic (same run).

Budget (full, shared 2-core CPU): 48-pixel HR patches (divisible by 2, 3 and 4); ESPCN 2,000 steps per
scale (~1-2 min each unloaded), residual ESPCN 4 blocks x 32 filters 1,500 steps, SRGAN 300 feature + 800 GAN
steps with a narrower discriminator, ESPCN on mnist-5k; roughly 20-25 min unloaded, twice that at load 4.
The book-sized residual network (16 blocks x 64) costs ~20x more per step than ESPCN: raise RESIDUAL on a GPU.

    python generative/benchmarks/run.py --only superres [--quick]
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

PATCH = 48
ESPCN_STEPS = 2000
RESIDUAL = {"steps": 1500, "res_blocks": 4, "filters": 32}
SRGAN = {"feature_steps": 300, "steps": 800, "d_filters": (32, 32, 64, 64, 128, 128, 128), "d_dense": 128}
MNIST_STEPS = 1000
BOOK = {2: 27.92, 4: 25.80}  # S0 L23300 (94, flowers x2, last batch) and L23487 (95, x4): sanity, not targets
GOAL_GAIN = 1.0  # espcn >= bicubic + 1.0 dB Y-PSNR at x2 and x3


def _fit(config, run_dir: Path):
    from tfzoo.common.train import Trainer
    from tfzoo.generative.superres.task import SuperRes

    trainer = Trainer(task=SuperRes(), config=config, run_dir=run_dir, verbose=False)
    trainer.fit()
    return trainer


def _pairs(config, split: str = "test"):
    import tensorflow as tf

    from tfzoo.generative.superres import data as pipeline

    pairs = []
    for image in pipeline.whole_images(config, split, limit=200):
        hr = np.asarray(pipeline.modcrop(tf.constant(image, tf.float32) / 255.0, config.scale))
        pairs.append((np.asarray(pipeline.degrade(tf.constant(hr), config.scale, config.degrade)), hr))
    return pairs


def _timed(fn, pairs) -> tuple[list[np.ndarray], float]:
    """Outputs and seconds per HR megapixel (best of 3 passes, after one warm-up)."""
    fn(pairs[0][0])
    best, outputs = float("inf"), []
    for _ in range(3):
        start = time.perf_counter()
        outputs = [np.asarray(fn(lr)) for lr, _ in pairs]
        best = min(best, time.perf_counter() - start)
    megapixels = sum(hr.shape[0] * hr.shape[1] for _, hr in pairs) / 1e6
    return outputs, best / megapixels


def _rows(pairs, models: dict, scale: int, features=None) -> dict[str, dict]:
    """Mean scores per method; `models` maps a row name to a Keras generator."""
    import tensorflow as tf

    from tfzoo.generative.superres import data as pipeline
    from tfzoo.generative.superres.quality import book_psnr_y, scores

    methods = {m: (lambda lr, m=m: pipeline.upsample(tf.constant(lr, tf.float32), scale, m))
               for m in pipeline.BASELINES}
    methods.update({name: (lambda lr, g=g: g(lr[None].astype(np.float32), training=False)[0])
                    for name, g in models.items()})
    out = {}
    for name, fn in methods.items():
        outputs, seconds = _timed(fn, pairs)
        per = [scores(hr, sr, border=scale) for sr, (_, hr) in zip(outputs, pairs, strict=True)]
        row = {k: float(np.mean([p[k] for p in per])) for k in ("psnr", "psnr_y", "ssim")}
        row["book_y"] = float(np.mean([book_psnr_y(hr, sr, border=scale)
                                       for sr, (_, hr) in zip(outputs, pairs, strict=True)]))
        row["sec_per_mp"] = seconds
        if features is not None:
            row["feature_distance"] = float(np.mean([
                np.mean((np.asarray(features(sr[None].astype(np.float32))) -
                         np.asarray(features(hr[None].astype(np.float32)))) ** 2)
                for sr, (_, hr) in zip(outputs, pairs, strict=True)]))
        out[name] = row
    return out


def _table(title: str, rows: dict, scale: int, *, book: float | None = None) -> list[str]:
    bicubic = rows["bicubic"]["sec_per_mp"]
    with_fd = any("feature_distance" in r for r in rows.values())
    head = "| method | PSNR | Y-PSNR | SSIM | book-style Y-PSNR | time / MP vs bicubic |"
    rule = "|---|---|---|---|---|---|"
    if with_fd:
        head, rule = head + " feature distance |", rule + "---|"
    lines = [f"**{title}**", "", head, rule]
    for name, r in rows.items():
        line = (f"| {name} | {r['psnr']:.2f} | {r['psnr_y']:.2f} | {r['ssim']:.4f} | {r['book_y']:.2f} | "
                f"{r['sec_per_mp'] / bicubic:.1f}x |")
        if with_fd:
            line += f" {r['feature_distance']:.4g} |" if "feature_distance" in r else " |"
        lines.append(line)
    if book is not None:
        lines.append(f"| book (last training batch) | | {book:.2f} (book formula) | | | |" + (" |" if with_fd else ""))
    return lines + [""]


def run(quick: bool = False) -> str:
    from tfzoo.generative.superres.config import SuperResConfig
    from tfzoo.generative.superres.perceptual import feature_extractor

    base = SuperResConfig.tiny() if quick else replace(SuperResConfig(), patch_size=PATCH)

    def steps(n: int) -> int:
        return 3 if quick else n

    def cfg(**changes):
        config = replace(base, **{k: v for k, v in changes.items() if k != "steps"})
        return replace(config, train=replace(config.train, steps=steps(changes.get("steps", ESPCN_STEPS)),
                                             eval_every=10**9, ckpt_every=10**9))

    lines, goals = [], []
    scales = (2, 4) if quick else (2, 3, 4)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for scale in scales:
            espcn = _fit(cfg(scale=scale), tmp / f"espcn{scale}")
            models = {"espcn": espcn.run.models["model"]}
            features = None
            if scale == 4:
                residual_cfg = cfg(scale=4, variant="espcn-residual", steps=RESIDUAL["steps"],
                                   res_blocks=base.res_blocks if quick else RESIDUAL["res_blocks"],
                                   filters=base.filters if quick else RESIDUAL["filters"])
                residual = _fit(residual_cfg, tmp / "residual4")
                models["espcn-residual"] = residual.run.models["model"]
                gan_cfg = replace(residual_cfg, variant="srgan", init_from=str(tmp / "residual4"),
                                  feature_steps=steps(SRGAN["feature_steps"]))
                if not quick:
                    gan_cfg = replace(gan_cfg, d_filters=SRGAN["d_filters"], d_dense=SRGAN["d_dense"])
                gan_cfg = replace(gan_cfg, train=replace(gan_cfg.train, steps=steps(SRGAN["steps"])))
                srgan = _fit(gan_cfg, tmp / "srgan4")
                models["srgan"] = srgan.run.models["model"]
                features = feature_extractor(srgan.run.models["features"])
            rows = _rows(_pairs(espcn.config), models, scale, features)
            lines += _table(f"x{scale}, held-out photos (chelsea, grace_hopper)", rows, scale, book=BOOK.get(scale))
            gain = rows["espcn"]["psnr_y"] - rows["bicubic"]["psnr_y"]
            if scale in (2, 3):
                goals.append(f"- x{scale}: espcn - bicubic = {gain:+.2f} dB Y-PSNR (goal >= +{GOAL_GAIN:.1f}): "
                             f"{'met' if gain >= GOAL_GAIN else 'not met'}")
            if scale == 4:
                res, esp, gan = rows["espcn-residual"], rows["espcn"], rows["srgan"]
                goals.append(f"- x4: espcn-residual {res['psnr_y']:.2f} vs espcn {esp['psnr_y']:.2f} dB Y-PSNR "
                             f"(goal residual >= espcn): {'met' if res['psnr_y'] >= esp['psnr_y'] else 'not met'}")
                goals.append(f"- x4: srgan {gan['psnr']:.2f} dB PSNR vs espcn-residual {res['psnr']:.2f} "
                             f"(expected lower), feature distance {gan['feature_distance']:.4g} vs "
                             f"{res['feature_distance']:.4g}")
        if not quick:
            mnist = _fit(cfg(data="mnist-5k", patch_size=28, eval_crop=28, crops_per_image=1, steps=MNIST_STEPS),
                         tmp / "mnist")
            rows = _rows(_pairs(mnist.config)[:500], {"espcn": mnist.run.models["model"]}, 2)
            lines += _table("x2, mnist-5k test (实例93: the book ranks ESPCN > bicubic ≈ bilinear > nearest)", rows, 2)
    header = [
        f"Super-resolution (实例93-96) on the held-out `photos`, trained on random {base.patch_size}x{base.patch_size} "
        "HR crops of the other photos; "
        "LR by antialiased bicubic downscaling. Y-PSNR is on BT.601 luma; the book's numbers are single training "
        "batches with its own formulas, so they are sanity ranges, not targets. Anchors (papers, Set5): ESPCN x3 "
        "32.55 dB; SRResNet x4 32.05 dB / 0.9019; SRGAN x4 29.40 dB / 0.8472.",
        "",
        f"Steps (batch {base.train.batch_size}, cosine-decayed Adam 1e-3): espcn {steps(ESPCN_STEPS)}, "
        f"espcn-residual {steps(RESIDUAL['steps'])} ({base.res_blocks if quick else RESIDUAL['res_blocks']} blocks x "
        f"{base.filters if quick else RESIDUAL['filters']} filters), srgan {steps(SRGAN['feature_steps'])} "
        f"feature + {steps(SRGAN['steps'])} GAN steps." + (" QUICK: smoke-sized, not a benchmark." if quick else ""),
        "",
    ]
    return "\n".join(header + lines + ["Goals:", *goals, ""])
