"""vision.yolo: backbone sizes, target assignment, loss and decode oracles, then the task end to end."""

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common import config as cfg
from tfzoo.common.errors import ConfigError
from tfzoo.vision.backbones_darknet import scaled_blocks, scaled_channels
from tfzoo.vision.yolo.config import YOLOConfig
from tfzoo.vision.yolo.loss import assign_rows, build_targets, giou, yolo_loss
from tfzoo.vision.yolo.model import build_yolo, check_config, decode, grid_constants, num_rows

# Nine normalised (w, h) anchors sorted by area; index 4 (the middle scale's middle) is 0.25 x 0.25.
ANCHORS = np.array([[.05, .05], [.08, .1], [.1, .08], [.15, .2], [.25, .25], [.2, .3],
                    [.4, .4], [.5, .6], [.8, .8]], np.float32)
LOGIT = 12.0  # sigmoid(12) = 0.999994: a "certain" logit


def _logit(p):
    return np.log(p / (1 - p))


def _perfect_raw(gt_boxes, gt_classes, consts, num_classes):
    """Raw rows that decode exactly to the targets with certain objectness and class."""
    targets = build_targets(tf.constant(gt_boxes), tf.constant(gt_classes), consts, num_classes)
    pos = targets["positive"].numpy()
    t = targets["boxes"].numpy()
    cy, cx = (t[..., 0] + t[..., 2]) / 2, (t[..., 1] + t[..., 3]) / 2
    h, w = t[..., 2] - t[..., 0], t[..., 3] - t[..., 1]
    g = consts["g"]
    raw = np.zeros(pos.shape + (5 + num_classes,), np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw[..., 0] = np.where(pos > 0, _logit(np.clip(cx * g - consts["gx"], 1e-6, 1 - 1e-6)), 0)
        raw[..., 1] = np.where(pos > 0, _logit(np.clip(cy * g - consts["gy"], 1e-6, 1 - 1e-6)), 0)
        raw[..., 2] = np.where(pos > 0, np.log(np.maximum(w, 1e-9) / consts["aw"]), 0)
        raw[..., 3] = np.where(pos > 0, np.log(np.maximum(h, 1e-9) / consts["ah"]), 0)
    raw[..., 4] = np.where(pos > 0, LOGIT, -LOGIT)
    raw[..., 5:] = np.where(targets["classes"].numpy() > 0, LOGIT, -LOGIT)
    return raw, pos


def test_darknet_multipliers():
    assert [scaled_blocks(n, 0.34) for n in (1, 2, 8, 8, 4)] == [1, 1, 3, 3, 2]
    assert [scaled_blocks(n, 1.0) for n in (1, 2, 8, 8, 4)] == [1, 2, 8, 8, 4]
    assert [scaled_channels(c, 0.25) for c in (32, 64, 1024)] == [8, 16, 256]
    assert scaled_channels(1024, 1.0) == 1024


def test_model_shapes_and_prior():
    config = YOLOConfig.tiny()
    model = build_yolo(config, num_classes=3)
    assert num_rows(64) == 3 * (8 * 8 + 4 * 4 + 2 * 2) == 252
    out = model(tf.zeros((2, 64, 64, 3)), training=False)
    assert out.shape == (2, 252, 8)
    # objectness starts near 1 %, so the first steps are not a flood of background loss
    bias = model.get_layer("head0_pred").bias.numpy().reshape(3, 8)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias[:, 4])), 0.01, rtol=1e-5)


def test_bad_config_is_one_line_error():
    with pytest.raises(ConfigError, match="config key 'backbone': found 'resnet', expected one of darknet53"):
        cfg.override(YOLOConfig(), {"backbone": "resnet"})
    with pytest.raises(ConfigError, match="image_size=100 must be a positive multiple of 32"):
        check_config(replace(YOLOConfig(), image_size=100))
    with pytest.raises(ConfigError, match="config key 'box_loss': found 'l1', expected one of giou, xywh"):
        cfg.override(YOLOConfig(), {"box_loss": "l1"})


