"""vision.mask-rcnn: anchors, targets, ROIAlign, heads, stages, training steps, detection, CLI."""

from __future__ import annotations

import math
import re
import typing
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common import config as cfg
from tfzoo.common.errors import ConfigError
from tfzoo.common.logging import read_metrics
from tfzoo.common.task import Stage, TrainState
from tfzoo.vision.detection.boxes import decode, encode
from tfzoo.vision.maskrcnn.anchors import anchors_per_level, pyramid_anchors
from tfzoo.vision.maskrcnn.config import STAGE_LAYERS, MaskRCNNConfig, StageName
from tfzoo.vision.maskrcnn.layers import paste_masks, roi_align
from tfzoo.vision.maskrcnn.losses import LOSS_NAMES, compute_losses
from tfzoo.vision.maskrcnn.model import build_classifier, build_model, leaf_layers
from tfzoo.vision.maskrcnn.targets import detection_targets, mini_masks, rpn_targets


def _gt(size: int = 64):
    boxes = np.zeros([8, 4], np.float32)
    boxes[0] = [0.1, 0.1, 0.5, 0.5]
    boxes[1] = [0.5, 0.45, 0.9, 0.8]
    classes = np.array([1, 2, 0, 0, 0, 0, 0, 0], np.int32)
    masks = np.zeros([8, size, size], np.uint8)
    for i in range(2):
        y1, x1, y2, x2 = (boxes[i] * size).astype(int)
        masks[i, y1:y2, x1:x2] = 1
    return boxes, classes, masks


def _batch(config: MaskRCNNConfig, n: int = 2):
    boxes, classes, masks = _gt(config.image_size)
    anchors = pyramid_anchors(config.image_size)
    match, bbox = rpn_targets(anchors, boxes, classes, tf.constant([0, 1]))
    mm = mini_masks(masks, boxes, config.mini_mask)
    images = tf.random.stateless_uniform([n, config.image_size, config.image_size, 3], seed=[1, 2])
    return {"image": images, "boxes": tf.stack([boxes] * n), "classes": tf.stack([classes] * n),
            "mini_masks": tf.stack([mm] * n), "rpn_match": tf.stack([match] * n), "rpn_bbox": tf.stack([bbox] * n)}


def test_anchor_count_and_cache():
    anchors = pyramid_anchors(128)
    assert anchors.shape == (4092, 4)
    assert sum(anchors_per_level(128)) == 4092
    assert pyramid_anchors(128) is anchors  # cached per image size (the book's test was inverted)
    assert pyramid_anchors(64) is not anchors
    # Level P2, first cell: scale 8 at ratio 1 is an 8x8 box centred on (2, 2).
    np.testing.assert_allclose(anchors[1] * 128, [-2, -2, 6, 6], atol=1e-5)


def test_encode_decode_round_trip():
    anchors = tf.constant(pyramid_anchors(128)[::97])
    rng = np.random.default_rng(0)
    centre = rng.uniform(0.2, 0.8, [len(anchors), 2])
    size = rng.uniform(0.05, 0.4, [len(anchors), 2])
    boxes = tf.constant(np.concatenate([centre - size / 2, centre + size / 2], 1), tf.float32)
    np.testing.assert_allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-5)
    # Deltas are divided by [0.1, 0.1, 0.2, 0.2]: a box shifted by a tenth of the anchor height gives dy = 1.
    a = tf.constant([[0.0, 0.0, 0.5, 0.5]])
    np.testing.assert_allclose(encode(a + [0.05, 0, 0.05, 0], a), [[1.0, 0, 0, 0]], atol=1e-5)


def test_rpn_target_counts():
    anchors = pyramid_anchors(128)
    # 300 GT boxes equal to anchors: far more positives than the 128 allowed.
    gt = anchors[(np.arange(300) * 13) % len(anchors)].clip(0, 1)
    match, bbox = rpn_targets(anchors, gt, np.ones(len(gt), np.int32), tf.constant([3, 4]))
    match = match.numpy()
    assert (match != 0).sum() <= 256 and (match == 1).sum() <= 128
    assert (match == 1).sum() == 128 and (match != 0).sum() == 256
    assert np.all(bbox.numpy()[match != 1] == 0)
    # Shapes-like GT: every GT gets an anchor even below IoU 0.7.
    boxes, classes, _ = _gt(64)
    match, bbox = rpn_targets(pyramid_anchors(64), boxes, classes, tf.constant([0, 0]))
    assert (match.numpy() == 1).sum() >= 2 and (match.numpy() != 0).sum() == 256


