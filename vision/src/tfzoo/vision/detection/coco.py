"""COCO instances JSON: read into Examples, write ground truth or results for pycocotools.

Category ids need not be contiguous: sorted category ids map to class ids 1..K. Masks come from
polygon, uncompressed RLE or compressed RLE segmentations through pycocotools; `iscrowd=1`
instances become ignore regions. Image files are looked up as IMGDIR/file_name when an image
folder is given, else beside the JSON, then in an `images/` folder beside it.

Bad records are one-line DataErrors naming the JSON file and the image or annotation id: a box
outside the image (beyond a 1-pixel tolerance), a box of non-positive size, an unknown
category_id or image_id, a missing or unreadable image file, a malformed JSON. With
`on_error="skip"` the bad annotation (or image) is dropped and counted in a warning instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.vision.detection.dataset import Example, make_example

# Annotations may overhang the image by this much (rounding in exported tools); they are clipped.
TOLERANCE_PX = 1.0


def read_coco(json_path: str | Path, image_dir: str | Path | None = None, *,
              on_error: str = "raise") -> tuple[list[Example], tuple[str, ...]]:
    """Examples of every image in the JSON (sorted by image id) and ("background", *category names)."""
    from tfzoo.common.data.problems import handle

    json_path = Path(json_path)
    doc = _load_json(json_path)
    categories = sorted(doc["categories"], key=lambda c: c["id"])
    class_of = {c["id"]: k for k, c in enumerate(categories, start=1)}
    class_names = ("background", *(str(c.get("name", c["id"])) for c in categories))
    problems: list[str] = []
    images = {}
    for entry in doc["images"]:
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            problems.append(f"{json_path}: image entry {entry!r:.80}: expected an id and a file_name")
            continue
        images[entry["id"]] = entry
    by_image: dict[Any, list[dict]] = {image_id: [] for image_id in images}
    annotations = []
    for index, ann in enumerate(doc["annotations"]):
        if not isinstance(ann, dict):
            problems.append(f"{json_path}: annotation #{index} {ann!r:.80}: expected an object with image_id, "
                            "category_id and bbox")
            continue
        annotations.append(ann)
        if ann.get("image_id") not in images:
            problems.append(f"{json_path}: annotation {ann.get('id')}: image_id {ann.get('image_id')!r} "
                            "is not among the images")
            continue
        by_image[ann["image_id"]].append(ann)
    with_masks = bool(annotations) and all(ann.get("segmentation") for ann in annotations)
    examples = []
    for image_id in sorted(images, key=_sort_key):
        example = _example(json_path, image_dir, images[image_id], by_image[image_id], class_of,
                           with_masks=with_masks, problems=problems)
        if example is not None:
            examples.append(example)
    handle(problems, on_error=on_error, where=str(json_path))
    return examples, class_names


def _sort_key(image_id: Any) -> tuple:
    return (0, image_id, "") if isinstance(image_id, (int, float)) else (1, 0, str(image_id))


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise DataNotFound(f"{path}: no such COCO annotation file (expected an instances JSON: images, "
                           "annotations, categories)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: malformed JSON ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations",
                                                                                 "categories")):
        raise DataError(f"{path}: not a COCO instances file (expected lists 'images', 'annotations', 'categories')")
    for cat in doc["categories"]:
        if not isinstance(cat, dict) or "id" not in cat:
            raise DataError(f"{path}: category {cat!r:.80} has no id")
    return doc


def _find_image(json_path: Path, image_dir: str | Path | None, file_name: str) -> tuple[Path | None, list[Path]]:
    if image_dir is not None:
        places = [Path(image_dir).expanduser() / file_name]
    else:
        places = [json_path.parent / file_name, json_path.parent / "images" / file_name]
    return next((p for p in places if p.is_file()), None), places


def read_image(path: Path) -> np.ndarray:
    """uint8 [H, W, 3] (grey, palette and RGBA images converted to RGB)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), np.uint8)


def _example(json_path, image_dir, entry, anns, class_of, *, with_masks, problems) -> Example | None:
    image_id = entry["id"]
    where = f"{json_path}: image {image_id}"
    path, places = _find_image(json_path, image_dir, str(entry["file_name"]))
    if path is None:
        problems.append(f"{where}: image file {entry['file_name']} not found (looked for "
                        f"{' and '.join(str(p) for p in places)})")
        return None
    try:
        image = read_image(path)
    except (OSError, ValueError) as err:
        problems.append(f"{where}: cannot read {path} ({str(err).splitlines()[0]})")
        return None
    height, width = image.shape[:2]
    if (entry.get("height", height), entry.get("width", width)) != (height, width):
        problems.append(f"{where}: {path} is {width}x{height} but the JSON says {entry.get('width')}x"
                        f"{entry.get('height')}")
        return None
    boxes, classes, masks, ignore = [], [], [], []
    for ann in sorted(anns, key=lambda a: _sort_key(a.get("id", 0))):
        record = _annotation(json_path, ann, class_of, height, width, with_masks=with_masks, problems=problems)
        if record is not None:
            boxes.append(record[0])
            classes.append(record[1])
            masks.append(record[2])
            ignore.append(record[3])
    mask_array = np.array(masks, np.uint8).reshape(-1, height, width) if with_masks else None
    return make_example(image=image, boxes=np.array(boxes, np.float32).reshape(-1, 4), classes=classes,
                        masks=mask_array, ignore=ignore, image_id=image_id, source=str(path))


