"""generative.vae: KL and likelihood oracles, the ELBO as train_step computes it, and the VAE / CVAE
round trip (the VAE's is in test_conformance: train, evaluate with FD-DC, predict, the SavedModels)."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.logging import read_metrics
from tfzoo.common.testing.smoke import run_cli
from tfzoo.generative.vae.model import kl_divergence, reconstruction_nll
from tfzoo.generative.vae.task import VAE, manifold_grid

TASK = "generative.vae"
DATA = "digits-8x8"  # 1,797 8x8 digits: the same code paths as MNIST at a fraction of the time


def test_kl_oracles():
    zeros = tf.zeros([4, 3])
    np.testing.assert_allclose(kl_divergence(zeros, zeros).numpy(), 0.0, atol=1e-7)  # KL(N(0,1)||N(0,1)) = 0
    np.testing.assert_allclose(kl_divergence(tf.ones([1, 3]), tf.zeros([1, 3])).numpy(), [1.5], rtol=1e-6)
    # Closed form against a Monte-Carlo estimate for σ² = e^-1, μ = 0.5.
    mu, logvar = 0.5, -1.0
    rng = np.random.default_rng(0)
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal(400_000)
    log_q = -0.5 * (np.log(2 * np.pi) + logvar + (z - mu) ** 2 / np.exp(logvar))
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    closed = float(kl_divergence(tf.constant([[mu]]), tf.constant([[logvar]]))[0])
    assert closed == pytest.approx(np.mean(log_q - log_p), abs=5e-3)


def test_likelihood_oracles():
    target = tf.constant([[[[1.0], [0.0]]]])  # one image of two pixels
    half = tf.fill([1, 1, 2, 1], 0.5)
    np.testing.assert_allclose(reconstruction_nll("bernoulli", target, half).numpy(), [2 * np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(reconstruction_nll("gaussian", target, half).numpy(), [0.25], rtol=1e-6)


def test_manifold_grid_is_the_books():
    grid = manifold_grid()
    assert grid.shape == (225, 2)
    np.testing.assert_allclose([grid[:, 0].min(), grid[:, 0].max()], [-1.6449, 1.6449], atol=1e-4)


def _records(run):
    return read_metrics(Path(run, "metrics.jsonl"))


def test_cvae_round_trip(tmp_path, eval_root):
    # The CLI train/evaluate/export round trip itself is conformance's (test_conformance, the vae variant).
    run = tmp_path / "run"
    sets = [a for s in (f"eval_root={eval_root}", f"data={DATA}", "variant=cvae", "likelihood=gaussian",
                        "train.steps=2") for a in ("--set", s)]
    code, _, err = run_cli("train", TASK, "--preset", "tiny", "--run-dir", str(run), *sets)
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run), "--split", "val")
    assert code == 0, err
    ev = json.loads(out.strip().splitlines()[-1])
    assert 0.0 <= ev["class_faithfulness"] <= 1.0
    assert "labels.png" in {Path(p).name for p in ev["plots"]}
    code, out, err = run_cli("predict", str(run), "samples", "--set", "label=7", "--set", "n=4")
    assert code == 0, err
    assert json.loads(out)["labels"] == [7]
    code, _, err = run_cli("predict", str(run), "samples", "--set", "label=12")
    assert code == 2 and err.strip() == "error: label=12 is out of range: this run has 10 classes (0-9, or -1)"
    code, out, err = run_cli("export", str(run))
    assert code == 0, err
    generate = tf.saved_model.load(out.strip()).signatures["serving_default"]
    images = generate(z=tf.zeros([10, 2]), labels=tf.range(10, dtype=tf.int64))["images"].numpy()
    assert images.shape == (10, 8, 8, 1)
    assert not np.allclose(images[0], images[1])  # the label changes the sample


@pytest.mark.parametrize(("setting", "pattern"), [
    ("variant=vqvae", "'variant': found 'vqvae'"), ("likelihood=poisson", "likelihood"), ("latent_dim=0", "latent_dim"),
])
def test_bad_settings_are_one_line_errors(tmp_path, setting, pattern):
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "run"), "--data", DATA,
                           "--set", setting)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and pattern in last, err


@pytest.mark.slow
def test_manifold_varies_smoothly(tmp_path):
    """Neighbouring cells of the 15x15 manifold are closer than random pairs of cells."""
    from tfzoo.common.cli import open_run

    run = tmp_path / "run"
    code, _, err = run_cli("train", TASK, "--run-dir", str(run), "--set", "train.steps=2000")
    assert code == 0, err
    run_ = open_run(str(run))
    grid = run_.task.generate(run_, manifold_grid()).reshape(15, 15, -1)
    neighbours = np.mean([np.mean((grid[i, j] - grid[i, j + 1]) ** 2) for i in range(15) for j in range(14)])
    flat = grid.reshape(225, -1)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 225, 500), rng.integers(0, 225, 500)
    random_pairs = np.mean((flat[a] - flat[b]) ** 2)
    assert neighbours < 0.5 * random_pairs, (neighbours, random_pairs)


def test_book_preset():
    from tfzoo.generative.vae.config import VAEConfig

    book = VAEConfig.book("cvae")
    assert (book.variant, book.likelihood, book.train.batch_size, book.optim.lr) == ("cvae", "gaussian", 128, 1e-3)
    assert VAE().default_config(preset="cvae") == book and VAE().default_config(preset="book") == VAEConfig.book()