def test_roi_align_hand_case():
    # Every level holds the ramp f(y, x) = x on an 8x8 map.
    ramp = tf.constant(np.tile(np.arange(8, dtype=np.float32), (8, 1))[None, :, :, None])
    rois = tf.constant([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.25, 0.25]]])
    # 224-px image: the whole-image ROI reads P4 (= level 4), the quarter one P2; both ramps alike here.
    out = roi_align(rois, [ramp] * 4, pool_size=2, image_size=224).numpy()
    assert out.shape == (2, 2, 2, 1)
    # Four samples at x = 0, 7/3, 14/3, 7, averaged in pairs.
    np.testing.assert_allclose(out[0, :, :, 0], [[7 / 6, 35 / 6]] * 2, atol=1e-5)
    # The quarter ROI spans x = 0..1.75 (its order in the output is kept across levels).
    np.testing.assert_allclose(out[1, 0, :, 0], [(0 + 1.75 / 3) / 2, (3.5 / 3 + 1.75) / 2], atol=1e-5)


def test_detection_targets_shapes():
    boxes, classes, masks = _gt(64)
    mm = mini_masks(masks, boxes, 56)
    proposals = tf.constant(np.concatenate([boxes[:2] + 0.01, np.zeros([6, 4])]).astype(np.float32))
    rois, ids, deltas, tmasks = detection_targets(proposals, classes, boxes, mm, tf.constant([0, 0]),
                                                  num_rois=32, positive_ratio=0.33, mask_shape=28)
    assert rois.shape == (32, 4) and ids.shape == (32,) and deltas.shape == (32, 4) and tmasks.shape == (32, 28, 28)
    n_pos = int((ids.numpy() > 0).sum())
    assert 2 <= n_pos <= 10  # the GT boxes (added to the proposals) and the near copies
    assert set(np.unique(tmasks.numpy())) <= {0.0, 1.0}
    assert tmasks.numpy()[:n_pos].mean() > 0.8  # rectangles nearly fill their boxes
    assert np.all(tmasks.numpy()[n_pos:] == 0) and np.all(deltas.numpy()[n_pos:] == 0)


def test_paste_masks_fills_the_box():
    masks = tf.ones([1, 1, 28, 28])
    boxes = tf.constant([[[0.25, 0.25, 0.75, 0.75]]])
    pasted = paste_masks(masks, boxes, 16).numpy()[0, 0]
    assert pasted.shape == (16, 16)
    assert np.all(pasted[5:11, 5:11] > 0.5) and np.all(pasted[:3] == 0) and np.all(pasted[:, 13:] == 0)
    assert (pasted > 0.5).sum() in range(56, 82)  # about the 8x8 pixels of the box


def test_model_outputs_and_losses_finite():
    config = MaskRCNNConfig.tiny()
    model = build_model(config, 3)
    out = model(tf.zeros([2, 64, 64, 3]))
    t = config.max_detections
    assert out["detections"].shape == (2, t, 6) and out["masks"].shape == (2, t, 28, 28)
    batch = _batch(config)
    with tf.GradientTape() as tape:
        losses = compute_losses(model, config, batch, tf.constant([0, 0], tf.int64), training=True)
        total = tf.add_n(list(losses.values()))
    assert set(losses) == set(LOSS_NAMES) and all(math.isfinite(float(v)) for v in losses.values())
    grads = tape.gradient(total, model.trainable_variables)
    assert sum(g is not None for g in grads) > 0.9 * len(grads)


