"""generative.gan: every preset steps with finite losses; AEGAN and InfoGAN through the CLI (what conformance
does not cover: stages, figures, their metrics, predict options, the serving signature); one-line errors."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common.logging import read_metrics
from tfzoo.common.task import TrainState
from tfzoo.common.testing.smoke import run_cli
from tfzoo.generative.gan.config import VARIANTS, GANConfig, options
from tfzoo.generative.gan.model import latent_dim
from tfzoo.generative.gan.task import GAN

# 8x8 digits: MNIST's code paths at a fraction of the time; 256 scored samples keep FD-DC's covariances full rank.
DIGITS = ("--set", "data=digits-8x8", "--set", "eval_samples=256")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_preset_steps_with_finite_losses(variant):
    task = GAN()
    config = replace(GANConfig.tiny(variant=variant), n_critic=2 if variant == "wgan-gp" else 0)
    info = {"class_names": [str(i) for i in range(10)], "num_classes": 10, "image_shape": [28, 28, 1]}
    info["latent_dim"] = latent_dim(config, options(config), 10)
    models = task.build_models(config, info)
    optimizers = task.build_optimizers(config, models, total_steps=4)
    state = TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=config,
                       info=info, global_batch_size=8)
    rng = np.random.default_rng(0)
    batch = (tf.constant(rng.uniform(size=(8, 28, 28, 1)), tf.float32), tf.constant(np.arange(8) % 10, tf.int32))
    before = [v.numpy().copy() for v in models["discriminator"].trainable_variables]
    for stage in task.stages(config):
        state.stage = stage
        out = task.train_step(state, batch)  # eagerly: tracing eight presets costs more than one step
        assert all(math.isfinite(float(v)) for v in out.values()), (stage.name, out)
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, models["discriminator"].trainable_variables))
    # Two optimisers (three with an encoder), each stepped on its own model's variables.
    assert int(optimizers["generator"].iterations.numpy()) == 1
    assert int(optimizers["discriminator"].iterations.numpy()) == max(1, config.n_critic)
    if variant == "aegan":
        assert int(optimizers["encoder"].iterations.numpy()) == 1
    if variant == "wgan-gp":  # the unconditional signature takes noise alone
        serve = task.serving_function(config, models, info)
        assert serve(noise=tf.zeros([2, 32]))["images"].shape == (2, 28, 28, 1)


def test_aegan_cli_train_evaluate_predict_export(tmp_path, eval_root):
    run = tmp_path / "aegan"
    code, out, err = run_cli("train", "generative.gan", "--tiny", "--run-dir", str(run), "--set", "variant=aegan",
                             "--set", "train.steps=2", "--set", "encoder_steps=2", "--set", f"eval_root={eval_root}", *DIGITS)
    assert code == 0, err
    train = read_metrics(run / "metrics.jsonl", split="train")
    assert len(train) == 4 and all(math.isfinite(r[k]) for r in train for k in ("loss", "loss_d", "loss_g", "loss_e"))
    assert {r["stage"] for r in train} == {"gan", "encoder"}
    plots = {p.name for p in (run / "plots").iterdir()}
    assert {"samples_2.png", "samples_4.png", "classes.png", "traversal.png", "traversal_c1.png",
            "traversal_c2.png", "interpolation.png", "aegan_pairs.png"} <= plots, plots
    # Written by the during_training hook at step 2 (sample_every=2) and at the end (every figure).

    code, out, err = run_cli("evaluate", str(run), "--split", "val")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    for key in ("fd_dc", "fd_floor", "fd_noise_ceiling", "fd_mean_image_ceiling", "class_faithfulness", "recon_mse"):
        assert math.isfinite(result[key]), (key, result)

    digit = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).uniform(size=(28, 28)) * 255).astype(np.uint8)).save(digit)
    code, out, err = run_cli("predict", str(run), "sample", str(digit), "--set", "n=12", "--set", "label=3")
    assert code == 0, err
    grid, recon = [json.loads(line) for line in out.strip().splitlines()]
    assert Path(grid["output"]).exists() and grid["label"] == "3"
    assert Path(recon["output"]).exists() and math.isfinite(recon["mse"])
    code, out, err = run_cli("predict", str(run), "sample", "--set", "label=12")
    assert code == 2 and err.startswith("error: label=12 is out of range") and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    code, out, err = run_cli("predict", str(run), str(bad))
    assert code == 3 and "bad.png: not a readable image" in err and len(err.strip().splitlines()) == 1

    code, out, err = run_cli("export", str(run))
    assert code == 0, err
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    images = serve(noise=tf.zeros([3, 38]), labels=tf.constant([0, 3, 9]), codes=tf.zeros([3, 2]))["images"]
    assert images.shape == (3, 8, 8, 1) and float(tf.reduce_min(images)) >= 0.0
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(noise=tf.zeros([1, 38]), labels=tf.constant([10]), codes=tf.zeros([1, 2]))
    # Any named model exports under its own name; the generator is the default (export_models).
    code, out, err = run_cli("export", str(run), "--format", "keras", "--model", "encoder")
    assert code == 0 and Path(out.strip()) == run / "export" / "encoder.keras", err
    encoder = keras.saving.load_model(out.strip())
    from tfzoo.common.cli import open_run

    opened = open_run(str(run))
    assert set(opened.models) == {"generator", "discriminator", "encoder"}
    x = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(encoder(x), opened.models["encoder"](x, training=False), atol=1e-5)


def test_infogan_reports_code_accuracy(tmp_path, eval_root):
    run = tmp_path / "infogan"
    code, _, err = run_cli("train", "generative.gan", "--tiny", "--run-dir", str(run), "--set", "variant=infogan",
                           "--set", "train.steps=2", "--set", "sample_every=0", "--set", f"eval_root={eval_root}", *DIGITS)
    assert code == 0, err
    assert {"samples_2.png", "traversal.png", "classes.png"} <= {p.name for p in (run / "plots").iterdir()}
    code, out, err = run_cli("evaluate", str(run), "--split", "val")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert 0.0 < result["code_accuracy"] <= 1.0 and "class_faithfulness" not in result
    code, out, err = run_cli("predict", str(run), str(tmp_path / "grid.png"), "--set", "n=4", "--set", "label=2")
    assert code == 0 and (tmp_path / "grid.png").exists(), err


def test_bad_input_is_one_line(tmp_path):
    code, _, err = run_cli("train", "generative.gan", "--tiny", "--run-dir", str(tmp_path / "x"),
                           "--set", "variant=biggan")
    assert code == 2 and err.strip() == ("error: config key 'variant': found 'biggan', expected one of dcgan, "
                                         "infogan, infogan-ac, acgan, aegan, wgan-gp, lsgan, gan-cls")
    folder = tmp_path / "images"
    for label in ("a", "b"):
        (folder / "train" / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / "train" / label / f"{i}.png")
    (folder / "train" / "a" / "broken.png").write_bytes(b"\x89PNG garbage")
    code, _, err = run_cli("train", "generative.gan", "--tiny", "--run-dir", str(tmp_path / "y"),
                           "--data", f"folder:{folder}")
    assert code == 3 and "broken.png" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_dcgan_fd_dc_is_below_the_noise_ceiling(tmp_path):
    """A short DCGAN run on mnist-5k already draws samples far closer to digits than noise is."""
    from tfzoo.common.train import Trainer

    config = replace(GANConfig(variant="dcgan"), width=32, fc=256, sample_every=0, eval_samples=500,
                     eval_root=str(tmp_path / "eval"), eval_classifier_epochs=3)
    config = replace(config, train=replace(config.train, steps=600, eval_every=600, ckpt_every=600))
    trainer = Trainer(task=GAN(), config=config, run_dir=tmp_path / "dcgan", verbose=False)
    trainer.fit()
    result = trainer.task.after_evaluate(trainer.run, "test", {})
    assert result["fd_dc"] < result["fd_noise_ceiling"], result
