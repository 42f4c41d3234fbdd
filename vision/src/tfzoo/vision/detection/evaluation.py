"""Detection metrics: VOC mAP, matterport's per-image AP, COCO AP/AR through pycocotools, PR curves, the report.

Detections are one dict per image, aligned with the examples: ``boxes`` [n, 4] normalised yxyx, ``scores`` [n],
``classes`` [n] in 1..K and optionally ``masks`` uint8 [n, H, W] at the image's own size (a ``num`` entry, if
present, trims padded arrays to their first ``num`` rows).

Matching in :func:`mean_average_precision` follows pycocotools (greedy in score order; each detection takes the
best-IoU *unmatched* ground truth with IoU >= threshold, preferring non-ignored instances; an ignore instance --
COCO ``iscrowd`` / VOC ``difficult`` -- may absorb several detections, which then count neither as TP nor FP).
Only the area under the curve differs: all-point interpolation (VOC 2010+) by default, 11-point on request,
where COCO samples the precision envelope at 101 recall points (:func:`interpolated_ap`). As in pycocotools,
the overlap of a detection with an ignore instance is intersection / detection area (a detection lying
inside an ignore region is absorbed), so the matched PR curves are pycocotools' own.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np

from tfzoo.vision.detection.boxes import iou as box_iou
from tfzoo.vision.detection.boxes import yxyx_to_coco_xywh

__all__ = [
    "COCO_STATS",
    "coco_metrics",
    "detection_report",
    "interpolated_ap",
    "mask_iou",
    "mean_average_precision",
    "per_image_ap",
    "plot_pr",
    "voc_ap",
]

COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


# ------------------------------------------------------------------------------------------- basics


def voc_ap(recall, precision, *, eleven_point: bool = False) -> float:
    """Area under a PR curve given in score order: all-point interpolation, or VOC2007's 11-point rule.

    All-point: make precision monotone (each point takes the best precision at any higher recall), then sum
    precision times each recall step -- the VOC devkit's ``VOCap``. An empty curve scores 0.
    """
    recall = np.asarray(recall, np.float64)
    precision = np.asarray(precision, np.float64)
    if eleven_point:
        return interpolated_ap(recall, precision, points=11)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def interpolated_ap(recall, precision, *, points: int = 101) -> float:
    """Mean of the precision envelope at ``points`` evenly spaced recalls (11: VOC2007, 101: pycocotools).

    The envelope at recall r is the best precision at any recall >= r, 0 past the last recall reached.
    """
    recall = np.asarray(recall, np.float64)
    envelope = np.maximum.accumulate(np.asarray(precision, np.float64)[::-1])[::-1] if len(recall) else recall
    thresholds = np.linspace(0.0, 1.0, points)
    idx = np.searchsorted(recall, thresholds, side="left")
    return float(np.mean([envelope[i] if i < len(recall) else 0.0 for i in idx]))


def mask_iou(a, b) -> np.ndarray:
    """Pairwise IoU of binary masks ``a`` [N, H, W] and ``b`` [M, H, W] -> float [N, M]."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    a = (a.reshape(len(a), -1) > 0).astype(np.float32)
    b = (b.reshape(len(b), -1) > 0).astype(np.float32)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0).astype(np.float32)


def _det(d: dict, index: int, need_masks: bool) -> dict:
    """Normalise one detection dict to numpy arrays (trimmed to ``num``)."""
    n = int(d["num"]) if "num" in d else None
    boxes = np.asarray(d.get("boxes", np.zeros((0, 4))), np.float32).reshape(-1, 4)[:n]
    out = {
        "boxes": boxes,
        "scores": np.asarray(d.get("scores", np.zeros(0)), np.float64).reshape(-1)[:n],
        "classes": np.asarray(d.get("classes", np.zeros(0)), np.int64).reshape(-1)[:n],
        "masks": None,
    }
    if need_masks:
        if d.get("masks") is None and len(boxes):
            raise ValueError(f"detections[{index}] has no 'masks' but mask metrics were asked for")
        out["masks"] = np.asarray(d["masks"])[:n] if d.get("masks") is not None else None
    return out


def _check(detections, examples) -> None:
    if len(detections) != len(examples):
        raise ValueError(f"{len(detections)} detection dicts for {len(examples)} examples: one per image expected")


