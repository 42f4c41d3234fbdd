"""Every vision task passes common's conformance check (tiny train, evaluate, predict on its example inputs,
export and reload, resume, optim.clip_norm bounding every gradient it applies), then the task's own checks on
that same run, so no other test trains the tiny run again."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.common.testing.conformance import check_task, domain_tasks


def _classify(run_dir: Path, evaluation: dict) -> None:
    from tfzoo.vision.classify.data import prepare

    names = [str(i) for i in range(10)]
    assert 0.0 <= evaluation["accuracy"] <= 1.0 and set(evaluation["per_class_recall"]) == set(names)
    assert Image.open(run_dir / "plots/confusion.png").size[0] > 100
    assert (run_dir / "plots/errors.png").exists(), "an untrained model misclassifies some images"
    inputs = sorted(str(p) for p in (run_dir.parent / "inputs").iterdir())
    code, out, err = run_cli("predict", str(run_dir), *inputs)
    assert code == 0, err
    for prediction in map(json.loads, out.strip().splitlines()):
        probs = [p["probability"] for p in prediction["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
        assert {p["label"] for p in prediction["top_k"]} <= set(names)
    # The SavedModel serves raw uint8 images of any size as the model sees them after `prepare`.
    code, out, err = run_cli("export", str(run_dir), "--format", "savedmodel")
    assert code == 0, err
    run = Run.open(run_dir)
    served = tf.saved_model.load(out.strip().splitlines()[-1]).signatures["serving_default"]
    images = np.random.default_rng(1).integers(0, 255, (2, 40, 33, 3), dtype=np.uint8)
    want = tf.nn.softmax(run.models["model"](prepare(images, run.info, standardize=False), training=False))
    np.testing.assert_allclose(served(images=tf.constant(images))["probabilities"], want, atol=1e-5)
    assert json.loads((run_dir / "export/manifest.json").read_text())["class_names"] == names
    # TFLite takes the prepared images.
    code, out, err = run_cli("export", str(run_dir), "--format", "tflite")
    assert code == 0, err
    interpreter = tf.lite.Interpreter(model_path=out.strip().splitlines()[-1])
    interpreter.allocate_tensors()
    x = np.random.default_rng(2).random((1, 28, 28, 1), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, run.models["model"](x, training=False), atol=1e-4)
    # DeconvNet projections of the conv layers (实例45-50).
    code, out, err = run_cli("visualise", str(run_dir))
    assert code == 0, err
    assert Path(out.strip()).name == "deconv.png" and Image.open(out.strip()).size[0] > 100


def _transfer(run_dir: Path, evaluation: dict) -> None:
    assert 0.0 <= evaluation["accuracy"] <= 1.0
    train = Run(run_dir).read_metrics(split="train")
    assert [r["stage"] for r in train[:2]] == ["head", "unfreeze"]


def _detector(run_dir: Path, evaluation: dict, terms: tuple[str, ...]) -> Run:
    """What every detector's tiny run shows; returns the reopened run."""
    assert {"loss", *terms, "map50", "coco_ap", "per_image_box_ap50"} <= set(evaluation)
    assert 0.0 <= evaluation["map50"] <= 1.0 and math.isfinite(evaluation["loss"])
    assert (run_dir / "plots" / "pr.png").is_file() and (run_dir / "plots" / "val_examples.png").is_file()
    assert sorted(p.name for p in (run_dir / "predictions").iterdir()) == ["shapes_64.png", "shapes_80.png"]
    # Periodic validation logs the box mAP that `aggregate` computes from eval_step's detections.
    val = Run(run_dir).read_metrics(split="val")
    assert val and all(0.0 <= r["map50"] <= 1.0 for r in val)
    run = Run.open(run_dir)
    serve = run.task.serving_function(run.config, run.models, run.info)
    out = serve(tf.zeros((2, 50, 70, 3), tf.uint8))
    t = run.config.max_detections
    assert out["detection_boxes"].shape == (2, t, 4) and out["num_detections"].shape == (2,)
    return run


def _yolo(run_dir: Path, evaluation: dict) -> None:
    run = _detector(run_dir, evaluation, ("box", "obj", "cls"))
    # The k-means anchors live in info.json, so a reloaded run decodes the same way.
    anchors = np.asarray(json.loads((run_dir / "info.json").read_text())["anchors"])
    assert anchors.shape == (9, 2) and (anchors > 0).all() and (anchors <= 1).all()
    assert (np.diff(anchors.prod(axis=1)) >= 0).all() and run.info["anchors"] == anchors.tolist()


def _ssd(run_dir: Path, evaluation: dict) -> None:
    _detector(run_dir, evaluation, ("cls", "loc"))


def _mask_rcnn(run_dir: Path, evaluation: dict) -> None:
    from tfzoo.vision.maskrcnn.losses import LOSS_NAMES

    run = _detector(run_dir, evaluation, LOSS_NAMES)
    assert {"mask_map50", "mask_coco_ap", "per_image_mask_ap50"} <= set(evaluation)
    train = run.read_metrics(split="train")
    assert [r["stage"] for r in train[:2]] == ["heads", "all"]
    for record in train + run.read_metrics(split="val"):
        assert all(math.isfinite(record[k]) for k in ("loss", *LOSS_NAMES)), record
    images = tf.random.stateless_uniform([2, 64, 64, 3], seed=[0, 1])
    det = run.task.detect(run.models, run.config, run.info, images)
    t = run.config.max_detections
    assert det["boxes"].shape == (2, t, 4) and det["scores"].shape == (2, t) and det["classes"].shape == (2, t)
    masks = det["masks"].numpy()
    assert masks.shape == (2, t, 64, 64) and masks.min() >= 0.0 and masks.max() <= 1.0


TASK_CHECKS = {"vision.classify": _classify, "vision.transfer": _transfer, "vision.yolo": _yolo,
               "vision.ssd": _ssd, "vision.mask-rcnn": _mask_rcnn}


def test_every_vision_task_has_its_checks():
    assert set(domain_tasks("vision")) == set(TASK_CHECKS)


@pytest.mark.parametrize("name", domain_tasks("vision"))
def test_task_conforms(name, tmp_path):
    result = check_task(name, tmp_path)
    TASK_CHECKS[name](tmp_path / "run", result["evaluation"])
