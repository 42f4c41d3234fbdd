"""Oracles for tfzoo.vision.detection.evaluation: hand-made PR lists and pycocotools on hand-made detections.

Our VOC AP is all-point; pycocotools averages the precision envelope at 101 recall points. Both come from
the same matched PR curve, so the tests check (a) our all-point AP against a value computed by hand,
(b) the 101-point AP of *our* curves against pycocotools to 1e-9 (same matching, same curve), and (c) that
all-point and 101-point differ by at most 0.02: for a monotone non-increasing envelope p on [0, 1] with
values in [0, 1], the 101-point mean lies between the left and right Riemann sums over steps of 0.01
(up to a 1/101 reweighting), which bracket the integral and are at most 0.01 apart.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tfzoo.vision.detection.dataset import Example
from tfzoo.vision.detection.evaluation import (
    coco_metrics,
    detection_report,
    interpolated_ap,
    mean_average_precision,
    per_image_ap,
    voc_ap,
)

NAMES = ("background", "square", "circle")
SIZE = 100


def _masks(boxes, size=SIZE):
    """Pixel-aligned rectangles, so mask IoU equals box IoU."""
    out = np.zeros((len(boxes), size, size), np.uint8)
    for k, (y1, x1, y2, x2) in enumerate(np.rint(np.asarray(boxes).reshape(-1, 4) * size).astype(int)):
        out[k, y1:y2, x1:x2] = 1
    return out


def _ex(boxes, classes, ignore=None, image_id=0):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    ignore = np.zeros(len(boxes), bool) if ignore is None else np.asarray(ignore, bool)
    return Example(image=np.zeros((SIZE, SIZE, 3), np.uint8), boxes=boxes, classes=np.asarray(classes, np.int32),
                   masks=_masks(boxes), ignore=ignore, image_id=image_id, source=f"test:{image_id}")


def _det(boxes, classes, scores):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return {"boxes": boxes, "classes": np.asarray(classes, np.int32), "scores": np.asarray(scores, np.float32),
            "masks": _masks(boxes)}


def _map(dets, exs, **kw):
    return mean_average_precision(dets, exs, num_classes=2, **kw)


def _ours_101(result) -> float:
    vals = [interpolated_ap(*result["curves"][c], points=101) for c, ap in result["ap"].items() if not np.isnan(ap)]
    return float(np.mean(vals))


A = [0.1, 0.1, 0.5, 0.5]  # 40 x 40 px
B2 = [0.6, 0.6, 0.9, 0.8]
C = [0.2, 0.6, 0.4, 0.9]


def test_voc_ap_hand_pr_list():
    # 5 detections against 4 positives, outcomes T F T T F: recall .25 .25 .5 .75 .75, precision 1 .5 2/3 .75 .6.
    recall = [0.25, 0.25, 0.5, 0.75, 0.75]
    precision = [1.0, 0.5, 2 / 3, 0.75, 0.6]
    # Envelope 1 on (0, .25], .75 on (.25, .75], 0 after: .25 * 1 + .5 * .75.
    assert voc_ap(recall, precision) == pytest.approx(0.625)
    # 11-point: t = 0, .1, .2 -> 1; t = .3 ... .7 -> .75; t = .8, .9, 1 -> 0.
    assert voc_ap(recall, precision, eleven_point=True) == pytest.approx((3 + 5 * 0.75) / 11)
    assert voc_ap([], []) == 0.0


CASES = {
    # name: (examples, detections, hand all-point mAP)
    "perfect": ([_ex([A, B2], [1, 2])], [_det([A, B2], [1, 2], [0.9, 0.8])], 1.0),
    # Shift by 10 px: IoU 1200/2000 = 0.6 -> TP. By 20 px: 800/2400 = 1/3 -> FP and the GT is missed.
    "shift_above": ([_ex([A], [1])], [_det([[0.1, 0.2, 0.5, 0.6]], [1], [0.9])], 1.0),
    "shift_below": ([_ex([A], [1])], [_det([[0.1, 0.3, 0.5, 0.7]], [1], [0.9])], 0.0),
    # One of two squares found: recall reaches .5 at precision 1.
    "missing": ([_ex([A, B2], [1, 1])], [_det([A], [1], [0.9])], 0.5),
    # A false positive scored above the true one halves the precision at recall 1; scored below, it is harmless.
    "extra_high": ([_ex([A], [1])], [_det([A, C], [1, 1], [0.8, 0.9])], 0.5),
    "extra_low": ([_ex([A], [1])], [_det([A, C], [1, 1], [0.9, 0.8])], 1.0),
    # Class 1 perfect (AP 1), class 2: FP above the TP (AP .5); over two images.
    "two_classes": ([_ex([A], [1], image_id=1), _ex([B2, C], [2, 1], image_id=2)],
                    [_det([A], [1], [0.9]), _det([C, B2, A], [1, 2, 2], [0.7, 0.5, 0.6])], (1.0 + 0.5) / 2),
    # A crowd/difficult instance absorbs the detection on it (IoU 1): neither TP nor FP.
    "ignore": ([_ex([A, B2], [1, 1], ignore=[False, True])], [_det([B2, A], [1, 1], [0.95, 0.9])], 1.0),
    # A small detection inside a large crowd region (IoU .09, but fully covered) is absorbed too.
    "ignore_region": ([_ex([A, [0.5, 0.5, 1.0, 1.0]], [1, 1], ignore=[False, True])],
                      [_det([[0.6, 0.6, 0.75, 0.75], A], [1, 1], [0.95, 0.9])], 1.0),
}


def test_box_map_against_hand_and_pycocotools():
    for name, (exs, dets, want) in CASES.items():
        ours = _map(dets, exs)
        assert ours["map"] == pytest.approx(want), name
        coco = coco_metrics(dets, exs, NAMES)
        assert _ours_101(ours) == pytest.approx(coco["AP50"], abs=1e-9), name
        assert abs(ours["map"] - coco["AP50"]) <= 0.02, name


def test_mask_map_against_pycocotools_segm():
    for name in ["perfect", "shift_above", "missing", "two_classes", "ignore", "ignore_region"]:
        exs, dets, want = CASES[name]
        ours = _map(dets, exs, use_masks=True)
        assert ours["map"] == pytest.approx(want), name
        segm = coco_metrics(dets, exs, NAMES, iou_type="segm")
        assert _ours_101(ours) == pytest.approx(segm["AP50"], abs=1e-9), name


def test_perfect_is_one_everywhere():
    exs, dets, _ = CASES["perfect"]
    for iou_type in ("bbox", "segm"):
        m = coco_metrics(dets, exs, NAMES, iou_type=iou_type)
        assert m["AP"] == pytest.approx(1.0) and m["AP75"] == pytest.approx(1.0) and m["AR100"] == pytest.approx(1.0)
    assert per_image_ap(dets, exs) == pytest.approx(1.0)


def test_random_detections_agree_with_pycocotools_at_all_thresholds():
    rng = np.random.default_rng(0)
    exs, dets = [], []
    for i in range(12):
        n = int(rng.integers(1, 5))
        yx = rng.integers(0, 60, (n, 2))
        hw = rng.integers(10, 40, (n, 2))
        gt = np.concatenate([yx, yx + hw], 1) / SIZE
        classes = rng.integers(1, 3, n)
        exs.append(_ex(gt, classes, ignore=rng.random(n) < 0.15, image_id=i))
        keep = rng.random(n) < 0.8
        jitter = rng.integers(-4, 5, (n, 4)) / SIZE
        pred = np.clip(gt + jitter, 0, 1)[keep]
        pcls = np.where(rng.random(n) < 0.9, classes, 3 - classes)[keep]
        extra = int(rng.integers(0, 3))
        eyx = rng.integers(0, 70, (extra, 2))
        pred = np.concatenate([pred, np.concatenate([eyx, eyx + 25], 1) / SIZE])
        pcls = np.concatenate([pcls, rng.integers(1, 3, extra)])
        dets.append(_det(pred, pcls, rng.random(len(pred))))
    for iou_type, use_masks in (("bbox", False), ("segm", True)):
        coco = coco_metrics(dets, exs, NAMES, iou_type=iou_type)
        per_threshold = [_ours_101(_map(dets, exs, iou_threshold=t, use_masks=use_masks))
                         for t in np.linspace(0.5, 0.95, 10)]
        assert per_threshold[0] == pytest.approx(coco["AP50"], abs=1e-9)
        assert per_threshold[5] == pytest.approx(coco["AP75"], abs=1e-9)
        assert np.mean(per_threshold) == pytest.approx(coco["AP"], abs=1e-9)
        assert abs(_map(dets, exs, use_masks=use_masks)["map"] - coco["AP50"]) <= 0.02


def test_no_detections_and_class_without_gt():
    exs = [_ex([A], [1])]
    empty = [{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0)}]
    ours = _map(empty, exs)
    assert ours["map"] == 0.0 and np.isnan(ours["ap"][2])  # class 2 has no GT: left out of the mean
    assert coco_metrics(empty, exs, NAMES)["AP50"] == 0.0
    # Padded NMS output: rows past `num` are ignored.
    padded = [{"boxes": np.array([A, [0, 0, 0, 0]]), "scores": [0.9, 0.0], "classes": [1, 0], "num": 1}]
    assert _map(padded, exs)["map"] == 1.0


def test_per_image_ap_hand_value():
    # Image 1: two GT; predictions T (.9), F (.8), T (.7): precision 1, .5, 2/3 at recall .5, .5, 1
    # -> monotone 1, 2/3, 2/3 -> AP .5 * 1 + .5 * 2/3. Image 2 perfect: 1. Image 3 empty/empty: skipped.
    exs = [_ex([A, B2], [1, 2]), _ex([C], [1]), _ex(np.zeros((0, 4)), [])]
    dets = [_det([A, C, B2], [1, 1, 2], [0.9, 0.8, 0.7]), _det([C], [1], [0.5]), _det(np.zeros((0, 4)), [], [])]
    want = (0.5 + 0.5 * 2 / 3 + 1.0) / 2
    assert per_image_ap(dets, exs, use_masks=True) == pytest.approx(want)
    assert per_image_ap(dets, exs, use_masks=False) == pytest.approx(want)
    # Detections on an image without ground truth score 0 for that image.
    dets[2] = _det([A], [1], [0.9])
    assert per_image_ap(dets, exs) == pytest.approx((0.5 + 0.5 * 2 / 3 + 1.0 + 0.0) / 3)
    # A wrong class at IoU 1 is not a match (matterport checks the class).
    assert per_image_ap([_det([A], [2], [0.9])], [_ex([A], [1])]) == 0.0


def test_detection_report_flat_floats_and_plot(tmp_path):
    exs, dets, _ = CASES["two_classes"]
    report = detection_report(dets, exs, NAMES, masks=True, plots_dir=tmp_path)
    assert report["map50"] == pytest.approx(0.75) and report["mask_map50"] == pytest.approx(0.75)
    for key in ("coco_ap", "coco_ap50", "coco_ap75", "coco_ar100", "mask_coco_ap", "per_image_mask_ap50",
                "ap50_square", "ap50_circle"):
        assert isinstance(report[key], float), key
    json.dumps(report)
    assert (tmp_path / "pr.png").stat().st_size > 1000


def test_mismatched_lengths_and_missing_masks():
    exs, dets, _ = CASES["perfect"]
    with pytest.raises(ValueError, match="one per image"):
        _map(dets * 2, exs)
    no_masks = [{k: v for k, v in dets[0].items() if k != "masks"}]
    with pytest.raises(ValueError, match="no 'masks'"):
        coco_metrics(no_masks, exs, NAMES, iou_type="segm")


# ---------------------------------------------------------------------------------------------- draw


def test_draw_detections_outline_label_and_mask(tmp_path):
    from PIL import Image

    from tfzoo.vision.detection.draw import draw_detections, predictions_to_json, save_png, side_by_side

    grey = np.full((64, 64, 3), 100, np.uint8)
    box = [[0.25, 0.25, 0.75, 0.75]]  # pixels 16..47
    out = draw_detections(grey, box, [1], NAMES, scores=[0.93])
    assert out.shape == grey.shape and out.dtype == np.uint8
    changed = np.any(out != grey, axis=-1)
    assert changed[47, 16:48].all() and changed[20:48, 16].all() and changed[20:48, 47].all()  # outline
    assert not changed[30:40, 20:44].any() and not changed[50:, :].any()  # inside and below stay
    assert changed[:16, 16:40].any()  # the "square 0.93" label above the box
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 30:40, 30:40] = 1
    blended = draw_detections(grey, box, [1], NAMES, masks=mask)
    assert np.all(blended[30:40, 30:40] != grey[30:40, 30:40]) and np.all(blended[20:28, 20:28] == 100)
    # Padding rows (class 0) are not drawn.
    assert np.array_equal(draw_detections(grey, box, [0], NAMES), grey)

    pair = side_by_side(grey, out[:50])
    assert pair.shape == (64, 64 + 4 + 64, 3)
    path = save_png(tmp_path / "sub" / "x.png", pair)
    assert np.array_equal(np.asarray(Image.open(path)), pair)

    det = {"boxes": np.array([[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 0.0, 0.0]]), "scores": [0.5, 0.0],
           "classes": [2, 0], "num": 2, "masks": mask.repeat(2, 0)}
    js = predictions_to_json(det, NAMES, height=100, width=200)
    assert js == [{"class_id": 2, "class": "circle", "score": 0.5, "box": [40.0, 10.0, 120.0, 50.0],
                   "box_normalized": [0.1, 0.2, 0.5, 0.6], "mask_area": 100}]
