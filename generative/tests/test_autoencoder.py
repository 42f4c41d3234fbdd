"""generative.autoencoder at tiny(): every variant trains with finite losses and writes its pictures (the
basic variant's CLI round trip is in test_conformance), and the stacked variant runs its four stages with
weights carried over."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfzoo.common.logging import read_metrics
from tfzoo.common.testing.smoke import run_cli

TASK = "generative.autoencoder"
DATA = "digits-8x8"  # 1,797 8x8 digits: the same code paths as MNIST at a fraction of the time


def _records(run):
    return read_metrics(Path(run, "metrics.jsonl"))


def _train(run, eval_root, *sets):
    args = [a for s in (f"eval_root={eval_root}", f"data={DATA}", *sets) for a in ("--set", s)]
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(run), *args)
    assert code == 0, err


@pytest.mark.parametrize("variant", ["linear2d", "conv", "denoising"])
def test_variants_train_and_draw(tmp_path, eval_root, variant):
    from tfzoo.common.cli import open_run

    run = tmp_path / variant
    _train(run, eval_root, f"variant={variant}", "train.steps=2")
    losses = [r["loss"] for r in _records(run) if r["split"] == "train"]
    assert losses and np.isfinite(losses).all()
    trainer = open_run(str(run))
    written = {Path(p).name for p in trainer.task.visualise(trainer, trainer.config)}
    model = trainer.models["model"]
    assert trainer.models["encoder"].get_layer("code") is model.get_layer("code")  # a view, not a copy
    if variant == "linear2d":
        assert "codes.png" in written  # the 2-D codes coloured by class
        assert model.get_layer("code").units == 2 and model.get_layer("code").activation.__name__ == "linear"
    if variant == "conv":
        # Argmax unpooling works at any batch size (the book's needed the training batch).
        assert model(np.zeros((3, 8, 8, 1), np.float32)).shape == (3, 8, 8, 1)
    if variant == "denoising":
        assert "denoise.png" in written
        values = trainer.evaluate(trainer.task.data(trainer.config, "val"), limit=1)
        assert np.isfinite(values["denoise_mse"])


def test_stacked_runs_four_stages_with_weights_carried_over(tmp_path, eval_root):
    from tfzoo.common.cli import open_run

    run = tmp_path / "stacked"
    _train(run, eval_root, "variant=stacked", "stage_steps=2,2,2,2", "train.log_every=1", "label_fraction=0.5")
    records = [r for r in _records(run) if r["split"] == "train"]
    assert [r["stage"] for r in records] == ["dae1"] * 2 + ["ae2"] * 2 + ["head"] * 2 + ["finetune"] * 2
    assert np.isfinite([r["loss"] for r in records]).all()
    trainer = open_run(str(run))
    model, before = trainer.models["model"], trainer.models["before"]
    # "before" holds the classifier at the end of the head stage: its layer 1 is the dae1 stage's
    # (trained, not re-initialised), and fine-tuning moved the live classifier away from it.
    enc1_before = np.asarray(before.get_layer("enc1").kernel)
    assert not np.allclose(enc1_before, 0.0)
    assert not np.allclose(enc1_before, np.asarray(model.get_layer("enc1").kernel))
    np.testing.assert_array_equal(np.asarray(trainer.models["head"].get_layer("head").kernel),
                                  np.asarray(model.get_layer("head").kernel))  # shared layers, not copies
    values = trainer.evaluate(trainer.task.data(trainer.config, "val"), limit=2)
    assert {"accuracy", "accuracy_before_finetune", "dae1_mse"} <= set(values)
    code, out, err = run_cli("predict", str(run), str(_png(tmp_path / "x.png")))
    assert code == 0, err
    assert json.loads(out)["class"] in [str(i) for i in range(10)]


def _png(path, size=(28, 28), mode="L"):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8), mode).save(path)
    return path


def _one_line_error(code, err, expected_code, pattern):
    last = err.strip().splitlines()[-1]
    assert code == expected_code, err
    assert last.startswith("error: ") and pattern in last, last
    assert "Traceback" not in err


@pytest.mark.parametrize(("setting", "pattern"), [
    ("variant=sparse", "'variant': found 'sparse'"), ("noise=speckle:0.1", "noise"), ("loss=l1", "'loss'"),
    ("stage_steps=1,2", "stage_steps"), ("label_fraction=0", "label_fraction"),
])
def test_bad_settings_are_one_line_errors(tmp_path, setting, pattern):
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "run"), "--set", setting,
                           "--data", DATA)
    _one_line_error(code, err, 2, pattern)


def test_corrupt_image_in_a_folder_is_a_one_line_error(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "images" / cls).mkdir(parents=True)
        for i in range(6):
            _png(tmp_path / "images" / cls / f"{i}.png", size=(12, 12))
    (tmp_path / "images/a/3.png").write_text("not an image")
    code, _, err = run_cli("train", TASK, "--tiny", "--run-dir", str(tmp_path / "run"),
                           "--data", f"folder:{tmp_path / 'images'}", "--set", "train.batch_size=4")
    _one_line_error(code, err, 3, "3.png")


@pytest.mark.slow
def test_linear2d_beats_pca2(tmp_path):
    """实例77's 2-D linear-code autoencoder reconstructs the test split better than PCA with 2 components."""
    from tfzoo.common.cli import open_run
    from tfzoo.generative.autoencoder import data as pipeline

    run = tmp_path / "run"
    code, _, err = run_cli("train", TASK, "--run-dir", str(run), "--set", "variant=linear2d",
                           "--set", "train.steps=3000", "--set", "optim.lr=0.003")
    assert code == 0, err
    trainer = open_run(str(run))
    train, _ = pipeline.load_arrays(trainer.config, trainer.info, "train")
    test, _ = pipeline.load_arrays(trainer.config, trainer.info, "test")
    flat, mean = train.reshape(len(train), -1), train.reshape(len(train), -1).mean(0)
    components = np.linalg.svd(flat - mean, full_matrices=False)[2][:2]
    t = test.reshape(len(test), -1) - mean
    pca_mse = float(np.mean((t @ components.T @ components - t) ** 2))
    ae_mse = float(np.mean((np.asarray(trainer.models["model"](test)) - test) ** 2))
    assert ae_mse < pca_mse, (ae_mse, pca_mse)


def test_book_presets_are_valid():
    from tfzoo.generative.autoencoder import data as pipeline
    from tfzoo.generative.autoencoder.config import VARIANTS, AutoencoderConfig

    for variant in VARIANTS:
        config = AutoencoderConfig.book(variant)
        pipeline.check(config)
        assert config.activation == "sigmoid" and config.train.steps > 1000
    assert AutoencoderConfig.book("basic").optim.optimizer == "rmsprop"
    stacked = AutoencoderConfig.book("stacked")
    assert stacked.train.batch_size == 100 and len(set(stacked.stage_steps)) == 1
    assert stacked.train.steps == sum(stacked.stage_steps)
