"""vision.ssd: default boxes, matching, hard-negative mining, the network, and the task end to end."""

import math
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.vision.detection import boxes as box_ops
from tfzoo.vision.ssd import anchors as ssd_anchors
from tfzoo.vision.ssd.config import SSDConfig
from tfzoo.vision.ssd.loss import hard_negatives, multibox_loss, smooth_l1
from tfzoo.vision.ssd.model import build_model


# ----- default boxes -------------------------------------------------------------------------------------
def test_default_box_count_by_hand():
    # 128 px, 5 maps at strides 8..128: sides 16, 8, 4, 2, 1 -> 256 + 64 + 16 + 4 + 1 = 341 cells.
    assert ssd_anchors.feature_sizes(128, 5) == [16, 8, 4, 2, 1]
    # Ratios {1, 2, 1/2} plus the extra ratio-1 scale: 4 boxes per cell.
    assert ssd_anchors.anchors_for(SSDConfig()).shape == (341 * 4, 4)
    six = replace(SSDConfig(), aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1 / 3))
    assert ssd_anchors.anchors_for(six).shape == (341 * 6, 4)
    # tiny: 64 px, 4 maps: 8, 4, 2, 1 -> 85 cells.
    assert ssd_anchors.anchors_for(SSDConfig.tiny()).shape == (85 * 4, 4)
    assert ssd_anchors.feature_sizes(256, 6) == [32, 16, 8, 4, 2, 1]


def test_default_box_scales_and_centres():
    boxes = ssd_anchors.default_boxes([2, 1], min_scale=0.2, max_scale=0.9, clip=False)
    assert boxes.shape == (2 * 2 * 4 + 4, 4)
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    # First cell of map 1 (scale 0.2), centred at (0.25, 0.25): ratio 1, 2, 1/2, then sqrt(0.2 * 0.9).
    np.testing.assert_allclose((boxes[0, 0] + boxes[0, 2]) / 2, 0.25, atol=1e-6)
    np.testing.assert_allclose(w[:4], [0.2, 0.2 * math.sqrt(2), 0.2 / math.sqrt(2), math.sqrt(0.2 * 0.9)], rtol=1e-5)
    np.testing.assert_allclose(h[:4], [0.2, 0.2 / math.sqrt(2), 0.2 * math.sqrt(2), math.sqrt(0.2 * 0.9)], rtol=1e-5)
    # Last map: scale 0.9, extra sqrt(0.9 * 1.0), one cell centred at 0.5.
    np.testing.assert_allclose(w[16:], [0.9, 0.9 * math.sqrt(2), 0.9 / math.sqrt(2), math.sqrt(0.9)], rtol=1e-5)
    np.testing.assert_allclose((boxes[16:, 1] + boxes[16:, 3]) / 2, 0.5, atol=1e-6)
    clipped = ssd_anchors.default_boxes([2, 1])
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="divisible by the largest stride 128"):
        ssd_anchors.feature_sizes(96, 5)
    with pytest.raises(ConfigError, match="between 4 and 6"):
        ssd_anchors.feature_sizes(128, 3)
    with pytest.raises(ConfigError, match="unknown backbone 'vgg'"):
        build_model(replace(SSDConfig.tiny(), backbone="vgg"), num_classes=3)


# ----- matching --------------------------------------------------------------------------------------------
ANCHORS = np.array([
    [0.0, 0.0, 0.5, 0.5],   # overlaps GT 1 (class 2) with IoU 0.64
    [0.5, 0.5, 1.0, 1.0],   # overlaps nothing: background
    [0.0, 0.5, 0.5, 1.0],   # GT 2 (class 3) overlaps it only by 0.25: still its best box, so forced
    [0.0, 0.0, 0.45, 0.45],  # GT 1 again, IoU 0.81 (its best box)
], np.float32)


