"""DetectorTask base: pipeline, flip, evaluate/predict/export wiring, checked with an oracle detector.

The oracle recognises each shapes image it was built from (nearest stored image, in TF ops, so it
exports) and answers its ground truth: evaluation must then report mAP 1.0 for boxes and masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common import registry
from tfzoo.common.optim import OptimConfig
from tfzoo.common.testing.smoke import run_cli
from tfzoo.common.train import TrainConfig, Trainer
from tfzoo.vision.detection import shapes
from tfzoo.vision.detection.task import DetectorTask, fit_example


@dataclass(frozen=True)
class OracleConfig:
    data: str = "shapes"
    image_size: int = 64
    max_instances: int = 6
    train_count: int = 4
    val_count: int = 4
    test_count: int = 2
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=2, batch_size=2, log_every=1, eval_every=2, ckpt_every=2))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="sgd", lr=0.01))


class Oracle(DetectorTask):
    name = "test.oracle"
    config_class = OracleConfig

    def build_models(self, config, info):
        image = keras.Input((config.image_size, config.image_size, 3), name="image")
        out = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(image))
        return {"model": keras.Model(image, out)}

    def compute_loss(self, state, batch):
        out = state.models["model"](tf.cast(batch["image"], tf.float32) / 255.0, training=True)
        return state.average(tf.square(out[:, 0])), {}

    def metrics(self, config, info):
        return {"loss": keras.metrics.Mean(name="loss")}

    def eval_step(self, state, batch, metrics):
        images = tf.cast(batch["image"], tf.float32) / 255.0
        metrics["loss"].update_state(tf.square(state.models["model"](images, training=False)[:, 0]))
        return self.eval_outputs(self.detect(state.models, state.config, state.info, images), batch)

    def detect(self, models, config, info, images):
        examples = [e for split in ("val", "test") for e in self.detection_data(config, split).examples]
        m, size = config.max_instances, config.image_size
        ref = np.stack([e.image for e in examples]).astype(np.float32) / 255.0
        boxes = np.zeros((len(examples), m, 4), np.float32)
        classes = np.zeros((len(examples), m), np.int32)
        masks = np.zeros((len(examples), m, size, size), np.float32)
        num = np.array([len(e.classes) for e in examples], np.int32)
        for i, e in enumerate(examples):
            boxes[i, :num[i]], classes[i, :num[i]], masks[i, :num[i]] = e.boxes, e.classes, e.masks
        scores = (classes > 0).astype(np.float32)
        # nearest stored image; models["model"] is called so the graph depends on the trained weights
        index = tf.argmin(tf.reduce_sum(tf.abs(images[:, None] - ref[None]), axis=[2, 3, 4]), axis=1)
        bias = 0.0 * tf.reduce_sum(models["model"](images, training=False))
        return {"boxes": tf.gather(boxes, index), "scores": tf.gather(scores, index) + bias,
                "classes": tf.gather(classes, index), "num": tf.gather(num, index), "masks": tf.gather(masks, index)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("oracle") / "run"
    task = Oracle()
    result = Trainer(task=task, config=OracleConfig(), run_dir=run_dir, verbose=False).fit()
    assert result["step"] == 2
    return run_dir


@pytest.fixture
def cli_knows_oracle(monkeypatch):
    real = registry.get_task
    monkeypatch.setattr(registry, "get_task", lambda name: Oracle() if name == Oracle.name else real(name))


def test_pipeline_shapes_and_info():
    task, config = Oracle(), OracleConfig()
    data = task.data(config, "train")
    assert data.size == 4 and data.class_names[1:] == ("square", "circle", "triangle")
    item = next(iter(data.dataset))
    assert item["image"].shape == (64, 64, 3) and item["image"].dtype == tf.uint8
    assert item["boxes"].shape == (6, 4) and item["classes"].shape == (6,) and item["masks"].shape == (6, 64, 64)
    example = task.detection_data(config, "train").examples[0]
    n = len(example.classes)
    assert int(item["num"]) == n and (item["classes"].numpy()[n:] == 0).all()
    np.testing.assert_array_equal(item["image"].numpy(), example.image)
    np.testing.assert_array_equal(item["masks"].numpy()[:n], example.masks)
    info = task.data_info(config, data)
    assert info == {"class_names": ["background", "square", "circle", "triangle"], "num_classes": 3,
                    "image_size": 64, "has_masks": True}
    assert task.data(replace(config, val_count=0), "val") is None


def test_resize_and_truncate():
    masks = np.zeros((3, 20, 30), np.uint8)
    masks[0, :10, :15] = 1
    item = {"image": tf.zeros((20, 30, 3), tf.uint8), "boxes": tf.constant([[0, 0, 0.5, 0.5]] * 3, tf.float32),
            "classes": tf.constant([1, 2, 3], tf.int32), "masks": tf.constant(masks)}
    out = fit_example(item, size=8, max_instances=2)
    assert out["image"].shape == (8, 8, 3) and int(out["num"]) == 2 and out["masks"].shape == (2, 8, 8)
    assert out["masks"].numpy()[0, :4, :4].all() and out["masks"].numpy()[0].sum() == 16
    empty = fit_example({**item, "boxes": tf.zeros((0, 4)), "classes": tf.zeros((0,), tf.int32),
                         "masks": tf.zeros((0, 20, 30), tf.uint8)}, size=8, max_instances=2)
    assert int(empty["num"]) == 0 and empty["masks"].shape == (2, 8, 8)


def test_train_flip_moves_boxes_with_masks():
    task, config = Oracle(), OracleConfig()
    info = {"image_size": 64}
    item = next(iter(task.data(config, "train").dataset))
    flips = 0
    for k in range(6):
        out = task.train_map(config, info, item, tf.constant([0, k], tf.int64))
        n = int(out["num"])
        for box, mask in zip(out["boxes"].numpy()[:n], out["masks"].numpy()[:n]):
            np.testing.assert_allclose(box, shapes.mask_box(mask), atol=1e-6)
        flips += not np.array_equal(out["image"].numpy(), item["image"].numpy())
        assert (out["boxes"].numpy()[n:] == 0).all()
    assert 0 < flips < 6


def test_periodic_validation_logs_the_aggregated_map50(trained):
    from tfzoo.common.logging import read_metrics

    (val,) = read_metrics(Path(trained, "metrics.jsonl"), split="val")
    assert val["step"] == 2 and val["map50"] == pytest.approx(1.0)  # aggregate over eval_step's detections
    assert Oracle().aggregate(OracleConfig(), {"num_classes": 3}, []) == {}


def test_evaluate_oracle_scores_one(trained, cli_knows_oracle):
    pytest.importorskip("tfzoo.vision.detection.draw")  # written alongside by the drawing helper
    code, out, err = run_cli("evaluate", str(trained), "--split", "val")
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    for key in ("map50", "coco_ap", "coco_ap50", "mask_map50", "mask_coco_ap", "per_image_mask_ap50"):
        assert record[key] == pytest.approx(1.0), key
    assert record["images"] == 4
    assert Path(trained, "plots", "pr.png").is_file() and Path(trained, "plots", "val_examples.png").is_file()


def test_predict_writes_overlay(trained, cli_knows_oracle, tmp_path):
    pytest.importorskip("tfzoo.vision.detection.draw")
    example = Oracle().detection_data(OracleConfig(), "val").examples[1]
    path = tmp_path / "shape.png"
    Image.fromarray(example.image).save(path)
    code, out, err = run_cli("predict", str(trained), str(path))
    assert code == 0, err
    result = json.loads(out.strip())
    assert Path(result["overlay"]).is_file() and result["overlay"].endswith("predictions/shape.png")
    assert len(result["detections"]) == len(example.classes)
    code, _, err = run_cli("predict", str(trained), str(tmp_path / "absent.png"))
    assert code == 3 and "absent.png: no such image file" in err


def test_serving_signature_and_savedmodel(trained, cli_knows_oracle):
    code, out, err = run_cli("export", str(trained))
    assert code == 0, err
    served = tf.saved_model.load(out.strip().splitlines()[-1]).signatures["serving_default"]
    examples = Oracle().detection_data(OracleConfig(), "val").examples[:2]
    big = tf.image.resize(np.stack([e.image for e in examples]), [128, 128], method="nearest")
    result = served(images=tf.cast(big, tf.uint8))
    assert set(result) == {"detection_boxes", "detection_scores", "detection_classes", "num_detections",
                           "detection_masks"}
    for i, e in enumerate(examples):
        n = int(result["num_detections"][i])
        assert n == len(e.classes)
        np.testing.assert_allclose(result["detection_boxes"][i, :n], e.boxes, atol=1e-6)
        np.testing.assert_array_equal(result["detection_classes"][i, :n], e.classes)
    assert result["detection_masks"].shape[-2:] == (128, 128)