def test_target_assignment_hand_case():
    consts = grid_constants(64, ANCHORS)  # grids 8, 4, 2; rows 192, 48, 12
    np.testing.assert_array_equal(consts["offsets"], [0, 192, 240])
    # a 0.25 x 0.25 box centred at (y=0.3, x=0.6): anchor 4 = middle scale (grid 4), anchor slot 1,
    # cell row floor(0.3*4)=1, column floor(0.6*4)=2
    box = [0.3 - 0.125, 0.6 - 0.125, 0.3 + 0.125, 0.6 + 0.125]
    # a tiny 0.05 box at (0.9, 0.1): anchor 0 = stride 8 (grid 8), cell (7, 0), slot 0
    small = [0.875, 0.075, 0.925, 0.125]
    rows = assign_rows(tf.constant([[box, small]], tf.float32), consts).numpy()
    assert rows.tolist() == [[192 + (1 * 4 + 2) * 3 + 1, 0 + (7 * 8 + 0) * 3 + 0]]
    targets = build_targets(tf.constant([[box, small, [0, 0, 0, 0]]], tf.float32), tf.constant([[2, 1, 0]]),
                            consts, 3)
    assert targets["positive"].numpy().sum() == 2
    assert targets["classes"].numpy()[0, rows[0, 0]].tolist() == [0, 1, 0]
    np.testing.assert_allclose(targets["boxes"].numpy()[0, rows[0, 0]], box, atol=1e-6)


def test_decode_of_perfect_target_recovers_the_box():
    consts = grid_constants(64, ANCHORS)
    gt = np.array([[[0.1, 0.2, 0.45, 0.5], [0.6, 0.55, 0.95, 0.98]]], np.float32)
    raw, pos = _perfect_raw(gt, np.array([[1, 3]]), consts, 3)
    boxes, obj, cls = decode(tf.constant(raw), consts)
    found = boxes.numpy()[0][pos[0] > 0]
    np.testing.assert_allclose(sorted(found.tolist()), gt[0].tolist(), atol=1e-4)


@pytest.mark.parametrize("box_loss", ["giou", "xywh"])
def test_loss_is_near_zero_for_perfect_predictions(box_loss):
    consts = grid_constants(64, ANCHORS)
    gt = np.array([[[0.1, 0.2, 0.45, 0.5], [0.6, 0.55, 0.95, 0.98]], [[0.3, 0.3, 0.5, 0.4], [0, 0, 0, 0]]],
                  np.float32)
    classes = np.array([[1, 3], [2, 0]])
    raw, _ = _perfect_raw(gt, classes, consts, 3)
    terms = yolo_loss(tf.constant(raw), gt, classes, consts, num_classes=3, box_loss=box_loss)
    assert terms["obj"].numpy().max() < 1e-2 and terms["cls"].numpy().max() < 1e-3
    if box_loss == "giou":
        assert terms["box"].numpy().max() < 1e-3
    else:  # BCE against a fractional offset bottoms out at its entropy, not 0; squared wh error is 0
        assert np.isfinite(terms["box"].numpy()).all()
    # a bad prediction costs more
    worse = yolo_loss(tf.zeros_like(raw), gt, classes, consts, num_classes=3, box_loss=box_loss)
    for name in ("box", "obj", "cls"):
        assert worse[name].numpy().sum() > terms[name].numpy().sum()


