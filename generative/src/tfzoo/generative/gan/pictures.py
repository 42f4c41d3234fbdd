"""The GAN's figures (spec §4.3): sample grids, class grids, InfoGAN traversals, interpolations, AEGAN pairs.

Every figure draws from fixed latent vectors (a seeded NumPy generator), so successive grids of
one run show the same noise and can be compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from tfzoo.common import plots
from tfzoo.generative.gan.config import GANConfig, Options

SEED = 1234


def noise(opts: Options, n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise rows from the run's distribution: N(0, 1) or U(-1, 1)."""
    if opts.z_dist == "uniform":
        return rng.uniform(-1.0, 1.0, (n, opts.z_dim)).astype(np.float32)
    return rng.standard_normal((n, opts.z_dim)).astype(np.float32)


def latents(config: GANConfig, opts: Options, num_classes: int, z: np.ndarray,
            labels: np.ndarray | None = None, codes: np.ndarray | None = None) -> np.ndarray:
    """Lay out [noise, one-hot, codes] as `model.latent` does; missing labels cycle, missing codes are 0."""
    n = len(z)
    parts = [z]
    if opts.labelled:
        labels = np.arange(n) % num_classes if labels is None else np.asarray(labels)
        parts.append(np.eye(num_classes, dtype=np.float32)[labels])
    if opts.has_codes:
        parts.append(np.zeros((n, config.n_cont), np.float32) if codes is None else np.asarray(codes, np.float32))
    return np.concatenate(parts, axis=1).astype(np.float32)


def generate(generator: keras.Model, vectors: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Images in [0, 1] for latent vectors, in inference mode."""
    return np.concatenate([np.asarray(generator(vectors[i: i + batch_size], training=False))
                           for i in range(0, len(vectors), batch_size)])


def sample_grid(generator, config, opts, num_classes, path: Path) -> tuple[Path, np.ndarray]:
    """6x6 samples with 5-px borders (实例90), labels cycling through the classes when conditional."""
    z = noise(opts, 36, np.random.default_rng(SEED))
    images = generate(generator, latents(config, opts, num_classes, z))
    return plots.image_grid(images, path, rows=6, cols=6), images


def class_grid(generator, config, opts, num_classes, path: Path) -> Path:
    """One row per class, the same 10 noise vectors in every row."""
    z = np.tile(noise(opts, 10, np.random.default_rng(SEED + 1)), (num_classes, 1))
    labels = np.repeat(np.arange(num_classes), 10)
    return plots.image_grid(generate(generator, latents(config, opts, num_classes, z, labels)), path,
                            rows=num_classes, cols=10)


def traversals(generator, config, opts, num_classes, folder: Path) -> list[Path]:
    """The book's 10x10 traversal (rows c1, columns c2 over [-1, 1], label fixed per column, S0 L21752)
    and one grid per continuous code (rows: classes, columns: that code over [-1, 1], the others 0)."""
    steps = np.linspace(-1.0, 1.0, 10, dtype=np.float32)
    z = np.repeat(noise(opts, 1, np.random.default_rng(SEED + 2)), 100, axis=0)
    rows, cols = np.divmod(np.arange(100), 10)
    codes = np.zeros((100, config.n_cont), np.float32)
    codes[:, 0] = steps[rows]
    if config.n_cont > 1:
        codes[:, 1] = steps[cols]
    images = generate(generator, latents(config, opts, num_classes, z, cols % num_classes, codes))
    paths = [plots.image_grid(images, folder / "traversal.png", rows=10, cols=10)]
    for j in range(config.n_cont):
        z = np.repeat(noise(opts, num_classes, np.random.default_rng(SEED + 3)), 10, axis=0)
        labels = np.repeat(np.arange(num_classes), 10)
        codes = np.zeros((len(z), config.n_cont), np.float32)
        codes[:, j] = np.tile(steps, num_classes)
        images = generate(generator, latents(config, opts, num_classes, z, labels, codes))
        paths.append(plots.image_grid(images, folder / f"traversal_c{j + 1}.png", rows=num_classes, cols=10))
    return paths


def interpolation(generator, config, opts, num_classes, path: Path) -> Path:
    """Six strips of 10 images, each a straight line between two fixed noise vectors (label kept)."""
    rng = np.random.default_rng(SEED + 4)
    a, b = noise(opts, 6, rng), noise(opts, 6, rng)
    t = np.linspace(0.0, 1.0, 10, dtype=np.float32)[None, :, None]
    z = (a[:, None] * (1 - t) + b[:, None] * t).reshape(60, -1)
    labels = np.repeat(np.arange(6) % num_classes, 10)
    return plots.image_grid(generate(generator, latents(config, opts, num_classes, z, labels)), path,
                            rows=6, cols=10)


def pairs(generator, encoder, images: np.ndarray, path: Path) -> tuple[Path, float]:
    """AEGAN: real images beside G(E(x)), 18 pairs on a 6x6 grid; returns the pairs' MSE too."""
    images = images[:18]
    recon = generate(generator, np.asarray(encoder(images, training=False)))
    both = np.stack([images, recon], axis=1).reshape(-1, *images.shape[1:])
    return plots.image_grid(both, path, rows=6, cols=6), float(np.mean((recon - images) ** 2))


def write_all(run: Any, opts: Options, *, step: int, real: np.ndarray | None = None) -> list[str]:
    """Every figure of a run into its plots/ folder; `run` is the `Run` (opened, or the one training)."""
    config, folder = run.config, Path(run.plots)
    generator, num_classes = run.models["generator"], int(run.info["num_classes"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = [sample_grid(generator, config, opts, num_classes, folder / f"samples_{step}.png")[0],
             interpolation(generator, config, opts, num_classes, folder / "interpolation.png")]
    if opts.labelled:
        paths.append(class_grid(generator, config, opts, num_classes, folder / "classes.png"))
    if opts.has_codes:
        paths += traversals(generator, config, opts, num_classes, folder)
    if "encoder" in run.models and real is not None:
        paths.append(pairs(generator, run.models["encoder"], real, folder / "aegan_pairs.png")[0])
    return [str(p) for p in paths]
