"""generative.superres: the pixel-shuffle oracle, data, the residual and GAN variants at tiny size, errors
(ESPCN's CLI round trip is in test_conformance, large images in test_faults)."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common.config import validate
from tfzoo.common.errors import ConfigError
from tfzoo.common.logging import read_metrics
from tfzoo.common.testing.smoke import run_cli
from tfzoo.common.train import Trainer
from tfzoo.generative.superres import data as pipeline
from tfzoo.generative.superres.config import SuperResConfig
from tfzoo.generative.superres.model import PixelShuffle
from tfzoo.generative.superres.perceptual import rotate_batch
from tfzoo.generative.superres.quality import book_ssim, scores
from tfzoo.generative.superres.task import SuperRes

TASK = "generative.superres"


def _losses(run_dir):
    return read_metrics(Path(run_dir, "metrics.jsonl"), split="train")


@pytest.mark.parametrize("r", [2, 3])
def test_depth_to_space_layout_round_trip(r):
    """Channel (dy·r + dx)·C + c of LR pixel (y, x) lands at HR pixel (y·r + dy, x·r + dx), channel c."""
    c, h, w = 3, 4, 5
    x = np.random.default_rng(r).normal(size=(2, h, w, c * r * r)).astype(np.float32)
    y = np.asarray(PixelShuffle(scale=r)(x))
    expected = np.zeros((2, h * r, w * r, c), np.float32)
    for dy in range(r):
        for dx in range(r):
            expected[:, dy::r, dx::r, :] = x[..., (dy * r + dx) * c:(dy * r + dx + 1) * c]
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(tf.nn.space_to_depth(y, r).numpy(), x)


def test_degrade_and_baselines():
    hr = tf.random.stateless_uniform([1, 24, 36, 3], [1, 2])
    for method in ("bicubic", "bilinear", "area"):
        lr = pipeline.degrade(hr, 3, method)
        assert lr.shape == (1, 8, 12, 3)
        np.testing.assert_allclose(lr * 255.0, np.round(lr * 255.0), atol=1e-4)  # on the 8-bit grid
    flat = tf.fill([12, 12, 1], 0.25)
    for method in pipeline.BASELINES:  # a flat image is reproduced exactly by every interpolation
        np.testing.assert_allclose(pipeline.upsample(pipeline.degrade(flat, 4), 4, method), 64 / 255, atol=1e-6)
    assert pipeline.modcrop(tf.zeros([7, 11, 3]), 3).shape == (6, 9, 3)


def test_train_example_is_deterministic_and_rotation_undoes():
    config = SuperResConfig.tiny()
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (40, 50, 3)), tf.uint8)
    a = pipeline.train_example(image, config, tf.constant([3, 4], tf.int64))
    b = pipeline.train_example(image, config, tf.constant([3, 4], tf.int64))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    lr, hr, k = a
    assert lr.shape == (12, 12, 3) and hr.shape == (24, 24, 3)
    batch = tf.stack([hr, hr])
    ks = tf.constant([1, 3])
    np.testing.assert_array_equal(rotate_batch(rotate_batch(batch, ks), -ks), batch)
    np.testing.assert_array_equal(rotate_batch(batch, ks)[0], tf.image.rot90(hr, 1))


def test_quality_oracles():
    ref = np.random.default_rng(1).uniform(size=(20, 20, 3))
    same = scores(ref, ref, border=2)
    assert same["psnr"] == math.inf and same["ssim"] == pytest.approx(1.0)
    assert book_ssim(ref, ref) == pytest.approx(1.0)
    book = scores(ref, np.clip(ref + 0.05, 0, 1), border=2, style="book")
    assert 20 < book["psnr_y"] < 40


def test_config_errors_and_presets():
    for example in (93, 94, 95, 96):
        pipeline.check_config(SuperResConfig.book(example))
        assert SuperRes().default_config(preset=f"book{example}") == SuperResConfig.book(example)
    with pytest.raises(ConfigError, match="'variant': found 'fsrcnn'"):
        validate(replace(SuperResConfig(), variant="fsrcnn"))
    with pytest.raises(ConfigError, match="'scale': found 5, expected one of 2, 3, 4"):
        validate(replace(SuperResConfig(), scale=5))
    with pytest.raises(ConfigError, match="not divisible by scale=3"):
        pipeline.check_config(replace(SuperResConfig(), scale=3, patch_size=64))
    with pytest.raises(ConfigError, match="vgg19:PATH"):
        SuperRes().data(replace(SuperResConfig.tiny(), perceptual="vgg"), "train")


def test_residual_then_srgan_with_own_features_and_warm_start(tmp_path):
    task = SuperRes()
    base = replace(SuperResConfig.tiny(), scale=4, variant="espcn-residual")
    residual = replace(base, feature_steps=1, train=replace(base.train, steps=1))
    Trainer(task=task, config=residual, run_dir=tmp_path / "res", verbose=False).fit()
    assert all(math.isfinite(r["loss"]) for r in _losses(tmp_path / "res"))

    srgan = replace(residual, variant="srgan", init_from=str(tmp_path / "res"))
    # The warm start copies the residual run's generator into SRGAN's before any step.
    restored = Trainer(task=SuperRes(), config=residual, run_dir=tmp_path / "res", verbose=False)
    restored.restore()
    warm = SuperRes().build_models(srgan, restored.info)["model"]
    for a, b in zip(warm.weights, restored.run.models["model"].weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    trainer = Trainer(task=SuperRes(), config=srgan, run_dir=tmp_path / "gan", verbose=False)
    trainer.fit()
    records = _losses(tmp_path / "gan")
    stages = [r["stage"] for r in records]
    assert stages == ["pretrain-features", "gan"]
    assert "rotation_accuracy" in records[0] and {"g_loss", "d_loss", "content"} <= set(records[-1])
    assert all(math.isfinite(v) for r in records for k, v in r.items() if k not in ("split", "stage"))
    assert set(trainer.models) == {"model", "discriminator", "features"}
    table = trainer.task.after_evaluate(trainer.run, "val", {})["whole_images"]
    assert table["model"]["feature_distance"] >= 0 and "feature_distance" in table["bicubic"]

    with pytest.raises(ConfigError, match="init_from"):
        bad = replace(srgan, init_from=str(tmp_path / "nothing"))
        Trainer(task=SuperRes(), config=bad, run_dir=tmp_path / "bad", verbose=False).fit()


def test_srgan_vgg19_perceptual_and_patch_d(tmp_path):
    import keras

    weights = tmp_path / "vgg19_notop.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None).save_weights(weights)
    config = replace(SuperResConfig.tiny(), variant="srgan", perceptual=f"vgg19:{weights}",
                     perceptual_layer="block2_conv2", patch_d=True)
    config = replace(config, train=replace(config.train, steps=1, eval_every=1))
    Trainer(task=SuperRes(), config=config, run_dir=tmp_path / "vgg", verbose=False).fit()
    records = _losses(tmp_path / "vgg")
    assert records[-1]["stage"] == "all" and records[-1]["content"] > 0 and math.isfinite(records[-1]["g_loss"])


def test_cli_errors_are_one_line(tmp_path):
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "a"), "--set", "variant=vdsr")
    assert code == 2 and "'variant': found 'vdsr'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "b"), "--set", "scale=3",
                           "--set", "patch_size=32")
    assert code == 2 and "not divisible by scale=3" in err and len(err.strip().splitlines()) == 1
    folder = tmp_path / "mine" / "all"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "c"),
                           "--data", f"folder:{tmp_path / 'mine'}")
    assert code == 3 and "broken.png" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_espcn_x2_beats_bicubic_on_a_held_out_photo(tmp_path):
    config = replace(SuperResConfig(), patch_size=48, train=replace(SuperResConfig().train, steps=1500,
                                                                   eval_every=500, ckpt_every=1500))
    trainer = Trainer(task=SuperRes(), config=config, run_dir=tmp_path / "espcn", verbose=False)
    trainer.fit()
    results = trainer.task.after_evaluate(trainer.run, "test", {})
    table = results["whole_images"]
    assert table["model"]["psnr_y"] > table["bicubic"]["psnr_y"], table


def test_mnist_grey_x2_and_patch_too_large(tmp_path):
    config = replace(SuperResConfig.tiny(), data="mnist-5k", crops_per_image=1)
    config = replace(config, train=replace(config.train, steps=1))
    trainer = Trainer(task=SuperRes(), config=config, run_dir=tmp_path / "mnist", verbose=False)
    trainer.fit()
    assert trainer.info["channels"] == 1 and trainer.info["eval_crop"] == 28
    assert trainer.task.upscale(trainer.run, np.zeros((14, 14, 1), np.float32)).shape == (28, 28, 1)
    too_big = replace(config, patch_size=32)
    with pytest.raises(ConfigError, match="smaller than patch_size=32"):
        Trainer(task=SuperRes(), config=too_big, run_dir=tmp_path / "big", verbose=False).fit()