def test_loss_finite_without_objects_and_gradients_flow():
    config = YOLOConfig.tiny()
    model = build_yolo(config, num_classes=3)
    consts = grid_constants(64, ANCHORS)
    images = tf.random.uniform((2, 64, 64, 3), seed=1)
    gt = tf.zeros((2, 4, 4))
    classes = tf.zeros((2, 4), tf.int32)
    with tf.GradientTape() as tape:
        terms = yolo_loss(model(images, training=True), gt, classes, consts, num_classes=3)
        total = tf.reduce_sum(terms["box"] + terms["obj"] + terms["cls"])
    assert terms["box"].numpy().tolist() == [0, 0] and terms["cls"].numpy().tolist() == [0, 0]
    assert np.isfinite(total.numpy()) and total.numpy() > 0
    grads = tape.gradient(total, model.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_ignore_iou_spares_good_boxes_on_other_anchors():
    consts = grid_constants(64, ANCHORS)
    gt = np.array([[[0.1, 0.2, 0.45, 0.5]]], np.float32)
    raw, pos = _perfect_raw(gt, np.array([[1]]), consts, 3)
    # copy the positive row's box onto another anchor slot of the same cell, confident there
    row = int(np.flatnonzero(pos[0])[0])
    other = row - 1 if row % 3 else row + 1
    raw[0, other, :4] = raw[0, row, :4]
    raw[0, other, 2:4] += np.log(consts["aw"][row] / consts["aw"][other]), np.log(consts["ah"][row] / consts["ah"][other])
    raw[0, other, 4] = LOGIT
    spared = yolo_loss(tf.constant(raw), gt, np.array([[1]]), consts, num_classes=3, ignore_iou=0.5)
    punished = yolo_loss(tf.constant(raw), gt, np.array([[1]]), consts, num_classes=3, ignore_iou=1.0)
    assert spared["obj"].numpy()[0] < 1e-2 < LOGIT - 1 < punished["obj"].numpy()[0]


def test_giou_oracles():
    a = tf.constant([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]])
    b = tf.constant([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.5, 1.0], [0.5, 0.5, 1.0, 1.0]])
    # identical: 1; half inside: IoU 0.5, hull = union; disjoint corners: 0 - (1 - 0.5) / 1 = -0.5
    np.testing.assert_allclose(giou(a, b).numpy(), [1.0, 0.5, -0.5], atol=1e-6)


# ----- the task end to end (the tiny run's checks are in test_conformance.py) ------------------------------
@pytest.mark.parametrize(("setting", "message"), [
    ("backbone=resnet", "found 'resnet', expected one of darknet53, darknet53-full"),
    ("image_size=80", "image_size=80 must be a positive multiple of 32"),
])
def test_cli_bad_config_is_one_line(tmp_path, setting, message):
    from tfzoo.common.testing import run_cli

    code, _, err = run_cli("train", "vision.yolo", "--tiny", "--run-dir", str(tmp_path / "run"), "--set", setting)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_training_anchors_fallback_and_kmeans():
    from tfzoo.vision.detection.dataset import make_example
    from tfzoo.vision.yolo.task import _COCO_ANCHORS, training_anchors

    def example(boxes):
        boxes = np.asarray(boxes, np.float32)
        return make_example(image=np.zeros((8, 8, 3)), boxes=boxes, classes=np.ones(len(boxes)), masks=None,
                            ignore=np.zeros(len(boxes), bool), image_id=0, source="t")

    few = [example([[0, 0, 0.5, 0.5]])]
    np.testing.assert_allclose(training_anchors(few), _COCO_ANCHORS)
    rng = np.random.default_rng(0)
    sizes = rng.uniform(0.05, 0.6, (60, 2))
    many = [example([[0, 0, h, w] for h, w in sizes])]
    anchors = training_anchors(many)
    assert anchors.shape == (9, 2) and (np.diff(anchors.prod(axis=1)) >= 0).all()


@pytest.mark.slow
def test_learns_shapes_map50_at_least_half(tmp_path):
    """A small budget from scratch: 128-px shapes, default model, 1200 steps of 16."""
    from tfzoo.common.train import Trainer
    from tfzoo.vision.yolo.task import YOLO

    base = YOLOConfig()
    config = replace(base, train=replace(base.train, steps=1200, eval_every=1200, ckpt_every=1200, log_every=100),
                     optim=replace(base.optim, decay_steps=1200))
    task = YOLO()
    trainer = Trainer(task=task, config=config, run_dir=tmp_path / "run", verbose=False)
    trainer.fit()
    report = task.after_evaluate(trainer.run, "val", {})
    assert report["map50"] >= 0.5, report