def _gt_masks(example, index: int) -> np.ndarray:
    if example.masks is None:
        raise ValueError(f"example {index} ({example.source}) has no masks but mask metrics were asked for")
    return np.asarray(example.masks)


def _box_cover(a, b) -> np.ndarray:
    """Intersection of boxes ``a`` [N, 4] and ``b`` [M, 4] over the area of ``a`` (pycocotools' crowd IoU)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ih = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iw = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    return np.where(area > 0, ih * iw / np.maximum(area, 1e-12), 0.0)


def _overlaps(det, example, index, use_masks, det_rows, gt_rows) -> np.ndarray:
    """IoU of detections with ground truth; ignore columns take intersection / detection area (pycocotools'
    crowd rule: a detection inside an ignore region is absorbed however large the region is)."""
    ignore = np.asarray(example.ignore, bool).reshape(-1)[gt_rows]
    if use_masks:
        h, w = example.image.shape[:2]
        dm = det["masks"][det_rows] if det["masks"] is not None else np.zeros((0, h, w), np.uint8)
        gm = _gt_masks(example, index)[gt_rows]
        out = mask_iou(dm, gm)
        if ignore.any() and len(dm):
            d = dm.reshape(len(dm), -1) > 0
            g = gm[ignore].reshape(int(ignore.sum()), -1) > 0
            inter = d.astype(np.float32) @ g.astype(np.float32).T
            out[:, ignore] = inter / np.maximum(d.sum(1), 1)[:, None]
        return out
    db, gb = det["boxes"][det_rows], np.asarray(example.boxes)[gt_rows]
    out = box_iou(db, gb)
    if ignore.any() and len(db):
        out[:, ignore] = _box_cover(db, gb[ignore])
    return out


# ---------------------------------------------------------------------------------------------- VOC


def _match(ious: np.ndarray, ignore: np.ndarray, threshold: float) -> np.ndarray:
    """pycocotools' greedy matching for one image and class; dets in score order. Returns 1 TP, 0 FP, -1 ignored."""
    order = np.argsort(ignore, kind="stable")  # non-ignored ground truth first
    matched = np.zeros(len(ignore), bool)
    out = np.zeros(ious.shape[0], np.int64)
    for d in range(ious.shape[0]):
        best, best_iou = -1, min(threshold, 1 - 1e-10)
        for g in order:
            if matched[g] and not ignore[g]:
                continue
            if best > -1 and not ignore[best] and ignore[g]:
                break  # a real match beats any ignore region
            if ious[d, g] < best_iou:
                continue
            best, best_iou = g, ious[d, g]
        if best == -1:
            out[d] = 0
        elif ignore[best]:
            out[d] = -1
        else:
            matched[best] = True
            out[d] = 1
    return out


def mean_average_precision(detections, examples, *, iou_threshold: float = 0.5, use_masks: bool = False,
                           num_classes: int, eleven_point: bool = False) -> dict:
    """Dataset-level VOC mAP: ``{"map": float, "ap": {class: AP}, "curves": {class: (recall, precision)}}``.

    Classes without any non-ignored ground truth get AP NaN and are left out of the mean (as pycocotools
    does); ``map`` is NaN if no class has ground truth.
    """
    _check(detections, examples)
    per_class = {c: ([], [], 0) for c in range(1, num_classes + 1)}  # scores, outcomes, positives
    for i, (d, ex) in enumerate(zip(detections, examples)):
        det = _det(d, i, use_masks)
        gt_classes = np.asarray(ex.classes).reshape(-1)
        gt_ignore = np.asarray(ex.ignore, bool).reshape(-1)
        for c in range(1, num_classes + 1):
            drows = np.flatnonzero(det["classes"] == c)
            drows = drows[np.argsort(-det["scores"][drows], kind="mergesort")]
            grows = np.flatnonzero(gt_classes == c)
            scores, outcomes, npos = per_class[c]
            npos += int((~gt_ignore[grows]).sum())
            if len(drows):
                ious = _overlaps(det, ex, i, use_masks, drows, grows)
                outcomes.append(_match(ious, gt_ignore[grows], iou_threshold))
                scores.append(det["scores"][drows])
            per_class[c] = (scores, outcomes, npos)
    aps, curves = {}, {}
    for c, (scores, outcomes, npos) in per_class.items():
        s = np.concatenate(scores) if scores else np.zeros(0)
        o = np.concatenate(outcomes) if outcomes else np.zeros(0, np.int64)
        o = o[np.argsort(-s, kind="mergesort")]
        o = o[o >= 0]
        tp, fp = np.cumsum(o == 1), np.cumsum(o == 0)
        if npos == 0:
            aps[c], curves[c] = math.nan, (np.zeros(0), np.zeros(0))
            continue
        recall, precision = tp / npos, tp / np.maximum(tp + fp, 1)
        aps[c] = interpolated_ap(recall, precision, points=11) if eleven_point else voc_ap(recall, precision)
        curves[c] = (recall, precision)
    valid = [v for v in aps.values() if not math.isnan(v)]
    return {"map": float(np.mean(valid)) if valid else math.nan, "ap": aps, "curves": curves}