def _annotation(json_path, ann, class_of, height, width, *, with_masks, problems):
    where = f"{json_path}: annotation {ann.get('id')} (image {ann.get('image_id')})"
    if ann.get("category_id") not in class_of:
        problems.append(f"{where}: unknown category_id {ann.get('category_id')!r}; categories are "
                        f"{sorted(class_of)}")
        return None
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        problems.append(f"{where}: bbox {bbox!r}; expected [x, y, width, height] in pixels")
        return None
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        problems.append(f"{where}: bbox {bbox} has non-positive size; expected width and height > 0")
        return None
    if x < -TOLERANCE_PX or y < -TOLERANCE_PX or x + w > width + TOLERANCE_PX or y + h > height + TOLERANCE_PX:
        problems.append(f"{where}: bbox {bbox} lies outside the {width}x{height} image")
        return None
    box = np.clip([y / height, x / width, (y + h) / height, (x + w) / width], 0.0, 1.0)
    mask = None
    if with_masks:
        try:
            mask = decode_segmentation(ann["segmentation"], height, width)
        except (TypeError, ValueError, KeyError, IndexError) as err:
            problems.append(f"{where}: unreadable segmentation ({str(err).splitlines()[0] or type(err).__name__}); "
                            "expected polygons or an RLE")
            return None
    return box, class_of[ann["category_id"]], mask, bool(ann.get("iscrowd", 0))


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """uint8 {0,1} [H, W] from COCO polygons, uncompressed RLE or compressed RLE."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if isinstance(p, list)]
        if not polygons or any(len(p) < 6 or len(p) % 2 for p in polygons):
            raise ValueError("a polygon needs an even number of at least 6 coordinates")
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict):
        size = list(segmentation.get("size", []))
        if size != [height, width]:
            raise ValueError(f"RLE size {size} differs from the image's [{height}, {width}]")
        counts = segmentation["counts"]
        rle = mask_utils.frPyObjects(segmentation, height, width) if isinstance(counts, list) else segmentation
    else:
        raise TypeError(f"segmentation of type {type(segmentation).__name__}")
    return np.ascontiguousarray(mask_utils.decode(rle), np.uint8)


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed RLE of a {0,1} [H, W] mask with `counts` as str (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def xywh(box: np.ndarray, height: int, width: int) -> list[float]:
    """Normalised yxyx -> COCO [x, y, width, height] in pixels."""
    y1, x1, y2, x2 = (float(v) for v in box)
    return [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height]


def write_coco(path: str | Path, examples: list[Example], class_names: tuple[str, ...] | list[str], *,
               detections: list[dict] | None = None, file_names: list[str] | None = None,
               info: dict | None = None) -> Path:
    """Write ground truth (images, annotations with RLE masks when present, categories 1..K), or,
    with `detections` (one dict per example: boxes, scores, classes[, masks]), a pycocotools
    results list. Returns the path."""
    path = Path(path)
    if detections is not None:
        results = []
        for example, det in zip(examples, detections, strict=True):
            masks = det.get("masks")
            for j in range(len(det["scores"])):
                record = {"image_id": example.image_id, "category_id": int(det["classes"][j]),
                          "bbox": xywh(det["boxes"][j], example.height, example.width),
                          "score": float(det["scores"][j])}
                if masks is not None:
                    record["segmentation"] = encode_mask(np.asarray(masks[j]))
                results.append(record)
        path.write_text(json.dumps(results))
        return path
    images, annotations = [], []
    for index, example in enumerate(examples):
        name = file_names[index] if file_names else Path(example.source).name
        images.append({"id": example.image_id, "file_name": name, "height": example.height, "width": example.width})
        for j in range(len(example.classes)):
            bbox = xywh(example.boxes[j], example.height, example.width)
            record = {"id": len(annotations) + 1, "image_id": example.image_id,
                      "category_id": int(example.classes[j]), "bbox": bbox,
                      "area": bbox[2] * bbox[3], "iscrowd": int(example.ignore[j])}
            if example.masks is not None:
                record["segmentation"] = encode_mask(example.masks[j])
                record["area"] = float(example.masks[j].sum())
            annotations.append(record)
    categories = [{"id": k, "name": name, "supercategory": "none"}
                  for k, name in enumerate(class_names) if k > 0]
    doc = {"info": info or {"description": "written by tfzoo"}, "images": images,
           "annotations": annotations, "categories": categories}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