def _hand_case():
    gt = np.array([[[0.0, 0.0, 0.4, 0.4], [0.0, 0.75, 0.5, 1.0], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[2, 3, 0]], np.int32)
    return gt, classes


def test_matching_threshold_and_best_per_gt():
    gt, classes = _hand_case()
    iou = ssd_anchors.batch_iou(tf.constant(gt), tf.constant(ANCHORS)).numpy()[0]
    np.testing.assert_allclose(iou[0], [0.64, 0.0, 0.0, 0.16 / (0.2025 + 0.16 - 0.16)], rtol=1e-5)
    np.testing.assert_allclose(iou[1, 2], 0.5, rtol=1e-5)
    gt[0, 1] = [0.0, 0.5, 0.5, 0.625]  # IoU 0.25 with anchor 2, below the threshold
    target_classes, deltas, matched = ssd_anchors.match(gt, classes, ANCHORS, iou_threshold=0.5)
    assert target_classes.numpy().tolist() == [[2, 0, 3, 2]]
    assert np.all(deltas.numpy()[0, 1] == 0.0)
    np.testing.assert_allclose(matched.numpy()[0, 2], gt[0, 1])


def test_matching_without_any_gt_is_all_background():
    target_classes, deltas, _ = ssd_anchors.match(np.zeros((1, 2, 4), np.float32), np.zeros((1, 2), np.int32),
                                                  ANCHORS)
    assert not target_classes.numpy().any()
    assert np.isfinite(deltas.numpy()).all() and not deltas.numpy().any()


def test_encode_decode_round_trip_through_the_matcher():
    anchors = ssd_anchors.anchors_for(SSDConfig.tiny())
    rng = np.random.default_rng(0)
    centre = rng.uniform(0.3, 0.7, (2, 4, 2))
    half = rng.uniform(0.1, 0.25, (2, 4, 2))
    gt = np.concatenate([centre - half, centre + half], -1).astype(np.float32)
    classes = np.array([[1, 2, 3, 0], [3, 3, 0, 0]], np.int32)
    target_classes, deltas, matched = ssd_anchors.match(gt, classes, anchors)
    positive = target_classes.numpy() > 0
    decoded = box_ops.decode(deltas, np.broadcast_to(anchors, deltas.shape)).numpy()
    np.testing.assert_allclose(decoded[positive], matched.numpy()[positive], atol=1e-5)
    for b in range(2):  # every real GT is matched at least once, with its class
        for j in np.flatnonzero(classes[b]):
            hits = np.all(np.isclose(matched.numpy()[b], gt[b, j], atol=1e-6), -1) & positive[b]
            assert hits.any() and set(target_classes.numpy()[b][hits]) == {classes[b, j]}


# ----- loss ------------------------------------------------------------------------------------------------
def test_hard_negative_mining_keeps_the_top_three_per_positive():
    ce = tf.constant([[0.1, 5.0, 0.9, 3.0, 0.2, 2.0, 4.0, 0.0]])
    positive = tf.constant([[False, True, False, False, False, False, False, False]])
    keep = hard_negatives(ce, positive, 3.0).numpy()[0]
    # Negatives ranked by CE: 4.0 (6), 3.0 (3), 2.0 (5); the positive (5.0) is never a negative.
    assert np.flatnonzero(keep).tolist() == [3, 5, 6]
    two = tf.constant([[True, True, False, False, False, False, False, False]])
    assert hard_negatives(ce, two, 3.0).numpy()[0].sum() == 6  # capped by the 6 negatives there are
    assert not hard_negatives(ce, tf.zeros_like(positive), 3.0).numpy().any()


def test_multibox_loss_terms():
    logits = tf.zeros((1, 4, 3))
    deltas = tf.constant([[[0.5, 0, 0, 0], [3.0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]])
    target_classes = tf.constant([[1, 0, 0, 0]])
    out = multibox_loss(logits, deltas, target_classes, tf.zeros((1, 4, 4)))
    # 1 positive + 3 negatives, each CE log(3); smooth-L1 only on the positive: 0.5 * 0.5².
    np.testing.assert_allclose(out["cls"].numpy(), [4 * math.log(3)], rtol=1e-5)
    np.testing.assert_allclose(out["loc"].numpy(), [0.125], rtol=1e-5)
    np.testing.assert_allclose(smooth_l1(tf.constant([0.5, -3.0])).numpy(), [0.125, 2.5])


# ----- the network -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backbone", ["mobilenet", "mobilenetv2"])
def test_model_output_matches_the_default_boxes(backbone):
    config = replace(SSDConfig.tiny(), backbone=backbone)
    model = build_model(config, num_classes=3)
    out = model(tf.zeros((2, 64, 64, 3)), training=False)
    assert out.shape == (2, len(ssd_anchors.anchors_for(config)), 4 + 4)


def test_background_prior_and_bn_momentum():
    config = SSDConfig.tiny()
    model = build_model(config, num_classes=3)
    probs = tf.nn.softmax(model(tf.zeros((1, 64, 64, 3)), training=False)[..., 4:]).numpy()
    # Untrained heads start near P(background) = 0.99 (the conv kernels add a little noise).
    assert np.median(probs[..., 0]) > 0.9
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert bns and all(layer.momentum == config.bn_momentum for layer in bns)


# ----- the task end to end (the tiny run's checks are in test_conformance.py) --------------------------------
def test_cli_bad_backbone_and_size_are_one_line_errors(tmp_path):
    from tfzoo.common.testing import run_cli

    code, _, err = run_cli("train", "vision.ssd", "--tiny", "--run-dir", str(tmp_path / "a"),
                           "--set", "backbone=vgg")
    assert code != 0 and "found 'vgg', expected one of mobilenet, mobilenetv2" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", "vision.ssd", "--tiny", "--run-dir", str(tmp_path / "b"),
                           "--set", "image_size=72")
    assert code != 0 and "divisible by the largest stride 64" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_learns_shapes_map50_on_a_small_budget(tmp_path):
    """Trained from scratch on 128-px shapes for a short CPU budget: mAP@0.5 >= 0.5 on 100 val images."""
    from tfzoo.common.testing import run_cli

    # Half the default recipe (800 steps of 16 reach 0.967 in vision/benchmarks/ssd.py); ~10 min on 2 busy cores.
    sets = ["train.steps=400", "optim.decay_steps=400", "val_count=100", "train.eval_every=1000"]
    code, _, err = run_cli("train", "vision.ssd", "--run-dir", str(tmp_path / "run"),
                           *[a for s in sets for a in ("--set", s)])
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(tmp_path / "run"), "--split", "val")
    assert code == 0, err
    import json

    assert json.loads(out.strip().splitlines()[-1])["map50"] >= 0.5
