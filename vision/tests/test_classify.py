"""vision.classify end to end: other models and data, input sizing, exact resume, bad input (the tiny run's
conformance, figures and SavedModel/TFLite exports are checked in test_conformance.py)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common import config as cfg
from tfzoo.common.data import write_idx
from tfzoo.common.registry import get_task
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer


def _png(path, size, *, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(path)
    return str(path)


def _image_folder(root, *, classes=("cat", "dog"), per_class=12, size=(20, 16)):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            _png(root / name / f"{i}.png", size, seed=c * 100 + i)
    return root


def _idx_dir(root, *, images=60, labels=60, magic_ok=True):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (images, 28, 28), dtype=np.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(labels, dtype=np.uint8) % 10)
    if not magic_ok:
        path = root / "train-images-idx3-ubyte"
        (root / "train-images-idx3-ubyte.gz").unlink()
        path.write_bytes(b"\x00\x00\x09\x03" + b"\x00" * 64)
    return root


@pytest.mark.parametrize("model", ["softmax", "maxout", "rnn"])
def test_other_models_train_from_folder_data(tmp_path, model):
    folder = _image_folder(tmp_path / "images")
    run = tmp_path / "run"
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--run-dir", str(run), "--data", f"folder:{folder}",
                           "--set", f"model={model}", "--set", "batch_size=4", "--set", "flip=true")
    assert code == 0, err
    info = json.loads((run / "info.json").read_text())
    assert info["class_names"] == ["cat", "dog"] and info["input_shape"] == [16, 20, 3]


def test_random_crop_and_standardisation_set_the_model_input(tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--run-dir", str(run),
                           "--set", "random_crop=24,24", "--set", "standardize=true")
    assert code == 0, err
    assert json.loads((run / "info.json").read_text())["input_shape"] == [24, 24, 1]


def test_resume_restores_dropout_rng_and_data_position(tmp_path):
    """3 steps + 3 resumed steps of an MLP with dropout equal 6 straight steps, bit for bit.

    (The early-stopping record differs: the first part also evaluated at its last step.)
    """
    task = get_task("vision.classify")
    def run(path, steps):
        config = cfg.override(task.default_config(tiny=True), {"model": "mlp", "dropout": 0.5, "steps": steps,
                                                              "ckpt_every": 3, "flip": True})
        Trainer(task=task, config=config, run_dir=path, verbose=False).fit()
        ckpt = tf.train.latest_checkpoint(str(path / "checkpoints"))
        return {n: tf.train.load_variable(ckpt, n) for n, _ in tf.train.list_variables(ckpt)
                if not n.startswith(("_CHECKPOINTABLE", "save_counter", "best_value", "bad_evals"))}

    run(tmp_path / "a", 3)
    resumed = run(tmp_path / "a", 6)
    straight = run(tmp_path / "b", 6)
    assert resumed.keys() == straight.keys()
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


# ----- bad input: one line, non-zero exit, earlier checkpoints kept ---------------------------

def _one_line_error(code, err, expected_code, pattern):
    last = err.strip().splitlines()[-1]
    assert code == expected_code, err
    assert last.startswith("error: ") and pattern in last, last
    assert "Traceback" not in err


def test_corrupt_folder_keeps_the_earlier_checkpoint(tmp_path):
    folder = _image_folder(tmp_path / "images")
    run = tmp_path / "run"
    base = ["train", "vision.classify", "--tiny", "--run-dir", str(run), "--data", f"folder:{folder}",
            "--set", "batch_size=4"]
    assert run_cli(*base)[0] == 0
    before = tf.train.latest_checkpoint(str(run / "checkpoints"))
    good = (folder / "cat/0.png").read_bytes()
    (folder / "cat/0.png").write_bytes(good[: len(good) // 2])  # truncated png
    code, _, err = run_cli(*base, "--set", "steps=8")
    _one_line_error(code, err, 3, "cat/0.png")
    (folder / "cat/0.png").write_text("not an image at all")  # a non-image with an image name
    code, _, err = run_cli(*base, "--set", "steps=8")
    _one_line_error(code, err, 3, "cat/0.png")
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) == before
    tf.train.load_checkpoint(before)  # still readable


def test_idx_wrong_magic_and_count_mismatch(tmp_path):
    bad_magic = _idx_dir(tmp_path / "magic", magic_ok=False)
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--data", f"idx:{bad_magic}",
                           "--run-dir", str(tmp_path / "r1"))
    _one_line_error(code, err, 3, "train-images-idx3-ubyte")
    mismatch = _idx_dir(tmp_path / "count", images=60, labels=50)
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--data", f"idx:{mismatch}",
                           "--run-dir", str(tmp_path / "r2"))
    _one_line_error(code, err, 3, "idx")


def test_unknown_key_task_model_and_bad_predict_input(tmp_path):
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--set", "modle=mlp")
    _one_line_error(code, err, 2, "unknown config key 'modle'")
    code, _, err = run_cli("train", "vision.clasify")
    _one_line_error(code, err, 2, "did you mean vision.classify")
    code, _, err = run_cli("train", "vision.classify", "--tiny", "--set", "model=resnet",
                           "--run-dir", str(tmp_path / "r"))
    _one_line_error(code, err, 2, "config key 'model': found 'resnet', expected one of softmax")
    run = tmp_path / "run"
    assert run_cli("train", "vision.classify", "--tiny", "--run-dir", str(run))[0] == 0
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, err = run_cli("predict", str(run), str(tmp_path / "broken.png"))
    _one_line_error(code, err, 3, "broken.png")


@pytest.mark.slow
def test_cnn_bn_learns_the_embedded_digits(tmp_path):
    """Learning quality (run with --run-slow): cnn-bn beats 95% on the held-out digits."""
    run = tmp_path / "run"
    code, _, err = run_cli("train", "vision.classify", "--run-dir", str(run), "--set", "steps=1500",
                           "--set", "eval_every=500")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run))
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["accuracy"] >= 0.95
