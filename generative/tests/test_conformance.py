"""Every generative task passes common's conformance check (tiny train, evaluate, predict on its example
inputs, export and reload, resume, optim.clip_norm bounding every gradient it applies, one mirrored step),
then the task's own checks on that same run, so no other test trains the default tiny run again."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.registry import get_task
from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.common.testing.conformance import check_mirrored, check_task, domain_tasks

# 1,797 8x8 digits: the code paths of MNIST at a fraction of the time. The GAN scores 256 samples: the
# Fréchet distance of tiny's 64 against 128-D features is unstable (sqrtm of a rank-deficient product).
DIGITS = {"generative.autoencoder": ("data=digits-8x8",), "generative.vae": ("data=digits-8x8",),
          "generative.gan": ("data=digits-8x8", "eval_samples=256")}


def _autoencoder(run_dir: Path, evaluation: dict) -> None:
    assert np.isfinite([evaluation["loss"], evaluation["mse"], evaluation["psnr"]]).all()
    assert {"fd_dc", "floor", "noise", "mean_image", "classifier_accuracy"} <= set(evaluation["reconstruction_fd"])
    robustness = evaluation["robustness"]
    assert len(robustness) == 12 and all(np.isfinite(v["mse"]) for v in robustness.values())
    assert (run_dir / "plots/recon.png").exists() and (run_dir / "plots/predict/digit.png").exists()
    code, out, err = run_cli("predict", str(run_dir), str(run_dir.parent / "inputs/digit.npy"))
    assert code == 0 and len(json.loads(out)["code"]) == 128, err
    code, _, err = run_cli("predict", str(run_dir), str(run_dir.parent / "missing.png"))
    assert code == 3 and err.strip().splitlines()[-1].startswith("error: ") and "missing.png" in err, err
    assert "Traceback" not in err
    # The SavedModel takes uint8 images and returns reconstructions and codes.
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    served = tf.saved_model.load(out.strip()).signatures["serving_default"](images=tf.zeros([3, 8, 8, 1], tf.uint8))
    assert served["reconstruction"].shape == (3, 8, 8, 1) and served["code"].shape == (3, 128)
    # The encoder and decoder are named views of "model": each exports under its own name.
    code, out, err = run_cli("export", str(run_dir), "--format", "keras", "--model", "encoder", "--model", "decoder")
    assert code == 0, err
    import keras

    encoder = keras.saving.load_model(run_dir / "export/encoder.keras")
    decoder = keras.saving.load_model(run_dir / "export/decoder.keras")
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    model = Run.open(run_dir).models["model"]
    np.testing.assert_allclose(decoder(encoder(x)), model(x, training=False), atol=1e-5)


def _vae(run_dir: Path, evaluation: dict) -> None:
    # The loss is the per-example negative ELBO: reconstruction + β·KL, in training and in evaluation.
    for record in Run(run_dir).read_metrics(split="train"):
        assert record["loss"] == pytest.approx(record["reconstruction"] + record["kl"], rel=1e-5)
        assert record["kl"] >= 0
    assert evaluation["loss"] == pytest.approx(evaluation["reconstruction"] + evaluation["kl"], rel=1e-5)
    assert {"fd_dc", "floor", "noise", "mean_image"} <= set(evaluation["samples_fd"])
    assert "reconstruction_fd" in evaluation
    names = {Path(p).name for p in evaluation["plots"]}
    assert {"manifold.png", "recon.png", "latent.png", "samples.png", "interpolation.png"} <= names
    assert {"samples_label-1.png", "digit.png"} <= {p.name for p in (run_dir / "plots/predict").iterdir()}
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    generate = tf.saved_model.load(out.strip()).signatures["serving_default"]
    images = generate(z=tf.zeros([5, 2]))["images"].numpy()
    assert images.shape == (5, 8, 8, 1) and 0.0 <= images.min() and images.max() <= 1.0
    # The two halves export by name: a signature over each one's own inputs.
    code, out, err = run_cli("export", str(run_dir), "--model", "encoder", "--model", "decoder")
    assert code == 0, err
    saved = tf.saved_model.load(out.strip())
    mu_logvar = saved.signatures["encoder"](image=tf.zeros([2, 8, 8, 1]))
    assert [tuple(v.shape) for v in mu_logvar.values()] == [(2, 2), (2, 2)]
    images = saved.signatures["decoder"](z=tf.zeros([4, 2]))
    assert [tuple(v.shape) for v in images.values()] == [(4, 8, 8, 1)]
    code, _, err = run_cli("predict", str(run_dir), "samples", "--set", "label=3")
    assert code == 2 and err.strip() == "error: label=3: only the cvae variant takes a label"


def _gan(run_dir: Path, evaluation: dict) -> None:
    for key in ("fd_dc", "fd_floor", "fd_noise_ceiling", "fd_mean_image_ceiling", "classifier_accuracy"):
        assert math.isfinite(evaluation[key]), (key, evaluation)
    assert set(Run.open(run_dir).models) == {"generator", "discriminator"}
    assert (run_dir / "export/generator.keras").is_file() and not (run_dir / "export/model.keras").exists()
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    assert serve(noise=tf.zeros([3, 100]))["images"].shape == (3, 8, 8, 1)


def _superres(run_dir: Path, evaluation: dict) -> None:
    assert (run_dir / "plots" / "panel.png").exists()  # refreshed after each evaluation
    table = evaluation["whole_images"]
    assert set(table) == {"nearest", "bilinear", "bicubic", "model"}
    assert table["bicubic"]["psnr_y"] > table["nearest"]["psnr_y"]
    assert [row["image"] for row in evaluation["per_image"]] == ["coffee"]
    assert (run_dir / "plots/predict/lr_x2.png").exists() and (run_dir / "plots/predict/lr_x2_panel.png").exists()
    photo = run_dir.parent / "inputs/lr.png"
    # With a reference: the input is degraded first and every method is scored.
    code, out, err = run_cli("predict", str(run_dir), str(photo), "--set", "predict_mode=reference")
    assert code == 0, err
    assert set(json.loads(out)["scores"]) == {"nearest", "bilinear", "bicubic", "model"}
    # A flat folder of images (Set5's layout) is an evaluation set: every split is every image.
    from PIL import Image

    flat = run_dir.parent / "set3"
    flat.mkdir()
    for i in range(3):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (30 + i, 40, 3), dtype=np.uint8)).save(
            flat / f"{i}.png")
    code, out, err = run_cli("evaluate", str(run_dir), "--data", f"folder:{flat}", "--split", "test")
    assert code == 0, err
    assert len(json.loads(out)["per_image"]) == 3
    # Export: uint8 LR of any size in, uint8 HR out.
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    out = serve(images=tf.zeros([2, 7, 9, 3], tf.uint8))["images"]
    assert out.dtype == tf.uint8 and out.shape == (2, 14, 18, 3)


CHECKS = {"generative.autoencoder": _autoencoder, "generative.vae": _vae, "generative.gan": _gan,
          "generative.superres": _superres}


@pytest.mark.parametrize("name", domain_tasks("generative"))
def test_task_conforms(name, tmp_path, eval_root):
    # The domain classifier of FD-DC is trained once per session (superres has none).
    sets = () if name == "generative.superres" else (f"eval_root={eval_root}",)
    sets += DIGITS.get(name, ())
    result = check_task(name, tmp_path, sets=sets)
    CHECKS[name](tmp_path / "run", result["evaluation"])


def test_every_task_has_its_checks_and_presets():
    assert set(domain_tasks("generative")) == set(CHECKS)
    for name in CHECKS:
        task = get_task(name)
        for preset in task.presets():
            task.default_config(preset=preset)  # each preset builds and validates


def test_tasks_train_mirrored(tmp_path):
    names = domain_tasks("generative")
    results = check_mirrored(names, tmp_path)
    cannot = {name for name in names if get_task(name).multi_replica is not True}
    assert {n for n, r in results.items() if r.startswith("cannot: ")} == cannot, results
    assert all(results[n] == "ok" for n in names if n not in cannot), results
