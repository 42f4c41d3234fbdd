"""Oracles for tfzoo.vision.detection.boxes: hand IoUs, coding and format round trips, k-means, NMS, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.vision.detection import boxes as B


def test_iou_hand_values():
    a = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0]])
    b = np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [0.5, 0.5, 1.0, 1.0], [0.6, 0.6, 0.7, 0.7]])
    # a0 vs b1: intersection 0.25^2 = 1/16, union 1/4 + 1/4 - 1/16 = 7/16 -> 1/7. Touching corners -> 0.
    want = np.array([[1.0, 1 / 7, 0.0, 0.0], [0.25, 0.25, 0.25, 0.01]])
    np.testing.assert_allclose(B.iou(a, b), want, atol=1e-6)
    np.testing.assert_allclose(B.iou_tf(a, b).numpy(), want, atol=1e-6)
    # A degenerate (zero-area) box has IoU 0 with itself rather than NaN.
    assert B.iou([[0.1, 0.1, 0.1, 0.1]], [[0.1, 0.1, 0.1, 0.1]])[0, 0] == 0.0


def test_giou_hand_values():
    a = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.25, 0.25]])
    b = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.5, 1.0], [0.75, 0.75, 1.0, 1.0]])
    # Identical -> 1. Side by side: IoU 0, hull 0.5 = union -> 0. Opposite corners: IoU 0, hull 1, union 1/8.
    np.testing.assert_allclose(B.giou_tf(a, b).numpy(), [1.0, 0.0, -(1 - 1 / 8)], atol=1e-6)


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    anchors = np.concatenate([rng.uniform(0, 0.5, (50, 2)), rng.uniform(0.55, 1.0, (50, 2))], 1)
    boxes = np.concatenate([rng.uniform(0, 0.4, (50, 2)), rng.uniform(0.5, 1.0, (50, 2))], 1)
    deltas = B.encode(boxes, anchors)
    np.testing.assert_allclose(B.decode(deltas, anchors).numpy(), boxes, atol=1e-5)
    # Hand value: box twice the anchor's size, centre moved by one anchor height and half an anchor width:
    # dy = 1 / 0.1, dx = 0.5 / 0.1, dh = dw = log 2 / 0.2.
    d = B.encode([[0.05, 0.0, 0.25, 0.2]], [[0.0, 0.0, 0.1, 0.1]]).numpy()[0]
    np.testing.assert_allclose(d, [1.0 / 0.1, 0.5 / 0.1, np.log(2) / 0.2, np.log(2) / 0.2], rtol=1e-5)
    # Batched [..., 4] shapes broadcast.
    assert B.encode(np.tile(boxes[None], (3, 1, 1)), anchors).shape == (3, 50, 4)


def test_coco_and_voc_converters():
    h, w = 100, 200
    xywh = np.array([[10.0, 20.0, 30.0, 40.0], [0.0, 0.0, 200.0, 100.0]])
    yxyx = B.coco_xywh_to_yxyx(xywh, h, w)
    np.testing.assert_allclose(yxyx[0], [0.2, 0.05, 0.6, 0.2], atol=1e-6)
    np.testing.assert_allclose(yxyx[1], [0, 0, 1, 1])
    np.testing.assert_allclose(B.yxyx_to_coco_xywh(yxyx, h, w), xywh, atol=1e-4)
    # VOC: pixels 1..200 inclusive cover the whole width; pixel 11..40 is 30 pixels starting at edge 10.
    voc = B.voc_to_yxyx([11, 1], [21, 1], [40, 200], [60, 100], h, w)
    np.testing.assert_allclose(voc[0], [0.2, 0.05, 0.6, 0.2], atol=1e-6)
    np.testing.assert_allclose(voc[1], [0, 0, 1, 1])
    np.testing.assert_array_equal(B.yxyx_to_voc(voc, h, w), [[11, 21, 40, 60], [1, 1, 200, 100]])


def test_mask_to_box():
    m = np.zeros((10, 20), np.uint8)
    m[2:5, 4:10] = 1
    np.testing.assert_allclose(B.mask_to_box(m), [0.2, 0.2, 0.5, 0.5])
    np.testing.assert_array_equal(B.mask_to_box(np.zeros((4, 4))), np.zeros(4))


def test_kmeans_recovers_three_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0.05, 0.05], [0.2, 0.4], [0.6, 0.5]])
    wh = np.concatenate([c * rng.uniform(0.95, 1.05, (100, 2)) for c in centres])
    anchors = B.kmeans_anchors(wh, 3, seed=0)
    np.testing.assert_allclose(anchors, centres, rtol=0.05)
    assert np.all(np.diff(anchors.prod(1)) > 0)
    with pytest.raises(ValueError, match="at least k=3"):
        B.kmeans_anchors(wh[:2], 3)


def test_nms_hand_case():
    boxes = np.array([[[0.0, 0.0, 0.4, 0.4],     # 0: class 1 0.9 -> kept
                       [0.02, 0.0, 0.42, 0.4],   # 1: overlaps 0 (IoU ~0.9): class 1 suppressed, class 2 kept
                       [0.5, 0.5, 1.0, 1.0],     # 2: class 1 0.6 kept
                       [0.6, 0.0, 0.9, 0.3],     # 3: below score threshold everywhere
                       [0.5, 0.5, 1.2, 1.0]]],   # 4: class 2, clipped to the image
                     np.float32)
    scores = np.array([[[0.9, 0.0], [0.8, 0.7], [0.6, 0.0], [0.01, 0.02], [0.0, 0.5]]], np.float32)
    out = B.nms(boxes, scores, iou_threshold=0.5, score_threshold=0.05, max_total=10)
    n = int(out["num"][0])
    assert n == 4
    np.testing.assert_allclose(out["scores"][0, :n], [0.9, 0.7, 0.6, 0.5])
    np.testing.assert_array_equal(out["classes"][0, :n], [1, 2, 1, 2])
    np.testing.assert_allclose(out["boxes"][0, 3], [0.5, 0.5, 1.0, 1.0])  # clip_boxes
    assert np.all(out["classes"][0, n:].numpy() == 0) and np.all(out["boxes"][0, n:].numpy() == 0)
    capped = B.nms(boxes, scores, max_total=2)
    assert capped["boxes"].shape == (1, 2, 4) and int(capped["num"][0]) == 2
    np.testing.assert_allclose(capped["scores"][0], [0.9, 0.7])
    # Per-class boxes [B, N, K, 4] take the same path.
    per_class = B.nms(np.repeat(boxes[:, :, None], 2, axis=2), scores, max_total=10)
    np.testing.assert_allclose(per_class["scores"][0, :4], [0.9, 0.7, 0.6, 0.5])


def _rect_example(size=64):
    masks = np.zeros((3, size, size), np.uint8)
    masks[0, 5:20, 8:30] = 1
    masks[1, 30:60, 35:50] = 1
    boxes = np.stack([B.mask_to_box(masks[0]), B.mask_to_box(masks[1]), np.zeros(4, np.float32)])
    image = np.zeros((size, size, 3), np.uint8)
    image[masks[0] > 0] = (255, 0, 0)
    image[masks[1] > 0] = (0, 255, 0)
    return image, boxes, np.array([1, 2, 0], np.int32), masks


def test_flip_keeps_boxes_on_masks():
    image, boxes, _, masks = _rect_example()
    flipped = 0
    for seed in range(4):
        img2, boxes2, masks2 = B.random_flip(image, boxes, masks, seed=seed)
        flipped += int(not np.array_equal(boxes2.numpy(), boxes))
        for k in range(2):
            np.testing.assert_allclose(B.mask_to_box(masks2[k].numpy()), boxes2[k], atol=1e-6, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(boxes2[2], np.zeros(4))  # padding stays padding
        assert np.array_equal(img2[..., 1].numpy() > 0, masks2[1].numpy() > 0)
    assert 0 < flipped < 4  # both outcomes occur over these seeds


def test_crop_keeps_boxes_on_masks():
    size = 64
    image, boxes, classes, masks = _rect_example(size)
    for seed in range(6):
        img2, boxes2, classes2, masks2, num = B.random_crop(image, boxes, classes, masks, seed=seed, min_scale=0.5,
                                                            min_visibility=0.3)
        num = int(num)
        assert 1 <= num <= 2 and img2.shape == image.shape and masks2.shape == masks.shape
        assert set(classes2.numpy()[:num]) <= {1, 2} and np.all(classes2.numpy()[num:] == 0)
        for k in range(num):
            # Nearest resizing of a pixel-aligned crop moves a mask edge by at most one output pixel.
            np.testing.assert_allclose(B.mask_to_box(masks2[k].numpy()), boxes2[k], atol=1.01 / size,
                                       err_msg=f"seed {seed}")
        assert np.all(boxes2.numpy()[num:] == 0) and np.all(masks2.numpy()[num:] == 0)


def test_expand_and_augment_consistent():
    size = 64
    image, boxes, classes, masks = _rect_example(size)
    img2, boxes2, masks2 = B.random_expand(image, boxes, masks, seed=5, min_scale=0.5)
    for k in range(2):
        np.testing.assert_allclose(B.mask_to_box(masks2[k].numpy()), boxes2[k], atol=1.01 / size)
    feats = {"image": image, "boxes": boxes, "classes": classes, "num": np.int32(2), "masks": masks}
    for seed in range(3):
        out = B.augment(feats, seed=tf.constant([seed, 7]), crop_prob=1.0, expand_prob=0.5)
        assert out["image"].dtype == tf.uint8 and out["image"].shape == image.shape
        for k in range(int(out["num"])):
            np.testing.assert_allclose(B.mask_to_box(out["masks"][k].numpy()), out["boxes"][k], atol=2.01 / size)


def test_augment_in_tf_data():
    image, boxes, classes, masks = _rect_example()
    ds = tf.data.Dataset.from_tensors({"image": image, "boxes": boxes, "classes": classes, "num": np.int32(2),
                                       "masks": masks}).repeat(2)
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=0).batch(2))
    ds = ds.map(lambda f, s: B.augment(f, seed=s, expand_prob=0.5))
    for out in ds:
        assert out["boxes"].shape == (3, 4) and out["image"].shape == (64, 64, 3)


def test_letterbox_round_trip():
    image = np.zeros((50, 100, 3), np.uint8)
    boxes = np.array([[0.1, 0.2, 0.5, 0.9]], np.float32)
    canvas, moved = B.letterbox(image, boxes, 64)
    assert canvas.shape == (64, 64, 3)
    np.testing.assert_allclose(B.unletterbox_boxes(moved.numpy(), 50, 100, 64), boxes, atol=1e-5)


def test_augment_without_masks_keeps_the_instance_count():
    """Box-only detectors (yolo, ssd) pass no masks; the crop must still return the instance count."""
    features = {"image": tf.zeros([32, 32, 3], tf.uint8), "boxes": tf.constant([[0.1, 0.1, 0.6, 0.6], [0.0] * 4]),
                "classes": tf.constant([1, 0], tf.int32), "num": tf.constant(1)}
    for s in range(4):
        out = B.augment(features, seed=tf.constant([s, 7]), crop_prob=1.0)
        assert int(out["num"]) == int(tf.reduce_sum(tf.cast(out["classes"] > 0, tf.int32))) == 1