def test_classifier_fc1_is_the_books_7x7_valid_convolution():
    """The Dense fc1 on a flattened ROI computes what the book's 7x7 valid Conv2D does with the same kernel."""
    classifier = build_classifier(channels=4, pool=7, units=5, num_classes=2)
    pooled = tf.random.stateless_normal([3, 7, 7, 4], seed=[3, 4])
    fc1 = classifier.get_layer("mrcnn_class_fc1")
    dense = fc1(tf.reshape(pooled, [3, -1]))
    kernel = tf.reshape(fc1.kernel, [7, 7, 4, 5])
    conv = tf.nn.conv2d(pooled, kernel, strides=1, padding="VALID")[:, 0, 0] + fc1.bias
    np.testing.assert_allclose(dense.numpy(), conv.numpy(), rtol=1e-5, atol=1e-5)


# What each stage trained before stages became `Stage.trainable` path regexes: matterport's layer_regex,
# matched at the start of every leaf layer's name, that layer's trainable weights in model order.
LAYER_REGEX = {
    "heads": r"^(mrcnn_|rpn_|fpn_)",
    "3+": r"^((res|conv)[3-5]_|mrcnn_|rpn_|fpn_)",
    "4+": r"^((res|conv)[4-5]_|mrcnn_|rpn_|fpn_)",
    "5+": r"^((res|conv)5_|mrcnn_|rpn_|fpn_)",
    "all": r".*",
}


def _by_layer_name(model, pattern: str) -> list:
    regex = re.compile(pattern)
    return [v for layer in leaf_layers(model) if regex.match(layer.name) for v in layer.trainable_weights]


def stage_variables(model, stage: str) -> list:
    """The variables `state.minimize` trains in `stage` (TrainState.trainable under that Stage)."""
    state = TrainState(models={"model": model}, optimizers={}, step=tf.Variable(0, dtype=tf.int64), config=None,
                       info={}, global_batch_size=1, stage=Stage(stage, 1, trainable=STAGE_LAYERS[stage]))
    return state.trainable()


@pytest.mark.parametrize("backbone", ["resnet18", "darknet53"])
def test_stage_regexes_select_what_the_layer_regexes_did(backbone):
    model = build_model(replace(MaskRCNNConfig.tiny(), backbone=backbone), 3)
    assert set(STAGE_LAYERS) == set(LAYER_REGEX) == set(typing.get_args(StageName))
    for stage in STAGE_LAYERS:
        want = [id(v) for v in _by_layer_name(model, LAYER_REGEX[stage])]
        # The same variables in the same order, so the clip's global norm and the weight decay sum alike.
        assert [id(v) for v in stage_variables(model, stage)] == want, stage


def test_stages_select_layers():
    model = build_model(MaskRCNNConfig.tiny(), 3)
    heads = {id(v) for v in stage_variables(model, "heads")}
    every = stage_variables(model, "all")
    assert len(every) == len(model.trainable_variables)
    names = {layer.name: layer for layer in leaf_layers(model)}
    for name, layer in names.items():
        for v in layer.trainable_weights:
            expected = name.startswith(("fpn_", "rpn_", "mrcnn_"))
            assert (id(v) in heads) == expected, name
    four = {id(v) for v in stage_variables(model, "4+")}
    assert all(id(v) in four for v in names["res4_block1_conv1"].trainable_weights)
    assert not any(id(v) in four for v in names["res3_block1_conv1"].trainable_weights)


def test_config_errors():
    from tfzoo.vision.maskrcnn.task import MaskRCNN, check_config

    tiny = MaskRCNNConfig.tiny()
    with pytest.raises(ConfigError, match="config key 'backbone': found 'vgg', expected one of resnet18"):
        cfg.override(tiny, {"backbone": "vgg"})
    with pytest.raises(ConfigError, match="multiple of 64"):
        check_config(replace(tiny, image_size=100))
    with pytest.raises(ConfigError, match="unknown stage"):
        check_config(replace(tiny, stages=("heads", "everything")))
    with pytest.raises(ConfigError, match="config key 'stages': found 'everything', expected one of heads, 3"):
        cfg.override(tiny, {"stages": "heads,everything"})
    assert MaskRCNNConfig.book().stage_plan() == [("heads", 100, 1.0), ("all", 100, 0.1)]
    # Each stage names its optimiser: the first is the model's own, the others run at their stage_lr.
    stages = MaskRCNN().stages(MaskRCNNConfig.book())
    assert [(s.name, s.steps, s.optimizer) for s in stages] == [("heads", 100, "model"), ("all", 100, "stage1")]
    assert MaskRCNN().default_config(preset="book") == MaskRCNNConfig.book()