def per_image_ap(detections, examples, *, iou_threshold: float = 0.5, use_masks: bool = True) -> float:
    """Mean over images of matterport's ``utils.compute_ap`` (the Mask R-CNN sample's metric, S4 L676-L711).

    Per image: predictions sorted by score, each takes the highest-IoU unmatched ground truth of its class
    (IoU >= threshold), precision made monotone, all-point area under the curve. Differences from matterport,
    all in degenerate images: an image with no ground truth and no detection is skipped (matterport would
    score a correct empty answer 0), one with detections but no ground truth scores 0 (matterport: NaN);
    ignore instances are dropped from the ground truth together with the detections they absorb.
    Returns NaN if every image was skipped.
    """
    _check(detections, examples)
    values = []
    for i, (d, ex) in enumerate(zip(detections, examples)):
        det = _det(d, i, use_masks)
        ignore = np.asarray(ex.ignore, bool).reshape(-1)
        gt_classes = np.asarray(ex.classes).reshape(-1)
        keep_gt = np.flatnonzero(~ignore)
        order = np.argsort(-det["scores"], kind="stable")
        ious = _overlaps(det, ex, i, use_masks, order, np.arange(len(gt_classes)))
        pred_classes = det["classes"][order]
        same = pred_classes[:, None] == gt_classes[None, :]
        absorbed = ((ious >= iou_threshold) & same & ignore[None, :]).any(1) & ~(
            (ious >= iou_threshold) & same & ~ignore[None, :]).any(1)
        ious, pred_classes = ious[~absorbed][:, keep_gt], pred_classes[~absorbed]
        gt_cls = gt_classes[keep_gt]
        if len(gt_cls) == 0:
            if len(pred_classes):
                values.append(0.0)
            continue
        gt_match = np.full(len(gt_cls), -1)
        pred_match = np.full(len(pred_classes), -1)
        for p in range(len(pred_classes)):
            for g in np.argsort(-ious[p], kind="stable"):
                if gt_match[g] > -1:
                    continue
                if ious[p, g] < iou_threshold:
                    break
                if pred_classes[p] == gt_cls[g]:
                    gt_match[g], pred_match[p] = p, g
                    break
        hits = np.cumsum(pred_match > -1)
        precision = hits / (np.arange(len(pred_match)) + 1)
        recall = hits / len(gt_match)
        values.append(voc_ap(recall, precision))
    return float(np.mean(values)) if values else math.nan


# --------------------------------------------------------------------------------------------- COCO