# ----- the task, through the trainer and the CLI (the tiny run's checks are in test_conformance.py) ----------
@pytest.fixture(scope="module")
def detector():
    return pytest.importorskip("tfzoo.vision.detection.task", reason="DetectorTask not there yet")


def test_heads_stage_freezes_the_backbone(detector):
    from tfzoo.common.task import TrainState
    from tfzoo.vision.maskrcnn.task import MaskRCNN

    task, config = MaskRCNN(), MaskRCNNConfig.tiny()
    models = task.build_models(config, {"num_classes": 3})
    optimizers = task.build_optimizers(config, models, total_steps=2)
    optimizers["model"].build(models["model"].trainable_variables)
    stages = task.stages(config)
    state = TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=config,
                       info={}, global_batch_size=2, stage=stages[0])
    batch = _batch(config)
    images = batch.pop("image")
    model = models["model"]
    names = {layer.name: layer for layer in leaf_layers(model)}
    before = {n: [w.numpy().copy() for w in names[n].trainable_weights] for n in ("conv1", "fpn_p2", "rpn_class_raw")}
    out = task.train_step(state, (images, batch))
    assert all(math.isfinite(float(v)) for v in out.values())
    after = {n: [w.numpy() for w in names[n].trainable_weights] for n in before}
    assert all(np.array_equal(a, b) for a, b in zip(before["conv1"], after["conv1"]))
    assert not all(np.array_equal(a, b) for a, b in zip(before["fpn_p2"], after["fpn_p2"]))
    state.stage = stages[1]
    task.train_step(state, (images, batch))
    assert not all(np.array_equal(a, w.numpy()) for a, w in zip(before["conv1"], names["conv1"].trainable_weights))
    # `all` runs at lr/10 through its own optimiser.
    assert math.isclose(float(optimizers["stage1"].learning_rate), config.optim.lr / 10, rel_tol=1e-6)


@pytest.mark.slow
def test_losses_fall_over_200_steps(tmp_path, detector):
    from tfzoo.common.testing.smoke import run_cli

    run_dir = tmp_path / "run"
    sets = ["train.steps=200", "train.batch_size=4", "train.log_every=20", "train.eval_every=200",
            "stages=all", "train_count=64"]
    args = [a for s in sets for a in ("--set", s)]
    code, _, err = run_cli("train", "vision.mask-rcnn", "--tiny", "--run-dir", str(run_dir), *args)
    assert code == 0, err
    train = read_metrics(run_dir / "metrics.jsonl", split="train")
    first, last = train[0], train[-1]
    assert last["loss"] < 0.7 * first["loss"], (first, last)
    for name in ("rpn_class", "mrcnn_class", "mrcnn_mask"):
        assert last[name] < first[name], name


# ----- the darknet53 backbone (the sequel's suggested swap, S4 L713-L725) ------------------------------------
def _darknet_tiny() -> MaskRCNNConfig:
    return replace(MaskRCNNConfig.tiny(), backbone="darknet53")


def test_darknet_backbone_pyramid_strides():
    from tfzoo.vision.backbones_darknet import darknet53
    from tfzoo.vision.backbones_resnet import resnet_fpn

    backbone = resnet_fpn(image_size=64, arch="darknet53", width=0.25, fpn_channels=16)
    # P2..P6 at strides 4, 8, 16, 32, 64, as for the ResNets.
    assert [tuple(o.shape[1:]) for o in backbone.outputs] == [(16, 16, 16), (8, 8, 16), (4, 4, 16), (2, 2, 16),
                                                              (1, 1, 16)]
    inner = backbone.get_layer("darknet53")
    # C2..C5 at width 0.25: 128..1024 channels become 32..256; depth 0.34 gives [1, 1, 3, 3, 2] blocks.
    assert [o.shape[-1] for o in inner.outputs] == [32, 64, 128, 256]
    names = [layer.name for layer in inner.layers]
    assert [sum(n.startswith(f"conv{s}_r") and n.endswith("_add") for n in names) for s in range(1, 6)] == [
        1, 1, 3, 3, 2]
    # YOLO's Darknet keeps its own layer names.
    assert "darknet_s3_down_conv" in [layer.name for layer in darknet53(width=0.25, depth=0.34).layers]


def test_darknet_stage_regexes_select_growing_sets():
    model = build_model(_darknet_tiny(), 3)
    chosen = {stage: {id(v) for v in stage_variables(model, stage)} for stage in ("heads", "5+", "4+", "3+", "all")}
    assert chosen["all"] == {id(v) for v in model.trainable_variables}
    order = ["heads", "5+", "4+", "3+", "all"]
    for small, big in zip(order, order[1:]):
        assert chosen[small] and chosen[small] < chosen[big], (small, big)
    layers_by_name = {layer.name: layer for layer in leaf_layers(model)}
    for stage in (3, 4, 5):
        ids = {id(v) for v in layers_by_name[f"conv{stage}_down_conv"].trainable_weights}
        assert ids <= chosen[f"{stage}+"] and not ids & chosen[f"{stage + 1}+" if stage < 5 else "heads"]
    # The stem, stage 1 and stage 2 (C2) learn only in `all`.
    for name in ("conv1_stem_conv", "conv1_down_conv", "conv2_down_conv"):
        ids = {id(v) for v in layers_by_name[name].trainable_weights}
        assert ids <= chosen["all"] and not ids & chosen["3+"], name


def test_darknet_train_step_and_detect(detector):
    from tfzoo.common.task import TrainState
    from tfzoo.vision.maskrcnn.task import MaskRCNN

    task, config = MaskRCNN(), replace(_darknet_tiny(), stages=("all",))
    models = task.build_models(config, {"num_classes": 3})
    optimizers = task.build_optimizers(config, models, total_steps=1)
    optimizers["model"].build(models["model"].trainable_variables)
    state = TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=config,
                       info={}, global_batch_size=2, stage=task.stages(config)[0])
    batch = _batch(config)
    images = batch.pop("image")
    stem = {layer.name: layer for layer in leaf_layers(models["model"])}["conv1_stem_conv"]
    before = stem.kernel.numpy().copy()
    out = task.train_step(state, (images, batch))
    assert set(LOSS_NAMES) <= set(out) and all(math.isfinite(float(v)) for v in out.values())
    assert not np.array_equal(before, stem.kernel.numpy())  # the Darknet learns in `all`
    det = task.detect(models, config, {"num_classes": 3}, images)
    t = config.max_detections
    assert det["boxes"].shape == (2, t, 4) and det["scores"].shape == (2, t) and det["classes"].shape == (2, t)
    assert det["num"].shape == (2,) and det["masks"].shape == (2, t, 64, 64)


def test_darknet_backbone_weights_load_or_fail_clearly(tmp_path):
    from tfzoo.vision.backbones_darknet import darknet53
    from tfzoo.vision.maskrcnn.task import check_config

    source = darknet53(width=0.25, depth=0.34)
    for i, v in enumerate(source.weights):
        v.assign(tf.fill(v.shape, 0.01 * (i + 1)))
    path = str(tmp_path / "darknet.weights.h5")
    source.save_weights(path)
    model = build_model(replace(_darknet_tiny(), backbone_weights=path), 3)
    inner = model.get_layer("backbone").get_layer("darknet53")
    assert len(inner.weights) == len(source.weights)
    for a, b in zip(inner.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = str(tmp_path / "wide.weights.h5")
    darknet53(width=0.5, depth=0.34).save_weights(other)
    with pytest.raises(ConfigError, match="backbone_weights .* does not fit darknet53 at width=0.25"):
        build_model(replace(_darknet_tiny(), backbone_weights=other), 3)
    with pytest.raises(ConfigError, match="backbone_weights .* does not exist"):
        check_config(replace(_darknet_tiny(), backbone_weights=str(tmp_path / "missing.weights.h5")))
    with pytest.raises(ConfigError, match="width 0 must be > 0"):
        check_config(replace(_darknet_tiny(), width=0))