def _rle(mask) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _coco(dataset: dict):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_metrics(detections, examples, class_names, *, iou_type: str = "bbox") -> dict:
    """COCO AP/AR (``COCO_STATS`` keys) through pycocotools' COCOeval, for ``iou_type`` "bbox" or "segm".

    Ground truth and results are converted in memory (pixel xywh boxes, RLE masks, ``ignore`` -> ``iscrowd``);
    pycocotools' printing is swallowed. A value of -1 is pycocotools' "no ground truth in that area range".
    """
    from pycocotools.cocoeval import COCOeval

    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    _check(detections, examples)
    segm = iou_type == "segm"
    images, gts, dts = [], [], []
    for i, (d, ex) in enumerate(zip(detections, examples)):
        h, w = ex.image.shape[:2]
        images.append({"id": i + 1, "height": h, "width": w})
        gt_masks = _gt_masks(ex, i) if segm else None
        for k, (xywh, c, ig) in enumerate(zip(yxyx_to_coco_xywh(ex.boxes, h, w), ex.classes, ex.ignore)):
            ann = {"id": len(gts) + 1, "image_id": i + 1, "category_id": int(c), "bbox": [float(v) for v in xywh],
                   "iscrowd": int(bool(ig)), "area": float(xywh[2] * xywh[3])}
            if ex.masks is not None:
                ann["area"] = float(np.asarray(ex.masks[k]).sum())
            if segm:
                ann["segmentation"] = _rle(gt_masks[k])
            gts.append(ann)
        det = _det(d, i, segm)
        for k, (xywh, s, c) in enumerate(zip(yxyx_to_coco_xywh(det["boxes"], h, w), det["scores"], det["classes"])):
            ann = {"id": len(dts) + 1, "image_id": i + 1, "category_id": int(c), "bbox": [float(v) for v in xywh],
                   "score": float(s), "iscrowd": 0, "area": float(xywh[2] * xywh[3])}
            if segm:
                ann["segmentation"] = _rle(det["masks"][k])
                ann["area"] = float(np.asarray(det["masks"][k]).sum())
            dts.append(ann)
    categories = [{"id": c, "name": str(name)} for c, name in enumerate(class_names) if c > 0]
    coco_gt = _coco({"images": images, "annotations": gts, "categories": categories})
    coco_dt = _coco({"images": images, "annotations": dts, "categories": categories})
    evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {k: float(v) for k, v in zip(COCO_STATS, evaluator.stats)}


# ------------------------------------------------------------------------------------------- report


def plot_pr(curves: dict, class_names, path, *, dashed: dict | None = None) -> Path:
    """Precision-recall curves, one line per class (AP in the legend); ``dashed``: a second set (e.g. masks)."""
    from tfzoo.common.plots import new_figure, save_figure

    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    for style, group, suffix in (("-", curves, ""), ("--", dashed or {}, " (mask)")):
        for c, (recall, precision) in group.items():
            if len(recall) == 0:
                continue
            label = f"{class_names[c]}{suffix} AP {voc_ap(recall, precision):.3f}"
            # One colour per class, so a class's box (solid) and mask (dashed) curves pair up.
            ax.step(np.concatenate([[0.0], recall]), np.concatenate([[1.0], precision]), style, where="post",
                    color=f"C{(c - 1) % 10}", label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01), title="precision-recall (IoU 0.5)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left")
    return save_figure(fig, path)


def detection_report(detections, examples, class_names, *, masks: bool = False, plots_dir=None) -> dict:
    """What ``evaluate`` prints: a flat dict of floats (box, and with ``masks`` mask metrics); writes pr.png.

    Keys: ``map50``, ``ap50_<class>`` (classes with ground truth), ``coco_ap``, ``coco_ap50``, ... (COCO_STATS in
    lower case), ``per_image_box_ap50``; with masks also ``mask_map50``, ``mask_ap50_<class>``,
    ``mask_coco_*`` and ``per_image_mask_ap50`` (the Mask R-CNN sample's metric).
    """
    examples = list(examples)
    k = len(class_names) - 1
    box = mean_average_precision(detections, examples, num_classes=k)
    report = {"images": float(len(examples)), "map50": box["map"]}
    report.update({f"ap50_{class_names[c]}": v for c, v in box["ap"].items() if not math.isnan(v)})
    report.update({f"coco_{n.lower()}": v for n, v in coco_metrics(detections, examples, class_names).items()})
    report["per_image_box_ap50"] = per_image_ap(detections, examples, use_masks=False)
    mask_curves = None
    if masks:
        mk = mean_average_precision(detections, examples, num_classes=k, use_masks=True)
        mask_curves = mk["curves"]
        report["mask_map50"] = mk["map"]
        report.update({f"mask_ap50_{class_names[c]}": v for c, v in mk["ap"].items() if not math.isnan(v)})
        segm = coco_metrics(detections, examples, class_names, iou_type="segm")
        report.update({f"mask_coco_{n.lower()}": v for n, v in segm.items()})
        report["per_image_mask_ap50"] = per_image_ap(detections, examples, use_masks=True)
    if plots_dir is not None:
        plot_pr(box["curves"], class_names, Path(plots_dir) / "pr.png", dashed=mask_curves)
    return {key: float(v) for key, v in report.items()}
